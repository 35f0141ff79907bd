"""Checks for lesson 6 (shared layers and models as building blocks).

Every reference is rebuilt here from :mod:`coursetools.data` (fixed numbers, or numbers
computed from the digits), never taken from the learner's answer. Sharing is judged on
the graph that runs: the calls recorded in the model's config, which say what each call
of each layer was fed, plus behaviour on real digits and on random inputs.
"""

from __future__ import annotations

import warnings

import numpy as np

from coursetools.data import load_digits_split
from coursetools.lessons.lesson06.given import (
    MEMBER_INPUTS,
    PRETRAINED_WIDTHS,
    digit_pairs,
    given_members,
    given_pretrained,
    given_reader,
    given_twin_scorer,
)
from coursetools.expect import describe, expect_int, expect_model, is_unloadable
from coursetools.feedback import Mistake
from coursetools.probing import dense_layers, first_line, to_numpy
from coursetools.registry import exercise

# --- Helpers -------------------------------------------------------------------------------


def _random_pixels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, 64)).astype("float32")


def _probe_digits() -> np.ndarray:
    """Real test digits, then random pixels: a wrong branch that only real data reaches is caught."""
    _, (x_test, _) = load_digits_split()
    return np.concatenate([x_test[:120], _random_pixels(24, seed=61)])


def _feed(model, arrays: list[np.ndarray]):
    """The arrays in the structure the model's inputs were given in: one array, a list, or a dict."""
    try:
        structure = model.input
    except AttributeError:  # a Sequential model that was never called in another graph has no .input
        structure = None
    if isinstance(structure, dict):  # Keras orders a dict of inputs by key, as model.inputs lists them
        names = [t.name for t in model.inputs]
        return {key: arrays[names.index(tensor.name)] for key, tensor in structure.items()}
    return arrays[0] if len(arrays) == 1 else arrays


