"""Checks for lesson 9 (sequences and attention). Each takes plain evidence and returns a success detail.

Models are judged by what they compute on sequences the check makes (seeds no notebook
uses), against references computed here with NumPy from the model's own weights:
attention scores ``softmax(scale * q k^T)``, a Transformer block with the check's own
weights, the effect of changing one step on every step's output. When the answer
differs, the typical wrong versions are computed too, so the message can name the
mistake. Shapes an answer predicts are compared with shapes the check builds itself.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from coursetools.expect import describe, expect_array, expect_model
from coursetools.feedback import Mistake
from coursetools.lessons.lesson09.given import (
    BLOCK_STEPS,
    BLOCK_WIDTH,
    FEATURES,
    PAIRS,
    STEPS,
    picture_sequences,
    recall_task,
)
from coursetools.probing import all_layers, first_line, same_values, to_numpy
from coursetools.registry import exercise

PROBE_SEED = 9090  # recall sequences no notebook trains or validates on
MIN_ACCURACY = 0.95  # the reference reaches 1.0 in 2 to 3 epochs
MIN_LOOKS_RIGHT = 0.9  # share of sequences whose largest weight falls on the matching step

# --- Helpers -------------------------------------------------------------------------------


def _layer_kind(layer: Any) -> str:
    return type(layer).__name__


def _tensor_shapes(tensors: Any) -> list[tuple]:
    return [tuple(t.shape) for t in tensors]


def _numpy_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _run_model(model: Any, x: np.ndarray, what: str) -> Any:
    """The model's outputs on ``x`` as float64 NumPy (a list when it has several)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model(x, training=False)
    except Exception as error:  # the learner's model may fail in many ways
        raise Mistake(f"{what} fails on a batch of shape {x.shape}.",
                      expected=f"a model that accepts inputs of shape (batch, {', '.join(map(str, x.shape[1:]))})",
                      found=first_line(error, limit=170)) from None
    if isinstance(out, dict):  # a dict of outputs: model.outputs lists them by sorted key
        out = [out[key] for key in sorted(out)]
    return to_numpy(list(out) if isinstance(out, (list, tuple)) else out)


def _single_input(model: Any, shape: tuple, what: str, hint: str) -> None:
    shapes = _tensor_shapes(model.inputs)
    if shapes != [(None, *shape)]:
        raise Mistake(f"{what} has the wrong input.", expected=f"one input of shape {(None, *shape)}",
                      found=f"inputs of shapes {shapes}", hint=hint)


def _layers_named(model: Any, kind: str) -> list[Any]:
    return [layer for layer in all_layers(model) if _layer_kind(layer) == kind]


def _weights_by_path(layer: Any) -> dict[str, np.ndarray]:
    """A layer's weights keyed by their path inside the layer (``query/kernel``, ``gamma``...)."""
    return {w.path.split("/", 1)[1] if "/" in w.path else w.path: np.asarray(w.numpy(), dtype="float64")
            for w in layer.weights}


# --- 9.1 -------------------------------------------------------------------------------------

RNN_CALLS: tuple[str, ...] = (
    "GRU(16)",
    "GRU(16, return_sequences=True)",
    "GRU(16, return_state=True)",
    "LSTM(16, return_state=True)",
    "LSTM(16, return_sequences=True, return_state=True)",
    "Bidirectional(GRU(16, return_sequences=True))",
)
RNN_INPUT = (20, 8)  # 9.1's x = keras.Input(shape=(20, 8))


def rnn_call_shapes() -> dict[str, list[tuple]]:
    """What each call of 9.1 really returns on ``keras.Input(shape=(20, 8))``: a list of shapes."""
    import keras
    from keras import layers

    x = keras.Input(shape=RNN_INPUT)
    layer_of = {
        RNN_CALLS[0]: lambda: layers.GRU(16),
        RNN_CALLS[1]: lambda: layers.GRU(16, return_sequences=True),
        RNN_CALLS[2]: lambda: layers.GRU(16, return_state=True),
        RNN_CALLS[3]: lambda: layers.LSTM(16, return_state=True),
        RNN_CALLS[4]: lambda: layers.LSTM(16, return_sequences=True, return_state=True),
        RNN_CALLS[5]: lambda: layers.Bidirectional(layers.GRU(16, return_sequences=True)),
    }
    shapes = {}
    for call, make in layer_of.items():
        out = make()(x)
        shapes[call] = _tensor_shapes(out) if isinstance(out, (list, tuple)) else [tuple(out.shape)]
    return shapes


