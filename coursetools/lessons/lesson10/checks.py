"""Checks for lesson 10 (branches, routing, your own training step, which API when).

Three kinds of evidence:

* **Models** (10.1 the Inception blocks a learner's function builds, 10.2 a trained
  mixture of experts, 10.5 a model trained by the learner's own loop) travel as
  ``.keras`` files loaded in safe mode. The checks give them inputs (and, for 10.1,
  weights) of their own and compare with references computed here.
* **Classes** (10.3 a router, 10.4 a ``train_step``) cannot travel: the class runner
  makes a *report* on the class in a fresh process, with the reporters of
  :mod:`coursetools.lessons.lesson10.tools`, which train it with Keras's own ``fit`` from
  weights the report chose. The checks recompute every expected number with NumPy from
  those weights: the outputs of each branch, and the whole training (SGD, batch by batch).
  So a report passes only when the class computes what the exercise specifies, and
  Keras's ``fit`` trained it that way. What a report cannot prove: the class's code runs
  when the report is made, so a class that overrides Keras's own methods could hand in
  numbers computed some other way; they must still be the right numbers.
* **Plain values** (10.5's losses, 10.6's choices) as JSON.

Every reference is computed here, never taken from the learner's own numbers.
"""

from __future__ import annotations

import inspect
import itertools
import re
from typing import Any

import numpy as np

from coursetools.expect import Unexportable, describe, expect_model
from coursetools.feedback import Mistake
from coursetools.lessons.lesson10.given import (
    LOOP_BATCHES,
    ROUTER_BATCH,
    loop_start_weights,
    router_data,
    skip_batches,
    two_regimes,
)
from coursetools.lessons.lesson10.tools import (
    INCEPTION_CASES,
    REDUCE_ABOVE,
    REPORT_KEY,
    ROUTER_EPOCHS,
    ROUTER_LEARNING_RATE,
    STEP_BATCH,
    STEP_EPOCHS,
    STEP_LEARNING_RATE,
    router_probes,
    router_start_weights,
    step_data,
    step_start_weights,
)
from coursetools.probing import activation_of, all_layers, output_or_mistake, require_bias, same_values, to_numpy
from coursetools.registry import exercise

# --- Small NumPy pieces, shared by the checks of this lesson --------------------------------


def softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def crossentropy_of(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Keras's sparse categorical cross-entropy of probabilities (clipped at 1e-7), averaged over the batch."""
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0 - 1e-7)
    return float(-np.mean(np.log(picked)))


def same_weights(found: Any, expected: list[np.ndarray], *, atol: float, rtol: float = 0.0) -> bool:
    """Two lists of arrays of different shapes (a model's weights), compared array by array."""
    return (isinstance(found, (list, tuple)) and len(found) == len(expected)
            and all(same_values(f, e, atol=atol, rtol=rtol) for f, e in zip(found, expected)))


def _kind_of(layer) -> str:
    return type(layer).__name__


# --- 10.1 Inception block ----------------------------------------------------------------------

BRANCH_WIDTHS = {"1x1": 8, "3x3": 16, "pool": 8}
BLOCK_CHANNELS = sum(BRANCH_WIDTHS.values())
REDUCED_TO = 4


def _inception_build_hint(message: str) -> str:
    if "Concatenate" in message and "matching shapes" in message:
        return ('every branch must keep height and width: padding="same" on the 3×3 Conv2D, and '
                'MaxPooling2D(3, strides=1, padding="same") (without strides=1 a pool moves by its own size)')
    if " returned " in message:
        return "end the function with return and the block's output tensor (the Concatenate's result)"
    if "not connected" in message:
        return "build the block on the tensor x the function receives; do not create a keras.Input inside it"
    if "cannot be used as a boolean" in message:
        return ("decide on the number of channels, x.shape[-1], a plain int while the graph is built; "
                "a tensor's values do not exist yet")
    return "call inception_block(keras.Input(shape=(8, 8, 16))) yourself to see the full error"


def _conv_same(x, kernel: np.ndarray, bias: np.ndarray, relu: bool):
    import keras

    out = keras.ops.conv(x, kernel, strides=1, padding="same") + bias
    return keras.ops.relu(out) if relu else out


def _pool_same(x):
    import keras

    return keras.ops.max_pool(x, 3, strides=1, padding="same")


def _block_reference(x, w: dict[str, tuple[np.ndarray, np.ndarray]], relus: dict[str, bool]) -> dict[str, np.ndarray]:
    """Each branch of the block the exercise asks for, from weights ``w`` (by role), as NumPy."""
    one = _conv_same(x, *w["1x1"], relus["1x1"])
    narrow = _conv_same(x, *w["reduce"], relus["reduce"]) if "reduce" in w else x
    three = _conv_same(narrow, *w["3x3"], relus["3x3"])
    pooled = _conv_same(_pool_same(x), *w["pool"], relus["pool"])
    return {"1x1": to_numpy(one), "3x3": to_numpy(three), "pool": to_numpy(pooled)}


