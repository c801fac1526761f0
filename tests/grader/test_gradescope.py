"""Is the Gradescope output valid results.json, and do setup.sh and run_autograder work as laid out?"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.assignment import FUNCTIONS, function
from grader.course.sources import reference_source
from grader.isolation import jail
from grader.results import Report, TestResult
from tests.paths import ROOT

SCRIPTS = ROOT / "grader" / "gradescope"
VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
FORMATS = ["text", "html", "simple_format", "md", "ansi"]
#: Gradescope's specification of results.json, as a JSON Schema: every field it reads,
#: of the type and values it accepts, and nothing else.
RESULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": {"enum": FORMATS},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": FORMATS},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": VISIBILITY},
                    "extra_data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "leaderboard": {"type": "array"},
    },
    "required": ["tests"],
    "additionalProperties": False,
}


def superset_schema(schema: dict) -> dict:
    """The same schema, allowing further fields (what "a superset of results.json" means)."""
    if not isinstance(schema, dict):
        return schema
    loose = {k: superset_schema(v) for k, v in schema.items() if k != "additionalProperties"}
    return loose


def validate_results(results: dict, superset: bool = False) -> None:
    """Check a results.json against Gradescope's specification of the format.

    Args:
        results: the parsed JSON.
        superset: allow fields of our own besides Gradescope's.
    """
    jsonschema.validate(results, superset_schema(RESULTS_SCHEMA) if superset else RESULTS_SCHEMA)
    assert "score" in results or all("score" in t for t in results["tests"])
    for test in results["tests"]:
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0 == test["score"]


def test_the_validator_rejects_what_gradescope_would_not_read():
    """Does the schema check fail on an unknown field, a bad visibility or a missing output type?"""
    good = {"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1, "status": "passed"}]}
    validate_results(good)
    for bad in (
        {**good, "max_score": 1},
        {**good, "visibility": "later"},
        {**good, "tests": [{**good["tests"][0], "output": 3}]},
        {**good, "tests": [{**good["tests"][0], "mistakes": []}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_results(bad)
    validate_results({**good, "max_score": 1}, superset=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_results({**good, "visibility": "later"}, superset=True)


def sample_report(cases: str = "hidden") -> Report:
    from grader.results import CaseResult

    failed = TestResult(
        "chain_rule.sigmoid",
        4,
        cases=[
            CaseResult("sigmoid at -1e4", False, "Expected: 0.0\nReceived: nan\nHint: use e^-|z|"),
            CaseResult("sigmoid on 9 values", True),
        ],
    )
    passed = TestResult("chain_rule.sgd_update", 2, cases=[CaseResult("sgd_update", True)])
    missing = TestResult("remedies.he_normal_stddev", 2, verdict="Part remedies was not found.")
    return Report("sub", [failed, passed, missing], execution_time=1.5, cases=cases)


def test_results_json_is_valid_and_hides_only_the_hidden_values_until_the_due_date():
    """Are the score, the failed cases and the hint visible at once, and only the values later?"""
    results = sample_report().to_gradescope()
    validate_results(results)
    assert results["score"] == 2 + 2
    visible = {t["name"]: t for t in results["tests"] if t["visibility"] == "visible"}
    later = {t["name"]: t for t in results["tests"] if t["visibility"] == "after_due_date"}
    now = visible["chain_rule.sigmoid"]
    assert now["score"] == 2.0
    assert "Checked: sigmoid at -1e4" in now["output"]
    assert "Hint: use e^-|z|" in now["output"]
    assert "Expected" not in now["output"] and "nan" not in now["output"]
    assert "values of the hidden cases are shown after the due date" in now["output"]
    assert "Expected: 0.0" in later["chain_rule.sigmoid (details)"]["output"]
    assert later["chain_rule.sigmoid (details)"]["max_score"] == 0
    assert visible["remedies.he_normal_stddev"]["output"] == "Part remedies was not found."
    assert sum(t["max_score"] for t in results["tests"]) == 8


def test_json_report_is_a_superset_of_results_json():
    """Does --format json hold every field Gradescope reads, valid against the same schema?"""
    data = sample_report().to_dict()
    validate_results(data, superset=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_results(data)  # it has fields of its own: a superset, not the same
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility"} <= set(data)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)


def test_scores_are_rounded_for_people_and_exact_for_machines():
    """Is 3.3333 shown as 3.33 in every text a person reads, and kept to 1e-4 in the data?"""
    from grader.reports.html import render_html
    from grader.results import CaseResult

    third = TestResult(
        "chain_rule.chain_gradients",
        10,
        cases=[CaseResult("a", True), CaseResult("b", False, "Hint: h"), CaseResult("c", False)],
    )
    report = Report("sub", [third], cases="public")
    assert third.score == 3.3333
    assert report.to_dict()["score"] == 3.3333
    assert report.to_gradescope()["tests"][0]["score"] == 3.3333
    assert report.to_gradescope()["output"] == "3.33 of 10 points."
    text = report.to_text()
    assert "3.33 / 10" in text and "3.3333" not in text
    page = render_html(report.to_dict())
    assert "3.33 / 10" in page and "3.3333" not in page


def test_public_case_reports_show_everything_at_once():
    """On the public cases (self-check), is every detail visible?"""
    results = sample_report("public").to_gradescope()
    validate_results(results)
    assert all(t["visibility"] == "visible" for t in results["tests"])


WHEEL = "exploding_gradients_course-0.1.0-py3-none-any.whl"
WHEEL_INFO = "exploding_gradients_course-0.1.0.dist-info"


def fake_commands(tmp_path, *names: str) -> tuple[dict[str, str], Path]:
    """An environment whose ``names`` are fakes that log their folder, arguments and secret
    file; and the log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    for name in names:
        fake = bin_dir / name
        fake.write_text(f'#!/bin/sh\necho "$PWD {name} $* ${{GRADER_SECRET_FILE:-}}" >> {log}\n')
        fake.chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(tmp_path),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    return env, log