def _as_shape_list(value: object) -> list[tuple] | None:
    """A list of shapes (each a tuple or list of ints and None); one bare shape counts as a list of one."""
    def shape(item: object) -> tuple | None:
        if isinstance(item, (list, tuple)) and all(
                d is None or isinstance(d, int) and not isinstance(d, bool) for d in item):
            return tuple(item)
        return None

    if isinstance(value, (list, tuple)) and value and all(isinstance(item, (list, tuple)) for item in value):
        shapes = [shape(item) for item in value]
        return None if any(s is None for s in shapes) else shapes
    single = shape(value)
    return [single] if single is not None and len(single) > 0 else None


def _rnn_slip(call: str, answer: list[tuple], truth: list[tuple]) -> str:
    """Why ``answer`` is not what ``call`` returns, in the words of the rule it breaks."""
    lstm, states = call.startswith("LSTM"), "return_state=True" in call
    if len(answer) != len(truth):
        if lstm and states and len(answer) == 2:
            return "an LSTM returns its output and TWO states: h and the cell state c (3 tensors)"
        if not lstm and states and len(answer) == 3:
            return "a GRU has one state, h; only an LSTM has a second one, c (2 tensors)"
        if states and len(answer) == 1:
            return "return_state=True makes the call return a list: the output, then the final state(s)"
        if not states:
            return "without return_state the call returns one tensor"
        return f"this call returns {len(truth)} tensor(s)"
    for position, (got, want) in enumerate(zip(answer, truth)):
        if got == want:
            continue
        if got == want[1:]:
            return "keep the batch axis: shapes start with None"
        if len(got) > 0 and got[0] is not None and len(got) == len(want) and got[1:] == want[1:]:
            return "the batch axis is None: the batch size is not known when the model is built"
        if len(got) == 3 and position > 0 and len(want) == 2:
            return "states never have a time axis: return_sequences changes only the first output; h and c are (batch, units)"
        if len(got) == 3 and len(want) == 2:
            return "without return_sequences=True the output is the last step's only: (batch, units), no time axis"
        if len(got) == 2 and len(want) == 3:
            return "return_sequences=True keeps one output per step: (batch, time, units)"
        if call.startswith("Bidirectional") and got[-1] == 16:
            return "Bidirectional runs one GRU forwards and one backwards and concatenates them: 2 × 16 features"
        if got[-1] != want[-1]:
            return "the last axis is the number of units"
        if len(got) == 3 and got[1] != want[1]:
            return "the time axis keeps the input's 20 steps"
    return "compare with the table of the lesson"


@exercise("9.1", "Predict what a recurrent layer returns")
def rnn_shapes(shapes: object) -> str:
    if not isinstance(shapes, dict):
        raise Mistake("`shapes` is not a dict.", expected="a dict from each call (as written in the exercise) to the "
                      "list of shapes it returns", found=describe(shapes), hint="copy the dict from the exercise and fill it in")
    missing = [call for call in RNN_CALLS if call not in shapes]
    if missing:
        raise Mistake("`shapes` lacks some of the calls.", expected=f"the six keys of the exercise, e.g. {missing[0]!r}",
                      found=f"keys {sorted(map(str, shapes))}", hint="copy the keys exactly from the exercise")
    truth = rnn_call_shapes()
    wrong = []
    for call in RNN_CALLS:
        answer = _as_shape_list(shapes[call])
        if answer is None:
            wrong.append(f"{call}: {describe(shapes[call])} is not a list of shapes such as [(None, 16)]")
        elif answer != truth[call]:
            wrong.append(f"{call}: {answer} ({_rnn_slip(call, answer, truth[call])})")
    if wrong:
        raise Mistake(
            f"{len(wrong)} of the 6 answers {'is' if len(wrong) == 1 else 'are'} not what the call returns.",
            expected="for each call, the list of tensors it returns, each as a shape with None for the batch",
            found=" | ".join(wrong),
            hint="check one by one in a new cell: out = layers.GRU(16, return_state=True)(x); "
            "print([t.shape for t in out])",
        )
    return "all six predicted: return_sequences adds a time axis to the output only, return_state adds h (and c)"


# --- 9.2 -------------------------------------------------------------------------------------


def _attention_parts(model: Any, what: str) -> tuple[Any, Any, Any, Any]:
    """The layers named query, key, value (Dense) and attention (Attention), as the spec names them."""
    found = {}
    for name, kind in (("query", "Dense"), ("key", "Dense"), ("value", "Dense"), ("attention", "Attention")):
        layer = next((layer for layer in all_layers(model) if layer.name == name), None)
        if name == "key" and layer is None and any(other.name == "value" for other in all_layers(model)):
            raise Mistake(f"{what} passes no key to the attention.",
                          expected="three tensors: Attention(...)([query, value, key]) with a key of its own",
                          found="no layer named 'key': the scores use the `value` layer's output as keys",
                          hint='add layers.Dense(32, name="key") on the pair steps and pass it third')
        if layer is None or _layer_kind(layer) != kind:
            present = [f"{layer.name} ({_layer_kind(layer)})" for layer in all_layers(model) if layer.weights
                       or _layer_kind(layer) in ("Attention", "MultiHeadAttention")]
            raise Mistake(f"{what} has no {kind} layer named {name!r}.",
                          expected="layers named query, key, value (Dense) and attention (layers.Attention)",
                          found=f"layers {present}",
                          hint=f'give the layer its name: layers.{kind}(..., name="{name}")'
                          if kind == "Dense" else 'use layers.Attention(use_scale=True, name="attention")')
        found[name] = layer
    if found["attention"].get_config().get("score_mode", "dot") != "dot":
        raise Mistake(f"{what}'s attention adds scores instead of multiplying them.", expected='score_mode="dot" (the default)',
                      found=f"score_mode={found['attention'].get_config().get('score_mode')!r}",
                      hint="leave score_mode at its default")
    return found["query"], found["key"], found["value"], found["attention"]


