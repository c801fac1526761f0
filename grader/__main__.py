"""``python -m grader``: see :mod:`grader.cli`; in the student kit, :mod:`grader.self_check`."""

try:
    # full package only: the kit has no grading on hidden cases, batch or kit building
    from grader.cli import run
except ModuleNotFoundError as missing:  # the student kit, and only the kit
    if missing.name != "grader.cli":
        raise
    from grader.self_check import run

run()
