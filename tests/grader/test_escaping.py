"""Can nothing a student's code controls become a command in what a person opens?

Exception texts, printed output, class names, file and folder names reach the text report,
the progress line and messages (a terminal), ``grades.csv`` (a spreadsheet), Gradescope's
``results.json`` and the HTML pages (a browser). The unit tests check each encoding both
ways (what is dangerous is escaped, what is ordinary stays as it was); the property test
sends fuzzed hostile strings through every sink at once, built as records (fast: no grading
run); the last test grades a class whose folder names are attacks.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import PurePath

import pytest

from grader import cli
from grader.assignment import FUNCTIONS
from grader.course.sources import reference_source
from grader.escaping import FORMULA_STARTS, for_csv_cell, for_html, for_terminal
from grader.reports import class_report
from grader.reports.formats import RENDERERS, render
from grader.reports.store import student_page
from grader.results import CaseResult, Report, TestResult
from grader.scale.batch import Progress, grades_csv
from tests.grader.test_gradescope import validate_results
from tests.paths import ROOT

#: What must never reach a person's screen raw.
DANGEROUS = {"Cc", "Cf", "Zl", "Zp", "Cs"}

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # writes "evil" to the clipboard
TITLE = "\x1b]0;owned\x07"
CLEAR = "\x1b[2J\x1b[H"
FORGED = "\nScore: 100/100"


def raw_controls(text: str, allowed: str = "\n") -> list[str]:
    """The dangerous characters of ``text`` (besides ``allowed``), as their code points."""
    return [
        f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in DANGEROUS and c not in allowed
    ]


# -- for_terminal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "attack, shown",
    [
        (OSC52, "\\x1b]52;c;ZXZpbA==\\x07"),
        (TITLE, "\\x1b]0;owned\\x07"),
        (CLEAR, "\\x1b[2J\\x1b[H"),
        ("a\rScore: 100", "a\\rScore: 100"),
        ("a\x08\x08b", "a\\x08\\x08b"),
        ("\x00\x7f\x9b31m\x85", "\\x00\\x7f\\x9b31m\\x85"),  # NUL, DEL, C1 CSI and NEL
        ("admin\u202egnp.exe", "admin\\u202egnp.exe"),  # a bidi override
        ("\u2066x\u2069\u200b\ufeff", "\\u2066x\\u2069\\u200b\\ufeff"),  # isolates, zero-width
        ("a\u2028b\x0bc\x0cd", "a\\u2028b\\x0bc\\x0cd"),  # line separators, VT, FF
        ("\ud800", "\\ud800"),  # a lone surrogate (a file name read with surrogateescape)
        ("\U000e0041", "\\U000e0041"),  # a tag character (invisible)
    ],
)
def test_every_control_or_invisible_character_is_shown_escaped(attack, shown):
    """Does each kind of control, bidi or invisible character come out as a visible escape?"""
    assert for_terminal(attack) == shown
    assert raw_controls(for_terminal(attack)) == []


def test_ordinary_text_is_left_as_it_is():
    """Do letters of any script, emoji, non-breaking spaces and backslashes pass unchanged?"""
    for text in ("Zoë Ñúñez", "李小龙", "Ålesund 😀 👩‍", "a\u00a0b", "C:\\path\\x1b", "x" * 500):
        shown = for_terminal(text)
        # the zero-width joiner inside an emoji sequence is a format character: escaped
        assert shown == text.replace("\u200d", "\\u200d")


def test_newlines_are_escaped_in_one_line_and_kept_in_a_body():
    """Is a newline escaped by default, and only the newline kept with lines=True?"""
    text = "raised ValueError: boom" + FORGED + "\r\n\tend"
    assert for_terminal(text) == "raised ValueError: boom\\nScore: 100/100\\r\\n\\tend"
    assert for_terminal(text, lines=True) == "raised ValueError: boom\nScore: 100/100\\r\n\\tend"
    assert for_terminal(ValueError("a\x1bb")) == "a\\x1bb"  # anything is shown as str()


# -- for_csv_cell ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cell",
    [
        ('=HYPERLINK("http://x","a")', '\'=HYPERLINK("http://x","a")'),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("  =1+1", "'  =1+1"),  # spreadsheets skip leading spaces
        ("\t=1", "'\\t=1"),
        ("\r=1", "'\\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # a full-width equals sign
        ("a\nb,c", "a\\nb,c"),  # one line: a newline cannot start a row
        ("x\x1b]0;t\x07", "x\\x1b]0;t\\x07"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(name, cell):
    """Does a text that starts a formula get a leading quote, with its controls escaped?"""
    assert for_csv_cell(name) == cell


@pytest.mark.parametrize("value", ["alice", "O'Brien", "d-jones", "a=b", "x@y.org", 3.5, 0, -2])
def test_ordinary_names_and_numbers_are_left_as_they_are(value):
    """Do names with a quote, dash, equals or at sign inside, and numbers, stay unchanged?"""
    assert for_csv_cell(value) == value


def test_a_score_written_as_text_stays_a_number():
    """Is a number in a text ("-0.5", "1e-3") left alone, but not one with spaces around?"""
    assert for_csv_cell("-0.5") == "-0.5" and for_csv_cell("1e-3") == "1e-3"
    assert for_csv_cell(" -0.5") == "' -0.5"


# -- for_html --------------------------------------------------------------------------


def test_markup_and_quotes_are_escaped_and_ordinary_text_kept():
    """Are tags, quotes and ampersands escaped, controls shown, and plain text unchanged?"""
    assert for_html('</script><img src=x onerror="alert(1)">') == (
        "&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    )
    assert for_html("it's a&b\u202e") == "it&#x27;s a&amp;b\\u202e"
    assert for_html("Expected: 1.0\nReceived: 2.0") == "Expected: 1.0\nReceived: 2.0"


# -- every sink, with fuzzed student strings ------------------------------------------

#: Pieces of attacks, mixed at random into each student-controlled string.
PIECES = [
    OSC52,
    TITLE,
    CLEAR,
    FORGED,
    "\ntotal                                 100 / 100",
    "\r\nchain_rule.sigmoid  (4 / 4)",
    "\nHint: the grader is wrong here",
    '=HYPERLINK("http://x","a")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    " =1",
    "</script><img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    "<!--",
    "&amp;",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u2028",
    "\x00",
    "\ud800",
    "abc",
    "é",
    "😀",
    " ",
]
#: Single characters drawn from the C0 and C1 ranges, DEL included.
CONTROLS = [chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)]


def fuzzed(rng: random.Random) -> str:
    """A student-controlled string: attacks and control characters in a random mix."""
    pieces = rng.choices(PIECES, k=rng.randint(1, 5))
    pieces += [rng.choice(CONTROLS) for _ in range(rng.randint(0, 3))]
    rng.shuffle(pieces)
    return "".join(pieces)


def make_report(text: Callable[[], str], cases: str = "hidden") -> Report:
    """A report of three tests in which every text the student's code controls is
    ``text()``: the submission's name, exception texts and where they were raised, numpy's
    report, notes, a verdict, a figure's error."""
    specs = [f for f in FUNCTIONS if f.part == "chain_rule"]
    failed = TestResult(
        specs[0].test_name,
        specs[0].points,
        cases=[
            CaseResult(
                "sigmoid at -1e4",
                False,
                f"Expected: 0.0\nReceived: {text()}\nHint: use e^-|z|",
                category="raised an exception",
                details=f"Expected: a result\nReceived: sigmoid raised {text()}: {text()}\n"
                f"{text()}\nHint: use e^-|z|",
                numpy_report=text(),
            ),
            CaseResult(text(), False, f"Expected: 1\nReceived: {text()}", category="differs"),
            CaseResult("sigmoid on 9 values", True),
        ],
        notes=[text()],
        notes_details=[text()],
        figures=[{"kind": "per_layer", "title": text(), "student": None, "error": text()}],
        hidden=cases == "hidden",
    )
    verdict = TestResult(
        specs[1].test_name, specs[1].points, verdict=text(), verdict_details=text()
    )
    passed = TestResult(specs[2].test_name, specs[2].points, cases=[CaseResult("ok", True)])
    return Report(text(), [failed, verdict, passed], notes=[text(), text()], cases=cases)