def _dense_on(layer: Any, x: np.ndarray) -> np.ndarray:
    weights = layer.get_weights()
    out = x.astype("float64") @ weights[0].astype("float64")
    return out + weights[1] if len(weights) > 1 else out


def _attention_scale(layer: Any) -> float:
    scale = getattr(layer, "scale", None)
    return 1.0 if scale is None else float(np.asarray(scale.numpy() if hasattr(scale, "numpy") else scale))


def _scores_numpy(query: np.ndarray, key: np.ndarray, scale: float) -> np.ndarray:
    return _numpy_softmax(scale * query @ np.swapaxes(key, 1, 2))


def _require_two_outputs(model: Any, what: str, scores_shape: tuple) -> None:
    shapes = _tensor_shapes(model.outputs)
    digit = (None, 10)
    if shapes == [scores_shape, digit]:
        raise Mistake(f"{what}'s outputs are in the wrong order.", expected=f"[digit probabilities {digit}, scores {scores_shape}]",
                      found=f"{shapes}", hint="keras.Model(sequence, [digit, scores]): the probabilities first")
    if len(shapes) != 2:
        raise Mistake(f"{what} has {len(shapes)} output(s).", expected=f"two: the digit probabilities {digit} and the "
                      f"attention scores {scores_shape}", found=f"outputs of shapes {shapes}",
                      hint="call the attention layer with return_attention_scores=True and output both: "
                      "keras.Model(sequence, [digit, scores])")
    if shapes[0] != digit:
        raise Mistake(f"{what}'s first output is not the digit probabilities.", expected=f"{digit}",
                      found=f"{shapes[0]}", hint='end with layers.Dense(10, activation="softmax")')
    got = shapes[1]
    if got == scores_shape:
        return
    if len(got) == 4:
        problem, hint = ("the scores have a heads axis: they come from MultiHeadAttention",
                         'the spec asks for layers.Attention(use_scale=True, name="attention") on [query, value, key]')
    elif got == (None, scores_shape[2], scores_shape[1]):
        problem, hint = ("the query and the value are swapped: every pair step asks, the question answers",
                         "the list is [query, value, key]: Attention()([query, value, key]) with the question's query first")
    elif got[1] == STEPS:
        problem, hint = ("every one of the 21 steps is a query: the question step was not cut out",
                         "the query is the question step alone: layers.Cropping1D((0, 20))(sequence), then Dense")
    elif got[2] == STEPS:
        problem, hint = ("the keys include the question step itself",
                         "keys and values come from the 20 pair steps only: layers.Cropping1D((1, 0))(sequence)")
    elif len(got) == 3 and got[2] == 32:
        problem, hint = ("the second output is the attention's result, not its scores",
                         "context, scores = layers.Attention(...)([...], return_attention_scores=True): output scores")
    else:
        problem, hint = ("the second output does not have the shape of the scores", "(batch, query steps, key steps)")
    raise Mistake(f"in {what}, {problem}.", expected=f"scores of shape {scores_shape}: one query step, {scores_shape[2]} key steps",
                  found=f"{got}", hint=hint)


