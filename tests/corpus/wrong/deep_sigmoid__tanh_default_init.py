# corpus: wrong
# function: deep_sigmoid.build_exploding_mlp
# mistake: none
# why: The student switches to tanh "because its slope is 1" but keeps the default Glorot initialisation, which keeps the gradients stable instead of exploding.
def build_exploding_mlp(input_dim, depth, width, seed=None):
    return build_mlp(input_dim, depth, width, activation="tanh", seed=seed)