def _call(model, arrays: list[np.ndarray], what: str):
    """The model's outputs on the input ``arrays`` (inference mode), as NumPy; a Mistake quoting its error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a model built with inputs=[...] warns on a bare array
            return to_numpy(model(_feed(model, arrays), training=False))
    except Exception as error:  # the learner's model may fail in many ways
        raise Mistake(
            f"{what} fails when it is run.",
            expected=f"a model that accepts batches of shape {', '.join(str(x.shape) for x in arrays)}",
            found=first_line(error, limit=170),
        ) from None


def _single(outputs, what: str, width: int) -> np.ndarray:
    """One output array of ``width`` numbers per sample, or a Mistake saying what came back."""
    if isinstance(outputs, (dict, list)) and len(outputs) == 1:  # outputs=[x] or {"name": x}: one output
        outputs = next(iter(outputs.values())) if isinstance(outputs, dict) else outputs[0]
    if isinstance(outputs, (dict, list)):
        raise Mistake(
            f"{what} has {len(outputs)} outputs.",
            expected=f"one output of {width} numbers per sample",
            found=f"a {type(outputs).__name__} of {len(outputs)} outputs",
            hint="pass a single tensor as outputs=...",
        )
    if outputs.ndim != 2 or outputs.shape[1] != width:
        raise Mistake(
            f"{what} gives the wrong number of outputs per sample.",
            expected=f"{width} per sample, shape (batch, {width})",
            found=f"outputs of shape {outputs.shape}",
        )
    return outputs


def _model(value: object, what: str):
    """``expect_model``, with a precise word for a Lambda layer (old siamese examples use one).

    Only when Keras's own error, quoted by the loader, names a `Lambda` layer: any model
    that fails to load back is described with the advice "without Lambda layers", which
    does not make it one (issue 15: a right 6.5 answer was told it used a Lambda layer).
    """
    if is_unloadable(value) and "`Lambda`" in value.description:
        raise Mistake(
            f"{what} uses a Lambda layer, which the grader cannot load.",
            expected="a model made of built-in layers and keras.ops steps, which save and load safely",
            found="a Lambda layer wrapping a Python function",
            hint="call the operation on the tensors directly, e.g. keras.ops.abs(code_a - code_b): "
            "in a functional model it becomes a step of the graph, no Lambda needed",
        )
    return expect_model(value, what)


def _input_shapes(model, what: str) -> list[tuple]:
    try:
        return [tuple(t.shape) for t in model.inputs]
    except (AttributeError, ValueError):  # a Sequential model that never received an input shape
        raise Mistake(
            f"{what} has no inputs yet: it was never built.",
            expected="a model that starts from keras.Input(shape=(64,))",
            found=f"{describe(model)} with no input shape",
            hint="begin the model with keras.Input(shape=(64,))",
        ) from None


def _require_inputs(model, count: int, what: str) -> None:
    shapes = _input_shapes(model, what)
    if shapes == [(None, 64)] * count:
        return
    wanted = "one input" if count == 1 else f"{count} inputs"
    raise Mistake(
        f"{what} has the wrong inputs.",
        expected=f"{wanted} of shape (None, 64): {'a batch' if count == 1 else 'batches'} of 64-pixel digits",
        found=f"{len(shapes)} input(s) of shape {', '.join(map(str, shapes))}",
        hint="start from keras.Input(shape=(64,))" + ("" if count == 1 else " for each image"),
    )


def _dense_chain_outputs(x: np.ndarray, dense: list) -> list[np.ndarray]:
    """What a chain of Dense layers computes, by NumPy from their weights: ReLU between, softmax at the end."""
    values, stages = x.astype("float64"), []
    for index, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        values = values @ kernel + bias
        if index < len(dense) - 1:
            values = np.maximum(values, 0.0)
        else:
            values = np.exp(values - values.max(axis=1, keepdims=True))
            values = values / values.sum(axis=1, keepdims=True)
        stages.append(values)
    return stages


# --- The graph that runs: which inputs each call of each layer depends on -------------------


def _histories(node) -> list[tuple[str, int]]:
    """``(layer name, node index)`` of every tensor a serialized call received."""
    if isinstance(node, dict):
        config = node.get("config")
        if node.get("class_name") == "__keras_tensor__" and isinstance(config, dict) and "keras_history" in config:
            name, index, _ = config["keras_history"]
            return [(name, index)]
        return [h for value in node.values() for h in _histories(value)]
    if isinstance(node, (list, tuple)):
        return [h for value in node for h in _histories(value)]
    return []


def _input_layer_names(config: dict) -> list[str]:
    entries = config["input_layers"]
    if isinstance(entries, dict):  # inputs given as a dict: Keras orders them by key
        entries = [entries[key] for key in sorted(entries)]
    elif entries and isinstance(entries[0], str):  # one input: [name, node, tensor]
        entries = [entries]
    return [entry[0] for entry in entries]


def _calls_by_layer(model) -> dict[str, list[frozenset]]:
    """For each layer or operation of a functional model: the inputs each of its calls depends on."""
    config = model.get_config()
    inputs = _input_layer_names(config)
    nodes = {entry["name"]: entry.get("inbound_nodes", []) for entry in config["layers"]}
    memo: dict[tuple[str, int], frozenset] = {}

    def depends(name: str, index: int) -> frozenset:
        if name in inputs:
            return frozenset([name])
        if (name, index) not in memo:
            memo[(name, index)] = frozenset()  # guards against a malformed cycle
            parents = _histories(nodes[name][index]) if index < len(nodes.get(name, [])) else []
            memo[(name, index)] = frozenset().union(*(depends(*p) for p in parents)) if parents else frozenset()
        return memo[(name, index)]

    return {
        name: [depends(name, index) for index in range(len(calls))]
        for name, calls in nodes.items()
        if name not in inputs
    }


def _has_weights(model, name: str) -> bool:
    try:
        return bool(model.get_layer(name).weights)
    except ValueError:  # an operation such as keras.ops.abs: a step of the graph, not a layer
        return False


# --- 6.1 -------------------------------------------------------------------------------------


@exercise("6.1", "Count the parameters of a model that uses a layer twice")
def count_shared(n_params: object) -> str:
    model = given_twin_scorer()
    expected = model.count_params()
    answer = expect_int(n_params, "`n_params`")
    if answer == expected:
        return "the count Keras reports: one set of weights for the shared layer, counted once"
    shared = model.get_layer("shared").count_params()
    kernels_only = sum(int(np.prod(w.shape)) for w in model.weights if w.path.endswith("kernel"))
    half_width = expected - model.get_layer("compare").count_params() + (16 * 8 + 8)
    known = {
        expected + shared: (
            "the shared layer is counted twice.",
            "`shared` is one layer called on both inputs: one kernel and one bias, used twice",
        ),
        kernels_only: ("the biases are missing from the count.", "each Dense layer also has one bias per unit"),
        kernels_only + shared - 16: ("the shared layer is counted twice, and the biases are missing.", None),
        half_width: (
            "the `compare` layer is counted with the wrong number of inputs.",
            "`both` joins the two 16-number outputs of `shared` side by side: `compare` receives 32 numbers",
        ),
    }
    problem, hint = known.get(answer, ("`n_params` is not the number of parameters of the model.", None))
    raise Mistake(
        problem,
        expected="the total that model.count_params() reports for the model above",
        found=f"{answer}",
        hint=hint or "count each layer once: inputs × units kernel entries plus units biases; "
        "Input and Concatenate have none",
    )


# --- 6.2 -------------------------------------------------------------------------------------


def _require_shared_branches(model) -> None:
    """Both images go through the same weighted layers, and no weighted layer sees only one of them."""
    calls = _calls_by_layer(model)
    inputs = _input_layer_names(model.get_config())
    used = set().union(*(d for deps in calls.values() for d in deps)) if calls else set()
    unused = [name for name in inputs if name not in used]
    if unused:
        raise Mistake(
            "one of the two images is never used.",
            expected="both inputs passed through the shared encoder",
            found=f"nothing is computed from the input {unused[0]!r}",
            hint="call the encoder on each input: code_a = encoder(image_a); code_b = encoder(image_b)",
        )
    weighted = {name: deps for name, deps in calls.items() if _has_weights(model, name)}
    one_sided = {}
    for name, deps in weighted.items():
        sides = {next(iter(d)) for d in deps if len(d) == 1}
        if len(sides) == 1:
            one_sided[name] = next(iter(sides))
    shared = [name for name, deps in weighted.items() if {next(iter(d)) for d in deps if len(d) == 1} == set(inputs)]
    if one_sided:
        sides = [
            f"{', '.join(repr(n) for n, s in one_sided.items() if s == side)} to the {which} image only"
            for side, which in zip(inputs, ("first", "second"))
            if side in one_sided.values()
        ]
        raise Mistake(
            "the two branches do not share every weight.",
            expected="every layer with weights before the comparison used on both images",
            found="; ".join(sides).replace(" to the", " is applied to the", 1)
            + (f" (shared by both: {', '.join(map(repr, shared))})" if shared else ""),
            hint="create the encoder once and call that same object on both inputs; "
            "two layers built alike still have two sets of weights",
        )
    if not shared:
        raise Mistake(
            "the two images do not go through a shared encoder.",
            expected="one encoder (a layer or a model) called on each image, then a comparison",
            found="no layer with weights is applied to each image separately: the images are combined first",
            hint="encode each image with the same encoder, then compare the two codes",
        )


@exercise("6.2", "A siamese model: two branches, one set of weights")
def siamese_model(siamese: object) -> str:
    model = _model(siamese, "`siamese`")
    if type(model).__name__ != "Functional":
        raise Mistake(
            "`siamese` is not built with the functional API.",
            expected="keras.Model([image_a, image_b], output)",
            found=describe(model),
            hint="a model with two inputs is built from two keras.Input tensors and layer calls",
        )
    _require_inputs(model, 2, "`siamese`")
    shapes = [tuple(t.shape) for t in model.outputs]
    if shapes != [(None, 1)]:
        raise Mistake(
            "`siamese` has the wrong output.",
            expected="one output of shape (None, 1): the probability that both images show the same digit",
            found=f"{len(shapes)} output(s) of shape {', '.join(map(str, shapes))}",
            hint='end with layers.Dense(1, activation="sigmoid") on the comparison of the two codes',
        )
    _require_shared_branches(model)
    _, (x_test, y_test) = load_digits_split()
    left, right, _ = digit_pairs(x_test, y_test, 160, seed=62)
    left = np.concatenate([left, _random_pixels(24, seed=63)])
    right = np.concatenate([right, _random_pixels(24, seed=64)])
    forward = _single(_call(model, [left, right], "`siamese`"), "`siamese`", 1)
    if forward.min() < 0.0 or forward.max() > 1.0:
        raise Mistake(
            "`siamese` does not output a probability.",
            expected="a number between 0 and 1 for each pair",
            found=f"values from {forward.min():.3g} to {forward.max():.3g}",
            hint='give the last Dense layer activation="sigmoid"',
        )
    backward = _single(_call(model, [right, left], "`siamese`"), "`siamese`", 1)
    if not np.allclose(forward, backward, atol=1e-5):
        raise Mistake(
            "the answer of `siamese` changes when the two images are swapped.",
            expected="siamese([a, b]) == siamese([b, a]): the same pair, the same answer",
            found=f"differences up to {np.abs(forward - backward).max():.3g} on real digit pairs",
            hint="compare the codes in a way that ignores their order, e.g. keras.ops.abs(code_a - code_b); "
            "Concatenate and a plain subtraction depend on which image comes first",
        )
    other = _single(_call(model, [left, right[::-1]], "`siamese`"), "`siamese`", 1)
    if np.allclose(forward, other, atol=1e-7):
        raise Mistake(
            "`siamese` gives the same answer whatever the second image is.",
            expected="an output that depends on both images",
            found="the same output after the second images were replaced",
            hint="compare the two codes: the output must come from both",
        )
    return "both images go through the same weights, and swapping them changes nothing"


# --- 6.3 -------------------------------------------------------------------------------------


def _by_kernel_shape(model) -> dict[tuple, list]:
    found: dict[tuple, list] = {}
    for layer in dense_layers(model):
        if layer.weights:
            found.setdefault(tuple(layer.kernel.shape), []).append(layer)
    return found


def _require_path(blocks: list, layers_by_shape: dict, model, x: np.ndarray, probabilities: np.ndarray) -> None:
    """The model computes softmax(head(block_3(block_2(block_1(x))))) with the layers found in it.

    So the encoder layers that were judged are the ones the model really runs, not copies
    kept aside while another path computes the answer.
    """
    heads = layers_by_shape.get((PRETRAINED_WIDTHS[-1], 10), [])
    if len(heads) != 1:
        raise Mistake(
            "`fine_tuned` does not end with one new Dense(10) head on the encoder.",
            expected=f"encoder -> Dense(10, softmax): one Dense layer from {PRETRAINED_WIDTHS[-1]} features to 10",
            found=f"{len(heads)} Dense layers from {PRETRAINED_WIDTHS[-1]} to 10 numbers",
            hint='put a single layers.Dense(10, activation="softmax") on the output of encoder(...)',
        )
    expected = _dense_chain_outputs(x, [*blocks, heads[0]])[-1]
    if not np.allclose(probabilities, expected, atol=1e-4):
        raise Mistake(
            "`fine_tuned` does not compute head(encoder(pixels)).",
            expected="pixels -> block_1 -> block_2 -> block_3 -> Dense(10, softmax), nothing else",
            found=f"outputs that differ from that chain by up to {np.abs(probabilities - expected).max():.3g}",
            hint="call `encoder` on the input and put the new head directly on its output",
        )


PHASE_2_MAX_RATE = 1e-3  # "a low learning rate": at most this, ten times below phase 1's example rate
PHASE_1_MIN_ACCURACY = 0.25  # a head trained on the frozen encoder; an untrained one guesses about 10%
FAR = 1.0  # a kernel that moved by more than its own size is no longer "fine-tuned"
FRESH_COSINE = 0.3  # below: weights unrelated to the pretrained ones (new layers); trained ones stay above 0.5


def _pretrained_blocks() -> dict[str, list[np.ndarray]]:
    start = given_pretrained()
    return {f"block_{i}": [np.asarray(w, dtype="float64") for w in start.get_layer(f"block_{i}").get_weights()]
            for i in range(1, len(PRETRAINED_WIDTHS))}


def _encoder_in(model, blocks: dict[str, list[np.ndarray]]) -> dict[str, object]:
    """The model's layer standing for each pretrained block: among the Dense layers of its shape, the closest."""
    layers_by_shape = _by_kernel_shape(model)
    found = {}
    for name, reference in blocks.items():
        candidates = layers_by_shape.get(reference[0].shape, [])
        if not candidates:
            raise Mistake(
                "`fine_tuned` does not contain the pretrained encoder.",
                expected=f"the layers of `encoder`, among them {name} ({reference[0].shape[0]} -> {reference[0].shape[1]})",
                found=f"no Dense layer with a {reference[0].shape[0]} x {reference[0].shape[1]} kernel",
                hint="call `encoder` on the input of your classifier: features = encoder(inputs)",
            )
        found[name] = min(candidates, key=lambda layer: _relative_change(layer.get_weights(), reference))
    return found