@exercise("9.2", "Attention to a spec: the question comes first")
def question_first_attention(asker: object) -> str:
    what = "`asker`"
    model = expect_model(asker, what)
    _single_input(model, (STEPS, FEATURES), what, "keras.Input(shape=(21, 37)): 21 steps of 37 features")
    _require_two_outputs(model, what, (None, 1, PAIRS))
    query_layer, key_layer, value_layer, attention = _attention_parts(model, what)
    probe = recall_task(512, seed=PROBE_SEED, question_first=True)
    probabilities, scores = _run_model(model, probe.x, what)
    question, pairs = probe.x[:, :1], probe.x[:, 1:]
    scale = _attention_scale(attention)
    query = _dense_on(query_layer, question)
    expected = _scores_numpy(query, _dense_on(key_layer, pairs), scale)
    if not same_values(scores, expected, atol=1e-4, rtol=1e-3):
        variants = {
            "the scores use the `value` layer's output as keys: the key was not passed, or key and value were "
            "swapped": _scores_numpy(query, _dense_on(value_layer, pairs), scale),
            "the query is made from the last step: here the question is the FIRST step":
                _scores_numpy(_dense_on(query_layer, probe.x[:, -1:]), _dense_on(key_layer, pairs), scale),
        }
        for problem, variant in variants.items():
            if same_values(scores, variant, atol=1e-4, rtol=1e-3):
                raise Mistake(f"in {what}, {problem}.", expected="scores = softmax(scale · query(step 0) · key(steps 1-20)ᵀ)",
                              found="scores computed from other tensors",
                              hint="layers.Attention(...)([query, value, key], return_attention_scores=True): "
                              "query first, value second, key third")
        raise Mistake(f"{what}'s second output is not the attention scores of its query, key and attention layers.",
                      expected="softmax(scale · query(step 0) · key(steps 1-20)ᵀ), recomputed here from your layers' weights",
                      found="other numbers",
                      hint="output the scores the attention layer returns: context, scores = attention([query, value, key], "
                      "return_attention_scores=True)")
    accuracy = float(np.mean(probabilities.argmax(axis=-1) == probe.y))
    if accuracy < MIN_ACCURACY:
        raise Mistake(f"{what} answers too few new sequences right.",
                      expected=f"at least {MIN_ACCURACY:.0%} right on 512 sequences it has never seen",
                      found=f"{accuracy:.1%} right (chance: 10%)",
                      hint="train it (Adam(5e-3), 3 epochs of batch 32 on recall_task(2048, seed=2, question_first=True)) "
                      "before handing it in; the model you hand in must share the trained layers")
    looks_right = float(np.mean(scores[:, 0].argmax(axis=-1) == probe.where))
    if looks_right < MIN_LOOKS_RIGHT:
        raise Mistake(f"{what} answers right, but its question does not look at the matching pair.",
                      expected=f"the largest weight on the pair with the question's letter in at least {MIN_LOOKS_RIGHT:.0%} of sequences",
                      found=f"{looks_right:.1%}", hint="train the model that contains these attention layers")
    return "scores = softmax(scale · q·kᵀ) from your own layers, and it answers new sequences right"


# --- 9.3 -------------------------------------------------------------------------------------


def _lookup_layers(model: Any, what: str) -> dict[str, Any]:
    """The given model's layers by name: question_step, query, key, value, attention."""
    named = {layer.name: layer for layer in all_layers(model)}
    wanted = {"query": "Dense", "key": "Dense", "value": "Dense", "attention": "Attention"}
    if any(_layer_kind(named.get(name)) != kind for name, kind in wanted.items()):
        raise Mistake(f"{what} is not the given attention model.",
                      expected="the model given_lookup_model() returns, with its layers query, key, value and attention",
                      found=f"layers {[layer.name for layer in all_layers(model)]}",
                      hint="run the cell that makes `model` and leave it as it is")
    return named


