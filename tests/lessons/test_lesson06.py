"""Lesson 6 checks: correct answers written differently pass; typical mistakes are named.

Every verdict goes through the grader's export round trip (check_helpers), so what
passes here passes in the learner's notebook and in ``grade`` alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools.data import load_digits_split
from coursetools.lessons.lesson06 import MEMBER_INPUTS, digit_pairs, given_members, given_pretrained, given_reader, given_twin_scorer
from coursetools.lessons.lesson06 import learning_rate, unnested
from coursetools.placeholders import not_done

ROOT = Path(__file__).resolve().parents[2]

# --- the given material ---------------------------------------------------------------------


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_given_models_are_the_same_every_time():
    assert _same_weights(given_reader(), given_reader())
    assert _same_weights(given_pretrained(), given_pretrained())
    for first, second in zip(given_members(), given_members()):
        assert _same_weights(first, second)


def test_given_models_have_the_structure_the_notebook_describes():
    twin = given_twin_scorer()
    assert twin.count_params() == 64 * 16 + 16 + 32 * 8 + 8 + 8 + 1
    assert [tuple(t.shape) for t in twin.inputs] == [(None, 64), (None, 64)]
    reader = given_reader()
    assert [layer.name for layer in reader.get_layer("encoder").layers[1:]] == ["hidden", "code"]
    assert [layer.name for layer in given_pretrained().layers[1:]] == ["block_1", "block_2", "block_3"]


def test_ensemble_members_disagree_and_their_average_is_better():
    _, (x_test, y_test) = load_digits_split()
    outputs = [m.predict(x_test.reshape((-1, *shape)), verbose=0) for m, shape in zip(given_members(), MEMBER_INPUTS)]
    accuracies = [np.mean(o.argmax(axis=1) == y_test) for o in outputs]
    assert len({tuple(o.argmax(axis=1)) for o in outputs}) == 3
    assert np.mean(np.mean(outputs, axis=0).argmax(axis=1) == y_test) > max(accuracies)


def test_digit_pairs_are_reproducible_and_labelled_right():
    (x, y), _ = load_digits_split()
    left, right, same = digit_pairs(x, y, 500, seed=5)
    again = digit_pairs(x, y, 500, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((left, right, same), again))
    assert 0.4 < same.mean() < 0.6
    label = {image.tobytes(): digit for image, digit in zip(x, y)}
    truth = np.array([label[a.tobytes()] == label[b.tobytes()] for a, b in zip(left, right)])
    assert np.array_equal(truth, same == 1.0)


# --- 6.1 count the parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [64 * 16 + 16 + 32 * 8 + 8 + 8 + 1, np.int64(1313), int(np.prod((64, 16))) + 16 + 32 * 8 + 8 + 8 + 1],
    ids=["int", "numpy-int", "numpy-product"],
)
def test_6_1_accepts(answer):
    assert_passes("6.1", n_params=answer)


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (1313 + 1040, "counted twice"),
        (64 * 16 + 32 * 8 + 8, "biases are missing"),
        (2 * 64 * 16 + 32 * 8 + 8, "counted twice, and the biases"),
        (1040 + 16 * 8 + 8 + 9, "wrong number of inputs"),
        (1300, "not the number of parameters"),
        (1313.5, "not a whole number"),
        (1313.0, "is the float 1313.0, not an int"),  # issue 15: one rule for whole floats, as in 2.2 and 4.4
        (np.float32(1313.0), "is the float 1313.0, not an int"),
        ((64 * 16 + 16) / 1 + 273, "is the float 1313.0, not an int"),
        ("1313", "remove the quotes"),
        (True, "a bool"),
        (None, "None"),
        ([1313], "not a whole number"),
    ],
    ids=["shared-twice", "no-biases", "twice-no-biases", "concat-width", "wrong", "fraction", "whole-float",
         "numpy-whole-float", "division", "string", "bool", "none", "list"],
)
def test_6_1_rejects(answer, phrase):
    assert_fails("6.1", phrase, n_params=answer)


def test_6_1_placeholder_says_not_done():
    assert_fails("6.1", "not done yet", n_params=not_done("6.1"))


# --- 6.2 a siamese model ----------------------------------------------------------------------


def _encoder(name="encoder"):
    return keras.Sequential([keras.Input(shape=(64,)), layers.Dense(16, activation="relu"), layers.Dense(8)], name=name)


def _pair_inputs(input_fn=keras.Input):
    return input_fn(shape=(64,), name="image_a"), input_fn(shape=(64,), name="image_b")


def siamese(compare, encoder=None, head=None, input_fn=keras.Input):
    """Two inputs -> the same encoder -> compare(code_a, code_b) -> head."""
    encoder = encoder or _encoder()
    a, b = _pair_inputs(input_fn)
    joined = compare(encoder(a), encoder(b))
    out = (head or layers.Dense(1, activation="sigmoid"))(joined)
    return keras.Model([a, b], out)


def _shared_dense_layers():
    first, second = layers.Dense(16, activation="relu"), layers.Dense(8)
    a, b = _pair_inputs()
    code_a, code_b = second(first(a)), second(first(b))
    difference = layers.Subtract()([code_a, code_b])
    squared = layers.Multiply()([difference, difference])
    score = layers.Activation("sigmoid")(layers.Dense(1)(squared))
    return keras.Model(inputs=(a, b), outputs=score)


def _functional_encoder():
    pixels = keras.Input(shape=(64,))
    encoder = keras.Model(pixels, layers.Dense(8, activation="tanh")(pixels), name="functional_encoder")
    return siamese(lambda p, q: keras.ops.abs(p - q), encoder=encoder)


def _list_output():
    model = siamese(lambda p, q: keras.ops.abs(p - q))
    return keras.Model(model.inputs, [model.outputs[0]])


def _dict_inputs():
    encoder = _encoder()
    second, first = keras.Input(shape=(64,), name="second"), keras.Input(shape=(64,), name="first")
    out = layers.Dense(1, activation="sigmoid")(keras.ops.abs(encoder(first) - encoder(second)))
    return keras.Model({"second": second, "first": first}, out)


@pytest.mark.parametrize(
    "make",
    [
        lambda: siamese(lambda p, q: keras.ops.abs(p - q)),
        lambda: siamese(lambda p, q: keras.ops.abs(layers.subtract([p, q])), input_fn=keras.layers.Input),
        _shared_dense_layers,
        _functional_encoder,
        lambda: siamese(lambda p, q: layers.Dot(axes=1, normalize=True)([p, q])),
        lambda: siamese(lambda p, q: keras.ops.square(p - q)),
        lambda: siamese(lambda p, q: layers.Add()([p, q])),
        _list_output,
        _dict_inputs,
    ],
    ids=["abs-difference", "subtract-layer", "shared-dense-squared", "functional-encoder", "cosine", "ops-square", "add",
         "list-output", "dict-inputs"],
)
def test_6_2_accepts(make):
    assert_passes("6.2", siamese=make())


def _two_encoders(copy_weights=False):
    first, second = _encoder("left_encoder"), _encoder("right_encoder")
    if copy_weights:
        second.set_weights(first.get_weights())
    a, b = _pair_inputs()
    out = layers.Dense(1, activation="sigmoid")(keras.ops.abs(first(a) - second(b)))
    return keras.Model([a, b], out)


def _extra_layer_on_one_side():
    encoder = _encoder()
    a, b = _pair_inputs()
    code_a = layers.Dense(8, name="only_left")(encoder(a))
    out = layers.Dense(1, activation="sigmoid")(keras.ops.abs(code_a - encoder(b)))
    return keras.Model([a, b], out)


def _merged_first():
    a, b = _pair_inputs()
    both = layers.Concatenate()([a, b])
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(layers.Dense(8, activation="relu")(both)))


def _second_unused():
    encoder = _encoder()
    a, b = _pair_inputs()
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(encoder(a)))


def _constant_output():
    encoder = _encoder()
    a, b = _pair_inputs()
    silenced = layers.Rescaling(0.0)(layers.Add()([encoder(a), encoder(b)]))
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(silenced))


def _no_sigmoid():
    head = layers.Dense(1, bias_initializer=keras.initializers.Constant(-3.0))
    return siamese(lambda p, q: keras.ops.abs(p - q), head=head)


def _single_input():
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, layers.Dense(1, activation="sigmoid")(_encoder()(pixels)))


class SubclassedSiamese(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = layers.Dense(8)
        self.head = layers.Dense(1, activation="sigmoid")

    def call(self, pair):
        a, b = pair
        return self.head(keras.ops.abs(self.encoder(a) - self.encoder(b)))


def _subclassed():
    model = SubclassedSiamese()
    model([np.zeros((1, 64), "float32"), np.zeros((1, 64), "float32")])
    return model


def _lambda_abs():
    return siamese(lambda p, q: layers.Lambda(lambda t: keras.ops.abs(t))(layers.Subtract()([p, q])))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (_two_encoders, "do not share every weight"),
        (lambda: _two_encoders(copy_weights=True), "'left_encoder' is applied to the first image only; 'right_encoder' to the second image only"),
        (_extra_layer_on_one_side, "'only_left' is applied to the first image only"),
        (_merged_first, "do not go through a shared encoder"),
        (_second_unused, "never used"),
        (lambda: siamese(lambda p, q: layers.Concatenate()([p, q])), "changes when the two images are swapped"),
        (lambda: siamese(lambda p, q: layers.Subtract()([p, q])), "changes when the two images are swapped"),
        (_constant_output, "whatever the second image is"),
        (_no_sigmoid, "not output a probability"),
        (lambda: siamese(lambda p, q: keras.ops.abs(p - q), head=layers.Dense(2, activation="softmax")), "wrong output"),
        (_single_input, "wrong inputs"),
        (lambda: keras.Sequential([keras.Input(shape=(64,)), layers.Dense(1, activation="sigmoid")]), "not built with the functional API"),
        (_subclassed, "subclassed"),
        (_lambda_abs, "uses a Lambda layer"),
        (lambda: None, "None"),
        (lambda: siamese(lambda p, q: keras.ops.abs(p - q)).outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(1), "a single layer is not a model"),
    ],
    ids=[
        "two-encoders", "copied-weights", "extra-layer", "merged-first", "second-unused", "concatenate",
        "plain-subtract", "constant", "no-sigmoid", "two-outputs", "one-input", "sequential", "subclassed",
        "lambda", "none", "keras-tensor", "layer",
    ],
)
def test_6_2_rejects(make, phrase):
    assert_fails("6.2", phrase, siamese=make())


def test_6_2_placeholder_says_not_done():
    assert_fails("6.2", "not done yet", siamese=not_done("6.2"))


# --- 6.3 fine-tune the top of a reused encoder, in two phases ------------------------------------


def _data():
    (x_train, y_train), _ = load_digits_split()
    return x_train, y_train


def _compile_fit(model, learning_rate, epochs, optimizer=None):
    """Compile with Adam at ``learning_rate`` (or with ``optimizer`` as given, e.g. "adam"), then fit."""
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)


def _classifier(encoder, *, nested=True, activation="softmax"):
    pixels = keras.Input(shape=(64,))
    if nested:
        features = encoder(pixels)
    else:
        features = pixels
        for layer in encoder.layers[1:]:
            features = layer(features)
    return keras.Model(pixels, layers.Dense(10, activation=activation)(features))


def _freeze_all_but_top(encoder):
    encoder.trainable = True
    encoder.get_layer("block_1").trainable = False
    encoder.get_layer("block_2").trainable = False


def evidence(model, phase_1_weights):
    """What the check cell hands in: the model, the weights kept after phase 1, the last compile's rate."""
    return {"fine_tuned": model, "phase_1_weights": phase_1_weights, "phase_2_rate": learning_rate(model)}


