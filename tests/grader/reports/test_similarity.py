"""Does the class report find copied code, and only copied code?

On a class of twelve Part 1 submissions (tests/grader/reports/similarity_class.py): the two
copies (every name changed, the code reflowed) rank first, no independent pair reaches the
threshold, the pair pages highlight the copied functions and never the stubs' code, two
untouched stubs are not alike, a formula many students share counts as expected, the
students' names and code are escaped, and a batch writes the section (in a browser too).
"""

from __future__ import annotations

import ast
import json
import re
import textwrap

import numpy as np
import pytest

from grader.cli import main
from grader.reports import similarity
from grader.reports.class_report import similarity_section, write_class_report
from grader.reports.similarity import (
    DEFAULT_THRESHOLD,
    OTHER,
    compare_class,
    is_flagged,
    read_class,
    split_units,
    write_similarity,
)
from tests.browser import browser, chromium
from tests.grader.reports import similarity_class as known


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory):
    return known.write_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def part_one(class_folders):
    return compare_class(read_class(class_folders))["chain_rule"]


@pytest.fixture(scope="module")
def written(class_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, write_similarity(out, class_folders)


def _pair(pairs, a, b):
    return next((p for p in pairs if {p.a, p.b} == {a, b}), None)


def test_both_copied_pairs_rank_first_and_no_independent_pair_reaches_the_threshold(part_one):
    pairs = part_one["pairs"]
    copied = [set(c) for c in known.COPIED]
    assert [{p.a, p.b} for p in pairs[:2]] in (copied, copied[::-1])
    assert all(p.score >= DEFAULT_THRESHOLD for p in pairs[:2])
    others = [p for p in pairs if {p.a, p.b} not in copied]
    highest = max(p.score for p in others)
    assert highest < DEFAULT_THRESHOLD
    # the margin the default threshold was chosen with (see DEFAULT_THRESHOLD)
    assert min(p.score for p in pairs[:2]) - highest > 0.5, (pairs[:2], others[0])
    # each copy matches its original in every function of the contract
    for original, copy in known.COPIED:
        units = {u["name"]: u["score"] for u in _pair(pairs, original, copy).functions}
        assert all(units[f] > 0.9 for f in ("chain_forward", "chain_gradients", "local_gains"))


def test_a_copy_is_found_in_one_function_too(class_folders):
    """A student who took fay's chain_gradients (renamed) into hal's Part 1 matches fay in
    that function only, fully (about half their code in all): the pair is flagged for that
    one substantial function (shared by jon too: long enough to flag whoever shares it);
    hal and fay, who share nothing, are not."""
    codes = read_class(class_folders)
    borrowed = known.FAY.split("def chain_gradients")[1].split("\ndef ")[0]
    renamed = borrowed.replace("activations", "acts").replace("back", "g")
    codes["mia"] = {
        "chain_rule": [
            known.HAL.replace(known.HAL.split("def chain_gradients")[1].split("\ndef ")[0], renamed)
        ]
    }
    pairs = compare_class(codes)["chain_rule"]["pairs"]
    pair = _pair(pairs, "fay", "mia")
    units = {u["name"]: u["score"] for u in pair.functions}
    assert units["chain_gradients"] == 1.0
    assert units.get("local_gains", 0) < 0.5 and units.get("sigmoid", 0) < 0.5
    assert pair.score < 0.6
    assert pair.copied_unit == "chain_gradients" and is_flagged(pair, DEFAULT_THRESHOLD)
    # mia is hal's own code otherwise: alike, but hal copied nothing from fay
    independent = _pair(pairs, "fay", "hal")
    assert independent is None or not is_flagged(independent, DEFAULT_THRESHOLD)
    assert [p for p in pairs if is_flagged(p, DEFAULT_THRESHOLD)] == [
        p
        for p in pairs
        if {p.a, p.b} in ({"fay", "mia"}, {"jon", "mia"}, {"hal", "mia"}, *map(set, known.COPIED))
    ]


def test_two_untouched_stubs_are_not_alike(part_one, class_folders, monkeypatch):
    a, b = known.STUB_STUDENTS
    pair = _pair(part_one["pairs"], a, b)
    assert pair is None or pair.score < 0.02
    # two copies of the released notebook are alike only through the given cells, which
    # are the stubs' code: without it as boilerplate, they would count
    codes = {s: read_class(class_folders)[b] for s in ("nia", "ola")}
    assert compare_class(codes)["chain_rule"]["pairs"] == []
    monkeypatch.setattr(similarity, "_boilerplate", lambda *args: similarity.np.array([]))
    unsubtracted = compare_class(codes)["chain_rule"]["pairs"]
    assert unsubtracted and unsubtracted[0].score > 0.5


def test_units_are_the_contract_functions_without_layout_comments_or_docstrings():
    cells = [
        "%matplotlib inline\nimport numpy as np",
        'def sigmoid(z):\n    """Doc."""\n    # a comment\n    return 1/(1+np.exp(-z));',
        "def sigmoid(z):\n    return (1 /\n            (1 + np.exp(-z)))  # again",
        "def helper(x): return x",
        "def sgd_update(param, grad, learning_rate)\n    return param",  # does not parse
    ]
    units = split_units(cells, "chain_rule")
    assert units["sigmoid"] == "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"
    assert "sgd_update" not in units  # its cell does not parse: kept as text in the rest
    assert "import numpy as np" in units[OTHER] and "def helper(x):" in units[OTHER]
    assert "def sgd_update(param, grad, learning_rate)\n" in units[OTHER]
    assert "matplotlib" not in units[OTHER] and "comment" not in units["sigmoid"]


def test_a_formula_many_students_share_is_expected_not_flagged():
    glorot = (
        "def glorot_uniform_limit(fan_in, fan_out):\n    return np.sqrt(6 / (fan_in + fan_out))\n"
    )
    he = "def he_normal_stddev(fan_in):\n    return np.sqrt(2.0 / fan_in)\n"
    five = {f"s{i}": {"remedies": [glorot, he]} for i in range(5)}
    pairs = compare_class(five)["remedies"]["pairs"]
    assert len(pairs) == 10 and all(p.raw == 1.0 for p in pairs)
    # five students write it the same way: short units, expected, too little to flag a pair
    assert all(u["shared"] == 5 for p in pairs for u in p.functions)
    assert not any(is_flagged(p, DEFAULT_THRESHOLD) for p in pairs)
    assert all(p.shared < similarity.MIN_SHARED and p.copied_unit is None for p in pairs)
    # the same two functions in two students only: alike, still too short to flag
    two = {s: five[s] for s in ("s0", "s1")}
    (pair,) = compare_class(two)["remedies"]["pairs"]
    assert pair.score == 1.0 and all(u["shared"] == 2 for u in pair.functions)
    assert not is_flagged(pair, DEFAULT_THRESHOLD)


def test_the_pair_pages_highlight_the_copied_functions_and_not_the_stubs(written):
    out, data = written
    flagged = data["parts"]["chain_rule"]["flagged"]
    assert len(flagged) == 2
    assert {frozenset((p["a"], p["b"])) for p in flagged} == {frozenset(c) for c in known.COPIED}
    assert sorted(p.name for p in (out / "similarity").iterdir()) == sorted(
        p["page"] for p in flagged
    )
    page = (out / "similarity" / next(p["page"] for p in flagged if p["b"] == "ivy")).read_text()
    assert "Instructor's page: not for students." in page
    assert "evidence for a person to review, not a verdict" in page
    columns = dict(
        re.findall(r'<h3 data-unit="([^"]+)">.*?</h3>\n<div class="side">(.*?)</div>', page, re.S)
    )
    for name in ("sigmoid", "chain_forward", "chain_gradients", "local_gains", "sgd_update"):
        left, right = re.findall(r"<pre[^>]*>(.*?)</pre>", columns[name], re.S)
        for code in (left, right):
            marked = "".join(re.findall(r"<mark>(.*?)</mark>", code, re.S))
            assert len(marked) > 0.8 * len(re.sub(r"</?mark>", "", code)), (name, code)
    # ivy's notebook holds the released given cells: in the rest of her code, unmarked
    left, right = re.findall(r"<pre[^>]*>(.*?)</pre>", columns[similarity.OTHER], re.S)
    assert "default_rng" in right
    assert "default_rng" not in "".join(re.findall(r"<mark>(.*?)</mark>", right, re.S))
    assert "<mark>" in right  # her helper, copied from dee's


def test_names_and_code_are_escaped_on_the_pages_and_in_the_section(tmp_path):
    hostile = '<img src=x onerror="alert(1)">'
    code = (
        "def chain_forward(x, w, b):\n"
        "    banner = '</pre><script>alert(1)</script>'\n"
        "    outs = [x]\n    for k in range(len(w)):\n"
        "        outs.append(1 / (1 + np.exp(-(w[k] * outs[-1] + b[k]))))\n"
        "    return outs[1:]\n"
    )
    folders = {}
    for name in (hostile, "plain"):
        folder = tmp_path / "in" / name
        folder.mkdir(parents=True)
        (folder / "chain_rule.py").write_text(known.DEE + "\n\n" + code)  # a copy, to flag
        folders[name] = folder
    data = write_similarity(tmp_path / "out", folders)
    (pair,) = data["parts"]["chain_rule"]["flagged"]
    assert re.fullmatch(r"chain_rule-[A-Za-z0-9_.-]+\.html", pair["page"])
    page = (tmp_path / "out" / "similarity" / pair["page"]).read_text()
    section = similarity_section(data)
    for text in (page, section):
        assert "<img" not in text and "<script>alert" not in text
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_section_lists_flagged_pairs_with_links_and_is_absent_without_data(written):
    out, data = written
    section = similarity_section(data)
    links = re.findall(r'<a href="(similarity/[^"]+)">', section)
    assert len(links) == 2 and all((out / link).is_file() for link in links)
    assert f"threshold {DEFAULT_THRESHOLD:.2f}" in section and "--no-similarity" in section
    assert "not a verdict" in section
    assert similarity_section(None) == ""
    page = write_class_report(out, []).read_text()
    assert 'id="similarity"' not in page


def test_the_batch_flags_reject_a_threshold_outside_0_to_1(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    status = main(
        ["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--similarity-threshold", "1.5"]
    )
    assert status == 2
    error = capsys.readouterr().err
    assert "--similarity-threshold" in error and "Received: 1.5" in error
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_class_html_shows_the_section_and_its_links_load_in_a_browser(written, tmp_path):
    out, data = written
    binary = chromium()
    page = write_class_report(out, [], data)
    dom = browser(binary, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    section = re.search(r'<section id="similarity"([^>]*)>', dom).group(1)
    assert int(re.search(r'data-height="(\d+)"', section).group(1)) > 200
    assert re.search(r'data-links-shown="2"', section)
    for link in re.findall(r'<a href="(similarity/[^"]+)">', dom):
        shown = browser(binary, tmp_path / "profile", "--dump-dom", (out / link).as_uri()).stdout
        assert "<h1>Similarity in chain_rule:" in shown and "<mark>" in shown


def test_a_batch_on_a_cluster_writes_the_same_section(tmp_path, monkeypatch):
    """The cluster route: grade_class stores what the cluster sends, then compares the class
    on this machine as the local batch does (the cluster's grading is a stand-in here, which
    stores an ungraded report per student through the same callback)."""
    cluster = pytest.importorskip("grader.scale.cluster")
    from grader.results import ungraded_report
    from grader.scale.batch import grade_class

    def grade_on_cluster(scheduler, students, seed, version, store, **_):
        for student in students:
            store(student, ungraded_report(student.name, "stand-in"), None)
        return len(students)

    monkeypatch.setattr(cluster, "grade_on_cluster", grade_on_cluster)
    root = tmp_path / "submitted"
    root.mkdir()
    for name, folder in known.write_class(tmp_path / "all").items():
        if name in ("fay", "jon", "gus"):
            folder.rename(root / name)
    out = tmp_path / "out"
    grade_class(root, out, scheduler="tls://stand-in:8786", progress=False)
    page = (out / "class.html").read_text()
    assert re.search(r'data-pair="fay\|jon">.*?<a href="similarity/chain_rule-fay-jon-', page)
    assert "gus|" not in page and "|gus" not in page
    grade_class(root, out, scheduler="tls://stand-in:8786", progress=False, similarity=False)
    assert 'id="similarity"' not in (out / "class.html").read_text()


@pytest.mark.slow
def test_a_batch_writes_the_section_and_no_similarity_leaves_it_out(tmp_path):
    from grader.scale.batch import grade_class

    root = tmp_path / "submitted"
    for name, folder in known.write_class(tmp_path / "all").items():
        if name in ("dee", "ivy", "fay", "ada"):
            folder.rename(root / name) if root.exists() else (
                root.mkdir(),
                folder.rename(root / name),
            )
    out = tmp_path / "out"
    grade_class(root, out, workers=1, progress=False)
    page = (out / "class.html").read_text()
    assert '<section id="similarity">' in page
    assert re.search(r'data-pair="dee\|ivy">.*?<a href="similarity/chain_rule-dee-ivy-', page)
    assert "fay|" not in page and "|fay" not in page  # fay's copier is not in this class
    assert len(list((out / "similarity").glob("*.html"))) == 1
    # run again (nothing to grade) without the section: no section, no pages
    grade_class(root, out, workers=1, progress=False, similarity=False)
    assert 'id="similarity"' not in (out / "class.html").read_text()
    assert not list((out / "similarity").glob("*.html"))


def test_the_benchmark_compares_a_generated_class_of_every_part(tmp_path):
    """Does the benchmark's class hand in every part, with functions drawn from the
    reference's and the corpus's versions, and its figures count the pairs compared?"""
    from grader.benchmark import similarity_class, similarity_figures

    folders = similarity_class(tmp_path, 5)
    codes = read_class(folders)
    assert all(set(parts) == set(similarity.PARTS) for parts in codes.values())
    figures = similarity_figures(5)
    assert figures["pairs"] == 4 * 10
    assert figures["seconds"] > 0 and figures["memory"] > 0


# -- the red team's evasions and false positives, both ways ----------------------------------


@pytest.fixture(scope="module")
def independent():
    return {s: {"chain_rule": [code]} for s, code in known.independent().items()}


def _against_dee(independent, cells):
    """dee's copier ``cp`` handing in ``cells``, in the class of the eight independent
    students: the pair (dee, cp) and the independent pairs flagged."""
    codes = dict(independent, cp={"chain_rule": cells})
    pairs = compare_class(codes)["chain_rule"]["pairs"]
    flagged = [p for p in pairs if "cp" not in (p.a, p.b) and is_flagged(p, DEFAULT_THRESHOLD)]
    return _pair(pairs, "dee", "cp"), flagged


def _functions(code):
    return [f.strip() for f in re.split(r"\n(?=def |import )", code) if f.strip()]


def _every_line(code, statement):
    lines = []
    for line in code.splitlines():
        lines.append(line)
        indent = re.match(r"^(\s+)\S", line)
        if indent and not line.rstrip().endswith((":", "(", ",")) and "return" not in line:
            lines.append(indent.group(1) + statement)
    return "\n".join(lines)


def _wrapped(code, head, tail=""):
    body = code.replace("import numpy as np", "")
    return "import numpy as np\n" + head + "\n" + textwrap.indent(body, "    ") + tail


_NAMES = ("sigmoid", "sigmoid_derivative", "chain_forward", "chain_gradients", "local_gains")
EVASIONS = {
    # the comparison read the magics differently from the worker (finding 4)
    "magic-in-a-block": lambda: [f + "\nif 1:\n    %time\n" for f in _functions(known.DEE)],
    # functions moved out of the top level (finding 5)
    "if-true": lambda: [_wrapped(known.DEE, "if True:")],
    "try": lambda: [_wrapped(known.DEE, "try:", "\nexcept Exception:\n    pass\n")],
    "aliases": lambda: [
        re.sub(r"\b(" + "|".join(_NAMES) + r")\b", r"my_\1", known.DEE)
        + "\n"
        + "\n".join(f"{n} = my_{n}" for n in _NAMES)
    ],
    # statements with no effect, a dotted name as a plain one (finding 6)
    "prints": lambda: [_every_line(known.DEE, "print('here')")],
    "dead-assignments": lambda: [_every_line(known.DEE, "_unused = 0")],
    "from-import": lambda: [
        "from numpy import asarray, empty_like, exp, vstack, zeros_like\n"
        + re.sub(r"np\.(asarray|empty_like|exp|vstack|zeros_like)\b", r"\1", known.DEE)
    ],
    # padding before the copy: comments and docstrings cost nothing (finding 3)
    "comment-padding": lambda: ["#" + "x" * 200_000 + "\n" + known.DEE],
    "docstring-padding": lambda: ['"""' + "x" * 200_000 + '"""\n' + known.DEE],
}


@pytest.mark.parametrize("evasion", sorted(EVASIONS))
def test_the_red_teams_evasions_are_caught_and_no_independent_pair_is(independent, evasion):
    pair, flagged = _against_dee(independent, EVASIONS[evasion]())
    assert pair is not None and pair.score > 0.9 and is_flagged(pair, DEFAULT_THRESHOLD), pair
    assert flagged == []


def test_magics_are_read_as_the_worker_runs_them():
    units = split_units(
        ["if 1:\n    %time\n    x = 1\n!ls\ndef sigmoid(z):\n    return z"], "chain_rule"
    )
    assert units["sigmoid"] == "def sigmoid(z):\n    return z"  # the cell still parses
    assert "time" not in units[OTHER] and "ls" not in units[OTHER]


def test_statements_with_no_effect_and_dotted_names_are_normalised_away():
    plain = split_units(
        ["import numpy as np\ndef sigmoid(z):\n    y = np.exp(-z)\n    return 1 / (1 + y)"],
        "chain_rule",
        normalise=True,
    )
    padded = split_units(
        [
            "from numpy import exp\ndef sigmoid(z):\n    print(z)\n    'note'\n    unused = z\n"
            "    pass\n    y = exp(-z)\n    unused2 = 0\n    return 1 / (1 + y)"
        ],
        "chain_rule",
        normalise=True,
    )
    assert padded["sigmoid"] == plain["sigmoid"]
    # a statement the result depends on is kept: an assignment that is read, a call
    kept = split_units(
        ["def sigmoid(z):\n    y = z\n    z.sort()\n    return y"], "chain_rule", normalise=True
    )
    assert kept["sigmoid"].count("=") == 1 and "V()" in kept["sigmoid"]


def test_a_group_sharing_one_copy_is_flagged_pair_by_pair_and_listed(independent, tmp_path):
    """Three or four students handing in the same Part 1 are flagged (a whole matching part
    is never expected), and the section names the group; the independent ones are not."""
    for copies in (3, 4):
        codes = dict(independent)
        codes.update({f"cp{i}": {"chain_rule": [known.DEE]} for i in range(copies - 1)})
        pairs = compare_class(codes)["chain_rule"]["pairs"]
        flagged = [p for p in pairs if is_flagged(p, DEFAULT_THRESHOLD)]
        assert len(flagged) == copies * (copies - 1) // 2
        assert all({p.a, p.b} <= {"dee", *(f"cp{i}" for i in range(copies))} for p in flagged)
        assert similarity.groups(flagged) == [
            sorted(["dee", *(f"cp{i}" for i in range(copies - 1))])
        ]
    folders = {}
    for name, code in {
        "dee": known.DEE,
        "cp0": known.DEE,
        "cp1": known.DEE,
        "fay": known.FAY,
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "chain_rule.py").write_text(code)
        folders[name] = tmp_path / name
    section = similarity_section(write_similarity(tmp_path / "out", folders))
    assert "A group of 3 students whose code is alike, pair by pair: cp0, cp1, dee." in section
    assert "fay" not in section


def _stub_with(bodies):
    source = (known.STUBS / "chain_rule.py").read_text(encoding="utf-8")
    for name, body in bodies.items():
        source, found = re.subn(
            rf"(def {name}\(.*?\n)(    # YOUR CODE HERE\n    raise NotImplementedError\(\)\n)",
            lambda m, body=body: m.group(1) + "    " + body + "\n",
            source,
            count=1,
            flags=re.S,
        )
        assert found, name
    return source


def test_a_few_textbook_lines_and_the_stubs_are_too_little_to_flag(independent):
    """Two students who wrote sigmoid, its derivative and sgd_update the textbook way and
    left the rest as the stubs are alike, but share too little to flag; two who wrote the
    same long function are flagged."""
    textbook = _stub_with(
        {
            "sigmoid": "return 1 / (1 + np.exp(-z))",
            "sigmoid_derivative": "return sigmoid(z) * (1 - sigmoid(z))",
            "sgd_update": "return param - learning_rate * grad",
        }
    )
    codes = dict(independent, s1={"chain_rule": [textbook]}, s2={"chain_rule": [textbook]})
    pair = _pair(compare_class(codes)["chain_rule"]["pairs"], "s1", "s2")
    assert pair.score > 0.9 and pair.shared < similarity.MIN_SHARED
    assert not is_flagged(pair, DEFAULT_THRESHOLD)
    gradients = known.DEE.split("def chain_gradients(x, y, w, b):\n    ")[1].split("\n\n\n")[0]
    helper = "def _activations" + known.DEE.split("def _activations")[1].split("\n\n\ndef ")[0]
    long = _stub_with({"chain_gradients": gradients}) + "\n\n" + helper
    codes = dict(independent, s1={"chain_rule": [long]}, s2={"chain_rule": [long]})
    pair = _pair(compare_class(codes)["chain_rule"]["pairs"], "s1", "s2")
    assert pair.shared >= similarity.MIN_SHARED and is_flagged(pair, DEFAULT_THRESHOLD)


def test_the_notebooks_demo_cells_are_boilerplate(independent):
    """A student whose sigmoid and derivative are the notebook's demo functions (logistic,
    sigmoid_slope) shares them with no one: they are the released code."""
    released = json.loads((known.STUBS / "chain_rule.ipynb").read_text(encoding="utf-8"))
    demos = {}
    for cell in released["cells"]:
        text = "".join(cell["source"])
        if "demo" in cell["metadata"].get("tags", []) and text.startswith("def "):
            demos[re.match(r"def (\w+)", text).group(1)] = text
    assert {"logistic", "sigmoid_slope"} <= set(demos)
    body = {}
    for name in ("logistic", "sigmoid_slope"):
        function = ast.parse(demos[name]).body[0]
        body[name] = "\n    ".join(ast.unparse(line) for line in function.body[1:])  # no doc
    reuse = _stub_with({"sigmoid": body["logistic"], "sigmoid_derivative": body["sigmoid_slope"]})
    codes = dict(independent, s1={"chain_rule": [reuse]}, s2={"chain_rule": [reuse]})
    pair = _pair(compare_class(codes)["chain_rule"]["pairs"], "s1", "s2")
    assert pair is None or pair.shared == 0
    # without the demo cells as boilerplate, the two would share those functions
    only_given = [c for c in similarity._released_cells("chain_rule")[0]]
    monkey = pytest.MonkeyPatch()
    monkey.setattr(similarity, "_released_cells", lambda part: [only_given])
    similarity._boilerplate.cache_clear()
    try:
        pair = _pair(compare_class(codes)["chain_rule"]["pairs"], "s1", "s2")
        assert pair.shared > 0
    finally:
        monkey.undo()
        similarity._boilerplate.cache_clear()


def test_one_unreadable_student_is_listed_and_the_rest_compared(
    class_folders, tmp_path, monkeypatch
):
    """A student whose files make the reader raise (any error) is "not compared"; the
    copied pairs are still found, and the pages of an earlier run are gone."""
    stale = tmp_path / "out" / "similarity" / "old.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale")
    reader = similarity.load_submission

    def load(folder):
        if folder.name == "gus":
            raise AttributeError("'str' object has no attribute 'get'")
        return reader(folder)

    monkeypatch.setattr(similarity, "load_submission", load)
    data = write_similarity(tmp_path / "out", class_folders)
    assert data["not_compared"] == ["gus"]
    flagged = data["parts"]["chain_rule"]["flagged"]
    assert {frozenset((p["a"], p["b"])) for p in flagged} == {frozenset(c) for c in known.COPIED}
    assert not stale.exists()
    section = similarity_section(data)
    assert "Not compared (1): the files of gus could not be read as a submission." in section


def test_a_malformed_notebook_is_read_as_the_students_code(class_folders, tmp_path):
    """The red team's notebook (a cell's metadata a string) no longer stops the reader:
    ivy's copy is found in it; the section of a comparison that failed says so."""
    notebook = json.loads(known.notebook(known.IVY_CELLS))
    for cell in notebook["cells"]:
        cell["metadata"] = "x"
    folder = tmp_path / "ivy"
    folder.mkdir()
    (folder / "chain_rule.ipynb").write_text(json.dumps(notebook))
    unread = []
    codes = read_class({"dee": class_folders["dee"], "ivy": folder}, unread)
    assert unread == []
    (pair,) = compare_class(codes)["chain_rule"]["pairs"]
    assert is_flagged(pair, DEFAULT_THRESHOLD)
    failed = similarity_section({"error": "MemoryError: <b>"})
    assert "this time: MemoryError: &lt;b&gt;." in failed
    assert "<table" not in failed


def test_the_section_reports_a_comparison_that_failed(tmp_path, monkeypatch):
    """A batch whose comparison raises still writes class.html, with a section that says
    the comparison failed, and leaves no page of an earlier run."""
    cluster = pytest.importorskip("grader.scale.cluster")
    from grader.results import ungraded_report
    from grader.scale import batch

    def grade_on_cluster(scheduler, students, seed, version, store, **_):
        for student in students:
            store(student, ungraded_report(student.name, "stand-in"), None)
        return len(students)

    def broken(out, folders, threshold):
        similarity.remove_pages(out)
        raise MemoryError("too much")

    monkeypatch.setattr(cluster, "grade_on_cluster", grade_on_cluster)
    monkeypatch.setattr(batch, "write_similarity", broken)
    root = tmp_path / "submitted"
    (root / "a").mkdir(parents=True)
    (root / "a" / "chain_rule.py").write_text(known.DEE)
    out = tmp_path / "out"
    (out / "similarity").mkdir(parents=True)
    (out / "similarity" / "old.html").write_text("stale")
    batch.grade_class(root, out, scheduler="tls://stand-in:8786", progress=False)
    page = (out / "class.html").read_text()
    assert '<section id="similarity">' in page
    assert "could not be compared\nthis time: MemoryError: too much." in page
    assert not (out / "similarity" / "old.html").exists()


def test_a_part_longer_than_what_is_compared_is_noted(independent, monkeypatch):
    """Code (not comments) beyond the budget is cut and the student named; a copy inside
    the budget is still found, and the fingerprints a unit keeps are the lowest."""
    junk = "JUNK = [" + ", ".join(str(10**6 + 7919 * i) for i in range(3000)) + "]\nprint(JUNK)\n"
    codes = dict(independent, cp={"chain_rule": [known.DEE + "\n" + junk]})
    compared = compare_class(codes)["chain_rule"]
    assert compared["cut"] == []
    monkeypatch.setattr(similarity, "MAX_PART_CHARS", 10_000)
    monkeypatch.setattr(similarity, "MAX_FINGERPRINTS", 400)
    compared = compare_class(codes)["chain_rule"]
    assert compared["cut"] == ["cp"]
    assert is_flagged(_pair(compared["pairs"], "dee", "cp"), DEFAULT_THRESHOLD)
    assert not any(
        is_flagged(p, DEFAULT_THRESHOLD) for p in compared["pairs"] if "cp" not in (p.a, p.b)
    )
    hashes = similarity._hashes("x", "V=[" + ",".join(map(str, range(5000))) + "]", np.array([]))
    everything = similarity._fingerprint(
        "x", "V=[" + ",".join(map(str, range(5000))) + "]", np.array([]), True
    )
    assert len(hashes) == 400 and sorted(hashes) == sorted(everything.hashes)[:400]


def test_many_cells_are_compared_within_bounds():
    cells, cut = similarity._bounded(["x = ("] * 5000)
    assert len(cells) == similarity.MAX_CELLS and not cut
    cells, cut = similarity._bounded(["#" * similarity.MAX_SOURCE_CHARS, "def sigmoid(z): ..."])
    assert cut and len(cells) == 1


def test_scores_are_shown_cut_to_two_decimals_as_the_threshold_compares_them():
    assert similarity.shown(0.955) == "0.95" and similarity.shown(0.96) == "0.96"
    assert similarity.shown(1.0) == "1.00" and similarity.shown(0.5) == "0.50"
    pair = {"a": "x", "b": "y", "score": 0.955, "raw": 0.955, "shared": 80, "functions": []}
    data = {
        "threshold": 0.96,
        "parts": {
            "chain_rule": {
                "students": 2,
                "flagged": [],
                "flagged_count": 0,
                "expected": [pair],
                "expected_count": 1,
            }
        },
    }
    section = similarity_section(data)
    assert "threshold 0.96" in section and '<td class="num">0.95</td>' in section
    assert "0.96</td>" not in section
    data["threshold"] = 0.955  # a finer threshold is stated as it is
    assert "threshold 0.955;" in similarity_section(data)