@exercise("9.3", "Look inside a trained attention model")
def attention_inside(model: object, scores: object, looked_at: object) -> str:
    model = expect_model(model, "`model`")
    _single_input(model, (STEPS, FEATURES), "`model`", "run the cell that makes `model` and leave it as it is")
    named = _lookup_layers(model, "`model`")
    probe = recall_task(512, seed=PROBE_SEED)
    if float(np.mean(_run_model(model, probe.x, "`model`").argmax(axis=-1) == probe.y)) < MIN_ACCURACY:
        raise Mistake("`model` is not the trained given model.", expected="the given model, trained: it answers almost "
                      "every new sequence right", found="a model that answers few of them right",
                      hint="run the cell that makes `model` again")
    shown = picture_sequences()
    scale = _attention_scale(named["attention"])
    query = _dense_on(named["query"], shown.x[:, -1:])
    reference = _scores_numpy(query, _dense_on(named["key"], shown.x), scale)  # (5, 1, 21)
    array = expect_array(scores, "`scores`", hint="call the attention layer with return_attention_scores=True on the "
                         "five sequences' query, value and key, and convert the scores: keras.ops.convert_to_numpy(...)")
    count = len(shown.y)
    if array.shape == (count, STEPS):
        array = array[:, None, :]
    if array.shape != reference.shape:
        slips = {(count, STEPS, STEPS): "every step is a query: the query is the question step alone (the model's "
                 "question_step layer, then query)",
                 (count, 1, 32): "those are the attention's results (the context), not its scores: take the second "
                 "value it returns",
                 (count, 10): "those are the model's digit probabilities, not attention scores"}
        raise Mistake("`scores` has the wrong shape.", expected=f"{reference.shape}: 5 sequences, 1 question step, 21 steps",
                      found=f"shape {array.shape}", hint=slips.get(array.shape, "call the layers on shown.x, the five sequences"))
    if not same_values(array, reference, atol=1e-4, rtol=1e-3):
        variants = {
            "the question is matched against the values, not the keys: pass all three, [query, value, key]":
                _scores_numpy(query, _dense_on(named["value"], shown.x), scale),
            "a new Attention layer made them: its scale starts at 1, the trained layer's has learned another value; "
            "call model.get_layer(\"attention\")": _scores_numpy(query, _dense_on(named["key"], shown.x), 1.0),
        }
        for slip, variant in variants.items():
            if same_values(array, variant, atol=1e-4, rtol=1e-3):
                raise Mistake("`scores` are not the given model's attention scores.", expected="what model.get_layer(\"attention\") "
                              "returns for the five sequences", found=slip.split(": ")[0],
                              hint=slip.split(": ", 1)[1] if ": " in slip else None)
        raise Mistake("`scores` are not the given model's attention scores on the five sequences.",
                      expected="the scores of the trained layers question_step, query, key, value and attention, "
                      "called on shown.x",
                      found="other numbers", hint="call the trained layers themselves (model.get_layer(...)) on shown.x")
    truth = reference[:, 0].argmax(axis=-1).astype(int).tolist()
    answer = looked_at.tolist() if isinstance(looked_at, np.ndarray) else looked_at
    if not isinstance(answer, (list, tuple)) or len(answer) != count or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in answer):
        raise Mistake(f"`looked_at` is not a list of {count} step numbers.", expected=f"{count} ints, one per sequence shown",
                      found=describe(looked_at), hint="for each of the 5 sequences, the step with the largest weight")
    answer = [int(a) for a in answer]
    if answer != truth:
        if answer == [t + 1 for t in truth]:
            slip = "counted from 1: steps count from 0, as the picture's axis does"
        elif all(a == STEPS - 1 for a in answer):
            slip = "step 20 is the question itself; which earlier step did it look at?"
        elif answer == [int(d) for d in shown.y]:
            slip = "those are the answers (digits), not the steps"
        else:
            slip = "read the darkest cell of each row"
        raise Mistake("`looked_at` is not where the question looked.", expected="the step with the largest weight, per sequence",
                      found=f"{answer}: {slip}", hint="scores[:, 0].argmax(axis=-1) gives them")
    return "the trained layers' own scores, and where the question looked in each sequence"


# --- 9.4 -------------------------------------------------------------------------------------

MASK_LENGTHS = (5, 3, 6, 2)  # 9.4's padded batch: real steps per sequence
MASK_STEPS = 6


def expected_mask(query_padding: bool = False) -> np.ndarray:
    """mask[b, i, j]: may step i see step j? j is a real step and j <= i (and, optionally, i is real too)."""
    lengths = np.array(MASK_LENGTHS)[:, None, None]
    i = np.arange(MASK_STEPS)[None, :, None]
    j = np.arange(MASK_STEPS)[None, None, :]
    mask = (j <= i) & (j < lengths)
    return mask & (i < lengths) if query_padding else mask