def two_phases(*, seed=1, nested=True, phase_1=(0.01, 6), phase_2=(1e-3, 2), freeze_in_phase_1=True,
               freeze_in_phase_2=True, compile_phase_2=True, optimizer_2=None, snapshot="after-phase-1"):
    """The exercise's recipe, with one deliberate variation (or none); returns the check's evidence."""
    keras.utils.set_random_seed(seed)
    encoder = given_pretrained()
    encoder.trainable = not freeze_in_phase_1
    model = _classifier(encoder, nested=nested)
    before = model.get_weights()
    _compile_fit(model, *phase_1)
    kept = model.get_weights()
    if freeze_in_phase_2:
        _freeze_all_but_top(encoder)
    else:
        encoder.trainable = True
    if compile_phase_2:
        _compile_fit(model, *phase_2, optimizer=optimizer_2)
    else:
        x, y = _data()
        model.fit(x, y, epochs=phase_2[1], batch_size=64, verbose=0)
    return evidence(model, {"after-phase-1": kept, "before-training": before, "at-the-end": model.get_weights()}[snapshot])


def one_phase(snapshot):
    """Issue 15: one training phase (blocks 1-2 frozen, block 3 and the head trained together) passed."""
    keras.utils.set_random_seed(2)
    encoder = given_pretrained()
    _freeze_all_but_top(encoder)
    model = _classifier(encoder, nested=False)
    before = model.get_weights()
    _compile_fit(model, 1e-3, 4)
    return evidence(model, before if snapshot == "before" else model.get_weights())


