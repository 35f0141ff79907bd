"""Lesson 9 checks: correct answers written differently pass; typical mistakes are named.

Every assertion goes through the grader's round trip (models saved as .keras and
loaded in safe mode), like the learner's check cell and ``grade``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson09.checks import RNN_CALLS, expected_mask, rnn_call_shapes
from coursetools.lessons.lesson09.given import (
    given_broken_block,
    given_lookup_model,
    picture_sequences,
    recall_task,
)
from coursetools.placeholders import not_done

ROOT = Path(__file__).resolve().parents[2]


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.dense(x)


def subclassed(shape=(21, 37)):
    model = Subclassed()
    model(np.zeros((1, *shape), "float32"))
    return model


# --- 9.1 what a recurrent layer returns --------------------------------------------------------

RIGHT_SHAPES = {
    "GRU(16)": [(None, 16)],
    "GRU(16, return_sequences=True)": [(None, 20, 16)],
    "GRU(16, return_state=True)": [(None, 16), (None, 16)],
    "LSTM(16, return_state=True)": [(None, 16), (None, 16), (None, 16)],
    "LSTM(16, return_sequences=True, return_state=True)": [(None, 20, 16), (None, 16), (None, 16)],
    "Bidirectional(GRU(16, return_sequences=True))": [(None, 20, 32)],
}


def test_9_1_the_answer_is_what_keras_says():
    assert rnn_call_shapes() == RIGHT_SHAPES
    assert list(RIGHT_SHAPES) == list(RNN_CALLS)


def with_answer(call, answer):
    return {**RIGHT_SHAPES, call: answer}


@pytest.mark.parametrize("shapes", [
    RIGHT_SHAPES,
    {call: [list(shape) for shape in answer] for call, answer in RIGHT_SHAPES.items()},
    with_answer("GRU(16)", (None, 16)),
    with_answer("Bidirectional(GRU(16, return_sequences=True))", [None, 20, 32]),
    {call: tuple(answer) for call, answer in reversed(RIGHT_SHAPES.items())},
], ids=["lists-of-tuples", "lists-of-lists", "bare-shape", "bare-list-shape", "tuples-any-order"])
def test_9_1_accepts(shapes):
    assert_passes("9.1", shapes=shapes)


@pytest.mark.parametrize("shapes, phrase", [
    (with_answer("LSTM(16, return_state=True)", [(None, 16), (None, 16)]), "cell state c"),
    (with_answer("GRU(16, return_state=True)", [(None, 16), (None, 16), (None, 16)]), "a GRU has one state"),
    (with_answer("GRU(16, return_state=True)", [(None, 16)]), "return_state=True makes the call return a list"),
    (with_answer("LSTM(16, return_sequences=True, return_state=True)", [(None, 20, 16), (None, 20, 16), (None, 20, 16)]),
     "states never have a time axis"),
    (with_answer("GRU(16)", [(None, 20, 16)]), "last step's only"),
    (with_answer("GRU(16, return_sequences=True)", [(None, 16)]), "one output per step"),
    (with_answer("GRU(16, return_sequences=True)", [(20, 16)]), "keep the batch axis"),
    (with_answer("GRU(16)", [(32, 16)]), "the batch axis is None"),
    (with_answer("Bidirectional(GRU(16, return_sequences=True))", [(None, 20, 16)]), "2 × 16"),
    (with_answer("GRU(16)", "(None, 16)"), "is not a list of shapes"),
    ({**RIGHT_SHAPES, "LSTM(16, return_state=True)": [(None, 16)] * 2, "GRU(16)": [(None, 20, 16)]}, "2 of the 6"),
    ({k: v for k, v in RIGHT_SHAPES.items() if k != "GRU(16)"}, "lacks some of the calls"),
    ([(None, 16)], "is not a dict"),
], ids=["lstm-two", "gru-three", "state-no-list", "state-time-axis", "last-step-time-axis", "sequences-no-time",
        "no-batch", "batch-number", "bidirectional-width", "string", "two-wrong", "missing-key", "list"])
def test_9_1_rejects(shapes, phrase):
    assert_fails("9.1", phrase, shapes=shapes)


def test_9_1_placeholder_says_not_done():
    assert_fails("9.1", "not done yet", shapes=not_done("9.1"))


# --- 9.2 attention to a spec, question first ---------------------------------------------------


def asker(*, scale=True, order="qvk", query_crop=(0, 20), pairs_crop=(1, 0), outputs="both", names=True,
          slicing=False, crop_after_dense=False):
    sequence = keras.Input(shape=(21, 37))
    name = (lambda n: n) if names else (lambda n: None)
    if slicing:
        question, pairs = sequence[:, :1, :], sequence[:, 1:, :]
    else:
        question = layers.Cropping1D(query_crop)(sequence) if query_crop else sequence
        pairs = layers.Cropping1D(pairs_crop)(sequence) if pairs_crop else sequence
    query = layers.Dense(32, name=name("query"))(question)
    if crop_after_dense:
        key = layers.Cropping1D((1, 0))(layers.Dense(32, name=name("key"))(sequence))
        value = layers.Cropping1D((1, 0))(layers.Dense(32, name=name("value"))(sequence))
    else:
        key = layers.Dense(32, name=name("key"))(pairs)
        value = layers.Dense(32, name=name("value"))(pairs)
    call = {"qvk": [query, value, key], "qv": [query, value], "qkv": [query, key, value], "vq": [value, query]}[order]
    context, scores = layers.Attention(use_scale=scale, name=name("attention"))(call, return_attention_scores=True)
    hidden = layers.Dense(64, activation="relu")(layers.Flatten()(context))
    digit = layers.Dense(10, activation="softmax")(hidden)
    if outputs == "digit":
        return keras.Model(sequence, digit)
    if outputs == "swapped":
        return keras.Model(sequence, [scores, digit])
    if outputs == "context":
        return keras.Model(sequence, [digit, context])
    if outputs == "dict":
        return keras.Model(sequence, {"digit": digit, "scores": scores})
    return keras.Model(sequence, [digit, scores])


def mha_asker():
    sequence = keras.Input(shape=(21, 37))
    question, pairs = layers.Cropping1D((0, 20))(sequence), layers.Cropping1D((1, 0))(sequence)
    context, scores = layers.MultiHeadAttention(2, 16, name="attention")(question, pairs, return_attention_scores=True)
    digit = layers.Dense(10, activation="softmax")(layers.Flatten()(context))
    return keras.Model(sequence, [digit, scores])


def trained(model, epochs=3, seed=2):
    """Train a two-output asker on its digit output only (the scores share the trained layers)."""
    data = recall_task(2048, seed=seed, question_first=True)
    digit_model = keras.Model(model.inputs, model.outputs[0])
    digit_model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy")
    digit_model.fit(data.x, data.y, epochs=epochs, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained_asker():
    keras.utils.set_random_seed(0)
    return trained(asker())


def test_9_2_accepts_the_solution(trained_asker):
    assert_passes("9.2", asker=trained_asker)


@pytest.mark.parametrize("options", [dict(scale=False), dict(slicing=True), dict(crop_after_dense=True),
                                     dict(outputs="dict")],
                         ids=["no-scale", "slicing", "crop-after-dense", "dict-outputs"])
def test_9_2_accepts_variants(options):
    keras.utils.set_random_seed(1)
    assert_passes("9.2", asker=trained(asker(**options)))


@pytest.mark.parametrize("make, phrase", [
    (lambda: asker(outputs="swapped"), "wrong order"),
    (lambda: asker(outputs="digit"), "has 1 output"),
    (lambda: asker(outputs="context"), "the attention's result, not its scores"),
    (lambda: asker(order="vq"), "query and the value are swapped"),
    (lambda: asker(query_crop=None), "every one of the 21 steps is a query"),
    (lambda: asker(pairs_crop=None), "keys include the question step"),
    (lambda: asker(order="qv"), "passes no key"),
    (lambda: asker(order="qkv"), "`value` layer's output as keys"),
    (lambda: asker(query_crop=(20, 0)), "the question is the FIRST step"),
    (lambda: asker(names=False), "no Dense layer named 'query'"),
    (mha_asker, "they come from MultiHeadAttention"),
    (lambda: asker(), "answers too few new sequences right"),
    (lambda: subclassed(), "not built with the functional API"),
    (lambda: keras.Input(shape=(21, 37)), "symbolic KerasTensor"),
], ids=["swapped-outputs", "one-output", "context", "query-value-swapped", "no-query-crop", "keys-with-question",
        "no-key", "key-value-swapped", "question-last", "unnamed", "multi-head", "untrained", "subclassed", "symbolic"])
def test_9_2_rejects(make, phrase):
    keras.utils.set_random_seed(0)
    assert_fails("9.2", phrase, asker=make())


def test_9_2_placeholder_says_not_done():
    assert_fails("9.2", "not done yet", asker=not_done("9.2"))


# --- 9.3 look inside a trained attention model -------------------------------------------------


@pytest.fixture(scope="module")
def given():
    return given_lookup_model()


def looked_scores(model, *, crop=True, order="qvk", new_attention=False, output="scores", sequences=None):
    """What a learner computes: the trained layers called on the five shown sequences (eagerly)."""
    x = picture_sequences().x if sequences is None else sequences
    layer = model.get_layer
    question = layer("question_step")(x) if crop else x
    q, k, v = layer("query")(question), layer("key")(x), layer("value")(x)
    attention = layers.Attention(use_scale=True) if new_attention else layer("attention")
    context, scores = attention({"qvk": [q, v, k], "qv": [q, v]}[order], return_attention_scores=True)
    if output == "context":
        return keras.ops.convert_to_numpy(context)
    if output == "digit":
        return model.predict(x, verbose=0)
    return keras.ops.convert_to_numpy(scores)


def test_9_3_the_given_model_looks_where_the_answer_is(given):
    assert looked_scores(given)[:, 0].argmax(axis=-1).tolist() == picture_sequences().where.tolist()


@pytest.mark.parametrize("form", ["array-list", "squeezed-array", "tuple"])
def test_9_3_accepts(given, form):
    scores = looked_scores(given)
    looked = scores[:, 0].argmax(axis=-1)
    evidence = {"array-list": (scores, [int(v) for v in looked]), "squeezed-array": (scores[:, 0], looked),
                "tuple": (scores.tolist(), tuple(int(v) for v in looked))}[form]
    assert_passes("9.3", model=given, scores=evidence[0], looked_at=evidence[1])


@pytest.mark.parametrize("options, looked, phrase", [
    (dict(new_attention=True), "right", "a new Attention layer"),
    (dict(order="qv"), "right", "matched against the values"),
    (dict(crop=False), "right", "every step is a query"),
    (dict(output="context"), "right", "the context"),
    (dict(output="digit"), "right", "digit probabilities"),
    (dict(sequences=recall_task(5, seed=0).x), "right", "not the given model's attention scores on the five"),
    (dict(), "plus-one", "counted from 1"),
    (dict(), "question", "the question itself"),
    (dict(), "digits", "those are the answers"),
    (dict(), "short", "not a list of 5 step numbers"),
], ids=["new-attention", "no-key", "no-crop", "context", "digit", "other-sequences", "from-one", "question-step",
        "digits", "too-short"])
def test_9_3_rejects(given, options, looked, phrase):
    right = [int(v) for v in looked_scores(given)[:, 0].argmax(axis=-1)]
    looked_at = {"right": right, "plus-one": [v + 1 for v in right], "question": [20] * 5,
                 "digits": [int(v) for v in picture_sequences().y], "short": right[:4]}[looked]
    assert_fails("9.3", phrase, model=given, scores=looked_scores(given, **options), looked_at=looked_at)


def test_9_3_rejects_another_model(given):
    scores = looked_scores(given)
    right = [int(v) for v in scores[:, 0].argmax(axis=-1)]
    from coursetools.lessons.lesson09.given import lookup_model
    assert_fails("9.3", "not the trained given model", model=lookup_model(), scores=scores, looked_at=right)
    assert_fails("9.3", "not the given attention model", model=subclassed_free_model(), scores=scores, looked_at=right)


def subclassed_free_model():
    sequence = keras.Input(shape=(21, 37))
    return keras.Model(sequence, layers.Dense(10, activation="softmax")(layers.GRU(8)(sequence)))


def test_9_3_placeholder_says_not_done(given):
    assert_fails("9.3", "not done yet", model=given, scores=not_done("9.3"), looked_at=not_done("9.3"))


# --- 9.4 a causal padding mask -------------------------------------------------------------------

LENGTHS = np.array([5, 3, 6, 2])
I, J = np.arange(6)[None, :, None], np.arange(6)[None, None, :]


def right_mask():
    return np.tril(np.ones((6, 6), dtype=bool))[None] & (J < LENGTHS[:, None, None])


@pytest.mark.parametrize("mask", [
    right_mask(),
    right_mask().astype("int64"),
    right_mask().astype("float32"),
    right_mask() & (I < LENGTHS[:, None, None]),
    right_mask().tolist(),
], ids=["bool", "ints", "floats", "padded-queries-see-nothing", "nested-list"])
def test_9_4_accepts(mask):
    assert_passes("9.4", mask=mask)


def test_9_4_the_mask_is_what_keras_needs():
    """With the expected mask, padded steps and later steps change nothing in the real steps' outputs."""
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.random.default_rng(0).normal(size=(4, 6, 8)).astype("float32")
    changed = x.copy()
    changed[:, -1] += 1.0  # the last step: padding for three sequences, the future for every earlier step
    before = np.asarray(mha(x, x, attention_mask=expected_mask()))
    after = np.asarray(mha(changed, changed, attention_mask=expected_mask()))
    for b, length in enumerate(LENGTHS):
        assert np.allclose(before[b, :min(length, 5)], after[b, :min(length, 5)], atol=1e-6)


