"""A class of twelve Part 1 submissions for the similarity tests, as text.

- Eight students wrote Part 1 on their own, each differently: the reference (``ada``), the
  corpus's right answers (``ben``: per-sample loops and logaddexp; ``cai``: suffix products
  of the gains and a preallocated table), vectorised (``dee``), functional (``eve``), loops
  over indices with a tanh sigmoid (``fay``), a cache of pre-activations (``gus``) and a
  partly wrong one (``hal``: a sigmoid that overflows, the loss's factor 2 forgotten).
- Two copied: ``ivy`` handed in ``dee``'s Part 1 as a notebook, every name changed and the
  code reflowed; ``jon`` handed in ``fay``'s as a module, the same way.
- Two handed in the released stubs untouched: ``kim`` the module, ``lee`` the notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from grader.assignment import ASSIGNMENT
from grader.course.sources import reference_source
from tests.paths import ROOT

CORPUS = ROOT / "tests" / "corpus" / "right"
STUBS = ROOT / "exercises" / ASSIGNMENT

OWN_SIGMOID = '''import numpy as np


def sigmoid(z):
    """Logistic function; the exponent is clipped so that np.exp cannot overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=float), -500, 500)))


def sigmoid_derivative(z):
    value = sigmoid(z)
    return value - value**2
'''

DEE = '''import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1 - s)


def _activations(x, w, b):
    """Rows O_0..O_n of the chain, one column per sample."""
    x = np.asarray(x, dtype=float)
    rows = [x]
    for weight, bias in zip(np.asarray(w, dtype=float), np.asarray(b, dtype=float)):
        rows.append(sigmoid(weight * rows[-1] + bias))
    return np.vstack(rows)


def chain_forward(x, w, b):
    table = _activations(x, w, b)
    return [table[k] for k in range(1, table.shape[0])]


def chain_gradients(x, y, w, b):
    table = _activations(x, w, b)
    w = np.asarray(w, dtype=float)
    batch = table.shape[1]
    grad_out = (table[-1] - np.asarray(y, dtype=float)) * (2.0 / batch)
    grad_w = np.zeros_like(w)
    grad_b = np.zeros_like(w)
    for layer in reversed(range(w.size)):
        local = grad_out * table[layer + 1] * (1 - table[layer + 1])
        grad_w[layer] = local @ table[layer]
        grad_b[layer] = local.sum()
        grad_out = local * w[layer]
    return grad_w, grad_b


def local_gains(x, w, b):
    table = _activations(x, w, b)
    out = table[1:]
    return out * (1 - out) * np.asarray(w, dtype=float)[:, None]


def sgd_update(param, grad, learning_rate):
    return np.asarray(param, dtype=float) - learning_rate * np.asarray(grad, dtype=float)