@pytest.fixture(scope="module")
def two_phase():
    """The lesson's recipe: head first with the encoder frozen, then the top block with a low rate."""
    return two_phases()


def test_6_3_accepts_two_phases(two_phase):
    assert_passes("6.3", **two_phase)


@pytest.mark.parametrize(
    "options",
    [
        {"nested": False, "optimizer_2": "adam", "seed": 3},  # compile(optimizer="adam"): Keras's default rate, 0.001
        {"phase_1": (0.03, 4), "phase_2": (3e-4, 3)},
        {"phase_2": (1e-3, 1), "optimizer_2": keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)},
    ],
    ids=["layers-called-directly-default-adam", "lower-rate-phase-2", "sgd-phase-2"],
)
def test_6_3_accepts_other_two_phase_answers(options):
    assert_passes("6.3", **two_phases(**options))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: one_phase("before"), "phase 1 did not train the new head"),
        (lambda: one_phase("end"), "phase 1 trained the encoder: `block_3`"),
        (lambda: two_phases(phase_2=(1e-2, 2)), "phase 2 trains at a high learning rate"),
        (lambda: two_phases(freeze_in_phase_1=False), "phase 1 trained the encoder: `block_1`"),
        (lambda: two_phases(freeze_in_phase_1=False, phase_1=(0.03, 10)), "phase 1 trained the encoder"),
        (lambda: two_phases(freeze_in_phase_2=False), "`block_1` of the encoder is not what it was before training"),
        (lambda: two_phases(compile_phase_2=False), "`block_3`, the top layer of the encoder, was not fine-tuned"),
        (lambda: two_phases(snapshot="at-the-end"), "phase 1 trained the encoder: `block_3`"),
        (lambda: two_phases(snapshot="before-training"), "phase 1 did not train the new head"),
    ],
    ids=["one-phase-weights-before", "one-phase-weights-at-the-end", "high-rate-phase-2", "nothing-frozen-in-phase-1",
         "encoder-trained-far-in-phase-1", "encoder-unfrozen-in-phase-2", "phase-2-without-compile",
         "snapshot-at-the-end", "snapshot-before-training"],
)
def test_6_3_rejects(make, phrase):
    failure = assert_fails("6.3", phrase, **make())
    assert "new layers" not in failure.message()  # issue 15: an encoder trained in phase 1 was told "new layers?"