@pytest.mark.parametrize("mask, phrase", [
    (~right_mask(), "inverted"),
    (np.broadcast_to(np.tril(np.ones((6, 6), dtype=bool)), (4, 6, 6)), "lets steps look at padding"),
    (np.broadcast_to(J < LENGTHS[:, None, None], (4, 6, 6)), "look into the future"),
    (np.triu(np.ones((6, 6), dtype=bool))[None] & (J < LENGTHS[:, None, None]), "np.triu"),
    (np.broadcast_to(np.triu(np.ones((6, 6), dtype=bool), k=1), (4, 6, 6)), "np.triu"),
    (np.arange(6)[None, :] < LENGTHS[:, None], "(batch, key) mask"),
    (np.tril(np.ones((6, 6), dtype=bool)), "one table for the whole batch"),
    (np.ones((4, 1, 6), dtype=bool), "wrong shape"),
    (right_mask() * 2, "other numbers"),
    ("tril", "not an array of numbers"),
    (np.where(np.eye(6, dtype=bool)[None], False, right_mask()), "differs from the causal padding mask"),
], ids=["inverted", "causal-only", "padding-only", "triu", "triu-k1", "batch-key", "one-table", "shape", "twos",
        "string", "no-diagonal"])
def test_9_4_rejects(mask, phrase):
    assert_fails("9.4", phrase, mask=mask)


