# corpus: wrong
# function: remedies.glorot_uniform_limit
# mistake: missing_sqrt
# why: The student derives limit^2 / 3 = 2 / (fan_in + fan_out) and returns limit^2 = 6 / (fan_in + fan_out), forgetting the square root.
def glorot_uniform_limit(fan_in, fan_out):
    limit_squared = 6 / (fan_in + fan_out)
    return limit_squared
