# corpus: right
# functions: clipping.clip_by_value, clipping.clip_by_norm, clipping.global_norm, clipping.clip_by_global_norm, clipping.make_optimizer
# why: The student writes the clipping from elementary TensorFlow ops (tf.minimum, tf.maximum, tf.norm), returns tensors, accumulates the global norm in float64, and picks the optimizer with if/elif.
import keras
import tensorflow as tf


def clip_by_value(grads, clip_value):
    out = []
    for g in grads:
        t = tf.convert_to_tensor(g)
        bound = tf.cast(clip_value, t.dtype)
        out.append(tf.maximum(tf.minimum(t, bound), -bound))
    return out


def clip_by_norm(grads, clip_norm):
    out = []
    for g in grads:
        t = tf.convert_to_tensor(g)
        norm = tf.norm(tf.cast(t, tf.float64))
        factor = clip_norm / tf.maximum(norm, tf.constant(clip_norm, tf.float64))
        out.append(t * tf.cast(factor, t.dtype))
    return out


def global_norm(grads):
    total = tf.constant(0.0, dtype=tf.float64)
    for g in grads:
        total += tf.reduce_sum(tf.square(tf.cast(g, tf.float64)))
    return float(tf.sqrt(total))


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    factor = clip_norm / max(norm, clip_norm)
    tensors = [tf.convert_to_tensor(g) for g in grads]
    return [t * tf.cast(factor, t.dtype) for t in tensors], norm


def make_optimizer(strategy, threshold, learning_rate):
    if strategy == "none":
        return keras.optimizers.SGD(learning_rate=learning_rate)
    elif strategy == "value":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipvalue=threshold)
    elif strategy == "norm":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipnorm=threshold)
    elif strategy == "global_norm":
        return keras.optimizers.SGD(learning_rate=learning_rate, global_clipnorm=threshold)
    raise ValueError(
        "strategy must be 'none', 'value', 'norm' or 'global_norm'. "
        f"Received: strategy={strategy!r}"
    )