def test_9_4_placeholder_says_not_done():
    assert_fails("9.4", "not done yet", mask=not_done("9.4"))


# --- 9.5 repair a Transformer block ---------------------------------------------------------------


def block(kind="right", *, add="layer", names=True, ln_axis=-1):
    name = (lambda n: n) if names else (lambda n: None)
    inputs = keras.Input(shape=(6, 8))

    def plus(a, b):
        return {"layer": lambda: layers.Add()([a, b]), "function": lambda: layers.add([a, b]), "operator": lambda: a + b}[add]()

    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4, name=name("mha"))
    ln1 = layers.LayerNormalization(axis=ln_axis, name=name("ln1"))
    ln2 = layers.LayerNormalization(name=name("ln2"))
    ff1 = layers.Dense(16, activation=None if kind == "no_relu" else "relu", name=name("ff1"))
    ff2 = layers.Dense(8, name=name("ff2"))
    if kind == "pre_norm":
        normed = ln1(inputs)
        h = plus(inputs, mha(normed, normed))
        return keras.Model(inputs, plus(h, ff2(ff1(ln2(h)))))
    attended = mha(inputs, inputs)
    if kind == "bypass":
        h = plus(inputs, ln1(attended))
    elif kind == "no_first_add":
        h = ln1(attended)
    else:
        h = ln1(plus(inputs, attended))
    f = ff2(ff1(h))
    if kind == "second_bypass":
        return keras.Model(inputs, plus(h, ln2(f)))
    if kind == "no_second_add":
        return keras.Model(inputs, ln2(f))
    return keras.Model(inputs, ln2(plus(h, f)))