def test_setup_installs_the_zipped_wheel_and_keeps_the_secret_to_its_owner(tmp_path):
    """Does setup.sh pip-install the zip's wheel (not an editable checkout), the jail's tools
    with apt-get, and leave the secret and the source folder to their owner alone?"""
    source = tmp_path / "source"
    (source / "wheels").mkdir(parents=True)
    (source / "wheels" / WHEEL).write_bytes(b"")
    (source / ".grader-secret").write_text("s" * 64 + "\n")
    (source / ".grader-secret").chmod(0o644)
    env, log = fake_commands(tmp_path, "python3", "apt-get")
    subprocess.run(["bash", str(SCRIPTS / "setup.sh")], env=env, check=True, timeout=60)
    calls = log.read_text().strip().splitlines()
    secret = source / ".grader-secret"
    assert calls[:3] == [
        f"{source} apt-get install -y --no-install-recommends bubblewrap util-linux ",
        f"{source} python3 -m pip install --no-cache-dir wheels/{WHEEL} ",
        f"{source} python3 -m grader.secret {secret}",
    ]
    assert calls[3].startswith(f"{source} python3 -c from grader.isolation import jail")
    assert oct(secret.stat().st_mode & 0o777) == oct(0o600)
    assert oct(source.stat().st_mode & 0o777) == oct(0o700)


