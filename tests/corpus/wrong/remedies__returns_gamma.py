# corpus: wrong
# function: remedies.max_stable_spectral_norm
# mistake: returns_gamma
# why: The student returns the bound gamma on the activation's slope (0.25 for sigmoid, 1 for tanh) instead of 1/gamma.
def max_stable_spectral_norm(activation):
    if activation == "sigmoid":
        return 0.25
    if activation == "tanh":
        return 1.0
    raise ValueError(f"Unknown activation. Received: activation={activation!r}")