def test_given_broken_block_is_what_the_exercise_prints():
    nb = nbformat.read(ROOT / "solutions" / "09_solutions_sequences_attention.ipynb", as_version=4)
    code = [m.group(1) for c in nb.cells if c.cell_type == "markdown" and "Exercise 9.5" in c.source
            for m in [re.search(r"```python\n(.*?)```", c.source, re.S)] if m]
    assert len(code) == 1
    namespace = {"keras": keras, "layers": layers}
    exec(code[0], namespace)
    shown, given_block = namespace["block"], given_broken_block()
    assert [type(l).__name__ for l in shown.layers] == [type(l).__name__ for l in given_block.layers]
    assert [w.shape for w in shown.weights] == [w.shape for w in given_block.weights]
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    given_block.set_weights(shown.get_weights())
    assert np.allclose(np.asarray(shown(x)), np.asarray(given_block(x)), atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: block(),
    lambda: block(add="function"),
    lambda: block(add="operator"),
    lambda: block(names=False),
], ids=["add-layer", "add-function", "plus-operator", "unnamed"])
def test_9_5_accepts(make):
    assert_passes("9.5", block=make())


@pytest.mark.parametrize("make, phrase", [
    (given_broken_block, "first residual bypasses the normalisation"),
    (lambda: block("bypass", add="operator"), "first residual bypasses the normalisation"),
    (lambda: block("second_bypass"), "second residual bypasses"),
    (lambda: block("no_first_add"), "first Add is missing"),
    (lambda: block("no_second_add"), "second Add is missing"),
    (lambda: block("pre_norm"), "pre-norm block"),
    (lambda: block("no_relu"), "no ReLU"),
    (lambda: block(ln_axis=1), "normalises over axis 1"),
    (lambda: subclassed((6, 8)), "not built with the functional API"),
], ids=["given", "given-operator", "second-bypass", "no-first-add", "no-second-add", "pre-norm", "no-relu", "ln-axis-1",
        "subclassed"])
