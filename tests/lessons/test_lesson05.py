"""Lesson 5 checks: correct answers written differently pass; typical mistakes are named.

Every verdict goes through the grader's round trip (models saved and reloaded in safe
mode with compile=False, dicts of arrays, NumPy scalars), as in a check cell.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools.data import load_digits_split
from coursetools.lessons.lesson05 import (
    digit_geometry,
    digit_width,
    given_halves,
    given_two_way,
    given_width_loop,
    width_loop_probe,
)
from coursetools.placeholders import not_done

WRONG_KINDS = [
    (lambda: None, "None"),
    (lambda: layers.Dense(3), "a single layer is not a model"),
    (lambda: keras.Model, "the class Model itself"),
    (lambda: keras.Input(shape=(64,)), "symbolic KerasTensor"),
]
WRONG_KIND_IDS = ["none", "layer", "class", "keras-tensor"]


class Subclassed(keras.Model):
    """Two inputs and two outputs written by subclassing: the grader cannot rebuild it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.see = layers.Dense(8, activation="relu")
        self.digit = layers.Dense(10, activation="softmax")
        self.ink = layers.Dense(1)

    def call(self, inputs):
        seen = self.see(inputs["pixels"])
        merged = keras.ops.concatenate([seen, inputs["geometry"]], axis=-1)
        return {"digit": self.digit(merged), "ink": self.ink(seen)}


# --- the given models and data ------------------------------------------------------------


def test_given_models_are_the_same_every_time():
    for make in (given_two_way, given_width_loop, given_halves):
        a, b = make(), make()
        assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_given_models_have_the_names_the_notebooks_use():
    two_way = given_two_way()
    # Issue 15: 5.2 copied lesson 5 cell 24 (image (8, 8), geometry -> digit, ink); the given model
    # now takes the digits flat and answers "odd?", so the data must be reshaped and a target derived.
    assert [(t.name, tuple(t.shape)) for t in two_way.inputs] == [("pixels", (None, 64)), ("geometry", (None, 3))]
    assert sorted(two_way.output_names) == ["digit", "odd"]
    width_loop = given_width_loop()
    assert width_loop.output_names == ["loop", "width"]  # sorted, whatever order they were written in
    assert [t.name for t in given_halves().inputs] == ["top", "bottom"]


def test_halves_reads_digits_only_when_each_half_goes_to_its_input():
    _, (x_test, y_test) = load_digits_split()
    halves = given_halves()
    right = halves.predict([x_test[:, :32], x_test[:, 32:]], verbose=0).argmax(axis=1)
    swapped = halves.predict([x_test[:, 32:], x_test[:, :32]], verbose=0).argmax(axis=1)
    assert np.mean(right == y_test) > 0.9 and np.mean(swapped == y_test) < 0.3


def test_probe_targets():
    x, y = width_loop_probe()
    assert x.shape == (96, 64) and len(x) % 32 == 0
    assert set(y) == {"width", "loop"} and y["width"].shape == y["loop"].shape == (96, 1)
    assert set(np.unique(y["loop"])) == {0.0, 1.0}
    assert np.array_equal(digit_width(x.reshape(-1, 8, 8)), digit_width(x))


def test_geometry_is_symmetric_for_a_symmetric_image():
    image = np.zeros((1, 8, 8), "float32")
    image[0, 2:6, 2:6] = 1.0
    top_share, left_right, top_bottom = digit_geometry(image)[0]
    assert (top_share, left_right, top_bottom) == (0.5, 1.0, 1.0)


# --- 5.1 two inputs, two outputs -----------------------------------------------------------