def _relative_change(weights: list[np.ndarray], start: list[np.ndarray]) -> float:
    kernel = np.asarray(weights[0], dtype="float64")
    return float(np.linalg.norm(kernel - start[0]) / np.linalg.norm(start[0]))


def _cosine(weights: list[np.ndarray], start: list[np.ndarray]) -> float:
    kernel = np.asarray(weights[0], dtype="float64")
    return float(np.sum(kernel * start[0]) / (np.linalg.norm(kernel) * np.linalg.norm(start[0]) + 1e-12))


def _unchanged_from(weights: list[np.ndarray], start: list[np.ndarray]) -> bool:
    return len(weights) == len(start) and all(np.array_equal(np.asarray(w, "float64"), r) for w, r in zip(weights, start))


def _phase_1_snapshot(phase_1_weights: object) -> dict[tuple, np.ndarray]:
    """``phase_1_weights`` by shape: the kernels and biases of the three blocks and of the head."""
    wanted = [(a, b) for a, b in zip(PRETRAINED_WIDTHS, [*PRETRAINED_WIDTHS[1:], 10])]
    shapes = [shape for a, b in wanted for shape in ((a, b), (b,))]
    how = "right after phase 1's fit: phase_1_weights = fine_tuned.get_weights()"
    if not isinstance(phase_1_weights, (list, tuple)) or isinstance(phase_1_weights, str):
        raise Mistake("`phase_1_weights` is not a list of weight arrays.",
                      expected="the list fine_tuned.get_weights() returns after phase 1", found=describe(phase_1_weights),
                      hint=how)
    arrays = [np.asarray(w, dtype="float64") for w in phase_1_weights if isinstance(w, np.ndarray)]
    by_shape = {array.shape: array for array in arrays}
    if len(arrays) != len(phase_1_weights) or sorted(by_shape) != sorted(shapes) or len(arrays) != len(shapes):
        raise Mistake("`phase_1_weights` does not hold the weights of `fine_tuned`.",
                      expected=f"{len(shapes)} arrays of shapes {shapes}: the encoder's three blocks, then the head",
                      found=f"{len(phase_1_weights)} item(s) of shapes "
                      f"{[getattr(w, 'shape', type(w).__name__) for w in phase_1_weights]}", hint=how)
    return by_shape