def _inception_input(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Feature maps with negative values too (so a pool's padding and every ReLU matter)."""
    return np.random.default_rng(seed).normal(0.0, 1.0, size=(4, *shape)).astype("float32")


def _judge_inception_case(model, name: str, shape: tuple[int, int, int], seed: int) -> None:
    height, width, channels = shape
    what = f"the block built for an input with {name}"
    outputs = [tuple(t.shape) for t in model.outputs]
    if len(outputs) != 1:
        raise Mistake(f"{what} has {len(outputs)} outputs.", expected="one tensor: the Concatenate of the three branches",
                      found=f"outputs of shapes {outputs}")
    out = outputs[0]
    wanted = (None, height, width, BLOCK_CHANNELS)
    if len(out) != 4 or out[1:3] != (height, width):
        raise Mistake(f"{what} changes the image size.", expected=f"output shape {wanted}", found=f"{out}",
                      hint='padding="same" on every Conv2D and MaxPooling2D(3, strides=1, padding="same")')
    if out[-1] == BLOCK_CHANNELS - BRANCH_WIDTHS["pool"] + channels and channels != BRANCH_WIDTHS["pool"]:
        raise Mistake(f"{what} passes the pooled input straight through.",
                      expected=f"{BLOCK_CHANNELS} channels: 8 (1×1) + 16 (3×3) + 8 (pooled, then a 1×1 Conv2D)",
                      found=f"{out[-1]} channels = 8 + 16 + the input's {channels}",
                      hint="put Conv2D(8, 1, activation=\"relu\") after the MaxPooling2D: it fixes the pooled "
                      "branch's width, whatever the input's")
    if out[-1] != BLOCK_CHANNELS:
        raise Mistake(f"{what} has {out[-1]} channels.",
                      expected=f"{BLOCK_CHANNELS}: 8 (1×1) + 16 (3×3) + 8 (pooled), joined on the channel axis",
                      found=f"{out}", hint="check each branch's number of filters, and Concatenate(axis=-1)")
    layers = all_layers(model)
    weighted = [layer for layer in layers if layer.weights]
    others = [layer for layer in weighted if _kind_of(layer) != "Conv2D"]
    if others:
        raise Mistake(f"{what} has layers the block does not call for.",
                      expected="Conv2D layers only (1×1 and 3×3), a MaxPooling2D and a Concatenate",
                      found=", ".join(sorted({_kind_of(layer) for layer in others})),
                      hint="no BatchNormalization or Dense here: keep to the layers the exercise lists")
    pools = [layer for layer in layers if _kind_of(layer) in ("MaxPooling2D", "AveragePooling2D")]
    if not pools:
        raise Mistake(f"{what} has no pooled branch.", expected="MaxPooling2D(3, strides=1, padding=\"same\"), "
                      "then Conv2D(8, 1, activation=\"relu\")", found="no pooling layer",
                      hint="the third branch pools the input x, then mixes its channels with a 1×1 Conv2D")
    if _kind_of(pools[0]) != "MaxPooling2D" or tuple(pools[0].pool_size) != (3, 3):
        raise Mistake(f"{what} pools differently.", expected="MaxPooling2D(3, strides=1, padding=\"same\")",
                      found=f"{_kind_of(pools[0])} with pool_size {tuple(pools[0].pool_size)}",
                      hint="the largest value of each 3×3 window: MaxPooling2D(3, ...)")
    convs = [layer for layer in weighted if _kind_of(layer) == "Conv2D"]
    for conv in convs:
        require_bias(conv, f"a Conv2D of {what}")
    shapes = sorted(tuple(conv.kernel.shape) for conv in convs)
    reduce_shape, three_plain = (1, 1, channels, REDUCED_TO), (3, 3, channels, BRANCH_WIDTHS["3x3"])
    reduces = channels > REDUCE_ABOVE
    expected = sorted([(1, 1, channels, 8), (1, 1, channels, 8)]
                      + ([reduce_shape, (3, 3, REDUCED_TO, 16)] if reduces else [three_plain]))
    if shapes != expected:
        if reduces and three_plain in shapes and reduce_shape not in shapes:
            raise Mistake(f"{what} has no 1×1 reduction before the 3×3 convolution.",
                          expected=f"Conv2D({REDUCED_TO}, 1, activation=\"relu\") first: the input has more than "
                          f"{REDUCE_ABOVE} channels", found=f"the 3×3 Conv2D reads all {channels} channels",
                          hint=f"if x.shape[-1] > {REDUCE_ABOVE}: reduce first (a Python if on a shape, decided "
                          "while the graph is built)")
        if not reduces and reduce_shape in shapes:
            raise Mistake(f"{what} reduces a thin input.",
                          expected=f"no reduction: {channels} channel{'s' * (channels != 1)} is not more than "
                          f"{REDUCE_ABOVE}, so the 3×3 Conv2D reads x directly",
                          found=f"a 1×1 Conv2D from {channels} to {REDUCED_TO} channels before the 3×3",
                          hint=f"reduce only when x.shape[-1] > {REDUCE_ABOVE}: on a thin input a reduction costs "
                          "more than it saves (the lesson's table)")
        raise Mistake(f"{what} does not have the convolutions of the block.",
                      expected="kernels " + ", ".join(map(str, expected)), found="kernels " + ", ".join(map(str, shapes)),
                      hint="1×1: Conv2D(8, 1); reduction (only above 4 channels): Conv2D(4, 1); 3×3: Conv2D(16, 3, "
                      "padding=\"same\"); after the pool: Conv2D(8, 1); all with activation=\"relu\"")
    _judge_inception_numbers(model, convs, what, shape, reduces, seed)


def _judge_inception_numbers(model, convs, what: str, shape, reduces: bool, seed: int) -> None:
    channels = shape[-1]
    rng = np.random.default_rng(seed)
    by_shape: dict[tuple, list] = {}
    for conv in convs:
        by_shape.setdefault(tuple(conv.kernel.shape), []).append(conv)
    weights = {}
    pairs = by_shape[(1, 1, channels, 8)]
    roles = [("pair_a", pairs[0]), ("pair_b", pairs[1]),
             ("3x3", by_shape[(3, 3, REDUCED_TO if reduces else channels, 16)][0])]
    if reduces:
        roles.append(("reduce", by_shape[(1, 1, channels, REDUCED_TO)][0]))
    for role, conv in roles:
        kernel = rng.normal(0.0, 0.5, size=tuple(conv.kernel.shape)).astype("float32")
        bias = rng.normal(0.0, 0.3, size=(conv.kernel.shape[-1],)).astype("float32")
        conv.set_weights([kernel, bias])
        weights[role] = (kernel, bias)
    x = _inception_input(shape, seed)
    found = output_or_mistake(model, x, what)
    order = ("1x1", "3x3", "pool")
    all_relu = {"1x1": True, "reduce": True, "3x3": True, "pool": True}
    variants = [("right", all_relu)] + [(f"no_relu_{role}", {**all_relu, role: False})
                                         for role in ("1x1", "reduce", "3x3", "pool") if role != "reduce" or reduces]
    for label, relus in variants:
        for first, second in (("pair_a", "pair_b"), ("pair_b", "pair_a")):
            w = {"1x1": weights[first], "pool": weights[second], "3x3": weights["3x3"]}
            if reduces:
                w["reduce"] = weights["reduce"]
            branches = _block_reference(x, w, relus)
            for permutation in itertools.permutations(order):
                joined = np.concatenate([branches[b] for b in permutation], axis=-1)
                if not same_values(found, joined, atol=1e-4, rtol=1e-4):
                    continue
                if label != "right":
                    role = label.removeprefix("no_relu_")
                    part = {"1x1": "the 1×1 branch's Conv2D", "reduce": "the 1×1 reduction", "3x3": "the 3×3 Conv2D",
                            "pool": "the 1×1 Conv2D after the pool"}[role]
                    raise Mistake(f"in {what}, {part} has no ReLU.", expected="activation=\"relu\" on every Conv2D",
                                  found=f"{part} without activation", hint="add activation=\"relu\" to it")
                if permutation != order:
                    raise Mistake(f"{what} joins the branches in another order.",
                                  expected="Concatenate()([one_by_one, three_by_three, pooled]): channels 0-7 from the "
                                  "1×1 branch, 8-23 from the 3×3 branch, 24-31 from the pooled branch",
                                  found="the order " + ", ".join(permutation),
                                  hint="the next layer's weights are tied to channel positions: keep the order "
                                  "the exercise gives")
                return
    raise Mistake(f"{what} has the right layers but computes something else.",
                  expected="concatenate(relu(conv1x1(x)), relu(conv3x3(reduced x)), relu(conv1x1(maxpool3x3(x))))",
                  found="a different function of the input, with the same layers",
                  hint="each branch starts from x itself (the 3×3 branch from its reduction), not from another branch")


@exercise("10.1", "An Inception block for any input width")
def inception_for_any_width(blocks: object) -> str:
    names = [name for name, _ in INCEPTION_CASES]
    if not isinstance(blocks, dict) or list(blocks) != names:
        raise Mistake("`inception_block` is not a function.",
                      expected="a function: def inception_block(x): ... return the block's output tensor",
                      found=describe(blocks), hint="define it with def; the check cell calls it on inputs of "
                      "several widths")
    for index, (name, shape) in enumerate(INCEPTION_CASES):
        value = blocks[name]
        if isinstance(value, str):
            raise Mistake(f"`inception_block` fails for an input with {name}.",
                          expected=f"a tensor of shape {(None, *shape[:2], BLOCK_CHANNELS)}", found=value,
                          hint=_inception_build_hint(value))
        model = expect_model(value, f"the block built for an input with {name}")
        _judge_inception_case(model, name, shape, seed=1010 + index)
    widths = ", ".join(str(shape[-1]) for _, shape in INCEPTION_CASES)
    return (f"1×1, 3×3 and pooled branches joined on the channels, the 3×3 reduced only above {REDUCE_ABOVE} "
            f"channels (tried inputs of {widths} channels)")


# --- 10.2 A gated mixture of two experts --------------------------------------------------------

MIXTURE_MAX_MSE = 0.03
GATE_SURE = 0.8


def _named_dense(model, name: str, kernel: tuple[int, int], what: str, role: str):
    found = [layer for layer in all_layers(model) if layer.name == name]
    if not found:
        names = [layer.name for layer in all_layers(model) if layer.weights]
        raise Mistake(f"{what} has no layer named {name!r}.",
                      expected='layers named "expert_0", "expert_1" and "gate"',
                      found=f"layers with weights named {names}",
                      hint=f'give the {role} its name: layers.Dense(..., name="{name}")')
    layer = found[0]
    softmax = ', activation="softmax"' if name == "gate" else ""
    if _kind_of(layer) != "Dense" or tuple(layer.kernel.shape) != kernel:
        shown = tuple(layer.kernel.shape) if _kind_of(layer) == "Dense" else _kind_of(layer)
        raise Mistake(f"{what}'s {name!r} is not the layer the exercise asks for.",
                      expected=f"a Dense layer with kernel {kernel}", found=f"{shown}",
                      hint=f"the {role}: layers.Dense({kernel[1]}{softmax}, name={name!r}) on the input x")
    require_bias(layer, f"{what}'s {name!r}")
    return layer


def _dense_numbers(layer, x: np.ndarray) -> np.ndarray:
    kernel, bias = (np.asarray(w, dtype="float64") for w in layer.get_weights())
    return x @ kernel + bias


@exercise("10.2", "A gated mixture of two experts")
def gated_mixture(mixture: object) -> str:
    what = "`mixture`"
    model = expect_model(mixture, what)
    inputs = [tuple(t.shape) for t in model.inputs]
    if inputs != [(None, 1)]:
        raise Mistake(f"{what} has the wrong input.", expected="one input of shape (None, 1): x",
                      found=f"inputs of shapes {inputs}", hint="keras.Input(shape=(1,))")
    outputs = [tuple(t.shape) for t in model.outputs]
    if outputs == [(None, 2)]:
        raise Mistake(f"{what} outputs two numbers per sample.",
                      expected="one number: gate weight 0 × expert 0 + gate weight 1 × expert 1",
                      found="(None, 2): the weighted experts side by side, not yet added up",
                      hint="layers.Dot(axes=1)([gate, experts]) multiplies and adds in one go")
    if outputs != [(None, 1)]:
        raise Mistake(f"{what} has the wrong output.", expected="one output of shape (None, 1)",
                      found=f"outputs of shapes {outputs}")
    experts = [_named_dense(model, f"expert_{i}", (1, 1), what, f"expert {i}") for i in (0, 1)]
    x = np.linspace(-3.0, 3.0, 61, dtype="float32")[:, None]
    found = output_or_mistake(model, x, what)
    values = np.concatenate([_dense_numbers(expert, x.astype("float64")) for expert in experts], axis=1)
    if not any(layer.name == "gate" for layer in all_layers(model)) and same_values(
            found, values.sum(axis=1, keepdims=True), atol=1e-4, rtol=1e-4):
        raise Mistake(f"{what} adds the two experts: no gate weighs them.",
                      expected="gate weight 0 × expert 0 + gate weight 1 × expert 1", found="expert 0 + expert 1",
                      hint='a gate, layers.Dense(2, activation="softmax", name="gate") on x, and '
                      "layers.Dot(axes=1)([gate, experts])")
    gate = _named_dense(model, "gate", (1, 2), what, "gate")
    logits = _dense_numbers(gate, x.astype("float64"))
    gates = softmax_rows(logits)
    # Which gate unit weighs which expert is the learner's choice: either pairing is a mixture of experts.
    if not any(same_values(found, (weights * values).sum(axis=1, keepdims=True), atol=1e-4, rtol=1e-4)
               for weights in (gates, gates[:, ::-1])):
        variants = {
            "sigmoid": ("the gate's weights come from a sigmoid: they do not sum to 1",
                        1.0 / (1.0 + np.exp(-logits))),
            "linear": ("the gate has no softmax: its weights can be negative and do not sum to 1", logits),
        }
        for problem, gate_values in variants.values():
            if any(same_values(found, (weights * values).sum(axis=1, keepdims=True), atol=1e-4, rtol=1e-4)
                   for weights in (gate_values, gate_values[:, ::-1])):
                raise Mistake(f"in {what}, {problem}.", expected="softmax weights: positive, summing to 1",
                              found=f"the gate's activation is {activation_of(gate)!r}",
                              hint='layers.Dense(2, activation="softmax", name="gate")')
        raise Mistake(f"{what} is not the gate-weighted sum of its experts.",
                      expected="softmax(gate(x)) · [expert_0(x), expert_1(x)], computed here from your layers' weights",
                      found="a different output", hint="the experts and the gate all read x; nothing else in between")
    if all(not np.any(layer.get_weights()[1]) for layer in (gate, *experts)):
        raise Mistake(f"{what} has not been trained.", expected=f"a mean squared error below {MIXTURE_MAX_MSE}",
                      found="every bias still at 0, as Keras creates them",
                      hint='compile(optimizer=keras.optimizers.Adam(0.1), loss="mse"), then fit on x_mix, y_mix')
    fresh_x, fresh_y = two_regimes(512, seed=1020)
    error = float(np.mean((output_or_mistake(model, fresh_x, what) - fresh_y) ** 2))
    sides = softmax_rows(_dense_numbers(gate, np.array([[-2.0], [2.0]])))
    left, right = int(np.argmax(sides[0])), int(np.argmax(sides[1]))
    if error > MIXTURE_MAX_MSE:
        raise Mistake(f"{what} does not fit the data yet.",
                      expected=f"a mean squared error below {MIXTURE_MAX_MSE} on new points",
                      found=f"{error:.3f}", hint="train longer, or with Adam(0.1): 5 epochs in batches of 64 suffice")
    if left == right or sides[0, left] < GATE_SURE or sides[1, right] < GATE_SURE:
        raise Mistake(f"{what}'s gate does not pick one expert per side.",
                      expected=f"at x = -2 one expert gets more than {GATE_SURE} of the weight, at x = +2 the other",
                      found=f"weights {np.round(sides[0], 2).tolist()} at x = -2 and {np.round(sides[1], 2).tolist()} "
                      "at x = +2", hint="train longer: the gate learns which side belongs to which expert")
    return (f"a softmax gate weighs the two experts, each trusted on one side of zero; mean squared error below "
            f"{MIXTURE_MAX_MSE} on new points")


# --- Reports (10.3, 10.4) -----------------------------------------------------------------------


def _report_of(value: object, kind: str, what: str, how: str) -> dict[str, Any]:
    """The report on a learner's class, or a Mistake saying what was handed in instead."""
    if isinstance(value, dict) and value.get(REPORT_KEY) == kind:
        if value.get("wrong_base"):
            raise Mistake(f"{what} is not a subclass of keras.Model.", expected="class ...(keras.Model):",
                          found=f"a class whose bases are {value['wrong_base']}", hint=how)
        return value
    if isinstance(value, dict) and value.get("report") == "failed":
        raise Mistake(f"{what} could not be used.", expected="a class the check can build and train",
                      found=f"{value.get('error')}: {value.get('message')}", hint=how)
    if inspect.isclass(value) or isinstance(value, Unexportable) and value.nature == "class":
        raise Mistake(f"{what} is a class the check could not run.",
                      expected="a class defined in the answer cell above: the check runs that cell's imports, "
                      "functions and classes again, in a fresh process", found=describe(value),
                      hint="define the class in the answer cell itself, run that cell, then this one")
    raise Mistake(f"{what} is not a class.", expected="the class itself (its name, without parentheses)",
                  found=describe(value), hint=how)


# --- 10.3 Hard routing that trains under fit ---------------------------------------------------

ROUTER_HOW = ("class Router(keras.Model) with small = Dense(1), hidden = Dense(16, relu), big = Dense(1), "
              "and call() returning ops.cond(ops.mean(x) > 0, lambda: small(x), lambda: big(hidden(x)))")


def _router_branches(weights: list[np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    ks, bs, kh, bh, kb, bb = (np.asarray(w, dtype="float64") for w in weights)
    x = np.asarray(x, dtype="float64")
    hidden = x @ kh + bh
    return {"small": x @ ks + bs, "big": np.maximum(hidden, 0.0) @ kb + bb, "big_without_relu": hidden @ kb + bb}


def _router_expected(weights: list[np.ndarray], x: np.ndarray, rule: str) -> np.ndarray:
    branches = _router_branches(weights, x)
    x = np.asarray(x, dtype="float64")
    if rule == "per_batch":
        return branches["small"] if x.mean() > 0 else branches["big"]
    if rule == "swapped":
        return branches["big"] if x.mean() > 0 else branches["small"]
    if rule == "per_example":
        return np.where(x.mean(axis=1, keepdims=True) > 0, branches["small"], branches["big"])
    if rule == "no_relu":
        return branches["small"] if x.mean() > 0 else branches["big_without_relu"]
    return branches[rule]  # "small" or "big": always the same branch


_ROUTER_RULES = {
    "swapped": ("the branches are swapped: batches with a positive mean go through big(hidden(x)).",
                "ops.cond(ops.mean(x) > 0, lambda: self.small(x), lambda: self.big(self.hidden(x))): the first "
                "function runs when the condition holds"),
    "per_example": ("the router decides for each sample, not once for the whole batch.",
                    "one decision per batch: ops.cond on ops.mean(x) > 0 (ops.where picks row by row, and "
                    "computes both branches for every sample)"),
    "no_relu": ("the hidden layer has no ReLU.", 'layers.Dense(16, activation="relu") for hidden'),
    "small": ("every batch goes through small(x): nothing is routed.", "decide with ops.cond on ops.mean(x) > 0"),
    "big": ("every batch goes through big(hidden(x)): nothing is routed.", "decide with ops.cond on ops.mean(x) > 0"),
}


def _judge_routing(outputs: dict[str, np.ndarray], weights: list[np.ndarray], what: str, when: str) -> None:
    probes = router_probes()
    if all(same_values(outputs[name], _router_expected(weights, probes[name], "per_batch"), atol=1e-4)
           for name in probes):
        return
    for rule, (problem, hint) in _ROUTER_RULES.items():
        if all(same_values(outputs[name], _router_expected(weights, probes[name], rule), atol=1e-4) for name in probes):
            raise Mistake(f"{when}, {problem}", expected="small(x) when the batch's mean is above 0, else "
                          "big(hidden(x))", found=f"the outputs of {what} match that", hint=hint)
    raise Mistake(f"{when}, {what} computes something else.",
                  expected="small(x) when the batch's mean is above 0, else big(hidden(x)), computed here from the "
                  "weights the check set", found="other outputs", hint=ROUTER_HOW)


def router_training_reference(rule: str = "per_batch") -> tuple[list[np.ndarray], list[float]]:
    """What fit does to the router in the report: SGD on the mean squared error, batch by batch, in NumPy."""
    ks, bs, kh, bh, kb, bb = (np.asarray(w, dtype="float64") for w in router_start_weights())
    x_all, y_all = (np.asarray(a, dtype="float64") for a in router_data())
    lr, losses = ROUTER_LEARNING_RATE, []
    for _ in range(ROUTER_EPOCHS):
        batch_losses = []
        for start in range(0, len(x_all), ROUTER_BATCH):
            x, y = x_all[start:start + ROUTER_BATCH], y_all[start:start + ROUTER_BATCH]
            small = x.mean() > 0 if rule == "per_batch" else x.mean() <= 0
            if small:
                pred = x @ ks + bs
                grad = 2.0 * (pred - y) / len(x)
                ks, bs = ks - lr * x.T @ grad, bs - lr * grad.sum(axis=0)
            else:
                pre = x @ kh + bh
                hidden = np.maximum(pre, 0.0)
                pred = hidden @ kb + bb
                grad = 2.0 * (pred - y) / len(x)
                back = (grad @ kb.T) * (pre > 0)
                kb, bb, kh, bh = (kb - lr * hidden.T @ grad, bb - lr * grad.sum(axis=0),
                                  kh - lr * x.T @ back, bh - lr * back.sum(axis=0))
            batch_losses.append(float(np.mean((pred - y) ** 2)))
        losses.append(float(np.mean(batch_losses)))
    return [ks, bs, kh, bh, kb, bb], losses


@exercise("10.3", "Hard routing that trains under fit",
          reports={"Router": "coursetools.lessons.lesson10.tools:make_router_reporter"})
def router_trains(Router: object) -> str:  # noqa: N803 - the evidence is the learner's class, named as they name it
    what = "`Router`"
    report = _report_of(Router, "router", what, ROUTER_HOW)
    error, failed = report.get("error", ""), report.get("failed_step", "")
    if failed == "finding the three Dense layers":
        raise Mistake(f"{what} does not have the three Dense layers of the router.",
                      expected="small: Dense(1) on the 4 features (kernel (4, 1)); hidden: Dense(16) (kernel (4, 16)); "
                      "big: Dense(1) on hidden's 16 numbers (kernel (16, 1)); each with its bias",
                      found=f"Dense kernels {report.get('kernel_shapes', [])}",
                      hint="create the three layers in __init__, as attributes: self.small = layers.Dense(1), ...")
    if error:
        if "as a Python `bool` is not allowed" in error or "OperatorNotAllowedInGraphError" in error:
            raise Mistake(f"{what} cannot be traced: {failed} failed.",
                          expected="a call() that fit can trace into a graph",
                          found=error,
                          hint="a Python if on a tensor's value works only eagerly; fit traces call(): use "
                          "ops.cond(ops.mean(x) > 0, lambda: self.small(x), lambda: self.big(self.hidden(x)))")
        raise Mistake(f"{what} failed while the check used it: {failed}.", expected="a router that runs and trains",
                      found=error, hint=ROUTER_HOW)
    start = router_start_weights()
    _judge_routing(report["eager"], start, what, "called eagerly")
    if report.get("run_eagerly"):
        raise Mistake(f"{what} trains eagerly.", expected="fit in graph mode, the default: run_eagerly False",
                      found="run_eagerly True", hint="do not set run_eagerly: ops.cond works in a graph")
    trained, losses = router_training_reference()
    if not same_weights(report["trained"], trained, atol=1e-4, rtol=1e-3) or not same_values(
            report["history"], losses, atol=1e-4, rtol=1e-3):
        if same_weights(report["trained"], start, atol=1e-7):
            raise Mistake(f"fit did not change {what}'s weights.", expected="SGD updates of the branch each batch took",
                          found="the weights the check set, unchanged", hint=ROUTER_HOW)
        raise Mistake(f"fit trained {what} differently from the router the exercise describes.",
                      expected=f"the loss per epoch {np.round(losses, 4).tolist()}, computed here with SGD batch by batch",
                      found=f"{np.round(report['history'], 4).tolist()}",
                      hint="one decision per batch, on ops.mean(x) > 0 of the batch being trained")
    return (f"ops.cond routes each batch, and fit trains it in graph mode (loss {losses[0]:.2f} -> {losses[-1]:.2f}, "
            "as SGD on the branch each batch took)")


# --- 10.4 A train_step that trains and reports the gradient norm --------------------------------

STEP_HOW = ("class GradNormModel(keras.Model) whose train_step computes the loss with self.compute_loss, the "
            "gradients with tf.GradientTape, applies them with self.optimizer.apply, updates every metric "
            "(a keras.metrics.Mean named \"grad_norm\" for the gradients' norm) and returns their results")


def train_step_reference() -> dict[str, Any]:
    """What one epoch after another of the report's fit must give, computed with NumPy (plain SGD)."""
    x_all, y_all = step_data()
    kernel, bias = (np.asarray(w, dtype="float64") for w in step_start_weights())
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "grad_norm": [], "last_norm": [],
                                       "kernel_norm": [], "summed_norms": [], "running_norm": []}
    all_norms: list[float] = []
    for _ in range(STEP_EPOCHS):
        losses, norms, kernel_norms, summed, correct = [], [], [], [], 0
        for start in range(0, len(x_all), STEP_BATCH):
            x, y = x_all[start:start + STEP_BATCH].astype("float64"), y_all[start:start + STEP_BATCH]
            p = softmax_rows(x @ kernel + bias)
            losses.append(crossentropy_of(p, y))
            correct += int(np.sum(np.argmax(p, axis=1) == y))
            g = p.copy()
            g[np.arange(len(y)), y] -= 1.0
            g /= len(y)
            d_kernel, d_bias = x.T @ g, g.sum(axis=0)
            norms.append(float(np.sqrt(np.sum(d_kernel ** 2) + np.sum(d_bias ** 2))))
            kernel_norms.append(float(np.sqrt(np.sum(d_kernel ** 2))))
            summed.append(float(np.sqrt(np.sum(d_kernel ** 2)) + np.sqrt(np.sum(d_bias ** 2))))
            kernel, bias = kernel - STEP_LEARNING_RATE * d_kernel, bias - STEP_LEARNING_RATE * d_bias
        all_norms += norms
        history["loss"].append(float(np.mean(losses)))
        history["accuracy"].append(correct / len(x_all))
        history["grad_norm"].append(float(np.mean(norms)))
        history["last_norm"].append(norms[-1])
        history["kernel_norm"].append(float(np.mean(kernel_norms)))
        history["summed_norms"].append(float(np.mean(summed)))
        history["running_norm"].append(float(np.mean(all_norms)))
    history["weights"] = [kernel, bias]
    return history


def _close(found: Any, expected: Any) -> bool:
    return same_values(found, expected, atol=1e-4, rtol=1e-3)


@exercise("10.4", "A train_step that trains and reports the gradient norm",
          reports={"GradNormModel": "coursetools.lessons.lesson10.tools:make_step_reporter"})
def train_step_with_norm(GradNormModel: object) -> str:  # noqa: N803 - the evidence is the learner's class
    what = "`GradNormModel`"
    report = _report_of(GradNormModel, "train_step", what, STEP_HOW)
    error = report.get("error", "")
    if error:
        hint = STEP_HOW
        if "metric has not yet been built" in error:
            raise Mistake(f"{what} does not report the compiled metrics.",
                          expected="every metric of self.metrics updated in train_step", found=error,
                          hint="for every metric other than the loss tracker and grad_norm: "
                          "metric.update_state(y, y_pred); the compiled metrics have no result until then")
        if "name 'tf' is not defined" in error:
            hint = ("keep `import tensorflow as tf` in the answer cell: the check runs only that cell's imports, "
                    "functions and classes")
        elif "__init__" in error or "argument" in error:
            hint = "the check builds it as GradNormModel(inputs, outputs): pass *args and **kwargs on to super().__init__"
        raise Mistake(f"{what} failed while the check used it: {report.get('failed_step')}.",
                      expected="a model class that fit can train", found=error, hint=hint)
    if not report.get("overrides_train_step"):
        raise Mistake(f"{what} does not override train_step.", expected="def train_step(self, data): ...",
                      found="Keras's own train_step", hint=STEP_HOW)
    reference = train_step_reference()
    history = report["history"]
    start = step_start_weights()
    if same_weights(report["weights"], start, atol=1e-7):
        raise Mistake(f"{what}'s train_step does not change the weights.", expected="an SGD step on every batch",
                      found="the starting weights, unchanged after 3 epochs",
                      hint="apply the gradients: self.optimizer.apply(grads, self.trainable_variables)")
    if not same_weights(report["weights"], reference["weights"], atol=1e-4, rtol=1e-3):
        raise Mistake(f"{what}'s train_step moves the weights, but not as one step of SGD on the compiled loss would.",
                      expected="the weights fit reaches with Keras's own train_step (computed here with NumPy)",
                      found="other weights after 3 epochs",
                      hint="take the gradient of self.compute_loss(x=x, y=y, y_pred=y_pred) with respect to "
                      "self.trainable_variables, and apply it once per batch")
    if "loss" not in history:
        raise Mistake(f"{what} reports no loss.", expected="History with a 'loss' entry",
                      found=f"History keys {sorted(history)}", hint="return {m.name: m.result() for m in self.metrics}")
    if _close(history["loss"], [0.0] * STEP_EPOCHS):
        raise Mistake(f"{what} trains, but reports a loss of 0.", expected="the loss of each epoch",
                      found=f"loss {history['loss']}",
                      hint="update the metric named \"loss\" with the loss: metric.update_state(loss)")
    if _close(history["loss"], [0.1] * STEP_EPOCHS):
        raise Mistake(f"{what} trains, but reports a loss of 0.1: the mean of the softmax outputs.",
                      expected="the loss of each epoch",
                      found=f"loss {np.round(history['loss'], 4).tolist()}: old tf.keras code "
                      "(self.compiled_metrics.update_state) feeds the predictions to the loss tracker",
                      hint="use self.compute_loss(...) and update each metric of self.metrics yourself")
    if not _close(history["loss"], reference["loss"]):
        raise Mistake(f"{what} reports a loss that is not the training loss.",
                      expected=f"{np.round(reference['loss'], 4).tolist()}",
                      found=f"{np.round(history['loss'], 4).tolist()}",
                      hint="update the \"loss\" metric with the loss of the batch, before anything else changes it")
    if "accuracy" not in history or not _close(history["accuracy"], reference["accuracy"]):
        raise Mistake(f"{what} does not report the compiled metrics.",
                      expected=f"accuracy {np.round(reference['accuracy'], 4).tolist()}",
                      found=f"History keys {sorted(history)}" if "accuracy" not in history
                      else f"accuracy {np.round(history['accuracy'], 4).tolist()}",
                      hint="for every other metric of self.metrics: metric.update_state(y, y_pred)")
    if "grad_norm" not in history:
        raise Mistake(f"{what} does not report the gradient norm.", expected="History with a 'grad_norm' entry",
                      found=f"History keys {sorted(history)}",
                      hint='self.grad_norm = keras.metrics.Mean(name="grad_norm") in __init__, updated in train_step')
    norm = history["grad_norm"]
    if not _close(norm, reference["grad_norm"]):
        slips = {
            "last_norm": "the norm of each epoch's last batch: return a Mean tracker's result, updated every batch",
            "kernel_norm": "the norm of the kernel's gradient only: include every gradient (the bias's too)",
            "summed_norms": "the sum of each gradient's norm: add the squares of all gradients, then take one "
            "square root",
            "running_norm": "a mean over all epochs so far: the tracker is never reset; make it an attribute of the "
            "model (self.grad_norm = keras.metrics.Mean(...)) so that fit resets it every epoch",
        }
        for key, hint in slips.items():
            if _close(norm, reference[key]):
                raise Mistake(f"{what} reports another number as grad_norm.",
                              expected=f"the mean over each epoch's batches of the gradients' norm: "
                              f"{np.round(reference['grad_norm'], 4).tolist()}",
                              found=f"{np.round(norm, 4).tolist()}", hint=hint)
        raise Mistake(f"{what}'s grad_norm is not the norm of the gradients it applies.",
                      expected=f"{np.round(reference['grad_norm'], 4).tolist()}: sqrt of the sum of the squares of "
                      "every gradient, averaged over each epoch's batches", found=f"{np.round(norm, 4).tolist()}",
                      hint="ops.sqrt(sum(ops.sum(g * g) for g in grads)), given to the Mean tracker every batch")
    if any("grad_norm" not in keys for keys in report.get("callback_keys", [])):
        raise Mistake(f"{what}'s grad_norm does not reach callbacks.", expected="grad_norm in the logs of every epoch",
                      found=f"logs keys {report.get('callback_keys')}", hint="return it in the dict train_step returns")
    return (f"fit trains it as SGD would, and History and callbacks get loss, accuracy and grad_norm "
            f"({reference['grad_norm'][0]:.3f} -> {reference['grad_norm'][-1]:.3f})")


# --- 10.5 Your own training loop -----------------------------------------------------------------

LOOP_EPOCHS = 2
LOOP_LEARNING_RATE = 0.03
LOOP_SKIP_BELOW = 1.0
ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-7


def training_loop_reference(skip: str = "below", optimizer: str = "one", epochs: int = LOOP_EPOCHS) -> dict[str, Any]:
    """Exercise 10.5 in NumPy: Adam (Keras's formulas), batches in order, skipping easy batches.

    ``skip``: "below" (the exercise: no update when the batch's loss is below the threshold),
    "never", "above" (the rule the wrong way round). ``optimizer``: "one" (the exercise),
    "every_step" or "every_epoch" (a new Adam, whose step count and moments start again).
    """
    weights = [np.asarray(w, dtype="float64") for w in loop_start_weights()]
    beta_1, beta_2 = ADAM_BETAS
    batches = skip_batches()

    def fresh() -> tuple[list, list, int]:
        return [np.zeros_like(w) for w in weights], [np.zeros_like(w) for w in weights], 0

    moments, velocities, steps = fresh()
    out: dict[str, Any] = {"epoch_losses": [], "last_losses": [], "updates": 0}
    for _ in range(epochs):
        if optimizer == "every_epoch":
            moments, velocities, steps = fresh()
        losses = []
        for x, y in batches:
            x = x.astype("float64")
            k1, b1, k2, b2 = weights
            pre = x @ k1 + b1
            hidden = np.maximum(pre, 0.0)
            p = softmax_rows(hidden @ k2 + b2)
            loss = crossentropy_of(p, y)
            losses.append(loss)
            if skip == "below" and loss < LOOP_SKIP_BELOW or skip == "above" and loss >= LOOP_SKIP_BELOW:
                continue
            g = p.copy()
            g[np.arange(len(y)), y] -= 1.0
            g /= len(y)
            back = (g @ k2.T) * (pre > 0)
            grads = [x.T @ back, back.sum(axis=0), hidden.T @ g, g.sum(axis=0)]
            if optimizer == "every_step":
                moments, velocities, steps = fresh()
            steps += 1
            alpha = LOOP_LEARNING_RATE * np.sqrt(1 - beta_2 ** steps) / (1 - beta_1 ** steps)
            for i, grad in enumerate(grads):
                moments[i] = moments[i] + (grad - moments[i]) * (1 - beta_1)
                velocities[i] = velocities[i] + (grad ** 2 - velocities[i]) * (1 - beta_2)
                weights[i] = weights[i] - moments[i] * alpha / (np.sqrt(velocities[i]) + ADAM_EPSILON)
            out["updates"] += 1
        out["epoch_losses"].append(float(np.mean(losses)))
        out["last_losses"].append(losses[-1])
    out["weights"] = weights
    return out


def _as_losses(value: object, what: str) -> list[float]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise Mistake(f"{what} is not a list of numbers.", expected=f"{LOOP_EPOCHS} numbers: each epoch's mean loss",
                      found=describe(value), hint="append float(np.mean(batch_losses)) after every epoch")
    if len(value) != LOOP_EPOCHS:
        raise Mistake(f"{what} has {len(value)} numbers.", expected=f"{LOOP_EPOCHS}: one per epoch",
                      found=f"{[round(float(v), 4) for v in value][:8]}",
                      hint=f"train for {LOOP_EPOCHS} epochs and record one mean per epoch")
    return [float(v) for v in value]


@exercise("10.5", "Your own training loop: skip the easy batches")
def own_training_loop(model: object, epoch_losses: object) -> str:
    what = "`loop_model`"
    model = expect_model(model, what)
    shapes = [tuple(w.shape) for w in model.get_weights()]
    start = loop_start_weights()
    if shapes != [w.shape for w in start]:
        raise Mistake(f"{what} is not the given model.", expected=f"weights of shapes {[w.shape for w in start]}",
                      found=f"{shapes}", hint="train loop_model = given_loop_model(), as the answer cell starts")
    found = [np.asarray(w, dtype="float64") for w in model.get_weights()]
    losses = _as_losses(epoch_losses, "`epoch_losses`")
    if same_weights(found, start, atol=1e-7):
        raise Mistake(f"{what} was not trained.", expected="its weights changed by your loop",
                      found="the given starting weights",
                      hint="optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables) "
                      f"on every batch whose loss is at least {LOOP_SKIP_BELOW} (every batch of the first epoch is)")
    reference = training_loop_reference()
    if not same_weights(found, reference["weights"], atol=1e-4, rtol=1e-3):
        variants = [
            (dict(skip="never"), "it updated on every batch", f"skip the update when the batch's loss is below "
             f"{LOOP_SKIP_BELOW}: if float(loss) >= {LOOP_SKIP_BELOW}: optimizer.apply(...)"),
            (dict(skip="above"), "it updated only on the easy batches (the rule is the wrong way round)",
             f"update when the loss is at least {LOOP_SKIP_BELOW}, skip when it is below"),
            (dict(optimizer="every_step"), "a new optimizer was made for every step, so Adam's step count and "
             "moments started again each time", "create the optimizer once, before the loop"),
            (dict(optimizer="every_epoch"), "a new optimizer was made for every epoch",
             "create the optimizer once, before the loop"),
            (dict(skip="never", optimizer="every_step"), "a new optimizer was made for every step, and it updated "
             "on every batch", "one optimizer before the loop; skip the easy batches"),
        ]
        for arguments, problem, hint in variants:
            variant = training_loop_reference(**arguments)
            # Adam restarted at every step moves each weight by about +-lr whatever the gradient's size, so
            # float32 and float64 part ways after a few steps: such a loop is recognised by its first epoch's
            # loss when not by its weights.
            first, wanted, right = losses[0], variant["epoch_losses"][0], reference["epoch_losses"][0]
            if same_weights(found, variant["weights"], atol=1e-4, rtol=1e-3) or (
                    abs(first - wanted) < 0.01 and abs(first - right) > 0.05):
                raise Mistake(f"{what} was trained, but {problem}.",
                              expected=f"{reference['updates']} Adam updates, with one optimizer, skipping the "
                              f"{LOOP_BATCHES * LOOP_EPOCHS - reference['updates']} batches whose loss was below "
                              f"{LOOP_SKIP_BELOW}", found="the weights that loop gives", hint=hint)
        raise Mistake(f"{what}'s weights are not those of the loop the exercise describes.",
                      expected=f"{LOOP_EPOCHS} epochs over the 16 batches in their order, Adam(learning_rate="
                      f"{LOOP_LEARNING_RATE}), no update on batches whose loss is below {LOOP_SKIP_BELOW} "
                      "(computed here with NumPy)",
                      found="other weights",
                      hint="keep the given order of the batches (no shuffling), loss = keras.losses."
                      "SparseCategoricalCrossentropy()(y, model(x, training=True)), run the loop once from the start")
    expected_losses = reference["epoch_losses"]
    if not same_values(losses, expected_losses, atol=1e-4, rtol=1e-3):
        if same_values(losses, reference["last_losses"], atol=1e-4, rtol=1e-3):
            raise Mistake("`epoch_losses` holds each epoch's last batch loss.",
                          expected=f"the mean over the epoch's 16 batches: {np.round(expected_losses, 4).tolist()}",
                          found=f"{np.round(losses, 4).tolist()}",
                          hint="collect every batch's loss, skipped batches included, and append their mean")
        raise Mistake("`epoch_losses` are not the epochs' mean losses.",
                      expected=f"{np.round(expected_losses, 4).tolist()} (every batch's loss, skipped ones included, "
                      "averaged per epoch)", found=f"{np.round(losses, 4).tolist()}",
                      hint="record float(loss) for every batch, before the update, and average per epoch")
    skipped = LOOP_BATCHES * LOOP_EPOCHS - reference["updates"]
    return (f"one Adam, batches in order, {reference['updates']} updates and {skipped} easy batches skipped; "
            f"mean loss {expected_losses[0]:.2f} -> {expected_losses[-1]:.2f}")


# --- 10.6 Which API when ---------------------------------------------------------------------------

API_CHOICES = {
    "sequential": "keras.Sequential",
    "functional": "the functional API",
    "subclass": "a keras.Model subclass with Python in call()",
    "ops.cond": "ops.cond / ops.while_loop in call()",
    "run_eagerly": "compile(run_eagerly=True)",
    "train_step": "a train_step override",
    "loop": "your own GradientTape loop",
}

# question -> (accepted answers, why, {wrong answer: why not}). Each reason names the lesson that taught it.
API_ANSWERS: dict[str, tuple[tuple[str, ...], str, dict[str, str]]] = {
    "a": (("sequential",), "a straight stack, one input, one output: a list says it all (lesson 2)",
          {"functional": "it works, but a straight stack is what Sequential is for: choose the simplest API (lesson 2)"}),
    "b": (("functional",), "two inputs: a Sequential list has exactly one way in (lesson 5)", {}),
    "c": (("functional",), "a block that adds its input to its output uses a tensor twice: a graph, not a list "
          "(lesson 4)", {}),
    "d": (("functional",), "one encoder called on two images is a shared layer: call it twice in one graph "
          "(lesson 6)", {}),
    "e": (("functional", "sequential"), "a feature extractor reuses the trained layers: keras.Model(trained.inputs[0], "
          "trained.layers[1].output), or keras.Sequential([keras.Input((64,)), *trained.layers[:2]]), which calls "
          "the same layers (lesson 3)", {}),
    "f": (("functional",), "parallel branches joined by Concatenate are a fixed graph, and the width test is a "
          "Python if on a shape, decided while the graph is built (lesson 10)",
          {"subclass": "the reduction depends on the input's width, a shape known while building: a Python if in "
           "the function that builds the graph is enough (lesson 10)"}),
    "g": (("functional",), "soft routing: every expert runs and the gate's softmax only weighs them, an ordinary "
          "graph of built-in layers (lesson 10)",
          {"subclass": "the routing is in the gate's values, not in the graph: Dense experts, a softmax gate and a "
           "Dot make a functional model that saves and loads without your code (lesson 10)",
           "ops.cond": "nothing is decided: every expert runs and the softmax only weighs them (lesson 10)"}),
    "h": (("functional",), "attention's weights depend on the data, the graph does not: MultiHeadAttention, Add, "
          "LayerNormalization and Dense in a functional model (lesson 9)",
          {"subclass": "attention is a layer Keras ships; the block is a fixed graph (lesson 9)"}),
    "i": (("functional",), "keras.ops on the graph's tensors is part of the graph and loads in safe mode; a Lambda "
          "would not load (lessons 7 and 8)", {}),
    "j": (("ops.cond",), "a decision on a tensor's value that fit must trace: ops.cond in call() keeps graph speed "
          "(lesson 10)",
          {"subclass": "a Python if on the batch's mean works in an eager call, but fit traces call() and raises "
           "OperatorNotAllowedInGraphError (lesson 10)",
           "run_eagerly": "it runs, but every step in Python: the question asks for the default fit (lesson 10)",
           "functional": "a Python if on a KerasTensor's value raises TypeError while building; the decision needs "
           "ops.cond in a call() (lesson 10)"}),
    "k": (("subclass",), "steps is a plain Python int given with the call: a Python loop over it is structure, "
          "decided before any tensor value exists, and traced anew for each new number (lesson 7)",
          {"ops.cond": "ops.while_loop works, but is for a number of turns read from tensor values; a Python int "
           "argument needs only a Python loop (lesson 7)",
           "functional": "one functional model has one fixed number of steps; a different number on each call needs "
           "call() (lesson 7)"}),
    "l": (("ops.cond",), "the number of halvings depends on the values and fit must trace it: ops.while_loop "
          "(lessons 7 and 10)",
          {"subclass": "a Python while on a tensor's value fails under fit with OperatorNotAllowedInGraphError "
           "(lessons 7 and 10)",
           "run_eagerly": "it runs, but every step in Python: the question asks for the default fit (lesson 10)"}),
    "m": (("run_eagerly",), "under fit, call() is traced once and print shows symbolic tensors; run_eagerly=True "
          "runs it in Python every batch, with real values (lesson 10)", {}),
    "n": (("train_step",), "a different step per batch while keeping fit's callbacks, metrics and progress bar: "
          "override train_step (lesson 10)",
          {"loop": "a loop of your own would work, but you would have to rewrite the callbacks, metrics and "
           "progress bar that the question wants kept (lesson 10)"}),
    "o": (("loop",), "fit iterates over a data set it is given; here each step's data comes from the model's own "
          "actions, so you write the loop: tf.GradientTape and a Keras optimizer (lesson 10)",
          {"train_step": "train_step changes what fit does with a batch, but fit still needs a data set to iterate "
           "over; here the data comes from the model itself, step by step (lesson 10)"}),
}

_API_MARKERS = (  # (category, pattern) on the answer, lower case, without spaces, dots, underscores or hyphens
    ("train_step", r"trainstep"),
    ("run_eagerly", r"runeagerly|eager"),
    ("ops.cond", r"cond|whileloop"),
    ("loop", r"gradienttape|loop"),
    ("subclass", r"subclass"),
    ("functional", r"functional"),
    ("sequential", r"sequential"),
)


def normalise_api(value: object) -> str | None:
    """The choice an answer names, or None when it names none or several."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[\s._`()\-]|keras|=true", "", value.lower())
    found = []
    for category, pattern in _API_MARKERS:
        if re.search(pattern, text):
            found.append(category)
            text = re.sub(pattern, "", text)
    if len(found) == 2 and "subclass" in found and found[0] in ("train_step", "run_eagerly", "ops.cond"):
        found = found[:1]  # "a subclass with ops.cond": the refinement is the answer
    return found[0] if len(found) == 1 else None


@exercise("10.6", "Which API when: the complete guide")
def which_api(choices: object) -> str:
    keys = ", ".join(f'"{k}"' for k in API_ANSWERS)
    vocabulary = ", ".join(f'"{k}"' for k in API_CHOICES)
    if not isinstance(choices, dict):
        raise Mistake("`choices` is not a dict.", expected=f"a dict with the keys {keys}",
                      found=describe(choices), hint='choices = {"a": "sequential", "b": ..., ...}')
    missing = [k for k in API_ANSWERS if k not in choices]
    extra = [k for k in choices if k not in API_ANSWERS]
    if missing or extra:
        raise Mistake(f"`choices` does not answer exactly the questions a to {list(API_ANSWERS)[-1]}.",
                      expected=f"the keys {keys}",
                      found=(f"missing {missing}" if missing else "") + (" " if missing and extra else "")
                      + (f"unknown keys {extra}" if extra else ""),
                      hint="one entry per question, keyed by its lower-case letter")
    unreadable = [k for k in API_ANSWERS if normalise_api(choices[k]) is None]
    if unreadable:
        raise Mistake("some answers are not one of the choices.", expected=f"each value one of {vocabulary}",
                      found=", ".join(f"{k}: {choices[k]!r}" for k in unreadable),
                      hint="write one of the seven choices per question")
    wrong = []
    for key, (accepted, why, why_not) in API_ANSWERS.items():
        answer = normalise_api(choices[key])
        if answer not in accepted:
            wrong.append(f"{key} ({choices[key]}): {why_not.get(answer, why)}")
    if wrong:
        raise Mistake(f"{len(wrong)} of {len(API_ANSWERS)} choices are not the best fit.",
                      expected="the simplest tool that does what each question asks", found="; ".join(wrong),
                      hint="the guide at the end of lesson 10 walks through these questions")
    return "the simplest tool for each network and each way of training"
