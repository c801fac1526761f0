# corpus: wrong
# function: deep_sigmoid.build_exploding_mlp
# mistake: sigmoid_cannot_explode
# why: The student keeps sigmoid and follows the notes' "w = 500 multiplies the gradient by 125", but such weights saturate every sigmoid so the gradients vanish instead.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    big_weights = keras.initializers.RandomNormal(mean=0.0, stddev=500.0)
    return build_mlp(input_dim, depth, width, "sigmoid", big_weights, seed)