'''

# dee's Part 1, every name changed and the code reflowed, cut into the notebook's cells.
IVY_CELLS = [
    """def sigmoid(t):
    # numerically stable version
    t = np.asarray(t, dtype=float); res = np.empty_like(t)
    mask = (t >= 0)
    res[mask] = 1.0 / (1.0 + np.exp(-t[mask]))
    e = np.exp(t[~mask]); res[~mask] = e / (1.0 + e)
    return res""",
    """def sigmoid_derivative(t):
    sig = sigmoid(t)
    return sig * (1 - sig)""",
    """def all_layers(inp, weights, biases):
    inp = np.asarray(inp, dtype=float)
    acts = [inp]
    for wt, bi in zip(np.asarray(weights, dtype=float),
                      np.asarray(biases, dtype=float)):
        acts.append(sigmoid(wt * acts[-1] + bi))
    return np.vstack(acts)


def chain_forward(x, w, b):
    A = all_layers(x, w, b)
    return [A[i] for i in range(1, A.shape[0])]""",
    """def chain_gradients(x, y, w, b):
    A = all_layers(x, w, b)
    w = np.asarray(w, dtype=float)
    m = A.shape[1]
    g = (A[-1] - np.asarray(y, dtype=float)) * (2.0 / m)
    gw = np.zeros_like(w)
    gb = np.zeros_like(w)
    for i in reversed(range(w.size)):
        d = (g * A[i + 1]
             * (1 - A[i + 1]))
        gw[i] = d @ A[i]
        gb[i] = d.sum()
        g = d * w[i]
    return gw, gb""",
    """def local_gains(x, w, b):
    A = all_layers(x, w, b)
    O = A[1:]
    return O * (1 - O) * np.asarray(w, dtype=float)[:, None]""",
    """def sgd_update(param, grad, learning_rate):
    return (np.asarray(param, dtype=float)
            - learning_rate * np.asarray(grad, dtype=float))""",
]

EVE = """from functools import reduce

import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z < 0, np.exp(np.minimum(z, 0)) / (1 + np.exp(np.minimum(z, 0))),
                    1 / (1 + np.exp(-np.maximum(z, 0))))


def sigmoid_derivative(z):
    return sigmoid(z) * sigmoid(-z)


def chain_forward(x, w, b):
    steps = zip(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return reduce(
        lambda outs, wb: outs + [sigmoid(wb[0] * (outs[-1] if outs else np.asarray(x, dtype=np.float64)) + wb[1])],
        steps,
        [],
    )


def chain_gradients(x, y, w, b):
    outs = [np.asarray(x, dtype=np.float64)] + chain_forward(x, w, b)
    w = np.asarray(w, dtype=np.float64)
    delta = 2 * (outs[-1] - np.asarray(y, dtype=np.float64)) / len(outs[0])
    deltas = []
    for k in range(len(w), 0, -1):
        delta = delta * sigmoid_derivative(w[k - 1] * outs[k - 1] + np.asarray(b, dtype=np.float64)[k - 1])
        deltas.insert(0, delta)
        delta = delta * w[k - 1]
    dw = np.array([np.dot(d, o) for d, o in zip(deltas, outs[:-1])])
    db = np.array([np.sum(d) for d in deltas])
    return dw, db


def local_gains(x, w, b):
    outs = [np.asarray(x, dtype=np.float64)] + chain_forward(x, w, b)
    return np.array([
        sigmoid_derivative(wk * o + bk) * wk
        for wk, bk, o in zip(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64), outs)
    ])


def sgd_update(param, grad, learning_rate):
    return np.subtract(param, learning_rate * np.asarray(grad))
"""

FAY = """import numpy as np


def sigmoid(z):
    # sigma(z) = (1 + tanh(z / 2)) / 2 never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def sigmoid_derivative(z):
    t = np.tanh(0.5 * np.asarray(z, dtype=np.float64))
    return 0.25 * (1.0 - t * t)


def chain_forward(x, w, b):
    outputs = []
    previous = np.asarray(x, dtype=np.float64)
    i = 0
    while i < len(w):
        previous = sigmoid(w[i] * previous + b[i])
        outputs.append(previous)
        i += 1
    return outputs


def chain_gradients(x, y, w, b):
    activations = chain_forward(x, w, b)
    layers = len(w)
    samples = len(x)
    error = np.asarray(activations[layers - 1]) - np.asarray(y, dtype=np.float64)
    back = error * 2.0 / samples
    d_weights = np.zeros(layers)
    d_biases = np.zeros(layers)
    i = layers - 1
    while i >= 0:
        below = np.asarray(x, dtype=np.float64) if i == 0 else activations[i - 1]
        back = back * activations[i] * (1.0 - activations[i])
        d_weights[i] = np.dot(back, below)
        d_biases[i] = back.sum()
        back = back * w[i]
        i -= 1
    return d_weights, d_biases


def local_gains(x, w, b):
    activations = chain_forward(x, w, b)
    gains = np.zeros((len(w), len(x)))
    i = 0
    while i < len(w):
        gains[i] = activations[i] * (1.0 - activations[i]) * w[i]
        i += 1
    return gains


def sgd_update(param, grad, learning_rate):
    result = np.copy(np.asarray(param, dtype=np.float64))
    result = result - learning_rate * np.asarray(grad, dtype=np.float64)
    return result
"""

# fay's Part 1, every name changed and the code reflowed, as a module.
JON = """import numpy as np
def sigmoid(v):
    return 0.5*(1.0+np.tanh(0.5*np.asarray(v, dtype=np.float64)))
def sigmoid_derivative(v):
    th = np.tanh(0.5*np.asarray(v, dtype=np.float64)); return 0.25*(1.0-th*th)
def chain_forward(inputs, weights, biases):
    res = []; cur = np.asarray(inputs, dtype=np.float64); j = 0
    while j < len(weights):
        cur = sigmoid(weights[j]*cur+biases[j]); res.append(cur); j += 1
    return res
def chain_gradients(inputs, targets, weights, biases):
    outs = chain_forward(inputs, weights, biases)
    L = len(weights); M = len(inputs)
    err = np.asarray(outs[L-1]) - np.asarray(targets, dtype=np.float64)
    grad = err*2.0/M
    gw = np.zeros(L); gb = np.zeros(L)
    j = L-1
    while j >= 0:
        prev = (np.asarray(inputs, dtype=np.float64)
                if j == 0 else outs[j-1])
        grad = grad*outs[j]*(1.0-outs[j])
        gw[j] = np.dot(grad, prev); gb[j] = grad.sum()
        grad = grad*weights[j]; j -= 1
    return gw, gb
def local_gains(inputs, weights, biases):
    outs = chain_forward(inputs, weights, biases)
    G = np.zeros((len(weights), len(inputs)))
    j = 0
    while j < len(weights):
        G[j] = outs[j]*(1.0-outs[j])*weights[j]; j += 1
    return G
def sgd_update(param, grad, learning_rate):
    new = np.copy(np.asarray(param, dtype=np.float64))
    new = new-learning_rate*np.asarray(grad, dtype=np.float64)
    return new
"""

GUS = """import numpy as np

_EPS = 0.0


def sigmoid(z):
    z = np.array(z, dtype=np.float64, copy=True)
    return np.piecewise(
        z, [z >= 0, z < 0],
        [lambda v: 1.0 / (1.0 + np.exp(-v)), lambda v: np.exp(v) / (np.exp(v) + 1.0)],
    )


def sigmoid_derivative(z):
    p = sigmoid(z)
    return p * (1.0 - p) + _EPS


def _pre_activations(x, w, b):
    cache = {"O": [np.asarray(x, dtype=np.float64)], "Z": []}
    for idx in range(len(w)):
        cache["Z"].append(float(w[idx]) * cache["O"][-1] + float(b[idx]))
        cache["O"].append(sigmoid(cache["Z"][-1]))
    return cache


def chain_forward(x, w, b):
    return list(_pre_activations(x, w, b)["O"][1:])


def chain_gradients(x, y, w, b):
    cache = _pre_activations(x, w, b)
    count = cache["O"][0].shape[0]
    upstream = (2.0 / count) * (cache["O"][-1] - np.asarray(y, dtype=np.float64))
    grads_w, grads_b = [], []
    for idx in range(len(w) - 1, -1, -1):
        dz = upstream * sigmoid_derivative(cache["Z"][idx])
        grads_w.append(float(np.sum(dz * cache["O"][idx])))
        grads_b.append(float(np.sum(dz)))
        upstream = dz * float(w[idx])
    return np.array(grads_w[::-1]), np.array(grads_b[::-1])


def local_gains(x, w, b):
    cache = _pre_activations(x, w, b)
    return np.stack([sigmoid_derivative(zk) * float(wk) for zk, wk in zip(cache["Z"], w)])


def sgd_update(param, grad, learning_rate):
    step = np.multiply(learning_rate, grad)
    return np.asarray(param) - step
"""

HAL = """import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z)))


def sigmoid_derivative(z):
    return np.exp(-z) / (1 + np.exp(-z)) ** 2


def chain_forward(x, w, b):
    o = np.asarray(x, dtype=np.float64)
    result = []
    for n in range(len(w)):
        o = sigmoid(w[n] * o + b[n])
        result.append(o)
    return result


def chain_gradients(x, y, w, b):
    xs = np.asarray(x, dtype=np.float64)
    O = np.array([xs] + chain_forward(xs, w, b))
    dO = (O[-1] - np.asarray(y)) / xs.size
    dZ = np.zeros((len(w), xs.size))
    for n in range(len(w) - 1, -1, -1):
        dZ[n] = dO * O[n + 1] * (1 - O[n + 1])
        dO = dZ[n] * w[n]
    return np.einsum("nm,nm->n", dZ, O[:-1]), dZ.sum(axis=1)


def local_gains(x, w, b):
    O = np.array([np.asarray(x, dtype=np.float64)] + chain_forward(x, w, b))
    Z = np.asarray(w)[:, None] * O[:-1] + np.asarray(b)[:, None]
    return sigmoid_derivative(Z) * np.asarray(w)[:, None]


def sgd_update(param, grad, learning_rate):
    return param - learning_rate * np.asarray(grad)
"""


def _corpus(name: str) -> str:
    return (CORPUS / f"chain_rule__{name}.py").read_text(encoding="utf-8")


def notebook(cells: list[str]) -> str:
    """The released Part 1 notebook with its stub cells replaced by ``cells`` (each in the
    place of the stub of the last function it defines; the given cells, markdown, demos
    and tests kept), as a student hands it in."""
    released = json.loads((STUBS / "chain_rule.ipynb").read_text(encoding="utf-8"))
    by_name = {re.findall(r"^def (\w+)", cell, re.MULTILINE)[-1]: cell for cell in cells}
    for cell in released["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        stub = re.match(r"def (\w+)\(", text)
        if cell["cell_type"] == "code" and stub and stub.group(1) in by_name:
            cell["source"] = by_name.pop(stub.group(1))
    assert not by_name, f"no stub cell for {sorted(by_name)}"
    return json.dumps(released)


def independent() -> dict[str, str]:
    """The eight independent Part 1 modules, by student."""
    return {
        "ada": reference_source("chain_rule"),
        "ben": _corpus("logaddexp") + "\n\n" + _corpus("per_sample_loops"),
        "cai": OWN_SIGMOID + "\n\n" + _corpus("copy_then_inplace") + _corpus("gains_backprop"),
        "dee": DEE,
        "eve": EVE,
        "fay": FAY,
        "gus": GUS,
        "hal": HAL,
    }


#: The copied pairs: (original, copy).
COPIED = [("dee", "ivy"), ("fay", "jon")]
#: The students who handed in the stubs untouched.
STUB_STUDENTS = ("kim", "lee")


def files() -> dict[str, dict[str, str]]:
    """Every student's files: ``{student: {file name: text}}``."""
    students = {name: {"chain_rule.py": code} for name, code in independent().items()}
    students["ivy"] = {"chain_rule.ipynb": notebook(IVY_CELLS)}
    students["jon"] = {"chain_rule.py": JON}
    students["kim"] = {"chain_rule.py": (STUBS / "chain_rule.py").read_text(encoding="utf-8")}
    students["lee"] = {"chain_rule.ipynb": (STUBS / "chain_rule.ipynb").read_text("utf-8")}
    return students


def write_class(root: Path) -> dict[str, Path]:
    """Write the class under ``root``, one folder per student; ``{student: folder}``."""
    folders = {}
    for student, named in files().items():
        folder = root / student
        folder.mkdir(parents=True)
        for name, text in named.items():
            (folder / name).write_text(text, encoding="utf-8")
        folders[student] = folder
    return folders
