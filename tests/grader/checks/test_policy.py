"""Does the policy reader find forbidden libraries in code, and only in code?"""

from __future__ import annotations

import pytest

from grader.checks.policy import find_violations, forbidden_top_level_imports

CLEAN_PART1 = '''
import numpy as np
# tensorflow would make this easy; we do not use it.
def sigmoid(z):
    """Unlike tf.sigmoid, this is NumPy."""
    note = "import tensorflow"
    return 1 / (1 + np.exp(-z))
'''


def test_comments_and_strings_naming_a_library_are_not_violations():
    """Is a library named only in a comment, docstring or string allowed?"""
    assert find_violations("chain_rule", CLEAN_PART1) == {}


@pytest.mark.parametrize(
    "source",
    [
        "import tensorflow as tf\ndef chain_gradients(x, y, w, b):\n    return tf.ones(1)\n",
        "import tensorflow as np\ndef chain_gradients(x, y, w, b):\n    return np.ones(1)\n",
        "from tensorflow import GradientTape\ndef chain_gradients(x, y, w, b):\n    return GradientTape\n",
        "def chain_gradients(x, y, w, b):\n    import torch\n    return 1\n",
        "def chain_gradients(x, y, w, b):\n    return __import__('jax').numpy.ones(1)\n",
        "import importlib\ndef chain_gradients(x, y, w, b):\n    return importlib.import_module('autograd')\n",
        "import keras\ndef helper():\n    return keras.ops\ndef chain_gradients(x, y, w, b):\n    return helper()\n",
    ],
    ids=[
        "alias",
        "misleading-alias",
        "from-import",
        "local-import",
        "dunder-import",
        "importlib",
        "helper",
    ],
)
def test_part1_autodiff_use_is_found(source):
    """Is every way of reaching an autodiff library from chain_gradients found?"""
    violations = find_violations("chain_rule", source)
    assert "chain_gradients" in violations
    assert "NumPy only" in violations["chain_gradients"]


def test_unused_top_level_import_is_only_a_note():
    """Does an import no function uses cost nothing, while being reported?"""
    source = "import tensorflow\nimport numpy as np\ndef sigmoid(z):\n    return np.tanh(z)\n"
    assert find_violations("chain_rule", source) == {}
    assert forbidden_top_level_imports("chain_rule", source) == ["tensorflow"]


@pytest.mark.parametrize(
    "source, function",
    [
        (
            "import tensorflow as tf\ndef clip_by_value(g, c):\n    return [tf.clip_by_value(t, -c, c) for t in g]\n",
            "clip_by_value",
        ),
        (
            "from tensorflow import clip_by_norm as cbn\ndef clip_by_norm(g, c):\n    return [cbn(t, c) for t in g]\n",
            "clip_by_norm",
        ),
        (
            "import tensorflow as tf\ndef global_norm(g):\n    return tf.linalg.global_norm(g)\n",
            "global_norm",
        ),
        (
            "import tensorflow as tf\nf = tf.clip_by_global_norm\ndef clip_by_global_norm(g, c):\n    return f(g, c)\n",
            "clip_by_global_norm",
        ),
        (
            "from keras import ops\ndef clip_by_value(g, c):\n    return [ops.clip(t, -c, c) for t in g]\n",
            "clip_by_value",
        ),
        (
            "import tensorflow as tf\ndef global_norm(g):\n    return tf.compat.v1.global_norm(g)\n",
            "global_norm",
        ),
        (
            "import tensorflow as tf\ndef clip_by_value(g, c):\n"
            "    return [tf.raw_ops.ClipByValue(t=t, clip_value_min=-c, clip_value_max=c) for t in g]\n",
            "clip_by_value",
        ),
        (
            "from grader.quiet import import_tensorflow\ntf = import_tensorflow()\n"
            "def clip_by_norm(g, c):\n    return [tf.clip_by_norm(t, c) for t in g]\n",
            "clip_by_norm",
        ),
    ],
    ids=[
        "tf-clip-value",
        "aliased-from-import",
        "linalg-global-norm",
        "module-alias",
        "keras-ops-clip",
        "compat-v1",
        "raw-op",
        "notebook-import-tensorflow",
    ],
)
def test_part3_library_clip_calls_are_found(source, function):
    """Is a call of the library clip function found, through aliases?"""
    violations = find_violations("clipping", source)
    assert function in violations and "array operations" in violations[function]


def test_part3_training_functions_may_use_tensorflow_clipping():
    """May clipped_train_step call tf.clip_by_global_norm, which only the array functions may not?"""
    source = (
        "import tensorflow as tf\n"
        "def clipped_train_step(model, optimizer, x, y, clip_norm):\n"
        "    return tf.clip_by_global_norm([x], clip_norm)\n"
        "def global_norm(grads):\n    return float(tf.norm(tf.concat([tf.reshape(g, [-1]) for g in grads], 0)))\n"
    )
    assert find_violations("clipping", source) == {}


def test_syntax_errors_are_not_policy_violations():
    """Is unparsable code left to the loader to report?"""
    assert find_violations("chain_rule", "def broken(:\n") == {}


