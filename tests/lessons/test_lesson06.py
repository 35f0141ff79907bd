"""Lesson 6 checks: correct answers written differently pass; typical mistakes are named.

Every verdict goes through the grader's export round trip (check_helpers), so what
passes here passes in the learner's notebook and in ``grade`` alike.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools.data import load_digits_split
from coursetools.lessons.lesson06 import digit_pairs, given_members, given_pretrained, given_reader, given_twin_scorer
from coursetools.placeholders import not_done

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
    outputs = [m.predict(x_test, verbose=0) for m in given_members()]
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
    [64 * 16 + 16 + 32 * 8 + 8 + 8 + 1, 1313.0, np.int64(1313), np.float32(1313.0)],
    ids=["int", "float", "numpy-int", "numpy-float"],
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
        ("1313", "without quotes"),
        (True, "not a number"),
        (None, "None"),
        ([1313], "not a number"),
    ],
    ids=["shared-twice", "no-biases", "twice-no-biases", "concat-width", "wrong", "fraction", "string", "bool", "none", "list"],
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


# --- 6.3 fine-tune the top of a reused encoder ------------------------------------------------


def _data():
    (x_train, y_train), _ = load_digits_split()
    return x_train, y_train


def _compile_fit(model, learning_rate, epochs):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="sparse_categorical_crossentropy")
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


def _phase_one(seed, epochs):
    """Phase 1 (the encoder frozen, the head trained), then the top block unfrozen: not yet compiled again."""
    keras.utils.set_random_seed(seed)
    encoder = given_pretrained()
    encoder.trainable = False
    model = _classifier(encoder)
    _compile_fit(model, 0.01, epochs)
    _freeze_all_but_top(encoder)
    return model


@pytest.fixture(scope="module")
def two_phase():
    """The lesson's recipe: head first with the encoder frozen, then the top block with a low rate."""
    model = _phase_one(seed=1, epochs=6)
    _compile_fit(model, 1e-3, 2)
    return model


def _one_phase_unnested():
    keras.utils.set_random_seed(2)
    encoder = given_pretrained()
    for layer in encoder.layers[1:3]:
        layer.trainable = False
    model = _classifier(encoder, nested=False)
    _compile_fit(model, 3e-3, 4)
    return model


def test_6_3_accepts_two_phases(two_phase):
    assert_passes("6.3", fine_tuned=two_phase)


def test_6_3_accepts_one_phase_with_the_layers_called_directly():
    assert_passes("6.3", fine_tuned=_one_phase_unnested())


def _nothing_frozen():
    keras.utils.set_random_seed(3)
    model = _classifier(given_pretrained())
    _compile_fit(model, 1e-3, 1)
    return model


def _frozen_after_fit_without_compile():
    """The trap: phase 2's freezing happens after a fit, and compile is not called again."""
    keras.utils.set_random_seed(4)
    encoder = given_pretrained()
    model = _classifier(encoder)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit(x[:64], y[:64], epochs=1, batch_size=64, verbose=0)
    _freeze_all_but_top(encoder)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    return model


def _unfrozen_without_compile():
    model = _phase_one(seed=5, epochs=3)
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    return model


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


def _untrained_top(two_phase):
    start = given_pretrained().get_layer("block_3").get_weights()
    return _with_weights(two_phase, lambda w: w.__setitem__(slice(4, 6), start))


def _scrambled_top(two_phase):
    rng = np.random.default_rng(0)
    return _with_weights(two_phase, lambda w: w.__setitem__(4, rng.normal(0, 0.3, w[4].shape).astype("float32")))


def _no_softmax(two_phase):
    model = _classifier(given_pretrained(), activation=None)
    model.set_weights(two_phase.get_weights())
    return model


