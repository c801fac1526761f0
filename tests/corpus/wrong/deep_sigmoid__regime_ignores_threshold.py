# corpus: wrong
# function: deep_sigmoid.gradient_regime
# mistake: regime_ignores_threshold
# why: The student hard-codes the default 1e3 in the comparisons, so a threshold passed by the caller has no effect.
def gradient_regime(norms, threshold=1e3):
    first = float(norms[0])
    last = float(norms[-1])
    if last / first > 1e3:
        return "vanishing"
    elif first / last > 1e3:
        return "exploding"
    else:
        return "stable"