@pytest.mark.parametrize(
    "body",
    [
        'tf = __import__("tensor" + "flow")\n    return tf.sigmoid(z)',
        'import importlib\n    name = "tensor" + "flow"\n    return importlib.import_module(name).sigmoid(z)',
        'import sys\n    return sys.modules["tensor" + "flow"].sigmoid(z)',
        "return eval(\"__import__('tensorflow')\").sigmoid(z)",
        'exec("import tensorflow")\n    return z',
    ],
    ids=["dunder-import", "importlib", "sys-modules", "eval", "exec"],
)
def test_part1_code_the_syntax_tree_cannot_follow_is_reported(body):
    """Are dynamic imports, sys.modules, exec and eval in a part-1 function violations?"""
    source = f"def sigmoid(z):\n    {body}\n"
    violations = find_violations("chain_rule", source)
    assert "sigmoid" in violations and "computed name" in violations["sigmoid"]


@pytest.mark.parametrize(
    "body",
    [
        'return [getattr(tf, "clip_by_" + "value")(g, -c, c) for g in grads]',
        'return [vars(tf)["clip_by_value"](g, -c, c) for g in grads]',
        'f = eval("tf.clip_by_value")\n    return [f(g, -c, c) for g in grads]',
    ],
    ids=["getattr", "vars", "eval"],
)
def test_part3_reflection_on_tensorflow_is_reported(body):
    """Do getattr/vars on tf and eval in a part-3 array function count as violations?"""
    source = f"import tensorflow as tf\n\ndef clip_by_value(grads, c):\n    {body}\n"
    assert "clip_by_value" in find_violations("clipping", source)


def test_magics_and_a_broken_cell_leave_the_rules_on():
    """With %matplotlib, !pip and a cell that does not parse, is the other cells' use found?"""
    cells = [
        "%matplotlib inline\n!pip install numpy\nimport numpy as np",
        "def broken(:\n    pass",
        "import tensorflow as tf\n\ndef sigmoid(z):\n    return tf.sigmoid(z).numpy()",
        "def sigmoid_derivative(z):\n    s = sigmoid(z)\n    return s * (1 - s)",
    ]
    violations = find_violations("chain_rule", cells)
    assert set(violations) == {"sigmoid", "sigmoid_derivative"}
    assert forbidden_top_level_imports("chain_rule", cells) == ["tensorflow"]
    clean = [cells[0], cells[1], cells[3], "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))"]
    assert find_violations("chain_rule", clean) == {}


#: Right Part 3 array functions, after each preamble below.
HONEST_PART3 = """
def clip_by_value(grads, clip_value):
    return [np.minimum(np.maximum(np.asarray(g), -clip_value), clip_value) for g in grads]


def clip_by_norm(grads, clip_norm):
    return [np.asarray(g) * clip_norm / max(np.linalg.norm(g), clip_norm) for g in grads]


def global_norm(grads):
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(g, np.float64))) for g in grads)))


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    return [np.asarray(g) * clip_norm / max(norm, clip_norm) for g in grads], norm
"""


@pytest.mark.parametrize(
    "preamble, reached",
    [
        (
            "import grader.worker.clip_watch as g\ng.ClipRecorder.__exit__ = lambda *a: None\n",
            "grader.worker",
        ),
        ("from grader.worker import loading\nloading.Worker.call = None\n", "grader.worker"),
        ("from grader.isolation import protocol\n", "grader.isolation"),
        (
            "import sys\nsys.modules['grader.worker.clip_watch'].ClipRecorder = object\n",
            "sys.modules",
        ),
        ("import gc\n_everything = gc.get_objects()\n", "gc.get_objects"),
        ("import ctypes\n", "ctypes"),
        ("from sys import _getframe\n_frame = _getframe()\n", "sys._getframe"),
        (
            "import inspect\ndef helper():\n    return inspect.currentframe().f_back\n",
            "inspect.currentframe",
        ),
    ],
    ids=[
        "guards",
        "worker",
        "isolation",
        "sys-modules",
        "gc",
        "ctypes",
        "getframe",
        "currentframe",
    ],
)
def test_part3_code_that_reaches_around_the_run_time_check_is_reported(preamble, reached):
    """Does code anywhere in part 3 that reaches the grader's worker or the interpreter's
    internals (and so could switch off the run-time check) cost the four array functions?"""
    source = "import numpy as np\n" + preamble + HONEST_PART3
    violations = find_violations("clipping", source)
    assert set(violations) == {
        "clip_by_value",
        "clip_by_norm",
        "global_norm",
        "clip_by_global_norm",
    }
    for sentence in violations.values():
        assert reached in sentence and "reach around that check" in sentence, sentence


def test_a_notebooks_own_setup_is_not_reaching_around():
    """Do the notebook's helpers, grader.__file__, gc.collect and sys.path cost nothing?"""
    setup = (
        "import gc\nimport sys\nimport grader\nimport numpy as np\n"
        "from grader.quiet import import_tensorflow\ntf = import_tensorflow()\n"
        "from grader.demos import exploding_mlp\nfrom grader.notebook import check, grade\n"
        "print(grader.__file__, sys.path[0])\ngc.collect()\n"
        "def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):\n"
        "    return tf.clip_by_global_norm([x], clip_norm)\n"
    )
    assert find_violations("clipping", setup + HONEST_PART3) == {}


def test_code_in_a_cell_magic_is_read_as_the_worker_runs_it():
    """Is a %%time cell's body, a string to IPython but run by the worker, read too?"""
    cells = [
        "import numpy as np\nimport tensorflow as tf",
        "%%time\ndef clip_by_value(grads, c):\n    return [tf.clip_by_value(g, -c, c) for g in grads]",
    ]
    assert "clip_by_value" in find_violations("clipping", cells)