@pytest.mark.parametrize(
    "make, phrase",
    [
        (_nothing_frozen, "`block_1` of the encoder is not what it was before training"),
        (_frozen_after_fit_without_compile, "not what it was before training"),
        (_unfrozen_without_compile, "`block_3`, the top layer of the encoder, was not fine-tuned"),
        (lambda: _classifier(given_pretrained()), "was not fine-tuned"),
        (lambda: _classifier(_fresh_encoder()), "does not hold the pretrained weights"),
        (lambda: keras.Sequential([keras.Input(shape=(64,)), layers.Dense(10, activation="softmax")]), "does not contain the pretrained encoder"),
        (lambda: keras.Sequential([layers.Dense(10, activation="softmax")]), "never built"),
        (lambda: None, "None"),
    ],
    ids=["nothing-frozen", "frozen-after-fit", "unfrozen-without-compile", "not-trained", "fresh-encoder", "no-encoder",
         "unbuilt", "none"],
)
def test_6_3_rejects(make, phrase):
    assert_fails("6.3", phrase, fine_tuned=make())


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
        (lambda m: _with_weights(m, lambda w: (w[-2].fill(0.0), w[-1].fill(0.0))), "has not learned to classify"),
        (_no_softmax, "does not output probabilities"),
    ],
    ids=["deeper-head", "second-path", "top-reset", "top-scrambled", "head-zero", "no-softmax"],
)
def test_6_3_rejects_changed_copies_of_a_good_answer(two_phase, change, phrase):
    assert_fails("6.3", phrase, fine_tuned=change(two_phase))


def test_6_3_placeholder_says_not_done():
    assert_fails("6.3", "not done yet", fine_tuned=not_done("6.3"))


# --- 6.4 an ensemble of the given models --------------------------------------------------------


def ensemble(combine, members=None, input_fn=keras.Input):
    members = given_members() if members is None else members
    digits = input_fn(shape=(64,))
    return keras.Model(digits, combine([member(digits) for member in members]))


def _members_layers_called_directly():
    digits = keras.Input(shape=(64,))
    outputs = [member.layers[0](digits) for member in given_members()]
    return keras.Model(digits, layers.Average()(outputs))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ensemble(layers.Average()),
        lambda: ensemble(layers.average, input_fn=keras.layers.Input),
        lambda: ensemble(lambda outs: keras.ops.mean(keras.ops.stack(outs, axis=0), axis=0)),
        lambda: ensemble(lambda outs: layers.Rescaling(1 / 3)(layers.Add()(outs))),
        lambda: ensemble(lambda outs: layers.Average()(outs[::-1])),
        _members_layers_called_directly,
        lambda: ensemble(lambda outs: [layers.Average()(outs)]),
        lambda: ensemble(lambda outs: {"average": layers.Average()(outs)}),
    ],
    ids=["average-layer", "average-function", "ops-mean", "add-then-scale", "reversed-order", "members-layers",
         "list-output", "dict-output"],
)
def test_6_4_accepts(make):
    assert_passes("6.4", ensemble=make())


def _three_inputs():
    inputs = [keras.Input(shape=(64,)) for _ in range(3)]
    return keras.Model(inputs, layers.Average()([m(x) for m, x in zip(given_members(), inputs)]))


def _fresh_members():
    members = [keras.Sequential([keras.Input(shape=(64,)), layers.Dense(10, activation="softmax")]) for _ in range(3)]
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
        (lambda: given_members(), "not a Keras model"),
        (lambda: keras.Sequential([keras.Input(shape=(32,)), layers.Dense(10)]), "wrong inputs"),
        (lambda: keras.Sequential([layers.Dense(10)]), "never built"),
        (lambda: None, "None"),
    ],
    ids=["add", "maximum", "two-members", "one-member", "concatenate", "list-outputs", "three-inputs", "fresh",
         "list-of-members", "input-width", "unbuilt", "none"],
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
    assert_passes("6.5", inspector=make())


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
    assert_fails("6.5", phrase, inspector=make())


def test_6_5_placeholder_says_not_done():
    assert_fails("6.5", "not done yet", inspector=not_done("6.5"))