def _judge_phase_1(snapshot: dict[tuple, np.ndarray], blocks: dict[str, list[np.ndarray]]) -> None:
    """After phase 1 the whole encoder is the pretrained one, and the new head classifies digits."""
    for name, reference in blocks.items():
        weights = [snapshot[reference[0].shape], snapshot[reference[1].shape]]
        if _unchanged_from(weights, reference):
            continue
        if _cosine(weights, reference) < FRESH_COSINE:
            raise Mistake(f"`phase_1_weights` does not hold the pretrained `{name}`.",
                          expected="the weights `encoder` started with, unchanged in phase 1",
                          found="weights unrelated to the pretrained ones (new layers?)",
                          hint="reuse the `encoder` made in the answer cell instead of new layers")
        raise Mistake(f"phase 1 trained the encoder: `{name}` had changed by its end.",
                      expected="the whole encoder frozen in phase 1: only the new head trains",
                      found=f"`{name}` moved by {_relative_change(weights, reference):.0%} of its size in phase 1",
                      hint="set encoder.trainable = False before phase 1's compile, and take phase_1_weights right "
                      "after phase 1's fit")
    _, (x_test, y_test) = load_digits_split()
    head = [snapshot[(PRETRAINED_WIDTHS[-1], 10)], snapshot[(10,)]]
    chain = [*blocks.values(), head]
    accuracy = float(np.mean(_chain_probabilities(x_test, chain).argmax(axis=1) == y_test))
    if accuracy < PHASE_1_MIN_ACCURACY:
        raise Mistake("phase 1 did not train the new head.",
                      expected=f"after phase 1, the head on the frozen encoder gets at least {PHASE_1_MIN_ACCURACY:.0%} "
                      "of the test digits right (guessing gets 10%)",
                      found=f"{accuracy:.0%} with the weights of `phase_1_weights`",
                      hint="phase 1: freeze the encoder, compile, fit the classifier (e.g. 10 epochs at 0.01), then "
                      "take phase_1_weights = fine_tuned.get_weights()")