def _with_weights(model, change):
    """A copy of a trained model's structure and weights, with ``change(weights)`` applied."""
    clone = keras.models.clone_model(model)
    weights = [w.copy() for w in model.get_weights()]
    change(weights)
    clone.set_weights(weights)
    return clone


def _fresh_encoder():
    pixels = keras.Input(shape=(64,))
    x = pixels
    for units in (48, 32, 16):
        x = layers.Dense(units, activation="relu")(x)
    return keras.Model(pixels, x)


def _fresh_encoder_two_phases():
    keras.utils.set_random_seed(6)
    model = _classifier(_fresh_encoder())
    _compile_fit(model, 0.01, 2)
    return evidence(model, model.get_weights())


def _untrained_top(two_phase):
    start = given_pretrained().get_layer("block_3").get_weights()
    return _with_weights(two_phase, lambda w: w.__setitem__(slice(4, 6), start))


def _scrambled_top(two_phase):
    rng = np.random.default_rng(0)
    return _with_weights(two_phase, lambda w: w.__setitem__(4, rng.normal(0, 0.3, w[4].shape).astype("float32")))


def _retrained_lower_block(two_phase):
    """block_1 trained far (but from the pretrained weights): told it changed, not "new layers?"."""
    start = given_pretrained().get_layer("block_1").get_weights()[0]
    rng = np.random.default_rng(1)
    return _with_weights(two_phase, lambda w: w.__setitem__(0, (start + rng.normal(0, 1.2 * start.std(), start.shape))
                                                             .astype("float32")))


