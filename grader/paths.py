"""Where the grader package and the course folder are on disk.

The course folder is the repository's root: it holds the package, ``solutions/``,
``exercises/``, ``examples/`` and the course's secret. In the student kit only the package
is installed, so the course's folders do not exist there; the modules that read them say
what they do without them.
"""

from __future__ import annotations

from pathlib import Path

#: The ``grader`` package's folder.
PACKAGE = Path(__file__).resolve().parent
#: The course folder (the repository's root), which holds the package.
ROOT = PACKAGE.parent