def two_way_model(*, outputs="dict", merge="concat", ink_from="branch", ink_activation=None,
                  digit_activation="softmax", names=("pixels", "geometry"), geometry_width=3,
                  use_geometry=True, input_fn=keras.Input, inputs_as_dict=False, layer_names=("digit", "ink")):
    keras.utils.set_random_seed(5)
    pixels = input_fn(shape=(64,), name=names[0])
    geometry = input_fn(shape=(geometry_width,), name=names[1])
    seen = layers.Dense(16, activation="relu")(pixels)
    if not use_geometry:
        joined = seen
    elif merge == "concat":
        joined = layers.Concatenate()([seen, geometry])
    elif merge == "concatenate-function":
        joined = layers.concatenate([geometry, seen])
    else:
        joined = layers.add([seen, layers.Dense(16)(geometry)])
    hidden = layers.Dense(16, activation="relu")(joined)
    if digit_activation == "separate":
        digit = layers.Activation("softmax", name=layer_names[0])(layers.Dense(10)(hidden))
    else:
        digit = layers.Dense(10, activation=digit_activation, name=layer_names[0])(hidden)
    ink_source = {"branch": seen, "input": pixels, "merged": hidden}[ink_from]
    ink = layers.Dense(1, activation=ink_activation, name=layer_names[1])(ink_source)
    ins = {names[0]: pixels, names[1]: geometry} if inputs_as_dict else [pixels, geometry]
    outs = {"dict": {"digit": digit, "ink": ink}, "list": [digit, ink], "digit-only": digit,
            "three": {"digit": digit, "ink": ink, "extra": layers.Dense(1)(hidden)}}[outputs]
    return keras.Model(ins, outs)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"outputs": "list"},
        {"merge": "concatenate-function", "input_fn": keras.layers.Input, "inputs_as_dict": True},
        {"merge": "add"},
        {"ink_from": "input"},
        {"digit_activation": "separate"},
        {"layer_names": ("classes", "amount")},
        {"ink_activation": "linear"},
    ],
    ids=["solution", "list-outputs", "function-merge-dict-inputs", "add-merge", "ink-from-input",
         "separate-softmax", "keys-not-layer-names", "explicit-linear"],
)
def test_5_1_accepts(options):
    assert_passes("5.1", two_way=two_way_model(**options))


def _one_input():
    pixels = keras.Input(shape=(64,), name="pixels")
    seen = layers.Dense(16, activation="relu")(pixels)
    return keras.Model(pixels, {"digit": layers.Dense(10, activation="softmax")(seen), "ink": layers.Dense(1)(seen)})


@pytest.mark.parametrize(
    "make, phrase",
    [
        (_one_input, "1 input(s)"),
        (lambda: two_way_model(names=("image", "geometry")), "no 'pixels'"),
        (lambda: two_way_model(geometry_width=4), "`geometry` has the wrong shape"),
        (lambda: two_way_model(use_geometry=False), "ignores `geometry`"),
        (lambda: two_way_model(ink_from="merged"), "depends on `geometry`"),
        (lambda: two_way_model(ink_activation="relu"), "has an activation"),
        (lambda: two_way_model(digit_activation=None), "not a set of probabilities"),
        (lambda: two_way_model(outputs="digit-only"), "1 output(s)"),
        (lambda: two_way_model(outputs="three"), "3 output(s)"),
        (lambda: two_way_model(outputs="list", layer_names=("classes", "amount")), "output names"),
        (lambda: (m := Subclassed(), m({"pixels": np.zeros((1, 64)), "geometry": np.zeros((1, 3))}))[0],
         "not built with the functional API"),
    ] + WRONG_KINDS,
    ids=["one-input", "input-names", "geometry-shape", "geometry-unused", "ink-after-merge", "ink-relu",
         "no-softmax", "one-output", "three-outputs", "unnamed-list-outputs", "subclassed"] + WRONG_KIND_IDS,
)
def test_5_1_rejects(make, phrase):
    assert_fails("5.1", phrase, two_way=make())


def _swapped_keys(as_list=False):
    model = two_way_model()
    outputs = model.output
    if as_list:  # layers named after the other head
        return two_way_model(outputs="list", layer_names=("ink", "digit"))
    return keras.Model(model.inputs, {"digit": outputs["ink"], "ink": outputs["digit"]})


@pytest.mark.parametrize("as_list", [False, True], ids=["dict-keys", "layer-names"])
def test_5_1_swapped_outputs_are_told_they_are_swapped(as_list):
    """Issue 15: swapped output keys were told "wrong shape"."""
    failure = assert_fails("5.1", "the outputs `digit` and `ink` are swapped", two_way=_swapped_keys(as_list))
    assert "wrong shape" not in failure.message()


def test_5_1_placeholder_says_not_done():
    assert_fails("5.1", "not done yet", two_way=not_done("5.1"))


# --- 5.2 data dicts ------------------------------------------------------------------------


def fit_data(*, images="flat", split="train", odd="mod", odd_column=False, one_hot=False):
    (x_train, y_train), (x_test, y_test) = load_digits_split(flat=False)
    pictures, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    pixels = {"flat": pictures.reshape(len(pictures), 64), "images": pictures,
              "transposed": pictures.transpose(0, 2, 1).reshape(len(pictures), 64)}[images]
    target = {"mod": labels % 2, "even": 1 - labels % 2, "labels": labels, "bool": labels % 2 == 1}[odd]
    if odd_column:
        target = target.reshape(-1, 1)
    x = {"pixels": pixels, "geometry": digit_geometry(pictures)}
    y = {"digit": np.eye(10)[labels] if one_hot else labels, "odd": target}
    return x, y