def _no_softmax(two_phase):
    model = _classifier(given_pretrained(), activation=None)
    model.set_weights(two_phase.get_weights())
    return model


def _around_fine_tuned_encoder(two_phase, head):
    """A new model around a copy of the fine-tuned encoder: ``head(pixels, features)`` gives the output."""
    encoder = given_pretrained()
    encoder.set_weights([w for w in two_phase.get_weights()[:6]])
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, head(pixels, encoder(pixels)))


def _deeper_head(two_phase):
    return _around_fine_tuned_encoder(
        two_phase, lambda pixels, features: layers.Dense(10, activation="softmax")(layers.Dense(32, activation="relu")(features))
    )


def _second_path(two_phase):
    def head(pixels, features):
        from_encoder = layers.Dense(10, activation="softmax")(features)
        return layers.Average()([from_encoder, layers.Dense(10, activation="softmax")(pixels)])

    return _around_fine_tuned_encoder(two_phase, head)


@pytest.mark.parametrize(
    "change, phrase",
    [
        (_deeper_head, "does not end with one new Dense(10) head"),
        (_second_path, "does not compute head(encoder(pixels))"),
        (_untrained_top, "was not fine-tuned"),
        (_scrambled_top, "far from the pretrained weights"),
        (_retrained_lower_block, "`block_1` of the encoder is not what it was before training"),
        (lambda m: _with_weights(m, lambda w: (w[-2].fill(0.0), w[-1].fill(0.0))), "has not learned to classify"),
        (_no_softmax, "does not output probabilities"),
    ],
    ids=["deeper-head", "second-path", "top-reset", "top-scrambled", "lower-block-retrained", "head-zero", "no-softmax"],
)
def test_6_3_rejects_changed_copies_of_a_good_answer(two_phase, change, phrase):
    changed = change(two_phase["fine_tuned"])
    assert_fails("6.3", phrase, fine_tuned=changed, phase_1_weights=two_phase["phase_1_weights"],
                 phase_2_rate=two_phase["phase_2_rate"])