def test_setup_without_the_wheel_says_which_zip_to_upload(tmp_path):
    """A source folder without the wheel (the repository zipped as it is): does setup.sh stop
    and name the command that writes the zip, before installing anything?"""
    (tmp_path / "source" / "grader" / "gradescope").mkdir(parents=True)
    env, log = fake_commands(tmp_path, "python3", "apt-get")
    done = subprocess.run(
        ["bash", str(SCRIPTS / "setup.sh")], env=env, timeout=60, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "python -m grader gradescope --out autograder.zip" in done.stderr
    assert not log.exists()


@pytest.mark.slow
def test_run_autograder_grades_the_submission_folder_into_results_json(tmp_path):
    """Does run_autograder grade /autograder/submission into a valid /autograder/results/results.json?"""
    os.symlink(ROOT, tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "chain_rule.py").write_text(reference_source("chain_rule"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(SCRIPTS / "run_autograder")], env=env, timeout=900, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")


def test_run_autograder_reports_even_when_the_grader_cannot_run(tmp_path):
    """When the grader itself fails, does the student still get a results.json saying so?"""
    (tmp_path / "source").mkdir()
    (tmp_path / "submission").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/bin/sh\nexit 3\n")
    (bin_dir / "python3").chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(tmp_path),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    subprocess.run([str(SCRIPTS / "run_autograder")], env=env, check=True, timeout=60)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    assert "could not grade" in results["output"] and shutil.which("bash")


def run_autograder(tmp_path, files: dict[str, str]) -> dict:
    """Run run_autograder on an upload of ``{path in the upload: text}``; its results.json."""
    os.symlink(ROOT, tmp_path / "source")
    (tmp_path / "submission").mkdir()
    for name, text in files.items():
        (tmp_path / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "submission" / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    subprocess.run([str(SCRIPTS / "run_autograder")], env=env, check=True, timeout=300)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    return results


def test_run_autograder_grades_the_files_of_an_uploaded_folder(tmp_path):
    """When a student uploads the folder (the files one folder down), are its files graded?"""
    results = run_autograder(
        tmp_path, {"exploding_gradients/chain_rule.py": reference_source("chain_rule")}
    )
    assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    assert "could not grade" not in results["output"]


def test_run_autograder_grades_what_the_student_wrote_of_an_uploaded_kit_folder(tmp_path):
    """A kit folder uploaded whole, .py written and notebook as released: is the .py graded?"""
    release = ROOT / "exercises" / "exploding_gradients"
    results = run_autograder(
        tmp_path,
        {
            "kit/chain_rule.ipynb": (release / "chain_rule.ipynb").read_text(encoding="utf-8"),
            "kit/chain_rule.py": reference_source("chain_rule"),
        },
    )
    assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    assert (
        "chain_rule.py is graded: chain_rule.ipynb is the released stub, unchanged."
        in (results["output"])
    )


@pytest.mark.parametrize(
    "files, says",
    [
        (
            {"homework.ipynb": "{}", "notes/readme.txt": "hello"},
            "No file of the assignment was found in your upload (it holds homework.ipynb, "
            "notes/). Upload the files themselves, with the names they were released with: "
            "chain_rule.ipynb, deep_sigmoid.ipynb, clipping.ipynb, remedies.ipynb or the same "
            "names ending in .py.",
        ),
        (
            {"first/chain_rule.py": "x = 1\n", "second/clipping.py": "x = 1\n"},
            "Your upload holds the assignment's files in 2 folders (first/, second/), and only "
            "one set can be graded: upload the files themselves, from one folder.",
        ),
    ],
    ids=["no-part-file", "two-folders"],
)
def test_run_autograder_tells_the_student_what_to_upload(tmp_path, files, says):
    """With no part file to grade, does the student read what to upload, and no command or
    path of the grading machine?"""
    results = run_autograder(tmp_path, files)
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"] == says
    assert "python -m grader" not in results["output"] and str(tmp_path) not in json.dumps(results)


def unpack_as_gradescope_does(archive: Path, source: Path) -> None:
    """Unzip the autograder into ``source``, as Gradescope does (modes kept)."""
    source.mkdir(parents=True)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(archive), "-d", str(source)], check=True, timeout=60)
        return
    with zipfile.ZipFile(archive) as opened:
        for entry in opened.infolist():
            opened.extract(entry, source)
            (source / entry.filename).chmod(entry.external_attr >> 16 & 0o777)


#: A Part 1 whose sigmoid tries to read each target and write ``stolen``; it is right only
#: when every attempt failed.
ATTACK = """

_right_sigmoid = sigmoid


def sigmoid(z):
    reached = 0
    for target in {targets!r}:
        try:
            with open(target, encoding="utf-8") as handle:
                handle.read()
            reached += 1
        except OSError:
            pass
    try:
        with open({stolen!r}, "w", encoding="utf-8") as handle:
            handle.write("written")
        reached += 1
    except OSError:
        pass
    return _right_sigmoid(z) if reached == 0 else _right_sigmoid(z) * 0
"""


@pytest.mark.slow
def test_the_autograder_zip_installs_and_grades_as_on_gradescope(tmp_path):
    """Built, unpacked in an empty /autograder/source, set up from its own wheel (no path back
    to the repository), run on a submission: is results.json valid, with Part 1's points?"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GRADER_SEED"] = "a3f1c09d5e7b2468" * 2
    archive = tmp_path / "built" / "autograder.zip"
    built = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", "--out", str(archive)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == [
            "setup.sh",
            "run_autograder",
            ".grader-secret",
            f"wheels/{WHEEL}",
        ]
        assert opened.read(".grader-secret").decode().strip() == env["GRADER_SEED"]
        wheel = zipfile.ZipFile(io.BytesIO(opened.read(f"wheels/{WHEEL}")))
        shipped = wheel.namelist()
    assert {n.split("/")[0] for n in shipped} == {"grader", "solutions", WHEEL_INFO}
    assert not [n for n in shipped if "test" in n.split("/")[0] or n.endswith((".md", ".pyc"))]
    assert "grader/release/chain_rule.ipynb" in shipped and "solutions/chain_rule.py" in shipped

    # Gradescope: unzip into /autograder/source; the image runs setup.sh there (into a venv
    # of this interpreter here, offline); no GRADER_SEED on Gradescope: the zip's secret.
    root = tmp_path / "autograder"
    unpack_as_gradescope_does(archive, root / "source")
    del env["GRADER_SEED"]
    venv = tmp_path / "venv"
    env.update(AUTOGRADER_ROOT=str(root), GRADER_SETUP_VENV=str(venv))
    setup = subprocess.run(
        ["bash", "setup.sh"],
        cwd=root / "source",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert oct((root / "source" / ".grader-secret").stat().st_mode & 0o777) == oct(0o600)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    where = subprocess.run(
        ["python3", "-c", "import grader, solutions; print(grader.__file__, solutions.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    for path in map(Path, where):
        assert venv.resolve() in path.resolve().parents, path
        assert ROOT.resolve() not in path.resolve().parents, path

    # each submission: run_autograder copied to the root, the student's files in submission/
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "submission" / "chain_rule.py").write_text(reference_source("chain_rule"))
    graded = subprocess.run(
        [str(root / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert graded.returncode == 0, graded.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate_results(results)
    assert "could not grade" not in results["output"], results["output"]
    assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    # the hidden cases came from the zip's secret: none was made beside the installed package
    assert not list(venv.glob("lib/python*/site-packages/.grader-secret"))

    # the next submission, a realistic mistake (the corpus's sigmoid_derivative that returns
    # the sigmoid, in place of the reference's): the same install takes its points
    mistake = ROOT / "tests" / "corpus" / "wrong" / "chain_rule__derivative_is_sigmoid.py"
    (root / "submission" / "chain_rule.py").write_text(
        reference_source("chain_rule") + "\n\n" + mistake.read_text()
    )
    (root / "results" / "results.json").unlink()
    subprocess.run([str(root / "run_autograder")], cwd=root, env=env, timeout=600, check=True)
    wrong = json.loads((root / "results" / "results.json").read_text())
    validate_results(wrong)
    part_one = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    assert wrong["score"] == part_one - function("chain_rule.sigmoid_derivative").points
    lost = {t["name"] for t in wrong["tests"] if t["score"] < t["max_score"]}
    assert {name for name in lost if name.startswith("chain_rule.")} == {
        "chain_rule.sigmoid_derivative"
    }

    # Where user namespaces are refused (Docker's default profile), as root: the dropped mode.
    # A submission that tries to read the secret and the installed references and to write
    # results/ reaches none of them (its sigmoid is right only when every attempt failed);
    # the plain process is refused rather than run as root (a "could not grade" result).
    stolen = root / "results" / "stolen.txt"
    targets = [
        root / "source" / ".grader-secret",
        *venv.glob("lib/python*/site-packages/solutions/chain_rule.py"),
    ]
    assert len(targets) == 2
    attack = ATTACK.format(targets=[str(t) for t in targets], stolen=str(stolen))
    (root / "submission" / "chain_rule.py").write_text(reference_source("chain_rule") + attack)
    # dropped's promise for these files rests on Landlock where they are readable by others
    # (here: the venv); without it, only the refusal of process mode is checked.
    landlock = os.geteuid() == 0 and jail.dropped_works() and "files" in jail.landlock_held()
    for mode in ("dropped", "process") if landlock else ("process",):
        (root / "results" / "results.json").unlink()
        subprocess.run(
            [str(root / "run_autograder")],
            cwd=root,
            env={**env, "GRADER_ISOLATION": mode},
            timeout=600,
            check=True,
        )
        results = json.loads((root / "results" / "results.json").read_text())
        validate_results(results)
        assert not stolen.exists()
        assert env.get("GRADER_SEED", "") == "" and "a3f1c09d" not in json.dumps(results)
        if mode == "dropped":
            assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule"), (
                results["output"]
            )
        else:
            assert results["score"] == 0 and "could not grade" in results["output"]

    # a kit folder uploaded whole: the installed package knows the released stub (its copy of
    # the release), so the .py the student wrote is graded, and says why
    shutil.rmtree(root / "submission")
    (root / "submission" / "kit").mkdir(parents=True)
    release = ROOT / "exercises" / "exploding_gradients" / "chain_rule.ipynb"
    shutil.copy(release, root / "submission" / "kit" / "chain_rule.ipynb")
    (root / "submission" / "kit" / "chain_rule.py").write_text(reference_source("chain_rule"))
    (root / "results" / "results.json").unlink()
    subprocess.run([str(root / "run_autograder")], cwd=root, env=env, timeout=600, check=True)
    kit = json.loads((root / "results" / "results.json").read_text())
    assert kit["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    assert "chain_rule.ipynb is the released stub, unchanged" in kit["output"], kit["output"]


def test_the_zip_command_says_when_it_cannot_write_the_zip(tmp_path):
    """--out under a file: one line saying so, status 2, no traceback; a writable --out works
    (the slow test above builds and unpacks it)."""
    (tmp_path / "notes.txt").write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", "--out", "notes.txt/autograder.zip"],
        cwd=tmp_path,
        env={**os.environ, "GRADER_SEED": "a3f1c09d5e7b2468" * 2},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("python -m grader: error: cannot write the autograder zip")
    assert "Expected: a path this user can write. Received: " in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
