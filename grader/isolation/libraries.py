"""The names the library rules share: the autodiff libraries, Part 3's array functions.

A NumPy-only part (:data:`grader.assignment.NUMPY_ONLY_PARTS`) may not reach an autodiff
library, and Part 3's array functions may not call a library clip function. The rules are
read in the code by :mod:`grader.checks.policy` and enforced while the code runs by the
worker's guards (:mod:`grader.worker.guards`); the jail (:mod:`grader.isolation.jail`)
covers the autodiff libraries' files in the NumPy-only worker's file system. All three take
the libraries' names and the array functions' names from here, and the library clip
functions the contract forbids (:data:`CLIP_LIBRARY_FUNCTIONS`): the syntax tree reads them
by qualified name (``grader.checks.policy.CLIP_FUNCTIONS``, which adds the other names the
libraries give them), the worker recognises them by identity while the code runs, whatever
name reached them. Standard library only: the jail sends this module to the worker
(:data:`grader.isolation.jail.WORKER_MODULES`).
"""

from __future__ import annotations

#: The autodiff libraries a NumPy-only part may not reach (top-level names).
AUTODIFF_MODULES = ("tensorflow", "keras", "jax", "torch", "autograd", "tf_keras")
#: Folders of a Python folder that hold those libraries' files: their packages, the native
#: packages they load (jaxlib, torchgen, functorch) and, by the same names, their
#: ``*.dist-info`` and ``*.libs`` folders and plugins (``tensorflow_io_gcs_filesystem``).
AUTODIFF_FOLDERS = (*AUTODIFF_MODULES, "jaxlib", "torchgen", "functorch")
#: Part 3's functions that must be written from array operations (no library clip call).
CLIPPING_ARRAY_FUNCTIONS = ("clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm")
#: The library clip functions Part 3's array functions may not call: the contract's
#: ``tf.clip_by_value``, ``tf.clip_by_norm``, ``tf.clip_by_global_norm``,
#: ``tf.linalg.global_norm`` and ``keras.ops.clip``, and TensorFlow's clip-by-value op
#: itself (``tf.raw_ops.ClipByValue``, which ``tf.clip_by_value`` names). NumPy's ``np.clip``
#: and ``tf.norm`` are array operations the contract allows.
CLIP_LIBRARY_FUNCTIONS = (
    "tensorflow.clip_by_value",
    "tensorflow.clip_by_norm",
    "tensorflow.clip_by_global_norm",
    "tensorflow.linalg.global_norm",
    "keras.ops.clip",
    "tensorflow.raw_ops.ClipByValue",
)
#: TensorFlow op types that are a library clip function whatever Python made them.
CLIP_OP_TYPES = ("ClipByValue",)


def clip_label(qualified: str) -> str:
    """How a verdict names a library function: ``tensorflow.x`` as ``tf.x``."""
    return (
        "tf." + qualified[len("tensorflow.") :]
        if qualified.startswith("tensorflow.")
        else qualified
    )


def autodiff_entry(name: str) -> bool:
    """Whether an entry of a Python folder belongs to an autodiff library.

    Args:
        name: a file or folder name in ``site-packages`` (``tensorflow``,
            ``keras-3.15.1.dist-info``, ``torch.libs``, ``tensorflow_cpu-2.21.0.dist-info``).

    Returns:
        True for the libraries' packages, modules, metadata and native folders.
    """
    base = name.replace("-", ".").split(".")[0].lower()
    return any(base == folder or base.startswith(folder + "_") for folder in AUTODIFF_FOLDERS)