@pytest.mark.parametrize(
    "make, phrase",
    [
        (_fresh_encoder_two_phases, "does not hold the pretrained `block_1`"),
        (lambda: evidence(_classifier(given_pretrained()), None), "`phase_1_weights` is not a list"),
        (lambda: evidence(keras.Sequential([keras.Input(shape=(64,)), layers.Dense(10, activation="softmax")]), []),
         "does not contain the pretrained encoder"),
        (lambda: evidence(keras.Sequential([layers.Dense(10, activation="softmax")]), []), "never built"),
        (lambda: evidence(None, []), "None"),
    ],
    ids=["fresh-encoder", "no-snapshot", "no-encoder", "unbuilt", "none"],
)
def test_6_3_rejects_other_answers(make, phrase):
    assert_fails("6.3", phrase, **make())


def test_6_3_rejects_a_snapshot_that_is_not_the_model_s_weights(two_phase):
    assert_fails("6.3", "does not hold the weights of `fine_tuned`", fine_tuned=two_phase["fine_tuned"],
                 phase_1_weights=two_phase["phase_1_weights"][:6], phase_2_rate=two_phase["phase_2_rate"])


def test_6_3_a_model_never_compiled_has_no_rate(two_phase):
    assert learning_rate(_classifier(given_pretrained())) is None
    assert_fails("6.3", "never compiled", fine_tuned=two_phase["fine_tuned"],
                 phase_1_weights=two_phase["phase_1_weights"], phase_2_rate=None)


def test_6_3_placeholder_says_not_done():
    placeholder = not_done("6.3")
    assert_fails("6.3", "not done yet", fine_tuned=placeholder, phase_1_weights=placeholder,
                 phase_2_rate=learning_rate(placeholder))


# --- 6.4 an ensemble of the given models --------------------------------------------------------


def _reshaped(digits, shape, how="layer"):
    """The 64 pixels in the shape a member reads: a Reshape layer, or keras.ops.reshape."""
    if len(shape) == 1:
        return digits
    if how == "ops":
        return keras.ops.reshape(digits, (-1, *shape))
    if how == "transposed":
        return layers.Permute((2, 1) + tuple(range(3, len(shape) + 1)))(layers.Reshape(shape)(digits))
    return layers.Reshape(shape)(digits)


def ensemble(combine, members=None, input_fn=keras.Input, how="layer"):
    """One 64-pixel input, each member fed the digit in its own shape, ``combine`` of their outputs."""
    members = given_members() if members is None else members
    digits = input_fn(shape=(64,))
    shapes = [tuple(member.inputs[0].shape[1:]) for member in members]
    return keras.Model(digits, combine([member(_reshaped(digits, shape, how)) for member, shape in zip(members, shapes)]))


def _members_dense_layers_on_the_flat_input():
    """Flatten(Reshape(x)) is x: calling each member's Dense layer on the 64 pixels is the same ensemble."""
    digits = keras.Input(shape=(64,))
    outputs = [member.get_layer(f"scores_{k}")(digits) for k, member in enumerate(given_members(), start=1)]
    return keras.Model(digits, layers.Average()(outputs))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ensemble(layers.Average()),
        lambda: ensemble(layers.average, input_fn=keras.layers.Input, how="ops"),
        lambda: ensemble(lambda outs: keras.ops.mean(keras.ops.stack(outs, axis=0), axis=0)),
        lambda: ensemble(lambda outs: layers.Rescaling(1 / 3)(layers.Add()(outs))),
        lambda: ensemble(lambda outs: layers.Average()(outs[::-1])),
        _members_dense_layers_on_the_flat_input,
        lambda: ensemble(lambda outs: [layers.Average()(outs)]),
        lambda: ensemble(lambda outs: {"average": layers.Average()(outs)}),
    ],
    ids=["average-layer", "average-function-ops-reshape", "ops-mean", "add-then-scale", "reversed-order",
         "members-dense-layers", "list-output", "dict-output"],
)
def test_6_4_accepts(make):
    assert_passes("6.4", ensemble=make())


