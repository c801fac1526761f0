"""Suite-wide settings: quiet TensorFlow, seeds, float64 printing."""

from __future__ import annotations

import os

from grader.quiet import silence_tensorflow

silence_tensorflow()
# The suite's own secret for the hidden cases: no test depends on a course's secret file.
os.environ.setdefault("GRADER_SEED", "the test suite's own secret for the hidden cases")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: The longest pieces of work of the suite, longest first (measured with ``-n 2
#: --durations``): a node id, or the start of one (a module, a test without its
#: parameters). Under xdist they are handed out first and the short tests fill in around
#: them, so that no long test starts when the other worker is about to run out of work.
SLOWEST_FIRST: tuple[str, ...] = (
    "tests/grader/course/test_kit_audit.py",  # every callable of the kit, in forked children
    "tests/grader/course/test_kit.py",  # a wheel, a virtual environment, the kit's notebooks run
    "tests/grader/reports/test_gradebook.py",  # nbgrader autograde of three students; a batch
    "tests/grader/test_attacks.py",  # a batch of 21 students, the attacks graded alone
    "tests/grader/measuring/test_rebuild.py::test_fuzz_every_registered_keras_callable_in_every_slot",
    "tests/grader/scale/test_cluster.py",  # dask workers, each importing TensorFlow
    "tests/test_notebooks.py",  # every notebook run in a kernel
    # each instructor notebook run with oneDNN on and off
    "tests/lessons/test_deep_sigmoid_claims.py",
    "tests/lessons/test_clipping_claims.py",
    "tests/lessons/test_remedies_claims.py",
    "tests/lessons/test_chain_rule_claims.py",
    "tests/test_docs.py",  # every command of the README and the guides
    "tests/grader/scale/test_batch.py",  # batch processes, each importing TensorFlow
    "tests/grader/checks/test_corpus.py",
    "tests/grader/test_hostile.py",
)


def _slowness_rank(item: pytest.Item) -> int:
    """The place of the item's entry in :data:`SLOWEST_FIRST`; past its end if none."""
    for rank, start in enumerate(SLOWEST_FIRST):
        if item.nodeid.startswith(start):
            return rank
    return len(SLOWEST_FIRST)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups into the ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests that share a module- or class-scoped fixture on one xdist worker, and
    put the slowest work first.

    With ``-n 2 --dist loadgroup`` the tests are spread over two processes; a fixture shared
    by a module (a graded report, an nbgrader course) would otherwise be built once per
    process. Session fixtures (the shared sandbox) are built once per process anyway. A test
    that names its group (``pytest.mark.xdist_group``) keeps it: a module may split its
    tests into groups that share different fixtures.

    It must run before xdist's hook of the same name, which turns the groups into the
    tests' ids in each worker: run after it, as it did, the groups it adds were never seen,
    and a module's tests were spread over both workers, each building the module's
    fixtures (an autograded nbgrader course, a batch of attacks) again.

    The order is the same in every process (xdist requires it), and pyproject.toml's
    ``--no-loadscope-reorder`` keeps xdist from sorting the groups by their number of tests
    instead of this order.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        scopes = {
            definition.scope
            for name in info.names_closure
            for definition in info.name2fixturedefs.get(name, ())
        }
        if scopes & {"module", "class", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=_slowness_rank)  # stable: the collection's order within each rank


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the golden feedback texts in tests/goldens instead of comparing with them",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten (pytest --update-goldens)."""
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(autouse=True)
def _seed_everything():
    """Give every test the same seeds, so a failure repeats."""
    np.random.seed(0)
    from grader.quiet import import_tensorflow

    import_tensorflow()  # quietly, before anything imports it with its log lines
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def shared_sandbox():
    """One worker for the whole session (per xdist worker): TensorFlow is imported in it once."""
    from grader.isolation.sandbox import Sandbox

    sandbox = Sandbox(tensorflow=True)
    yield sandbox
    sandbox.close()


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator for the test's own random inputs."""
    return np.random.default_rng(12345)
