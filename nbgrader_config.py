"""nbgrader configuration of the course: the repository root is the course directory.

The assignment ``exploding_gradients`` has its nbgrader source notebooks (with solutions)
in ``solutions/exploding_gradients/`` and its student release in
``exercises/exploding_gradients/``. Do not edit either by hand: ``python -m
grader.course.generate`` builds the source notebooks from ``solutions/<part>.py`` and
``solutions/lessons/<part>.md`` and runs ``generate_assignment`` with this configuration
(without a gradebook database). To run nbgrader by hand from the repository root::

    python -m nbgrader generate_assignment exploding_gradients --force --no-db
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# The assignment, exploding_gradients, is named on the command line (nbgrader refuses it
# in both places), or by grader.course.generate.

# Only solutions/exploding_gradients is nbgrader source: the reference modules and the
# lesson texts beside it are never copied into a release. Caches are ignored.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "gradebook.db",
]

# The stub that replaces a solution region; grader.course.sources.STUB is the same text, so the
# released notebooks and the plain-module stubs agree.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograded cells that train models take seconds; allow for a loaded machine.
c.Execute.timeout = 600
