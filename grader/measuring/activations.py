"""The grader's own activation functions: ones no Keras name stands for.

``dense_grad_norms`` must measure any Keras model, whatever its layers compute. One of the
models its check gives the student's function has hidden layers of :func:`scaled_tanh`, a
function of this module and not of Keras, so a ``dense_grad_norms`` that works out the
backward pass from an activation's name (a table of derivatives, ``keras.activations.get``)
fails there while one that lets a ``tf.GradientTape`` differentiate the model passes.

Such a model crosses the process boundary by this module's name and the function's
(:func:`grader.measuring.rebuild.describe_model`); the allow-list accepts exactly the names of
:data:`GRADER_ACTIVATIONS` from this module (:mod:`grader.measuring.vetting`), and the rebuild
takes the function from here (:mod:`grader.measuring.rebuild`).
"""

from __future__ import annotations

from typing import Any


def scaled_tanh(z: Any) -> Any:
    """LeCun's scaled hyperbolic tangent, 1.7159 * tanh(2z/3) (LeCun et al., "Efficient
    BackProp", 1998): slope about 1.14 at 0 and f(+-1) = +-1.

    Args:
        z: a tensor.

    Returns:
        the tensor of the activation's values, of ``z``'s shape and dtype.
    """
    # lazy: the NumPy-only worker loads this module (through the rebuild) and has no Keras
    import keras

    return keras.ops.multiply(1.7159, keras.ops.tanh(keras.ops.multiply(z, 2.0 / 3.0)))


#: The grader's own activations a received model may name (by this module and the name).
GRADER_ACTIVATIONS = ("scaled_tanh",)
#: The module a model holding one of them names.
MODULE = __name__