def _flat_split_reshaped_elsewhere():
    (x_train, y_train), _ = load_digits_split()  # loaded flat this time
    return {"geometry": digit_geometry(x_train), "pixels": x_train}, {"odd": (y_train % 2).astype("float32"),
                                                                      "digit": y_train.astype("float32")}


@pytest.mark.parametrize(
    "make",
    [fit_data, lambda: fit_data(odd_column=True), lambda: fit_data(odd="bool"), _flat_split_reshaped_elsewhere],
    ids=["solution", "odd-column", "odd-as-booleans", "flat-load-float-targets-other-key-order"],
)
def test_5_2_accepts(make):
    x, y = make()
    assert_passes("5.2", x_data=x, y_data=y)


def test_5_2_data_really_fits_the_given_model():
    x, y = fit_data()
    model = given_two_way()
    model.compile(optimizer="adam", loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"})
    history = model.fit({k: v[:64] for k, v in x.items()}, {k: v[:64] for k, v in y.items()}, epochs=1, verbose=0)
    assert {"digit_loss", "odd_loss"} <= set(history.history)


def test_5_2_the_images_as_loaded_do_not_fit_the_given_model():
    """The point of the variation: the data are loaded as 8x8 images, the model takes them flat."""
    x, y = fit_data(images="images")
    model = given_two_way()
    model.compile(optimizer="adam", loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"})
    with pytest.raises(ValueError):
        model.fit({k: v[:64] for k, v in x.items()}, {k: v[:64] for k, v in y.items()}, epochs=1, verbose=0)


def _renamed(which, old, new, **options):
    x, y = fit_data(**options)
    data = x if which == "x" else y
    data[new] = data.pop(old)
    return x, y


def _with_extra_key():
    x, y = fit_data()
    x["digit"] = y["digit"]
    return x, y


def _shuffled_labels():
    x, y = fit_data()
    y["digit"] = np.roll(y["digit"], 1)
    return x, y


def _as_lists():
    x, y = fit_data()
    return [x["pixels"], x["geometry"]], y


def _test_geometry():
    x, y = fit_data()
    x["geometry"] = fit_data(split="test")[0]["geometry"]
    return x, y


@pytest.mark.parametrize(
    "make, phrase",
    [
        (_as_lists, "`x_data` is a list, not a dict"),
        (lambda: _renamed("x", "pixels", "image"), "no entry 'pixels'"),
        (lambda: _renamed("y", "odd", "ink"), "is 'ink' meant to be 'odd'"),
        (lambda: _renamed("y", "digit", "label"), "is 'label' meant to be 'digit'"),
        (_with_extra_key, "key the model does not have: 'digit'"),
        (lambda: fit_data(images="images"), "holds 8x8 images, but the input `pixels` takes 64 numbers"),
        (lambda: fit_data(images="transposed"), "training images, in order"),
        (lambda: fit_data(split="test"), "(the test split)"),
        (_test_geometry, "(the test split)"),
        (lambda: fit_data(odd="even"), "1 for the even digits"),
        (lambda: fit_data(odd="labels"), "the labels 0-9 themselves"),
        (lambda: fit_data(one_hot=True), "one-hot"),
        (_shuffled_labels, "training labels, in order"),
        (lambda: (None, fit_data()[1]), "`x_data` is not a dict"),
    ],
    ids=["lists", "input-name", "lesson-output-name", "output-name", "extra-key", "images-not-flat", "transposed",
         "test-split", "test-geometry", "even", "labels-for-odd", "one-hot", "shuffled-labels", "none"],
)
def test_5_2_rejects(make, phrase):
    x, y = make()
    assert_fails("5.2", phrase, x_data=x, y_data=y)


def test_5_2_placeholder_says_not_done():
    assert_fails("5.2", "not done yet", x_data=not_done("5.2"), y_data=not_done("5.2"))


def test_5_2_an_entry_that_is_not_numbers_gets_this_exercise_s_hint():
    x, y = fit_data()
    x["geometry"] = None
    failure = assert_fails("5.2", "from the training arrays", x_data=x, y_data=y)
    assert "np.maximum" not in failure.message()


# --- 5.3 and 5.4: compile, evaluate on the probe --------------------------------------------

RIGHT = {"width": "mse", "loop": "binary_crossentropy"}


def evaluated(loss, *, loss_weights=None, model=None, data=None, train=False, return_dict=True):
    model = model or given_width_loop()
    model.compile(optimizer="adam", loss=loss, loss_weights=loss_weights)
    x, y = data or width_loop_probe()
    if train:
        model.fit(x, y, epochs=1, verbose=0)
    return model, model.evaluate(x, y, return_dict=return_dict, verbose=0)


@pytest.mark.parametrize(
    "loss, options",
    [
        (RIGHT, {}),
        (["binary_crossentropy", "mse"], {}),  # a list in sorted-name order is right, if fragile
        ({"width": keras.losses.MeanSquaredError(), "loop": keras.losses.BinaryCrossentropy()}, {}),
        (RIGHT, {"loss_weights": {"width": 0.1, "loop": 1.0}}),
        (RIGHT, {"train": True}),
    ],
    ids=["dict", "sorted-list", "loss-objects", "with-weights", "trained-first"],
)
def test_5_3_accepts(loss, options):
    model, scores = evaluated(loss, **options)
    assert_passes("5.3", model=model, scores=scores)


def test_5_3_accepts_numpy_scalars_in_scores():
    model, scores = evaluated(RIGHT)
    assert_passes("5.3", model=model, scores={k: np.float32(v) for k, v in scores.items()})


def _other_data():
    _, (x_test, y_test) = load_digits_split()
    x = x_test[96:192]
    return x, {"width": digit_width(x), "loop": np.isin(y_test[96:192], (0, 6, 8, 9)).astype("float32")[:, None]}


def _scores_of_another_model():
    model, _ = evaluated(RIGHT)
    _, scores = evaluated(RIGHT, train=True)
    return model, scores


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: evaluated(["mse", "binary_crossentropy"]), "the two losses are swapped"),
        (lambda: evaluated("mse"), "`loop` is trained with the wrong loss"),
        (lambda: evaluated({"width": "mae", "loop": "binary_crossentropy"}), "mean absolute error"),
        (lambda: evaluated({"width": "mse"}), "only one output has a loss"),
        (lambda: evaluated(RIGHT, return_dict=False), "list of numbers"),
        (lambda: evaluated(RIGHT, data=_other_data()), "does not match what the model predicts"),
        (_scores_of_another_model, "does not match what the model predicts"),
        (lambda: (given_width_loop(), 0.7), "not what evaluate(..., return_dict=True) returns"),
        (lambda: (given_two_way(), evaluated(RIGHT)[1]), "fails when it is fed"),
    ],
    ids=["written-order-list", "one-loss-for-both", "mae", "loss-for-one-output", "no-return-dict",
         "other-data", "other-model", "a-number", "wrong-model"],
)
def test_5_3_rejects(make, phrase):
    model, scores = make()
    assert_fails("5.3", phrase, model=model, scores=scores)