def _chain_probabilities(x: np.ndarray, weights: list[list[np.ndarray]]) -> np.ndarray:
    """Softmax of a ReLU chain of Dense layers given by their [kernel, bias]."""
    values = x.astype("float64")
    for index, (kernel, bias) in enumerate(weights):
        values = values @ kernel + bias
        values = np.maximum(values, 0.0) if index < len(weights) - 1 else values
    values = np.exp(values - values.max(axis=1, keepdims=True))
    return values / values.sum(axis=1, keepdims=True)


def _judge_frozen_blocks(found: dict, blocks: dict[str, list[np.ndarray]]) -> None:
    """At the end, every block but the top one still holds exactly its pretrained weights."""
    *frozen, top = blocks
    for name in frozen:
        weights, reference = found[name].get_weights(), blocks[name]
        if _unchanged_from(weights, reference):
            continue
        if _cosine(weights, reference) < FRESH_COSINE:
            raise Mistake(f"`{name}` does not hold the pretrained weights.",
                          expected=f"{', '.join(frozen)} frozen: exactly the weights `encoder` started with",
                          found="weights unrelated to the pretrained ones (new layers?)",
                          hint="reuse the `encoder` made in the answer cell instead of new layers; if you trained it "
                          "already, run that cell again to start from the pretrained weights")
        raise Mistake(f"`{name}` of the encoder is not what it was before training.",
                      expected=f"{', '.join(frozen)} frozen in both phases: exactly the weights `encoder` started with",
                      found=f"weights that training changed, by {_relative_change(weights, reference):.0%} of their size",
                      hint=f"before phase 2's compile, set encoder.trainable = True, then {' and '.join(frozen)} "
                      "trainable = False; a change of trainable after a fit takes effect only at the next compile")


