# corpus: wrong
# function: clipping.global_norm
# mistake: float32_squares_overflow
# why: The student squares float32 tensors before summing, which matches for ordinary gradients but overflows to inf for exploding gradients around 1e20.
import tensorflow as tf


def global_norm(grads):
    squares = [tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) for g in grads]
    return float(tf.sqrt(tf.add_n(squares)))