def test_6_4_members_read_three_shapes_so_the_lesson_s_code_does_not_fit():
    """Issue 15: 6.4 copied lesson 6 section 7 (members that all take the same input); they now read
    64 pixels, an 8x8 image and an 8x8x1 image, so the learner adapts one input to each."""
    members = given_members()
    assert [tuple(m.inputs[0].shape[1:]) for m in members] == [tuple(s) for s in MEMBER_INPUTS]
    digits = keras.Input(shape=(64,))
    with pytest.raises(ValueError):
        layers.Average()([member(digits) for member in members])


def _three_inputs():
    inputs = [keras.Input(shape=(64,)) for _ in range(3)]
    return keras.Model(inputs, layers.Average()([m(_reshaped(x, shape)) for m, x, shape
                                                  in zip(given_members(), inputs, MEMBER_INPUTS)]))


def _fresh_members():
    members = [keras.Sequential([keras.Input(shape=shape), layers.Flatten(), layers.Dense(10, activation="softmax")])
               for shape in MEMBER_INPUTS]
    return ensemble(layers.Average(), members=members)


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: ensemble(layers.Add()), "adds the members' outputs"),
        (lambda: ensemble(layers.Maximum()), "largest output"),
        (lambda: ensemble(lambda outs: layers.Average()(outs[:2])), "averages only member_1 and member_2"),
        (lambda: ensemble(lambda outs: outs[1]), "output of member_2 alone"),
        (lambda: ensemble(layers.Concatenate()), "side by side"),
        (lambda: ensemble(lambda outs: outs), "3 outputs"),
        (_three_inputs, "3 inputs"),
        (_fresh_members, "does not compute the average of the given members"),
        (lambda: ensemble(layers.Average(), how="transposed"), "does not compute the average of the given members"),
        (lambda: given_members(), "not a Keras model"),
        (lambda: keras.Sequential([keras.Input(shape=(32,)), layers.Dense(10)]), "wrong inputs"),
        (lambda: keras.Sequential([layers.Dense(10)]), "never built"),
        (lambda: None, "None"),
    ],
    ids=["add", "maximum", "two-members", "one-member", "concatenate", "list-outputs", "three-inputs", "fresh",
         "transposed-images", "list-of-members", "input-width", "unbuilt", "none"],
)
def test_6_4_rejects(make, phrase):
    assert_fails("6.4", phrase, ensemble=make())


def test_6_4_placeholder_says_not_done():
    assert_fails("6.4", "not done yet", ensemble=not_done("6.4"))


# --- 6.5 every intermediate output in one call -----------------------------------------------


def _layer_calls(input_fn=keras.Input):
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    image = input_fn(shape=(64,))
    hidden = encoder.get_layer("hidden")(image)
    code = encoder.get_layer("code")(hidden)
    return image, {"hidden": hidden, "code": code, "scores": reader.get_layer("scores")(code)}


def _inner_extractor():
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    inner = keras.Model(encoder.input, {"hidden": encoder.get_layer("hidden").output, "code": encoder.output})
    image = keras.Input(shape=(64,))
    parts = inner(image)
    return keras.Model(image, {**parts, "scores": reader.get_layer("scores")(parts["code"])})


def _from_encoder_input():
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    outputs = {
        "scores": reader.get_layer("scores")(encoder.output),
        "code": encoder.output,
        "hidden": encoder.get_layer("hidden").output,
    }
    return keras.Model(encoder.inputs, outputs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.Model(*_layer_calls()),
        lambda: keras.Model(*_layer_calls(keras.layers.Input)),
        _inner_extractor,
        _from_encoder_input,
    ],
    ids=["layer-calls", "layers-Input", "inner-extractor", "from-encoder-input"],
)
def test_6_5_accepts(make):
    assert_passes("6.5", inspector=unnested(make()))


def _with_outputs(change):
    image, outputs = _layer_calls()
    return keras.Model(image, change(outputs))