@pytest.mark.parametrize(
    "loss, phrase",
    [
        ({"width": "huber", "loop": "binary_crossentropy"}, "`width` is trained with the wrong loss: huber"),
        ({"width": "mean_squared_logarithmic_error", "loop": "binary_crossentropy"}, "mean squared logarithmic error"),
        ({"width": "log_cosh", "loop": "binary_crossentropy"}, "log cosh"),
        ({"width": "mape", "loop": "binary_crossentropy"}, "mean absolute percentage error"),
        ({"width": "poisson", "loop": "binary_crossentropy"}, "poisson"),
        ({"width": "mse", "loop": "binary_focal_crossentropy"}, "binary focal crossentropy"),
        ({"width": "mse", "loop": "hinge"}, "`loop` is trained with the wrong loss: hinge"),
        ({"width": "mse", "loop": "categorical_crossentropy"}, "categorical crossentropy"),
        ({"width": "mse", "loop": "mse"}, "`loop` is trained with the wrong loss: mean squared error"),
    ],
    ids=["huber", "msle", "log-cosh", "mape", "poisson", "focal", "hinge", "categorical", "mse-for-loop"],
)
@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy")  # Keras's own warning, at compile
def test_5_3_a_wrong_loss_is_named(loss, phrase):
    """Issue 15: a wrong loss was told "`scores` does not match what the model predicts"."""
    model, scores = evaluated(loss)
    failure = assert_fails("5.3", phrase, model=model, scores=scores)
    assert "does not match" not in failure.message()


def test_5_3_rejects_a_layer_for_the_model():
    _, scores = evaluated(RIGHT)
    assert_fails("5.3", "a single layer is not a model", model=layers.Dense(1), scores=scores)


def test_5_3_placeholder_says_not_done():
    assert_fails("5.3", "not done yet", model=given_width_loop(), scores=not_done("5.3"))


def balanced_weights():
    _, scores = evaluated(RIGHT)
    return {"width": scores["loop_loss"] / scores["width_loss"], "loop": 1.0}


@pytest.fixture(scope="module")
def weights():
    return balanced_weights()