def _judge_top_block(layer, snapshot: dict[tuple, np.ndarray], reference: list[np.ndarray], top: str) -> None:
    """The top block moved in phase 2 (since ``phase_1_weights``), and only a little."""
    weights = layer.get_weights()
    if _unchanged_from(weights, [snapshot[reference[0].shape], snapshot[reference[1].shape]]):
        raise Mistake(
            f"`{top}`, the top layer of the encoder, was not fine-tuned in phase 2.",
            expected=f"{top} trainable in phase 2, so fit() moves its weights a little",
            found="exactly the weights it had after phase 1",
            hint=f"set {top}.trainable = True, then compile again (with a low learning rate), then fit; "
            "without the new compile, fit keeps training what it trained before",
        )
    change = _relative_change(weights, reference)
    if change > FAR:
        raise Mistake(
            f"`{top}` is far from the pretrained weights.",
            expected="fine-tuning: small steps away from the pretrained weights, a few epochs at a low rate",
            found=f"a kernel that moved by {change:.0%} of its size",
            hint="start from the given `encoder` (run its cell again) and fine-tune for a few epochs with a low "
            f"learning rate, at most {PHASE_2_MAX_RATE:g}",
        )


def _judge_phase_2_rate(phase_2_rate: object) -> float:
    if phase_2_rate is None:
        raise Mistake("`fine_tuned` was never compiled.", expected="a model compiled for each phase",
                      found="no optimizer", hint="compile, then fit, in each phase")
    if isinstance(phase_2_rate, bool) or not isinstance(phase_2_rate, (int, float)):
        raise Mistake("`phase_2_rate` is not a learning rate.", expected="the number learning_rate(fine_tuned) gives",
                      found=describe(phase_2_rate), hint="keep the check cell as it is: it reads the rate itself")
    if phase_2_rate > PHASE_2_MAX_RATE * (1 + 1e-6):
        raise Mistake(
            "phase 2 trains at a high learning rate.",
            expected=f"a low learning rate for fine-tuning: at most {PHASE_2_MAX_RATE:g}",
            found=f"the optimizer of the last compile has learning_rate={phase_2_rate:g}",
            hint=f"compile phase 2 with e.g. keras.optimizers.Adam(learning_rate={PHASE_2_MAX_RATE:g}): large steps "
            "would undo what the pretrained weights know",
        )
    return float(phase_2_rate)