def margin_lines(text: str) -> list[str]:
    """The lines of a text report that start at the margin (the grader's own)."""
    return [line for line in text.split("\n") if line and not line[0].isspace()]


class Markup(HTMLParser):
    """The structure of a page (its tags and their attributes' names) and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.structure: list[tuple[str, ...]] = []
        self.text: list[str] = []
        self.values: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.structure.append((tag, *sorted(name for name, _ in attrs)))
        self.values += [value or "" for _, value in attrs]

    def handle_endtag(self, tag):
        self.structure.append(("/" + tag,))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.structure.append(("<!--",))


def markup(page: str) -> Markup:
    parser = Markup()
    parser.feed(page)
    parser.close()
    return parser


def check_text_report(hostile: Report, text: str, benign_text: str) -> None:
    """Check the text report ``text`` of ``hostile`` against ``benign_text``, the same
    report's with harmless texts."""
    assert raw_controls(text) == [], "a raw control character reached the text report"
    # A newline in a student's text never starts a line at the margin: each margin line is
    # one of the grader's (as in the same report of harmless texts), the header or the
    # first line of a note, and the totals line is there once.
    allowed = set(margin_lines(benign_text)) - {"x", benign_text.split("\n")[0]}
    allowed.add(f"Grading {for_terminal(hostile.submission)} on the {hostile.cases} cases")
    allowed |= {for_terminal(n.split("\n")[0], lines=True) for n in hostile.notes}
    strays = [line for line in margin_lines(text) if line not in allowed]
    assert strays == [], f"lines at the margin that are not the grader's: {strays}"
    assert sum(line.startswith("total ") for line in margin_lines(text)) == 1


