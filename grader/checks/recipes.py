"""The second tier of hints: recipes, given only when a student asks, on public cases.

Every failure's ``Hint:`` line gives the principle (what to compare, which quantity to look
at, which property is broken), hidden cases included. The recipe says how to write the
function: this module's :data:`RECIPES`, one per contract function, and the recipe of the
known mistake the check matched (:attr:`grader.checks.mistakes.Mistake.recipe`). A student
asks for it with ``hint(function)`` or ``check(function, hint=2)`` in a notebook, or
``python -m grader check PATH --hint 2``; :func:`attach_recipes` adds it to a result of
public cases and never to one of hidden cases, so the graded report, Gradescope and a
batch's reports show the principle only. No recipe states ``max_stable_spectral_norm``'s
value: the contract leaves it for the student to derive.
"""

from __future__ import annotations

from grader.checks.mistakes import MISTAKES
from grader.results import Report, TestResult

#: The hint tiers a student can ask for: 1, the principle (always shown); 2, the recipe too.
TIERS = (1, 2)

#: How to write each contract function, by test name.
RECIPES: dict[str, str] = {
    "chain_rule.sigmoid": (
        "Never exponentiate a positive number: with e = np.exp(-np.abs(z)), sigmoid is "
        "1/(1+e) where z >= 0 and e/(1+e) where z < 0 (np.where picks between them). Both "
        "forms equal 1/(1+e^-z), and e^-|z| never overflows."
    ),
    "chain_rule.sigmoid_derivative": (
        "s = sigmoid(z) with your stable sigmoid, then return s * (1 - s)."
    ),
    "chain_rule.chain_forward": (
        "O = x; for each k: O = sigmoid(w[k] * O + b[k]), appending O to a list; return the "
        "list of the n outputs (without x)."
    ),
    "chain_rule.chain_gradients": (
        "Run chain_forward to get O_1..O_n (O_0 = x). Start from dL/dO_n = 2(O_n - y)/m; at "
        "each neuron, from k = n down to 1, multiply by sigmoid'(z_k) = O_k(1 - O_k) to get "
        "dL/dz_k, then dL/dw_k = sum(dL/dz_k * O_{k-1}), dL/db_k = sum(dL/dz_k), and pass "
        "dL/dz_k * w_k back as dL/dO_{k-1}."
    ),
    "chain_rule.local_gains": (
        "Run chain_forward; row k-1 is O_k(1 - O_k) * w_k for every sample (sigmoid'(z_k) "
        "written with the outputs you have); stack the n rows into an (n, m) array."
    ),
    "chain_rule.sgd_update": "Return param - learning_rate * grad, a new array.",
    "deep_sigmoid.build_mlp": (
        "keras.Sequential([keras.Input(shape=(input_dim,)), depth x Dense(width, activation, "
        "kernel_initializer=...), Dense(1)]); for a name with a seed, make one initializer "
        "per layer with keras.initializers.get and the same seed, so that every layer's "
        "weights are fixed by it."
    ),
    "deep_sigmoid.dense_grad_norms": (
        "Inside a tf.GradientTape compute L = mean((model(x) - y)^2) (y reshaped to "
        "model(x)'s shape), then take tape.gradient(L, [layer.kernel for each Dense layer]) "
        "and the Frobenius norm of each (square root of the sum of squares of all entries, "
        "not the spectral norm)."
    ),
    "deep_sigmoid.gradient_regime": (
        'Compute r = norms[-1] / norms[0]: "vanishing" if r > threshold, "exploding" if '
        '1 / r > threshold, else "stable" (strict inequalities).'
    ),
    "deep_sigmoid.build_exploding_mlp": (
        "Make each layer's gain chi = fan_in * Var(w) * E[f'(z)^2] clearly above 1. tanh "
        "(slope 1 at 0) gets there with weights of standard deviation several times "
        '1/sqrt(fan_in): build_mlp with activation="tanh" and a seeded '
        'keras.initializers.VarianceScaling(scale=..., mode="fan_in"), scale the variance '
        "factor. Sigmoid needs far larger weights (fan_in * Var(w) in the hundreds). Check "
        "the ratio with your dense_grad_norms at depth 20, where it is hardest to reach."
    ),
    "clipping.clip_by_value": (
        "For every tensor t: np.minimum(np.maximum(t, -clip_value), clip_value), as a new list."
    ),
    "clipping.clip_by_norm": (
        "Rescale each tensor t separately: norm = sqrt(sum(t^2)), then t * clip_norm / "
        "max(norm, clip_norm)."
    ),
    "clipping.global_norm": (
        "Cast every tensor to float64 before squaring (or divide every tensor by the largest "
        "magnitude first and multiply the root back), add up the squares of every element of "
        "every tensor, then take one square root, returned as a float."
    ),
    "clipping.clip_by_global_norm": (
        "Compute norm = global_norm(grads) once, scale every tensor by clip_norm / "
        "max(norm, clip_norm), and return (clipped, norm) with the norm before clipping."
    ),
    "clipping.make_optimizer": (
        "keras.optimizers.SGD(learning_rate=learning_rate, clipvalue=... | clipnorm=... | "
        'global_clipnorm=...), by strategy; "none" sets none of them.'
    ),
    "clipping.clipped_train_step": (
        "In a tf.GradientTape compute the MSE loss, take the gradients, clip them with your "
        "clip_by_global_norm (or tf.clip_by_global_norm), apply the clipped ones with "
        "optimizer.apply_gradients, and return the loss and both norms as floats."
    ),
    "clipping.train_with_clipping": (
        "Create keras.optimizers.SGD(learning_rate=learning_rate) once, then make `steps` "
        "clipped steps (e.g. clipped_train_step(model, optimizer, x, y, clip_norm)) and return "
        "the losses."
    ),
    "remedies.glorot_uniform_limit": (
        "Glorot's variance is 2 / (fan_in + fan_out) and U(-a, a) has variance a^2 / 3: solve "
        "a^2 / 3 = 2 / (fan_in + fan_out) for a."
    ),
    "remedies.he_normal_stddev": (
        "He keeps E[z^2] from layer to layer through ReLU, which keeps half of it: "
        "fan_in * Var(w) / 2 = 1, so Var(w) = 2 / fan_in; return its square root."
    ),
    "remedies.build_healthy_mlp": (
        "Keep every layer's Jacobian close to norm-preserving (chi close to 1): tanh with "
        "orthogonal weights (keras.initializers.Orthogonal, a different seed per layer) or "
        "Glorot weights. Sigmoid vanishes, "
        "ReLU with He weights can diverge at this learning rate, and BatchNormalization does "
        "not help where the grader measures (in inference mode a new one is the identity)."
    ),
    "remedies.rnn_jacobian_norms": (
        "Run the RNN forward and keep every h_t. J_t = dh_t/dh_{t-1} = diag(1 - h_t^2) @ "
        "W_rec. Multiply them from t = T down, P = P @ J_t starting from P = I: after "
        "multiplying J_t, np.linalg.norm(P, 2) is entry t-1 (the largest singular value of "
        "dh_T/dh_{t-1} = J_T @ ... @ J_t)."
    ),
    "remedies.max_stable_spectral_norm": (
        "Write the activation's derivative f' (for sigmoid and tanh, in terms of f itself), "
        "find the z where |f'(z)| is largest (where its own derivative is zero, or check on a "
        "fine grid of z), evaluate f' there to get gamma, and return 1 / gamma as a float."
    ),
}

