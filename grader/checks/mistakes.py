"""Known mistakes: what each one is, the principle its hint gives, and the recipe asked for.

A check diagnoses a wrong answer by asking :func:`diagnose` which known mistake's answer
on the same inputs (its *variant*) the student's answer matches. A variant that takes
computing is named, not computed, in the check (:class:`Simulation`): the full package runs
its simulator (:mod:`grader.checks.simulators`); the student kit, which holds no simulator
(one with its switches at their defaults computes the right answer), compares with the
value each mistake gave on that public case, recorded when the kit was built
(:func:`grader.checks.expected.simulated`). Some mistakes are recognised by their symptom
instead (a warning, a changed input, a policy violation); their checks name them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from grader.checks.expected import simulated


@dataclass(frozen=True)
class Mistake:
    """A known mistake: a short title, its hint and, for some, its recipe.

    The hint is the first tier, shown with every failure (hidden cases included): the
    principle, meaning what to compare, which quantity to look at, which property the answer
    breaks. It never gives the formula or code that solves the function, except where that
    formula is the contract itself. The recipe is the second tier: how to fix it, shown only
    when the student asks for it, on public cases (:mod:`grader.checks.recipes`). Empty
    where the hint already says everything there is to say.
    """

    id: str
    title: str
    hint: str
    recipe: str = ""


def _catalogue(*entries: tuple[str, ...]) -> dict[str, Mistake]:
    return {entry[0]: Mistake(*entry) for entry in entries}


MISTAKES: dict[str, Mistake] = _catalogue(
    # Part 1
    (
        "naive_sigmoid_overflow",
        "the sigmoid overflows for large negative z",
        "sigmoid(-1e4) is a tiny number float64 holds easily, but 1/(1+np.exp(-z)) gets there "
        "through e^10000, far beyond float64's largest value (about 1.8e308). The value is "
        "fine, the route to it overflows: for each sign of z, look at the exponential your "
        "formula evaluates and ask whether it can leave float64's range.",
        "",  # sigmoid's own recipe is this mistake's (grader.checks.recipes.RECIPES)
    ),
    (
        "derivative_is_sigmoid",
        "sigmoid'(z) computed as sigmoid(z)",
        "The derivative is sigmoid(z) * (1 - sigmoid(z)); it peaks at 0.25 at z = 0.",
    ),
    (
        "derivative_formula_on_z",
        "the formula s(1-s) applied to z instead of sigmoid(z)",
        "Compute s = sigmoid(z) first, then s * (1 - s).",
    ),
    (
        "forward_returns_preactivations",
        "the pre-activations z_k returned instead of O_k",
        "Each output is O_k = sigmoid(z_k); the next neuron's input is O_k, not z_k.",
    ),
    (
        "forward_includes_input",
        "the list starts with the input x (off by one)",
        "Return [O_1, ..., O_n]: n arrays, the first being sigmoid(w_1*x + b_1), without x.",
    ),
    (
        "sum_instead_of_mean",
        "the loss summed over the batch instead of averaged",
        "Your values are m times the reference's, m being the batch size: the loss is the mean "
        "of the squared errors over the batch, not their sum. On a batch of one sample the two "
        "agree, which is a quick way to see it.",
        "L is the mean over the m samples, so dL/dO_n = 2(O_n - y)/m: divide by the batch size "
        "(in Keras, take the mean of the squared errors, not their sum).",
    ),
    (
        "derivative_on_activation",
        "sigmoid' applied to the activation O_k instead of z_k",
        "The sigmoid's slope is taken at the wrong quantity: the slope of neuron k belongs at its "
        "pre-activation z_k. Taken at the output O_k it is sigmoid'(sigmoid(z_k)), another "
        "number.",
        "sigmoid'(z_k) = O_k(1 - O_k): use the outputs you already have in that formula, or "
        "apply sigmoid' to z_k, never to O_k.",
    ),
    (
        "missing_sigmoid_factor",
        "the sigmoid' factor is missing from the chain",
        "A factor is missing at every neuron: going back through neuron k passes through its "
        "sigmoid as well as through its weight. Compare a 1-neuron chain's gradient with a "
        "finite difference of the loss to see which factor is missing.",
        "Every link contributes dO_k/dz_k = sigmoid'(z_k) = O_k(1 - O_k); multiply by it.",
    ),
    (
        "missing_weight_factor",
        "the weight factor is missing when going back a layer",
        "The last neuron's gradients are right and the earlier ones wrong: going back from "
        "neuron k to neuron k-1 passes through the way z_k depends on O_{k-1}. Compare a "
        "2-neuron chain's gradient for w_1 with a finite difference of the loss.",
        "dz_k/dO_{k-1} = w_k: multiply the upstream gradient by w_k before the next layer.",
    ),
    (
        "input_off_by_one",
        "dL/dw_k multiplied by O_k instead of the layer's input O_{k-1}",
        "dL/dw_k is multiplied by the wrong activation: look at which activation w_k multiplies "
        "in z_k = w_k * O_{k-1} + b_k.",
        "dz_k/dw_k = O_{k-1} (and O_0 = x): dL/dw_k sums dL/dz_k times the neuron's input.",
    ),
    (
        "gradients_reversed",
        "the gradients are in reverse order (output side first)",
        "Index k-1 of dL_dw belongs to w_k: store layer k's gradient at position k-1.",
    ),
    (
        "missing_factor_two",
        "the factor 2 of the squared error is missing",
        "Your gradients are half the reference's everywhere: look again at the derivative of "
        "the squared error (O_n - y)^2 with respect to O_n.",
        "d/dO (O - y)^2 = 2(O - y).",
    ),
    (
        "local_gains_missing_sigmoid_factor",
        "the local gain is w_k alone",
        "dO_k/dO_{k-1} = sigmoid'(z_k) * w_k: include sigmoid'(z_k), which is at most 0.25.",
    ),
    (
        "local_gains_missing_weight_factor",
        "the local gain is sigmoid'(z_k) alone",
        "dO_k/dO_{k-1} = sigmoid'(z_k) * w_k: multiply by the weight.",
    ),
    (
        "update_sign",
        "the update moves up the gradient",
        "Gradient descent subtracts: w_new = w_old - learning_rate * dL/dw.",
    ),
    (
        "update_in_place",
        "the update changes the caller's array in place",
        "`param -= ...` writes into the caller's array. Return a new array: "
        "`param - learning_rate * grad`.",
    ),
    (
        "input_mutated",
        "the function changes its input",
        "Functions in this assignment are pure: work on copies, never assign into an argument.",
    ),
    (
        "policy_forbidden_import",
        "an autodiff library used in part 1",
        "Derive the gradient by hand with NumPy; the point of the exercise is the chain rule.",
    ),
    # Part 2
    (
        "hidden_layers_off_by_one",
        "the wrong number of hidden layers",
        "Build exactly `depth` hidden Dense(width) layers, then one Dense(1).",
    ),
    (
        "output_activation",
        "the output layer has the hidden activation",
        "The last layer is Dense(1) with a linear output (no activation).",
    ),
    (
        "seed_ignored",
        "the seed does not fix the weights",
        "Pass the seed to every initializer (a different one per layer, e.g. seed + i).",
    ),
    (
        "initializer_ignored",
        "kernel_initializer is not used",
        "Pass kernel_initializer to every Dense layer.",
    ),
    (
        "norms_reversed",
        "the norms are in reverse order (output side first)",
        "Return the input-side layer first, as model.layers lists them.",
    ),
    (
        "bias_included",
        "bias gradients are included in the norms",
        "Your norms include the bias gradients: the contract measures dL/d(kernel) of each Dense "
        "layer, its weight matrix only. Look at which variables you differentiate with respect "
        "to.",
        "Take the gradient with respect to each Dense layer's kernel only (layer.kernel), not "
        "model.trainable_variables, which holds the biases too.",
    ),
    (
        "output_layer_missing",
        "the output Dense layer's norm is missing",
        "Every Dense layer counts, the final Dense(1) included.",
    ),
    (
        "regime_swapped",
        "vanishing and exploding are swapped",
        "Vanishing: the input-side norm is tiny, so norms[-1]/norms[0] is large.",
    ),
    (
        "regime_ignores_threshold",
        "the threshold argument is ignored",
        "Compare the ratios with the `threshold` argument, not a fixed number.",
    ),
    (
        "sigmoid_cannot_explode",
        "a sigmoid network whose layer gain is still below 1",
        "Each layer multiplies the backward signal by about chi = fan_in * Var(w) * "
        "E[sigmoid'(z)^2], and sigmoid' <= 1/4 (less where large weights saturate it) keeps "
        "chi below 1 at your weights. Estimate chi for your model at these widths: which "
        "factor would have to grow, by how much, and what does growing it do to sigmoid'?",
        "sigmoid reaches chi > 1 only with fan_in * Var(w) in the hundreds: use far larger "
        "weights, or tanh (slope 1 at 0) with weights of standard deviation several times "
        "1/sqrt(fan_in).",
    ),
    # Part 3
    (
        "value_one_sided",
        "only the upper bound is applied",
        "Clip to [-clip_value, clip_value]: large negative values must be raised too.",
    ),
    (
        "norm_uses_global",
        "all tensors scaled by their global norm",
        "clip_by_norm rescales each tensor by its own norm; clip_by_global_norm uses one norm.",
    ),
    (
        "rescales_small_gradients",
        "tensors below the threshold are rescaled too",
        "Scale by clip_norm / max(norm, clip_norm): a tensor already within the bound stays as it is.",
    ),
    (
        "norm_without_sqrt",
        "the sum of squares returned without the square root",
        "The global norm is sqrt(sum of squares of every element of every tensor).",
    ),
    (
        "float32_squares_overflow",
        "the squares summed in float32, where they overflow to infinity",
        "Squares of elements near 1e20 exceed float32's largest value (3.4e38), so their sum "
        "is infinite although the norm itself (about 1e20) fits in float32. Compare the size of "
        "each intermediate quantity with the range of the dtype it is computed in.",
        "Cast to float64 before squaring, or divide every tensor by the largest magnitude "
        "first and multiply the root back.",
    ),
    (
        "sum_of_norms",
        "the per-tensor norms added up",
        "The global norm is one norm of all the elements together; a sum of per-tensor norms "
        "is larger (sqrt(a^2 + b^2) is not |a| + |b|).",
        "Add the squares of all elements first, then take one square root.",
    ),
    (
        "per_tensor_clipping",
        "each tensor clipped separately",
        "Clipping by global norm scales every tensor by the same factor "
        "clip_norm / max(global_norm, clip_norm), which keeps the gradient's direction.",
    ),
    (
        "norm_after_clipping",
        "the norm after clipping reported instead of before",
        "Return the global norm of the gradients as they were, before scaling.",
    ),
    (
        "optimizer_args_mixed",
        "clipvalue, clipnorm and global_clipnorm mixed up",
        '"value" -> clipvalue, "norm" -> clipnorm (per variable), '
        '"global_norm" -> global_clipnorm.',
    ),
    (
        "clip_after_update",
        "the unclipped gradients were applied",
        "Clip first, then pass the clipped gradients to optimizer.apply_gradients.",
    ),
    (
        "reported_norm_after_clipping",
        "grad_norm is the norm after clipping",
        "grad_norm is the global norm before clipping; clipped_norm the one after.",
    ),
    (
        "loss_after_update",
        "the loss reported is the one after the update",
        "Return the loss computed inside the tape, before apply_gradients.",
    ),
    (
        "no_clipping",
        "the training loop does not clip",
        "Make every step with clipped_train_step(model, optimizer, x, y, clip_norm).",
    ),
    (
        "learning_rate_ignored",
        "the learning rate argument is not used",
        "Create the optimizer as keras.optimizers.SGD(learning_rate=learning_rate).",
    ),
    (
        "policy_forbidden_call",
        "a library clip function used where it is to be written by hand",
        "Write it from array operations (np.sqrt, np.sum, np.minimum, ...).",
    ),
    # Part 4
    (
        "glorot_normal_instead_of_uniform",
        "Glorot normal's standard deviation, not the uniform limit",
        "Your value is Glorot normal's standard deviation (variance 2 / (fan_in + fan_out)). "
        "The function returns the limit a of U(-a, a) with that same variance, and U(-a, a) "
        "has variance a^2 / 3.",
    ),
    (
        "glorot_he_mixed",
        "Glorot and He formulas mixed up",
        "Glorot balances the forward and backward passes, so both fan_in and fan_out appear; "
        "He keeps the forward second moment through ReLU, so only fan_in does.",
    ),
    (
        "lecun_instead_of_he",
        "LeCun's sqrt(1/fan_in) instead of He's",
        "LeCun's variance 1 / fan_in keeps the second moment of a linear layer; ReLU zeroes "
        "half of its inputs' second moment, which He makes up for.",
    ),
    (
        "missing_sqrt",
        "a variance returned instead of a standard deviation or limit",
        "The function returns a limit or a standard deviation, not a variance: take the "
        "square root of the variance you derived.",
    ),
    (
        "sigmoid_healthy",
        "a deep sigmoid network, whose gradients vanish",
        "A deep sigmoid stack vanishes: sigmoid' <= 1/4, so each layer's gain chi = fan_in * "
        "Var(w) * E[sigmoid'(z)^2] is well below 1 at weights of variance near 1/fan_in, and "
        "larger weights saturate it. Look for an activation and a weight scale whose chi is "
        "close to 1 in every layer, and check it with your dense_grad_norms.",
        "Use tanh with orthogonal or Glorot weights (every layer's chi close to 1). "
        "BatchNormalization does not rescue sigmoid here: the grader measures the model in "
        "inference mode, where a new BatchNormalization layer is the identity.",
    ),
    (
        "tanh_derivative_missing",
        "the tanh derivative is missing from the Jacobian",
        "Your Jacobians use W_rec alone: each step of the RNN also passes through tanh, whose "
        "slope at step t depends on h_t. Compare the 1-step case, where the answer is one "
        "Jacobian's norm.",
        "dh_t/dh_{t-1} = diag(1 - h_t^2) @ W_rec, not W_rec alone.",
    ),
    (
        "frobenius_norm",
        "the Frobenius norm instead of the spectral norm",
        "Your values are Frobenius norms (the root of the sum of squared entries). The contract "
        "asks for the spectral norm, the largest singular value, which is smaller whenever the "
        "matrix has more than one nonzero singular value.",
        "The spectral norm is the largest singular value: np.linalg.norm(J, 2).",
    ),
    (
        "jacobian_order_reversed",
        "the entries are in reverse order",
        "Entry t-1 belongs to dh_T/dh_{t-1}: entry 0 is the longest product, entry T-1 the "
        "last step's Jacobian.",
    ),
    (
        "jacobian_off_by_one",
        "the Jacobians are one step short",
        "dh_T/dh_{t-1} includes the factor dh_t/dh_{t-1}: entry T-1 is the last step's Jacobian, "
        "not the identity.",
    ),
    (
        "returns_gamma",
        "gamma returned instead of 1/gamma",
        "You returned gamma, the activation's largest slope. The bound on the recurrent "
        "matrix's spectral norm is 1/gamma: the product ||W_rec||_2 * gamma must stay below 1.",
        "",
    ),
)


def describe(mistake_id: str) -> str:
    """The line that names a mistake and its fix, for feedback."""
    mistake = MISTAKES[mistake_id]
    return f"Likely mistake: {mistake.title} [{mistake_id}]. {mistake.hint}"


class Simulation:
    """A known mistake's answer on a case, named rather than computed.

    Calling it gives what the simulator ``name`` (``<part>.<function>`` of
    :mod:`grader.checks.simulators`) returns on the case's inputs, from the source of
    expected values: run in the full package, the value recorded for the public case in a
    student kit (:func:`grader.checks.expected.simulated`; a case that was not recorded
    raises, and then matches nothing in :func:`diagnose`).

    Args:
        name: the simulator's name.
        *args: the case's inputs.
        **kwargs: the simulator's switches.
    """

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> Any:
        return simulated(self.name, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"Simulation({self.name!r})"


def known_answer(simulation: Simulation) -> Any:
    """A simulation's value, or None where there is none: a kit that did not record it, a
    simulator that does not apply to the case."""
    try:
        return simulation()
    except Exception:  # noqa: BLE001 - then it matches nothing
        return None


def diagnose(
    received: Any,
    variants: Mapping[str, Callable[[], Any]] | list[tuple[str, Callable[[], Any]]],
    matches: Callable[[Any, Any], bool],
) -> str | None:
    """Return the id of the first known mistake whose output matches the student's.

    Args:
        received: the student's answer.
        variants: mistake id -> a function giving that mistake's answer on the same
            inputs (evaluated lazily, in order; a :class:`Simulation`, or a transform of
            the expected value); a list of pairs where one mistake has several forms.
        matches: how to compare the received answer with a variant's.

    Returns:
        the mistake's id, or None when the answer matches none of them.
    """
    pairs = variants.items() if isinstance(variants, Mapping) else variants
    for mistake_id, variant in pairs:
        if mistake_id not in MISTAKES:
            raise KeyError(f"unknown mistake id {mistake_id!r}")
        try:
            wrong = variant()
        except Exception:  # noqa: BLE001 - a variant that does not apply matches nothing
            continue
        if matches(received, wrong):
            return mistake_id
    return None
