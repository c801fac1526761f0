"""The bundled example submissions, made from the released notebooks.

``correct``: every solution cell of the student notebooks filled in with the reference.
``typical_mistakes``: the same, except for the functions in :data:`MISTAKES`, which hold
mistakes students really make, and one function left unimplemented.

``python -m grader.course.examples`` writes them under ``examples``;
``--check`` reports the files that differ from what is committed.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import nbformat

from grader.assignment import ASSIGNMENT, PARTS
from grader.course.sources import reference_source, split_module
from grader.paths import ROOT

RELEASE = ROOT / "exercises" / ASSIGNMENT
EXAMPLES = ROOT / "examples"

#: Functions of the typical-mistakes example, as a student wrote them.
MISTAKES: dict[str, str] = {
    "chain_rule.sigmoid": '''def sigmoid(z):
    """Return the logistic sigmoid 1 / (1 + e^-z), elementwise."""
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))
''',
    "chain_rule.chain_gradients": '''def chain_gradients(x, y, w, b):
    """Return dL/dw and dL/db for L = mean((O_n - y)**2), by backpropagation."""
    outputs = [np.asarray(x, dtype=float)] + chain_forward(x, w, b)
    dw, db = np.zeros(len(w)), np.zeros(len(w))
    grad = 2 * (outputs[-1] - y)  # derivative of the squared error
    for k in reversed(range(len(w))):
        dz = grad * outputs[k + 1] * (1 - outputs[k + 1])
        dw[k] = np.sum(dz * outputs[k])
        db[k] = np.sum(dz)
        grad = dz * w[k]
    return dw, db
''',
    "deep_sigmoid.build_exploding_mlp": '''def build_exploding_mlp(input_dim, depth, width, seed=None):
    """Weights five times Glorot's should make the gradients explode."""
    big = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
    return build_mlp(input_dim, depth, width, "sigmoid", big, seed)
''',
    "clipping.clip_by_global_norm": '''def clip_by_global_norm(grads, clip_norm):
    """Clip all gradients by their global norm."""
    norm = global_norm(grads)
    return clip_by_norm(grads, clip_norm), norm
''',
    "clipping.clipped_train_step": '''def clipped_train_step(model, optimizer, x, y, clip_norm):
    """One training step with clipping."""
    with tf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    clipped, norm = tf.clip_by_global_norm(grads, clip_norm)
    return {"loss": float(loss), "grad_norm": float(norm),
            "clipped_norm": float(tf.linalg.global_norm(clipped))}
''',
    "remedies.he_normal_stddev": '''def he_normal_stddev(fan_in):
    """Standard deviation of He initialisation."""
    return np.sqrt(1 / fan_in)
''',
    "remedies.rnn_jacobian_norms": '''def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    """Spectral norms of dh_T/dh_{t-1}."""
    T = len(xs)
    norms = np.zeros(T)
    J = np.eye(len(h0))
    for t in range(T, 0, -1):
        J = J @ w_rec
        norms[t - 1] = np.linalg.norm(J, 2)
    return norms
''',
}
#: A function the typical-mistakes student did not get to.
UNFINISHED = {"remedies.max_stable_spectral_norm"}


def filled_notebook(
    part: str, overrides: dict[str, str], unfinished: set[str]
) -> nbformat.NotebookNode:
    """The released notebook of a part with its solution cells filled in."""
    notebook = nbformat.read(RELEASE / f"{part}.ipynb", as_version=4)
    _, functions = split_module(reference_source(part))
    filled = copy.deepcopy(notebook)
    for cell in filled.cells:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not nbgrader.get("solution"):
            continue
        name = nbgrader.get("grade_id", "").removeprefix(f"{part}-")
        test_name = f"{part}.{name}"
        if test_name in unfinished or name not in functions:
            continue
        cell.source = overrides.get(test_name, functions[name]).rstrip("\n")
    return filled


def write_examples(target: Path) -> list[Path]:
    """Write both example submissions under ``target``; return the files written."""
    written = []
    for example, overrides, unfinished in [
        ("correct", {}, set()),
        ("typical_mistakes", MISTAKES, UNFINISHED),
    ]:
        folder = target / example
        folder.mkdir(parents=True, exist_ok=True)
        for part in PARTS:
            path = folder / f"{part}.ipynb"
            nbformat.write(filled_notebook(part, overrides, unfinished), path)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the examples, or with ``--check`` report those that differ from the committed ones."""
    parser = argparse.ArgumentParser(prog="python -m grader.course.examples", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed examples")
    args = parser.parse_args(argv)
    if not args.check:
        for path in write_examples(EXAMPLES):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = write_examples(Path(scratch))
        stale = [
            path.relative_to(scratch)
            for path in fresh
            if not (EXAMPLES / path.relative_to(scratch)).exists()
            or (EXAMPLES / path.relative_to(scratch)).read_bytes() != path.read_bytes()
        ]
    for path in stale:
        print(f"differs from the generated version: examples/{path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