#: What a notebook's check prints under a failed public check (``{name}``: the function).
NOTEBOOK_MORE_HELP = "More help: hint({name}) shows a recipe."
#: What the command line's check says under a report with a failed public check.
COMMAND_MORE_HELP = (
    "More help: the same command with --hint 2 shows a recipe for each function that failed."
)


def recipes_for(test_name: str, mistakes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The recipe lines of one function: the function's, then each matched mistake's.

    Args:
        test_name: ``<part>.<function>``.
        mistakes: ids of the known mistakes the check matched (in order).

    Returns:
        lines starting ``Recipe:`` (the function's) and ``Recipe for the likely mistake``.
    """
    lines = []
    if test_name in RECIPES:
        lines.append(f"Recipe: {RECIPES[test_name]}")
    for mistake_id in mistakes:
        mistake = MISTAKES.get(mistake_id)
        if mistake is not None and mistake.recipe:
            lines.append(f"Recipe for the likely mistake ({mistake.title}): {mistake.recipe}")
    return lines


def attach_recipes(test: TestResult) -> TestResult:
    """Give a failed test of public cases its recipes (:attr:`TestResult.recipes`).

    A test of hidden cases, or one that passed, is left as it is: a hidden case never gives
    the recipe.
    """
    if not test.hidden and test.status != "passed":
        test.recipes = recipes_for(test.name, test.mistakes)
    return test


def apply_tier(report: Report, tier: int) -> Report:
    """A command line's report of public cases at the hint tier asked for.

    Tier 2 gives each failed test its recipes; tier 1 ends the report with the line saying
    how to ask for them, when a test failed. A report of hidden cases is left as it is.

    Args:
        report: the report.
        tier: one of :data:`TIERS`.

    Returns:
        the same report.
    """
    if report.cases == "hidden":
        return report
    failed = [t for t in report.tests if t.status != "passed" and t.handed_in]
    if tier >= 2:
        for test in failed:
            attach_recipes(test)
    elif any(test.name in RECIPES for test in failed):
        report.more_help = COMMAND_MORE_HELP
    return report
