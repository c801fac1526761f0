# corpus: wrong
# function: clipping.make_optimizer
# mistake: optimizer_args_mixed
# why: The student maps "norm" to global_clipnorm and "global_norm" to clipnorm, mixing up Keras's per-variable and global arguments.
import keras


def make_optimizer(strategy, threshold, learning_rate):
    if strategy == "none":
        return keras.optimizers.SGD(learning_rate=learning_rate)
    if strategy == "value":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipvalue=threshold)
    if strategy == "norm":
        return keras.optimizers.SGD(learning_rate=learning_rate, global_clipnorm=threshold)
    if strategy == "global_norm":
        return keras.optimizers.SGD(learning_rate=learning_rate, clipnorm=threshold)
    raise ValueError(f"Unknown strategy. Received: strategy={strategy!r}")