def test_5_4_accepts_the_balancing_weights(weights):
    model, scores = evaluated(RIGHT, loss_weights=weights)
    assert_passes("5.4", model=model, weights=weights, scores=scores)


def test_5_4_accepts_rounded_weights_and_numpy_numbers(weights):
    rounded = {"width": round(weights["width"], 3), "loop": 1}
    model, scores = evaluated(RIGHT, loss_weights=rounded)
    handed_in = {"width": np.float64(rounded["width"]), "loop": np.int64(1)}
    assert_passes("5.4", model=model, weights=handed_in, scores={k: np.float32(v) for k, v in scores.items()})


def test_5_4_accepts_sorted_list_of_weights(weights):
    model, scores = evaluated(RIGHT, loss_weights=[weights["loop"], weights["width"]])
    assert_passes("5.4", model=model, weights=weights, scores=scores)


@pytest.mark.parametrize(
    "compile_weights, handed_in, phrase",
    [
        ("none", "balanced", "the weights were not used"),
        ("written-list", "balanced", "each weight multiplies the other output's loss"),
        ("double", "double", "the weight of `loop` is not 1"),
        ("tenfold", "tenfold", "10 times the loop loss"),
        ("balanced", "list", "`weights` is a list, not a dict"),
        ("balanced", "missing", "no entry 'loop'"),
    ],
    ids=["not-used", "written-order-list", "loop-weight-2", "unbalanced", "list", "missing-key"],
)
def test_5_4_rejects(weights, compile_weights, handed_in, phrase):
    choices = {
        "none": None,
        "balanced": weights,
        "written-list": [weights["width"], weights["loop"]],
        "double": {"width": 2 * weights["width"], "loop": 2.0},
        "tenfold": {"width": 10 * weights["width"], "loop": 1.0},
        "list": [weights["width"], weights["loop"]],
        "missing": {"width": weights["width"]},
    }
    model, scores = evaluated(RIGHT, loss_weights=choices[compile_weights])
    assert_fails("5.4", phrase, model=model, weights=choices[handed_in], scores=scores)


def test_5_4_needs_the_right_losses_first(weights):
    model, scores = evaluated(["mse", "binary_crossentropy"], loss_weights=weights)
    assert_fails("5.4", "the two losses are swapped", model=model, weights=weights, scores=scores)


def test_5_4_placeholder_says_not_done():
    assert_fails("5.4", "not done yet", model=given_width_loop(), weights=not_done("5.4"), scores=not_done("5.4"))


# --- 5.5 swapped inputs ------------------------------------------------------------------------


def reader_model(call="list", *, input_fn=keras.Input, slices="normal", outputs="one"):
    halves = given_halves()
    pixels = input_fn(shape=(64,), name="pixels")
    top, bottom = pixels[:, :32], pixels[:, 32:]
    if slices == "renamed":  # a different spelling of the same fix
        bottom, top = pixels[:, 32:], pixels[:, :32]
    probabilities = {
        "list": lambda: halves([top, bottom]),
        "dict": lambda: halves({"top": top, "bottom": bottom}),
        "swapped": lambda: halves([bottom, top]),
    }[call]()
    return keras.Model(pixels, probabilities if outputs == "one" else [probabilities, probabilities])


def _retrained_layers():
    keras.utils.set_random_seed(5)
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, layers.Dense(10, activation="softmax")(pixels))


def _two_inputs():
    halves = given_halves()
    top, bottom = keras.Input(shape=(32,), name="top"), keras.Input(shape=(32,), name="bottom")
    return keras.Model([top, bottom], halves([top, bottom]))


@pytest.mark.parametrize(
    "make",
    [
        reader_model,
        lambda: reader_model("dict"),
        lambda: reader_model(input_fn=keras.layers.Input, slices="renamed"),
    ],
    ids=["list-in-order", "dict-by-name", "layers-Input"],
)
def test_5_5_accepts(make):
    assert_passes("5.5", reader=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: reader_model("swapped"), "still swapped"),
        (_retrained_layers, "read correctly"),
        (_two_inputs, "64 pixels as its one input"),
        (lambda: reader_model(outputs="two"), "several outputs"),
        (given_halves, "64 pixels as its one input"),
    ] + WRONG_KINDS,
    ids=["swapped", "new-layers", "two-inputs", "two-outputs", "halves-itself"] + WRONG_KIND_IDS,
)
def test_5_5_rejects(make, phrase):
    assert_fails("5.5", phrase, reader=make())


def test_5_5_placeholder_says_not_done():
    assert_fails("5.5", "not done yet", reader=not_done("5.5"))
