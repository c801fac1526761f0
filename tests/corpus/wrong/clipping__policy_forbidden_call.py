# corpus: wrong
# function: clipping.clip_by_global_norm
# mistake: policy_forbidden_call
# why: The student hands the work to tf.clip_by_global_norm; the numbers are right but this part must be written from array operations.
import tensorflow as tf


def clip_by_global_norm(grads, clip_norm):
    tensors = [tf.convert_to_tensor(g) for g in grads]
    clipped, norm = tf.clip_by_global_norm(tensors, clip_norm)
    return [c.numpy() for c in clipped], float(norm)
