# corpus: wrong
# function: deep_sigmoid.gradient_regime
# mistake: none
# why: The student judges the size of the input-side gradient alone (above threshold is exploding, below 1/threshold is vanishing) instead of the ratio between first and last layer.
def gradient_regime(norms, threshold=1e3):
    first = float(norms[0])
    if first > threshold:
        return "exploding"
    if first < 1.0 / threshold:
        return "vanishing"
    return "stable"