@exercise("9.4", "Make a causal padding mask")
def causal_padding_mask(mask: object) -> str:
    array = expect_array(mask, "`mask`", hint="build it with NumPy: np.tril, comparisons with np.arange, &")
    shape = (len(MASK_LENGTHS), MASK_STEPS, MASK_STEPS)
    if array.shape == (len(MASK_LENGTHS), MASK_STEPS):
        raise Mistake("`mask` has one row per sequence: a (batch, key) mask.",
                      expected=f"shape {shape}: (batch, query step, key step)",
                      found=f"shape {array.shape}",
                      hint="MultiHeadAttention reads attention_mask as (batch, query, key); a (batch, key) mask is not "
                      "broadcast the way you mean: give each sequence a whole (6, 6) table")
    if array.shape == (MASK_STEPS, MASK_STEPS):
        raise Mistake("`mask` is one table for the whole batch.", expected=f"shape {shape}: a table per sequence",
                      found=f"shape {array.shape}", hint="the padding differs from sequence to sequence")
    if array.shape != shape:
        raise Mistake("`mask` has the wrong shape.", expected=f"{shape}: (batch, query step, key step)",
                      found=f"shape {array.shape}")
    if not np.all((array == 0) | (array == 1)):
        raise Mistake("`mask` holds other numbers than True/False.", expected="booleans (or 0 and 1)",
                      found=f"values such as {np.unique(array)[:4].tolist()}")
    mine = array.astype(bool)
    if np.array_equal(mine, expected_mask()) or np.array_equal(mine, expected_mask(query_padding=True)):
        return "True where a step may look: real steps, none from the future (Keras: True = may attend)"
    lengths = np.array(MASK_LENGTHS)[:, None, None]
    i, j = np.arange(MASK_STEPS)[None, :, None], np.arange(MASK_STEPS)[None, None, :]
    real_key, real_query = np.broadcast_to(j < lengths, shape), np.broadcast_to(i < lengths, shape)
    causal = np.broadcast_to(j <= i, shape)
    future = [np.broadcast_to(j >= i, shape), np.broadcast_to(j > i, shape)]
    named = [
        ([~expected_mask(), ~expected_mask(query_padding=True)],
         "is the right mask inverted: True where a step must NOT look",
         "in Keras, True means 'may attend' (PyTorch's boolean masks mean the opposite): flip it with ~"),
        ([causal], "is causal but lets steps look at padding",
         "also require the key step to be real: j < length of the sequence"),
        ([real_key, real_key & real_query, real_query], "hides the padding but lets every step look into the future",
         "also require j <= i (np.tril)"),
        ([*future, *(f & real_key for f in future)],
         "lets steps see the future (np.triu instead of np.tril)",
         "a step may see itself and earlier steps: j <= i, the lower triangle (np.tril)"),
    ]
    for candidates, problem, hint in named:
        if any(np.array_equal(mine, candidate) for candidate in candidates):
            raise Mistake(f"`mask` {problem}.", expected="mask[b, i, j] = (j <= i) and (j < length of sequence b)",
                          found="that mistake, on every sequence", hint=hint)
    wrong = np.argwhere(mine != expected_mask())
    b, i0, j0 = (int(v) for v in wrong[0])
    raise Mistake("`mask` differs from the causal padding mask.",
                  expected="mask[b, i, j] = (j <= i) and (j < length of sequence b)",
                  found=f"{len(wrong)} wrong entries, e.g. mask[{b}, {i0}, {j0}] = {bool(mine[b, i0, j0])} "
                  f"(sequence {b} has {MASK_LENGTHS[b]} real steps)",
                  hint="build it from two conditions: np.arange(6)[None, None, :] <= np.arange(6)[None, :, None], and "
                  "np.arange(6) < length")


# --- 9.5 -------------------------------------------------------------------------------------


def _mha_numpy(weights: dict[str, np.ndarray], query: np.ndarray, value: np.ndarray) -> np.ndarray:
    """MultiHeadAttention(query, value) with key = value, from its weights (query scaled by 1/sqrt(key_dim))."""
    q = np.einsum("btd,dhk->bthk", query, weights["query/kernel"]) + weights["query/bias"]
    k = np.einsum("btd,dhk->bthk", value, weights["key/kernel"]) + weights["key/bias"]
    v = np.einsum("btd,dhk->bthk", value, weights["value/kernel"]) + weights["value/bias"]
    p = _numpy_softmax(np.einsum("bqhk,bshk->bhqs", q / np.sqrt(q.shape[-1]), k))
    mixed = np.einsum("bhqs,bshk->bqhk", p, v)
    return np.einsum("bqhk,hkd->bqd", mixed, weights["attention_output/kernel"]) + weights["attention_output/bias"]


def _layer_norm_numpy(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float) -> np.ndarray:
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


_BLOCK_VARIANTS: dict[str, tuple[str, str]] = {
    "bypass": ("the first residual bypasses the normalisation: it computes x + LayerNorm(attention)",
               "normalise the sum: LayerNormalization()(Add()([x, attention]))"),
    "second_bypass": ("the second residual bypasses the normalisation: it computes h + LayerNorm(feed-forward)",
                      "normalise the sum: LayerNormalization()(Add()([h, feed_forward]))"),
    "no_first_add": ("the first Add is missing: LayerNorm(attention) drops x", "add x back before normalising"),
    "no_second_add": ("the second Add is missing: LayerNorm(feed-forward) drops h", "add h back before normalising"),
    "pre_norm": ("this is a pre-norm block, x + attention(LayerNorm(x)): a valid design, but not the block asked for",
                 "normalise after each Add: LayerNorm(x + attention(x)), then LayerNorm(h + ff(h))"),
    "no_relu": ("the feed-forward part has no ReLU", 'give the first Dense activation="relu"'),
}


def _block_outputs(x: np.ndarray, mha: dict, ln1: tuple, ln2: tuple, ff1: tuple, ff2: tuple) -> dict[str, np.ndarray]:
    """The block asked for ("right") and typical wrong ones, from the same weights."""
    def norm(z, params):
        return _layer_norm_numpy(z, *params)

    def ff(h, relu=True):
        hidden = h @ ff1[0] + ff1[1]
        return (np.maximum(hidden, 0.0) if relu else hidden) @ ff2[0] + ff2[1]

    attended = _mha_numpy(mha, x, x)
    h = norm(x + attended, ln1)
    h_bypass = x + norm(attended, ln1)
    pre_h = x + _mha_numpy(mha, norm(x, ln1), norm(x, ln1))
    return {
        "right": norm(h + ff(h), ln2),
        "bypass": norm(h_bypass + ff(h_bypass), ln2),
        "second_bypass": h + norm(ff(h), ln2),
        "no_first_add": norm(norm(attended, ln1) + ff(norm(attended, ln1)), ln2),
        "no_second_add": norm(ff(h), ln2),
        "pre_norm": pre_h + ff(norm(pre_h, ln2)),
        "no_relu": norm(h + ff(h, relu=False), ln2),
    }