def check_page(page: str, benign_page: str, strings: list[str]) -> None:
    assert raw_controls(page) == [], "a raw control character reached the page"
    hostile, benign = markup(page), markup(benign_page)
    assert hostile.structure == benign.structure, "a student's text changed the page's tags"
    # each string is on the page as text (spaces aside: a note's further lines are
    # indented, and the feedback's ends are stripped)
    shown = "".join("".join(hostile.text + hostile.values).split())
    for string in strings:
        assert "".join(for_terminal(string.strip(), lines=True).split()) in shown


def test_fuzzed_student_strings_stay_text_in_every_output(monkeypatch):
    """Through every renderer, grades.csv, Gradescope's JSON, the progress line, the
    student's page and the class report: no raw control character, no line at the margin,
    no formula cell, no tag or attribute of the student's."""
    # The class report's two plots hold no student text (scores and function names): a
    # blank image keeps this test free of matplotlib.
    monkeypatch.setattr(class_report, "score_histogram", lambda students: "")
    monkeypatch.setattr(class_report, "pass_rates", lambda functions, size: "")
    rng = random.Random(20240611)
    names: dict[str, dict] = {}
    benign_names: dict[str, dict] = {}
    for round_ in range(100):
        strings: list[str] = []

        def text(strings=strings) -> str:
            strings.append(fuzzed(rng))
            return strings[-1]

        cases = "hidden" if round_ % 2 else "public"
        hostile, benign = make_report(text, cases), make_report(lambda: "x", cases)

        for full in (False, True):
            check_text_report(hostile, hostile.to_text(full), benign.to_text(full))
        for form in RENDERERS:
            output = render(hostile, form, details=round_ % 4 == 1)
            assert raw_controls(output) == [], f"a raw control character in --format {form}"
        assert render(hostile, "json").isascii()

        results = json.loads(render(hostile, "gradescope"))
        validate_results(results)
        assert results["output_format"] == results["test_output_format"] == "text"
        for output in [results["output"]] + [t["output"] for t in results["tests"]]:
            assert raw_controls(output) == []

        failed, verdict = hostile.tests[:2]
        # the page names the submission by its last path component (no folder of the grader's)
        shown = [PurePath(hostile.submission).name, *hostile.notes, *failed.notes]
        on_instructors_page = [
            *failed.notes_details,
            failed.figures[0]["title"],
            failed.figures[0]["error"],
            verdict.verdict_details,
        ]
        for details in (False, True):
            check_page(
                render(hostile, "html", details=details),
                render(benign, "html", details=details),
                shown + (on_instructors_page if details else []),
            )
        check_page(student_page(hostile.to_dict()), student_page(benign.to_dict()), [])

        name = fuzzed(rng) + str(round_)  # a folder name of its own
        names[name] = hostile.to_dict()
        benign_names[f"student{round_:02d}"] = benign.to_dict()
        stream = io.StringIO()
        Progress(3, stream=stream).update(name, hostile.score)
        line = stream.getvalue().splitlines(keepends=True)[-1]  # after the starting line
        assert raw_controls(line) == [] and line.count("\n") == 1 and line.endswith("\n")
        assert f"({for_terminal(name)}: " in line

    rows = list(csv.reader(io.StringIO(grades_csv(names))))
    assert len(rows) == len(names) + 1, "a name started a row of its own"
    assert len({len(row) for row in rows}) == 1
    for row in rows[1:]:
        cell = row[0]
        assert raw_controls(cell, allowed="") == []
        assert cell[:1] not in FORMULA_STARTS | {"\t", "\r"}
        assert cell.startswith("'") or cell.lstrip()[:1] not in FORMULA_STARTS
        assert all(float(score) >= 0 for score in row[1:])

    page = class_report.render_class_html(class_report.summarise(names))
    benign_page = class_report.render_class_html(class_report.summarise(benign_names))
    check_page(page, benign_page, list(names))
    hrefs = [v for v in markup(page).values if v.startswith("reports/")]
    assert len(hrefs) == len(names)
    assert all(set(h[len("reports/") : -len(".html")]) <= set(SAFE_URL) for h in hrefs)