@exercise("6.3", "Fine-tune the top of a reused encoder, in two phases")
def fine_tune(fine_tuned: object, phase_1_weights: object, phase_2_rate: object) -> str:
    model = _model(fine_tuned, "`fine_tuned`")
    _require_inputs(model, 1, "`fine_tuned`")
    blocks = _pretrained_blocks()
    found = _encoder_in(model, blocks)
    snapshot = _phase_1_snapshot(phase_1_weights)
    _judge_phase_1(snapshot, blocks)
    _judge_frozen_blocks(found, blocks)
    top = list(blocks)[-1]
    _judge_top_block(found[top], snapshot, blocks[top], top)
    rate = _judge_phase_2_rate(phase_2_rate)
    _, (x_test, y_test) = load_digits_split()
    probabilities = _single(_call(model, [x_test], "`fine_tuned`"), "`fine_tuned`", 10)
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4):
        raise Mistake(
            "`fine_tuned` does not output probabilities.",
            expected="10 probabilities per digit, summing to 1",
            found="values that do not sum to 1",
            hint='give the new head activation="softmax"',
        )
    _require_path(list(found.values()), _by_kernel_shape(model), model, x_test, probabilities)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y_test))
    if accuracy < PHASE_1_MIN_ACCURACY:
        raise Mistake(
            "`fine_tuned` has not learned to classify the digits.",
            expected=f"a trained head: at least {PHASE_1_MIN_ACCURACY:.0%} of the test digits right (guessing gets 10%)",
            found=f"{accuracy:.0%} of the test digits right",
            hint="phase 1 trains the new head: freeze the encoder, compile, fit (e.g. 10 epochs) before phase 2",
        )
    return (f"phase 1 trained the head on the frozen encoder; phase 2 fine-tuned {top} alone at learning rate "
            f"{rate:g}, {', '.join(list(blocks)[:-1])} unchanged")


# --- 6.4 -------------------------------------------------------------------------------------


@exercise("6.4", "Average given models that read the digits in different shapes")
def average_members(ensemble: object) -> str:
    model = _model(ensemble, "`ensemble`")
    members = given_members()
    shapes = _input_shapes(model, "`ensemble`")
    if len(shapes) > 1 and shapes == [(None, 64)] * len(shapes):
        raise Mistake(
            f"`ensemble` has {len(shapes)} inputs.",
            expected="one input that every member reads: the same digit goes to all of them",
            found=f"{len(shapes)} inputs of shape (None, 64)",
            hint="make one keras.Input(shape=(64,)) and call every member on it",
        )
    _require_inputs(model, 1, "`ensemble`")
    x = _probe_digits()
    outputs = _call(model, [x], "`ensemble`")
    if not isinstance(outputs, (dict, list)) and outputs.ndim == 2 and outputs.shape[1] == 10 * len(members):
        raise Mistake(
            "`ensemble` puts the members' outputs side by side instead of averaging them.",
            expected="10 probabilities per digit: the average of the members' outputs",
            found=f"{outputs.shape[1]} numbers per digit",
            hint="use layers.Average()([...]) instead of Concatenate",
        )
    found = _single(outputs, "`ensemble`", 10)
    each = [_single(_call(member, [x.reshape((len(x), *shape))], "a member"), "a member", 10)
            for member, shape in zip(members, MEMBER_INPUTS)]
    expected = np.mean(each, axis=0)
    if np.allclose(found, expected, atol=1e-5):
        return "one model, one 64-pixel input, each member fed the digit in its own shape, their outputs averaged"
    everyone = "call every member on the one input and average all three outputs"
    diagnoses = [
        (np.sum(each, axis=0), "adds the members' outputs instead of averaging them",
         f"outputs that sum to {len(each)} for every digit", "layers.Average()([...]) divides by the number of members"),
        (np.max(each, axis=0), "takes the largest output instead of the average",
         "the element-wise maximum of the members' outputs", "use layers.Average()([...])"),
    ]
    for k, member in enumerate(each):
        diagnoses.append((member, f"gives the output of member_{k + 1} alone", f"exactly what member_{k + 1} outputs", everyone))
    for i in range(len(each)):
        for j in range(i + 1, len(each)):
            pair = f"member_{i + 1} and member_{j + 1}"
            diagnoses.append(((each[i] + each[j]) / 2, f"averages only {pair}", f"the average of {pair}, without the third", everyone))
    for values, problem, what, hint in diagnoses:
        if np.allclose(found, values, atol=1e-5):
            raise Mistake(f"`ensemble` {problem}.", expected="the average of the three members' outputs", found=what, hint=hint)
    raise Mistake(
        "`ensemble` does not compute the average of the given members.",
        expected="the average of the outputs of the three models in `members`",
        found=f"outputs that differ from it by up to {np.abs(found - expected).max():.3g}",
        hint="use the given models themselves (new layers have new weights), give each the digit in the shape it "
        "reads (layers.Reshape keeps the pixels in row order), and average their outputs with layers.Average()",
    )