@exercise("9.5", "Repair a Transformer block")
def repaired_block(block: object) -> str:
    what = "`block`"
    model = expect_model(block, what)
    _single_input(model, (BLOCK_STEPS, BLOCK_WIDTH), what, "keep the given input: keras.Input(shape=(6, 8))")
    shapes = _tensor_shapes(model.outputs)
    if shapes != [(None, BLOCK_STEPS, BLOCK_WIDTH)]:
        raise Mistake(f"{what} has the wrong output.", expected="one output of shape (None, 6, 8): a block keeps its input's shape",
                      found=f"outputs of shapes {shapes}", hint="end with the second LayerNormalization")
    attentions = _layers_named(model, "MultiHeadAttention")
    norms = _layers_named(model, "LayerNormalization")
    dense = _layers_named(model, "Dense")
    if len(attentions) != 1 or len(norms) != 2 or len(dense) != 2:
        raise Mistake(f"{what} does not have the block's layers.",
                      expected="one MultiHeadAttention, two LayerNormalization, two Dense (the feed-forward part)",
                      found=f"{len(attentions)} MultiHeadAttention, {len(norms)} LayerNormalization, {len(dense)} Dense",
                      hint="repair the given code: move layers around, do not add or remove any")
    for norm in norms:
        axes = [int(a) for a in np.atleast_1d(norm.get_config().get("axis"))]
        if axes not in ([-1], [2]):
            over = " and ".join(f"axis {a}" for a in axes)
            raise Mistake(f"in {what}, a LayerNormalization normalises over {over}{' (time)' if axes == [1] else ''}.",
                          expected="axis=-1: each step normalised over its 8 features",
                          found=f"axis={axes[0] if len(axes) == 1 else axes}", hint="leave axis at its default, -1")
    ff1 = next((d for d in dense if tuple(d.kernel.shape) == (BLOCK_WIDTH, 16)), None)
    ff2 = next((d for d in dense if tuple(d.kernel.shape) == (16, BLOCK_WIDTH)), None)
    if ff1 is None or ff2 is None or not ff1.use_bias or not ff2.use_bias:
        raise Mistake(f"{what}'s feed-forward part is not the given one.", expected="Dense(16, relu) then Dense(8), with biases",
                      found=f"Dense kernels {[tuple(d.kernel.shape) for d in dense]}", hint="keep ff1 and ff2 as given")
    mha = attentions[0]
    rng = np.random.default_rng(95)
    for variable in mha.weights:
        variable.assign(rng.normal(0.0, 0.4, size=tuple(variable.shape)).astype("float32"))
    ff_weights = []
    for layer in (ff1, ff2):
        kernel = rng.normal(0.0, 0.4, size=tuple(layer.kernel.shape)).astype("float32")
        bias = rng.normal(0.0, 0.3, size=tuple(layer.bias.shape)).astype("float32")
        layer.set_weights([kernel, bias])
        ff_weights.append((kernel.astype("float64"), bias.astype("float64")))
    norm_weights = []
    for layer in norms:
        gamma = rng.uniform(0.5, 1.5, size=(BLOCK_WIDTH,)).astype("float32")
        beta = rng.normal(0.0, 0.3, size=(BLOCK_WIDTH,)).astype("float32")
        layer.set_weights([gamma, beta])
        norm_weights.append((gamma.astype("float64"), beta.astype("float64"), float(layer.epsilon)))
    x = rng.normal(0.0, 1.0, size=(4, BLOCK_STEPS, BLOCK_WIDTH))
    found = _run_model(model, x.astype("float32"), what)
    mha_weights = _weights_by_path(mha)
    matches = set()
    for first, second in itertools.permutations(norm_weights):
        outputs = _block_outputs(x, mha_weights, first, second, *ff_weights)
        matches |= {name for name, value in outputs.items() if same_values(found, value, atol=1e-4, rtol=1e-4)}
    if "right" in matches:
        return "LayerNorm(x + attention(x, x)), then LayerNorm(h + feed-forward(h)): the post-norm block"
    for name in _BLOCK_VARIANTS:
        if name in matches:
            problem, hint = _BLOCK_VARIANTS[name]
            raise Mistake(f"in {what}, {problem}.", expected="h = LayerNorm(x + attention(x, x)); output = LayerNorm(h + ff(h))",
                          found="the same layers, combined differently", hint=hint)
    raise Mistake(f"{what} does not compute the block.",
                  expected="h = LayerNorm(x + attention(x, x)); output = LayerNorm(h + ff(h)), ff = Dense(8)(Dense(16, relu))",
                  found="another function of the input, with the same layers",
                  hint="two sub-blocks, each: Add the sub-block's input to its result, then LayerNormalization")