def test_9_5_rejects(make, phrase):
    assert_fails("9.5", phrase, block=make())


def test_9_5_rejects_extra_layers():
    inputs = keras.Input(shape=(6, 8))
    extra = layers.Dense(8)(block()(inputs))
    assert_fails("9.5", "does not have the block's layers", block=keras.Model(inputs, extra))


def test_9_5_placeholder_says_not_done():
    assert_fails("9.5", "not done yet", block=not_done("9.5"))


# --- 9.6 no peeking ---------------------------------------------------------------------------------


def causal(*, mask=True, ln_axis=-1, extra=None, output="steps", mute_attention=False, twice=False,
           second_mask=False):
    inputs = keras.Input(shape=(12, 6))
    x = layers.Dense(16)(inputs)
    if extra in ("conv-same", "conv-causal"):
        x = layers.Conv1D(16, 3, padding="same" if extra == "conv-same" else "causal")(x)
    if extra == "bidirectional":
        x = layers.Bidirectional(layers.GRU(8, return_sequences=True))(x)
    if extra == "dense-only":
        attended = layers.Dense(16)(x)
    else:
        mha = layers.MultiHeadAttention(num_heads=2, key_dim=8)
        attended = mha(x, x, use_causal_mask=mask)
    x = layers.LayerNormalization(axis=ln_axis)(layers.Add()([x, attended]))
    if twice:
        x = layers.LayerNormalization()(x + layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x, use_causal_mask=second_mask))
    if output == "flat":
        x = layers.Flatten()(x)
        return keras.Model(inputs, layers.Dense(6)(x))
    model = keras.Model(inputs, layers.Dense(6)(x))
    if mute_attention:
        kernel, bias = mha._output_dense.get_weights()
        mha._output_dense.set_weights([np.zeros_like(kernel), bias])
    return model


@pytest.mark.parametrize("make", [
    lambda: causal(),
    lambda: causal(ln_axis=2),
    lambda: causal(twice=True, second_mask=True),
    lambda: causal(extra="conv-causal"),
], ids=["causal", "ln-axis-2", "two-masked-blocks", "causal-conv"])
def test_9_6_accepts(make):
    assert_passes("9.6", causal=make())


@pytest.mark.parametrize("make, phrase", [
    (lambda: causal(mask=False), "an attention call has no causal mask"),
    (lambda: causal(ln_axis=1), "normalises over the time axis"),
    (lambda: causal(extra="bidirectional"), "Bidirectional"),
    (lambda: causal(extra="conv-same"), "Conv1D without causal padding"),
    (lambda: causal(twice=True), "an attention call has no causal mask"),
    (lambda: causal(extra="dense-only"), "has no self-attention"),
    (lambda: causal(output="flat"), "does not predict at every step"),
    (lambda: causal(mute_attention=True), "does not look back"),
    (lambda: subclassed((12, 6)), "not built with the functional API"),
], ids=["no-mask", "ln-over-time", "bidirectional", "conv-same", "second-attention-unmasked", "dense-only", "flattened", "muted",
        "subclassed"])
def test_9_6_rejects(make, phrase):
    assert_fails("9.6", phrase, causal=make())


def test_9_6_placeholder_says_not_done():
    assert_fails("9.6", "not done yet", causal=not_done("9.6"))
