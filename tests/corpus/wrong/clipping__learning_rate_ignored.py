# corpus: wrong
# function: clipping.train_with_clipping
# mistake: learning_rate_ignored
# why: The student creates keras.optimizers.SGD() with its default learning rate of 0.01 and never passes learning_rate.
import keras
import numpy as np


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    opt = keras.optimizers.SGD()
    losses = np.zeros(steps)
    for step in range(steps):
        losses[step] = clipped_train_step(model, opt, x, y, clip_norm)["loss"]
    return losses
