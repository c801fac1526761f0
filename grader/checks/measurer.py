"""Who measures a student's model: the grader's measuring code, or in a kit the student's own.

``build_exploding_mlp`` and ``build_healthy_mlp`` are judged by their models' gradient norms
(and, for the healthy one, a training run). The full package measures them with its own
code (:mod:`grader.measuring.measure`: a rebuilt model's kernel gradients through a
``tf.GradientTape``, SGD runs). That code computes ``dense_grad_norms``' answer, so the
student kit does not ship it (:mod:`grader.course.kit`). In a kit
(:func:`grader.checks.expected.has_hidden_cases` is False):

- a model is rebuilt as a Keras model (:func:`grader.measuring.rebuild.rebuild_model`);
- its gradient norms are measured by the student's OWN ``dense_grad_norms``, and only once
  it passes its own public check (:class:`OwnNorms`, given by :mod:`grader.notebook` for
  the duration of a check with :func:`measured_with`); until then the checks that need it
  say so (:func:`unmeasured_case`): a kit's verdict on those checks is only as good as the
  student's measuring, which is the student's own kernel's business anyway;
- a training run is Keras's own loop (``model.compile`` and ``model.fit`` with
  ``keras.optimizers.SGD``), which computes no contract function's answer.

The functions keep :mod:`grader.measuring.measure`'s names and arguments, so a check reads
the same whichever measures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.expected import has_hidden_cases
from grader.checks.registry import message
from grader.checks.runner import InProcessRunner
from grader.measuring.rebuild import rebuild_model
from grader.quiet import import_tensorflow
from grader.results import CaseResult

#: The tests whose models are measured, and so need the student's dense_grad_norms in a kit.
MEASURED_TESTS = ("deep_sigmoid.build_exploding_mlp", "remedies.build_healthy_mlp")
#: The category of a case a kit could not measure.
UNMEASURED = "could not be measured: dense_grad_norms does not pass its public check yet"
#: The hint of such a case.
UNMEASURED_HINT = (
    "Make dense_grad_norms pass first (check(dense_grad_norms) in deep_sigmoid.ipynb), then "
    "run this check again: the kit holds no gradient code of its own, so it measures the "
    "models you build with your own dense_grad_norms."
)


@dataclass(frozen=True)
class OwnNorms:
    """The student's own ``dense_grad_norms`` a kit measures with, or why there is none.

    Attributes:
        function: the student's function, passed its public check; None when it did not.
        problem: why there is none, in words (empty when there is one).
    """

    function: Callable[..., Any] | None
    problem: str = ""


class NotMeasured(Exception):
    """A kit could not measure a model: no dense_grad_norms to measure with, or it raised."""


#: What a kit measures with while a check runs (:func:`measured_with`); a module global,
#: not a context variable, so that the checks' background thread sees it too.
_OWN: OwnNorms | None = None


@contextmanager
def measured_with(own: OwnNorms) -> Iterator[None]:
    """Inside the block, a kit measures gradient norms with ``own``."""
    global _OWN
    previous, _OWN = _OWN, own
    try:
        yield
    finally:
        _OWN = previous


def in_kit() -> bool:
    """Whether this is a student kit (recorded values; no measuring code of the grader's)."""
    return not has_hidden_cases()


def unavailable() -> str:
    """Why models cannot be measured here, or ``""`` when they can (always in the full package)."""
    if not in_kit():
        return ""
    if _OWN is None:
        return "no dense_grad_norms of yours was given to measure with"
    return "" if _OWN.function is not None else _OWN.problem


def unmeasured_case(description: str, problem: str) -> CaseResult:
    """The failed case of a model a kit could not measure, saying why."""
    return CaseResult(
        description,
        False,
        message(
            "the model measured with your own dense_grad_norms, once it passes its public check",
            problem,
            UNMEASURED_HINT,
        ),
        category=UNMEASURED,
    )


def rebuild_for_measuring(spec: Any, size: Any = None) -> Any:
    """A received model ready to be measured: as :func:`grader.measuring.measure.rebuild_for_measuring`
    in the full package, a Keras model in a kit (the student's dense_grad_norms takes one)."""
    if in_kit():
        import_tensorflow()
        return rebuild_model(spec, size)
    # lazy: full package only: the grader's measuring code computes dense_grad_norms' answer
    from grader.measuring.measure import rebuild_for_measuring as rebuild

    return rebuild(spec, size)


def gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-Dense-layer kernel gradient norms: the grader's measurement in the full package,
    the student's own passing ``dense_grad_norms`` in a kit.

    Raises:
        NotMeasured: in a kit, when there is no passing dense_grad_norms, or it raised.
    """
    if not in_kit():
        # lazy: full package only: the grader's measuring code computes dense_grad_norms' answer
        from grader.measuring.measure import gradient_norms as measure

        return measure(model, x, y)
    problem = unavailable()
    if problem:
        raise NotMeasured(problem)
    try:
        norms = _OWN.function(model, x, y)
        return np.asarray(norms, dtype=np.float64).ravel()
    except Exception as error:  # noqa: BLE001 - the student's own function
        raise NotMeasured(
            f"your dense_grad_norms raised {type(error).__name__} on this model"
        ) from None


def train_full_batch(
    model: Any, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float, budget: Any = None
) -> np.ndarray:
    """Losses of ``steps`` full-batch SGD steps on the mean squared error, each before its
    step: :func:`grader.measuring.measure.train_full_batch` in the full package (within
    ``budget``), Keras's own ``model.fit`` in a kit."""
    if not in_kit():
        # lazy: full package only: the grader's training loop takes gradients by tape
        from grader.measuring.measure import train_full_batch as train

        return train(model, x, y, steps, learning_rate, budget)
    import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly) when a model is trained
    import keras

    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss="mean_squared_error",
        jit_compile=False,
    )
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(len(x), -1)
    history = model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0)
    return np.asarray(history.history["loss"], dtype=np.float64)


# A notebook's kernel measures a model of the student's own parts with these
# (:meth:`grader.checks.runner.InProcessRunner.measure`).
InProcessRunner.measurers = (gradient_norms, train_full_batch, NotMeasured)
