"""Where the tests find the repository's folders, wherever a test module lives."""

from pathlib import Path

#: The repository's root.
ROOT = Path(__file__).resolve().parents[1]
#: Realistic right and wrong submissions the grader is tested against.
CORPUS = ROOT / "tests" / "corpus"
#: The golden feedback texts.
GOLDENS = ROOT / "tests" / "goldens"