# --- 6.5 -------------------------------------------------------------------------------------

INSPECTED = {"hidden": 32, "code": 16, "scores": 10}


def _reader_outputs(x: np.ndarray) -> dict[str, np.ndarray]:
    """What the given reader computes at each stage, by NumPy from its weights."""
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    chain = [encoder.get_layer("hidden"), encoder.get_layer("code"), reader.get_layer("scores")]
    return dict(zip(INSPECTED, _dense_chain_outputs(x, chain)))


@exercise("6.5", "Every intermediate output in one call")
def inspect_reader(inspector: object) -> str:
    model = _model(inspector, "`inspector`")
    _require_inputs(model, 1, "`inspector`")
    x = _probe_digits()
    outputs = _call(model, [x], "`inspector`")
    if not isinstance(outputs, dict):
        count = len(outputs) if isinstance(outputs, list) else 1
        raise Mistake(
            "`inspector` does not return a dict.",
            expected=f"a dict with the keys {list(INSPECTED)}",
            found=f"a list of {count} outputs" if isinstance(outputs, list) else "one output array",
            hint='pass a dict as outputs: keras.Model(inputs, {"hidden": ..., "code": ..., "scores": ...})',
        )
    if set(outputs) != set(INSPECTED):
        missing = [k for k in INSPECTED if k not in outputs]
        extra = sorted(set(outputs) - set(INSPECTED))
        raise Mistake(
            "`inspector` returns the wrong keys.",
            expected=f"exactly the keys {list(INSPECTED)}",
            found=f"keys {sorted(outputs)}" + (f" (missing {missing})" if missing else "") + (f" (not asked for {extra})" if extra else ""),
        )
    expected = _reader_outputs(x)
    widths = {name: width for name, width in INSPECTED.items()}
    for name, width in INSPECTED.items():
        value = outputs[name]
        if value.ndim != 2 or value.shape[1] != width:
            stage = next((other for other, w in widths.items() if value.ndim == 2 and value.shape[1] == w), None)
            raise Mistake(
                f"the output {name!r} of `inspector` has the wrong shape.",
                expected=f"{width} numbers per digit: the output of the layer `{name}`",
                found=f"shape {value.shape[1:]} per digit" + (f", which is the width of `{stage}`" if stage else ""),
                hint="look each layer up by name: reader.get_layer(...) and encoder.get_layer(...)",
            )
        if not np.allclose(value, expected[name], atol=1e-5):
            raise Mistake(
                f"the output {name!r} of `inspector` is not what the layer `{name}` of `reader` computes.",
                expected=f"the values of `{name}` in the given reader, on the same digits",
                found=f"values that differ by up to {np.abs(value - expected[name]).max():.3g}",
                hint="reuse the reader's own layers (new layers have new weights), called one after the other "
                "on one new keras.Input",
            )
    return "hidden, code and scores of the reader, all from one call"
