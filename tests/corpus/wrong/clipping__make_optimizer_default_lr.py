# corpus: wrong
# function: clipping.make_optimizer
# mistake: none
# why: The student builds the clipping keyword arguments carefully but forgets to pass learning_rate, so every optimizer uses SGD's default 0.01.
import keras


def make_optimizer(strategy, threshold, learning_rate):
    kwargs = {}
    if strategy == "value":
        kwargs["clipvalue"] = threshold
    elif strategy == "norm":
        kwargs["clipnorm"] = threshold
    elif strategy == "global_norm":
        kwargs["global_clipnorm"] = threshold
    elif strategy != "none":
        raise ValueError(f"Unknown clipping strategy. Received: strategy={strategy!r}")
    return keras.optimizers.SGD(**kwargs)