# --- 9.6 -------------------------------------------------------------------------------------

CAUSAL_STEPS, CAUSAL_FEATURES = 12, 6  # 9.6's sequences


def _step_effects(model: Any, what: str, seed: int = 96) -> np.ndarray:
    """effect[t, s]: how much output step s changes when only input step t changes (largest over 4 sequences)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, size=(4, CAUSAL_STEPS, CAUSAL_FEATURES)).astype("float32")
    changed = np.repeat(base[None], CAUSAL_STEPS, axis=0)  # (t, 4, steps, features)
    for t in range(CAUSAL_STEPS):
        changed[t, :, t] += rng.normal(0.0, 1.0, size=(4, CAUSAL_FEATURES)).astype("float32")
    batch = np.concatenate([base, changed.reshape(-1, CAUSAL_STEPS, CAUSAL_FEATURES)])
    out = _run_model(model, batch, what)
    reference, moved = out[:4], out[4:].reshape(CAUSAL_STEPS, 4, CAUSAL_STEPS, -1)
    return np.abs(moved - reference[None]).max(axis=(1, 3))


@exercise("9.6", "No peeking: a causal self-attention model")
def causal_model(causal: object) -> str:
    what = "`causal`"
    model = expect_model(causal, what)
    _single_input(model, (CAUSAL_STEPS, CAUSAL_FEATURES), what, "keras.Input(shape=(12, 6))")
    shapes = _tensor_shapes(model.outputs)
    if shapes != [(None, CAUSAL_STEPS, CAUSAL_FEATURES)]:
        raise Mistake(f"{what} does not predict at every step.", expected="one output of shape (None, 12, 6): a prediction per step",
                      found=f"outputs of shapes {shapes}",
                      hint="keep the time axis to the end: Dense on a sequence acts on every step (no Flatten, pooling or cropping)")
    attentions = _layers_named(model, "MultiHeadAttention")
    if not attentions:
        kinds = sorted({_layer_kind(layer) for layer in all_layers(model) if layer.weights})
        raise Mistake(f"{what} has no self-attention.", expected="a MultiHeadAttention layer called on the sequence twice (query and value)",
                      found=f"layers with weights: {kinds}", hint="layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x, use_causal_mask=True)")
    effects = _step_effects(model, what)
    tolerance = 1e-5 * max(1.0, float(effects.max()))
    leaks = [(t, s) for t in range(CAUSAL_STEPS) for s in range(t) if effects[t, s] > tolerance]
    if leaks:
        norms = [layer for layer in _layers_named(model, "LayerNormalization")
                 if 1 in [a % 3 for a in np.atleast_1d(layer.get_config().get("axis"))]]
        if norms:
            problem = "a LayerNormalization normalises over the time axis: every step's output then depends on all steps"
            hint = "leave LayerNormalization at axis=-1: each step normalised over its own features"
        elif any(_layer_kind(layer) == "Bidirectional" for layer in all_layers(model)):
            problem, hint = "a Bidirectional layer reads the sequence backwards too", "remove it: the backward pass reads the future"
        elif any(_layer_kind(layer) == "Conv1D" and layer.get_config().get("padding") != "causal"
                 for layer in all_layers(model)):
            problem = "a Conv1D without causal padding reads the steps after each step"
            hint = 'give Conv1D padding="causal": it then reads the current and earlier steps only'
        elif len(leaks) == CAUSAL_STEPS * (CAUSAL_STEPS - 1) // 2:
            problem = "every step sees every later step: an attention call has no causal mask"
            hint = "call every attention layer with use_causal_mask=True"
        else:
            problem = "some steps see later steps"
            hint = "every attention call needs use_causal_mask=True"
        t, s = max(leaks, key=lambda pair: pair[0] - pair[1])
        raise Mistake(f"{what} peeks: {problem}.", expected="the output at step s depends only on input steps 0..s",
                      found=f"{len(leaks)} (later step, earlier output) pairs leak, e.g. output {s} changes when step {t} changes",
                      hint=hint)
    if effects[0, CAUSAL_STEPS - 1] <= tolerance:
        raise Mistake(f"{what} does not look back.", expected="the last step's output depends on step 0 too",
                      found="the last step's output ignores step 0: each step sees only itself",
                      hint="self-attention: the sequence is both query and value, mha(x, x, use_causal_mask=True)")
    return "every step's output depends on that step and the earlier ones only, none from the future"