def _fresh_layers():
    image = keras.Input(shape=(64,))
    hidden = layers.Dense(32, activation="relu")(image)
    code = layers.Dense(16, activation="relu")(hidden)
    return keras.Model(image, {"hidden": hidden, "code": code, "scores": layers.Dense(10, activation="softmax")(code)})


def _no_relu_on_code():
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    image = keras.Input(shape=(64,))
    hidden = encoder.get_layer("hidden")(image)
    plain = layers.Dense(16)
    code = plain(hidden)
    plain.set_weights(encoder.get_layer("code").get_weights())
    return keras.Model(image, {"hidden": hidden, "code": code, "scores": reader.get_layer("scores")(code)})


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: _with_outputs(lambda o: [o["hidden"], o["code"], o["scores"]]), "a list of 3 outputs"),
        (lambda: _with_outputs(lambda o: o["scores"]), "one output array"),
        (lambda: _with_outputs(lambda o: {"hidden": o["hidden"], "scores": o["scores"]}), "missing ['code']"),
        (lambda: _with_outputs(lambda o: {**o, "encoder": o["code"]}), "not asked for ['encoder']"),
        (lambda: _with_outputs(lambda o: {"hidden": o["code"], "code": o["hidden"], "scores": o["scores"]}), "which is the width of `code`"),
        (_fresh_layers, "not what the layer `hidden` of `reader` computes"),
        (_no_relu_on_code, "not what the layer `code` of `reader` computes"),
        (given_reader, "one output array"),
        (lambda: keras.Sequential([layers.Dense(10)]), "never built"),
        (lambda: None, "None"),
    ],
    ids=["list", "single", "missing-key", "extra-key", "swapped", "fresh-layers", "no-relu", "reader-itself", "unbuilt",
         "none"],
)
def test_6_5_rejects(make, phrase):
    assert_fails("6.5", phrase, inspector=unnested(make()))


def test_6_5_placeholder_says_not_done():
    assert_fails("6.5", "not done yet", inspector=unnested(not_done("6.5")))


def _scores_from_the_reader_itself():
    """Issue 15: right, but refused as "uses a Lambda layer": `hidden` and `code` are called directly and,
    through `reader` -> `encoder`, once more; Keras 3.15 saves that model but cannot load it back."""
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    image = keras.Input(shape=(64,))
    hidden = encoder.get_layer("hidden")(image)
    code = encoder.get_layer("code")(hidden)
    return keras.Model(image, {"hidden": hidden, "code": code, "scores": reader(image)})


def _encoder_called_and_its_layer():
    reader = given_reader()
    encoder = reader.get_layer("encoder")
    image = keras.Input(shape=(64,))
    code = encoder(image)
    return keras.Model(image, {"hidden": encoder.get_layer("hidden")(image), "code": code,
                               "scores": reader.get_layer("scores")(code)})


@pytest.mark.parametrize("make", [_scores_from_the_reader_itself, _encoder_called_and_its_layer],
                         ids=["scores-from-reader", "encoder-and-its-hidden-layer"])
def test_6_5_accepts_the_reader_s_own_nested_models_next_to_their_layers(make):
    assert_passes("6.5", inspector=unnested(make()))


def test_6_5_without_the_check_cell_s_unnested_the_message_names_what_failed_not_a_lambda():
    """What an unloadable model is told: the error Keras gave, never a Lambda layer it does not have."""
    failure = assert_fails("6.5", "cannot be loaded back", inspector=_scores_from_the_reader_itself())
    assert "Lambda" not in failure.mistake.problem and "Lambda" not in (failure.mistake.found or "").split("(")[0]
    assert "is not connected to `inputs`" in failure.message()


def test_6_5_check_cell_hands_in_the_unnested_model():
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / "06_solutions_shared_layers.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("exercise") == "6.5"
                and "check" in c.metadata.get("tags", []))
    assert cell.source.strip() == 'check("6.5", inspector=unnested(inspector))'