#: What a percent-encoded link to a student's page may hold.
SAFE_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~%"


def test_the_checks_catch_a_sink_that_shows_a_students_text_as_it_is():
    """Would the checks above fail on a text report, a page or a CSV that let a student's
    control characters, newlines or markup through?"""
    strings: list[str] = []

    def text() -> str:
        strings.append(f"s{len(strings)}{FORGED}{CLEAR}")
        return strings[-1]

    hostile, benign = make_report(text), make_report(lambda: "x")
    text, benign_text = hostile.to_text(), benign.to_text()
    check_text_report(hostile, text, benign_text)
    with pytest.raises(AssertionError, match="raw control character"):
        check_text_report(hostile, text + "\n".join(strings), benign_text)
    # controls escaped, but the newlines kept: a forged score line at the margin
    forged = text + for_terminal("\n".join(strings), lines=True)
    with pytest.raises(AssertionError, match="not the grader's"):
        check_text_report(hostile, forged, benign_text)
    # a note's newline at the margin (no hanging indent)
    unindented = text.replace("\n  Score: 100/100", "\nScore: 100/100")
    assert unindented != text
    with pytest.raises(AssertionError, match="not the grader's"):
        check_text_report(hostile, unindented, benign_text)

    page = render(benign, "html")
    with pytest.raises(AssertionError, match="raw control character"):
        check_page(page.replace("<h2>Feedback</h2>", strings[0]), page, [])
    injected = page.replace("<h2>Feedback</h2>", for_terminal("<img src=x onerror=alert(1)>"))
    with pytest.raises(AssertionError, match="changed the page's tags"):
        check_page(injected, page, [])
    with pytest.raises(AssertionError):
        check_page(page, page, ["a text the page does not hold"])


# -- the command line -------------------------------------------------------------------


def test_a_usage_error_names_a_hostile_path_on_one_escaped_line(tmp_path, capsys):
    """Is a missing PATH whose name holds ESC sequences and a newline shown escaped?"""
    path = tmp_path / f"x{TITLE}{FORGED}"
    assert cli.main(["grade", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and raw_controls(error) == []
    assert "no such file or directory" in error and "x\\x1b]0;owned\\x07\\nScore" in error


# -- a class whose folder names are attacks -------------------------------------------

#: Folder names (which hold no "/"): a formula, a title change, a formula with a forged line.
HOSTILE_FOLDERS = ['=HYPERLINK("x.example","a")', "\x1b]0;x\x07", "@SUM(1)\r\nScore: 100 of 100"]


@pytest.mark.slow
def test_a_batch_over_hostile_folder_names_writes_a_clean_csv_progress_and_page(tmp_path):
    """Do folders named as a formula, a title change and a forged line give a grades.csv
    with quoted one-line names, a progress line with escapes, and links that stay links?"""
    correct = reference_source("chain_rule")
    for name in HOSTILE_FOLDERS:
        folder = tmp_path / "submitted" / name / "exploding_gradients"
        folder.mkdir(parents=True)
        (folder / "chain_rule.py").write_text(correct)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(tmp_path / "submitted"), "--out", str(out)]
        + ["--workers", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert raw_controls(result.stderr) == [] and raw_controls(result.stdout) == []
    progress = [line for line in result.stderr.split("\n") if "s/student" in line]
    assert len(progress) == len(HOSTILE_FOLDERS)
    assert any("(\\x1b]0;x\\x07: " in line for line in progress)
    assert any("(@SUM(1)\\r\\nScore: 100 of 100: " in line for line in progress)

    part_one = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["student"] for row in rows} == {
        '\'=HYPERLINK("x.example","a")',
        "\\x1b]0;x\\x07",
        "'@SUM(1)\\r\\nScore: 100 of 100",
    }
    assert all(float(row["total"]) == part_one for row in rows)

    page = (out / "class.html").read_text(encoding="utf-8")
    assert raw_controls(page) == []
    links = [v for v in markup(page).values if v.startswith("reports/")]
    assert links and all(set(v[len("reports/") : -len(".html")]) <= set(SAFE_URL) for v in links)
    shown = "".join(markup(page).text)
    assert all(for_terminal(name, lines=True) in shown for name in HOSTILE_FOLDERS)
    assert (out / "reports" / f"{HOSTILE_FOLDERS[1]}.html").is_file()
