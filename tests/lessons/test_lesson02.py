"""Lesson 2 checks: correct models built any way pass; typical mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes, round_trip
from coursetools.data import load_digits_split
from coursetools.placeholders import not_done


def seq(*stack, shape=(64,)):
    """A Sequential model that starts with keras.Input(shape)."""
    return keras.Sequential([keras.Input(shape=shape), *stack])


def dense(units, activation=None, **kwargs):
    return layers.Dense(units, activation=activation, **kwargs)


def functional(shape, *stack):
    inputs = keras.Input(shape=shape)
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x)


def built(model, batch_shape):
    model.build(batch_shape)
    return model


def with_add(shape, *stack):
    model = keras.Sequential()
    model.add(keras.Input(shape=shape))
    for layer in stack:
        model.add(layer)
    return model


def old_style_stack():
    """The input_shape= style still builds a correct model (it only warns)."""
    with pytest.warns(UserWarning, match="input_shape"):
        return keras.Sequential([dense(48, "relu", input_shape=(64,)), dense(24, "relu"), dense(10, "softmax")])


def called_on_data(model, x):
    model(x)
    return model


def field(failure, label):
    """One line of a feedback card ("expected", "found" or "hint"), read from the message."""
    for line in failure.message().splitlines():
        if line.strip().startswith(label + ":"):
            return line.strip()[len(label) + 1:].strip()
    return ""


# Wrong kinds of answer shared by every model exercise: (value, phrase in the message).
WRONG_TYPES = [
    (lambda: None, "None"),
    (lambda: (lambda: seq(dense(10))), "a function"),
    (lambda: keras.Sequential, "the class Sequential"),
    (lambda: keras.Input(shape=(64,)), "symbolic"),
    (lambda: dense(10, "softmax"), "a single layer is not a model"),
]
WRONG_TYPE_IDS = ["none", "function", "class", "symbolic-tensor", "layer"]


# --- 2.1 build a given stack: 64 → 48 relu → 24 relu → 10 softmax ---------------------------

@pytest.mark.parametrize(
    "make",
    [
        lambda: seq(dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")),
        lambda: with_add((64,), dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")),
        lambda: built(keras.Sequential([dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")]), (None, 64)),
        lambda: seq(dense(48), layers.ReLU(), dense(24), layers.Activation("relu"), dense(10), layers.Softmax()),
        lambda: functional((64,), dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")),
        lambda: seq(keras.Sequential([dense(48, "relu"), dense(24, "relu")]), dense(10, "softmax")),
        lambda: seq(dense(48, keras.activations.relu, name="a"), dense(24, "relu", name="b"), dense(10, "softmax", name="c")),
        lambda: called_on_data(keras.Sequential([dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")]), np.zeros((2, 64))),
        old_style_stack,
    ],
    ids=["list", "add", "build", "separate-activations", "functional", "nested", "names", "called", "input_shape-style"],
)
def test_2_1_accepts(make):
    line = assert_passes("2.1", model=make())
    assert "4,546 parameters" in line


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: keras.Sequential([dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")]), "no weights yet"),
        (lambda: seq(dense(48, "relu"), dense(24, "relu"), dense(10, "softmax"), shape=(8, 8)), "wrong input"),
        (lambda: seq(dense(48, "relu"), layers.Dropout(0.2), dense(24, "relu"), dense(10, "softmax")), "Dropout"),
        (lambda: seq(dense(48, "relu"), dense(10, "softmax")), "2 Dense layer(s), not 3"),
        (lambda: seq(dense(24, "relu"), dense(48, "relu"), dense(10, "softmax")), "wrong order"),
        (lambda: seq(dense(48, "relu"), dense(32, "relu"), dense(10, "softmax")), "wrong number of units"),
        (lambda: seq(dense(48), dense(24, "relu"), dense(10, "softmax")), "no activation (linear)"),
        (lambda: seq(dense(48, "relu"), dense(24, "relu"), dense(10, "relu")), "output layer has the wrong activation"),
        (lambda: seq(dense(48, "relu"), dense(24, "relu"), dense(10)), "softmax (so each row is 10 probabilities)"),
        (lambda: seq(dense(48, "relu", use_bias=False), dense(24, "relu"), dense(10, "softmax")), "wrong number of parameters"),
        *WRONG_TYPES,
    ],
    ids=["unbuilt", "image-input", "extra-dropout", "missing-layer", "order", "units", "hidden-linear", "output-relu",
         "output-logits", "no-bias", *WRONG_TYPE_IDS],
)
def test_2_1_rejects(make, phrase):
    assert_fails("2.1", phrase, model=make())


def test_2_1_wrong_order_reports_both_parameter_counts():
    failure = assert_fails("2.1", "wrong order", model=seq(dense(24, "relu"), dense(48, "relu"), dense(10, "softmax")))
    assert "4,546" in field(failure, "expected") and "3,250" in field(failure, "found")  # 64·24+24 + 24·48+48 + 48·10+10


def test_2_1_placeholder_says_not_done():
    assert_fails("2.1", "not done yet", model=not_done("2.1"))


# --- 2.2 count parameters of Input(8, 8) → Flatten → Dense(16) → Dense(10) -------------------

def counted_by_keras():
    model = seq(layers.Flatten(), dense(16, "relu"), dense(10, "softmax"), shape=(8, 8))
    return model.count_params()


@pytest.mark.parametrize(
    "value",
    [lambda: 1210, lambda: 8 * 8 * 16 + 16 + 16 * 10 + 10, lambda: np.int64(1210), counted_by_keras],
    ids=["int", "expression", "numpy-int", "count_params"],
)
def test_2_2_accepts(value):
    assert_passes("2.2", n_params=value())


@pytest.mark.parametrize(
    "value, phrase",
    [
        (1184, "biases are missing"),
        (314, "8 × 8 = 64"),
        (1040, "only the first"),
        (170, "only the last"),
        (26, "counts units"),
        (1200, "last layer's bias"),
        (1194, "first layer's bias"),
        (999, "not the model's parameter count"),
        (1210.0, "is the float 1210.0, not an int"),
        (np.float64(1210.0), "is the float 1210.0, not an int"),
        (1209.5, "not a whole number"),
        ("1210", "is text"),
        (True, "is a bool"),
        (None, "None"),
    ],
    ids=["no-biases", "flatten-width", "first-only", "last-only", "units", "no-last-bias", "no-first-bias", "other",
         "whole-float", "numpy-whole-float", "fraction", "string", "bool", "none"],
)
def test_2_2_rejects(value, phrase):
    assert_fails("2.2", phrase, n_params=value)


def test_2_2_does_not_reveal_the_answer():
    failure = assert_fails("2.2", "not the model's parameter count", n_params=999)
    assert "1,210" not in failure.message() and "1210" not in failure.message()


def test_2_2_placeholder_says_not_done():
    assert_fails("2.2", "not done yet", n_params=not_done("2.2"))


# --- 2.3 fix the model that forgot to flatten its 8×8 images ---------------------------------

def broken():
    return seq(dense(32, "relu"), dense(10, "softmax"), shape=(8, 8))


@pytest.mark.parametrize(
    "make",
    [
        lambda: seq(layers.Flatten(), dense(32, "relu"), dense(10, "softmax"), shape=(8, 8)),
        lambda: seq(layers.Reshape((64,)), dense(32, "relu"), dense(10, "softmax"), shape=(8, 8)),
        lambda: with_add((8, 8), layers.Flatten(), dense(32, "relu"), dense(10, "softmax")),
        lambda: functional((8, 8), layers.Flatten(), dense(32), layers.ReLU(), dense(10), layers.Softmax()),
        lambda: built(keras.Sequential([layers.Flatten(), dense(32, "relu"), dense(10, "softmax")]), (None, 8, 8)),
    ],
    ids=["flatten", "reshape", "add", "functional-separate-activations", "build"],
)
def test_2_3_accepts(make):
    assert_passes("2.3", model=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (broken, "per pixel row"),
        (lambda: seq(dense(32, "relu"), dense(10, "softmax")), "no longer takes 8×8 images"),
        (lambda: seq(dense(32, "relu"), layers.Flatten(), dense(10, "softmax"), shape=(8, 8)), "Flatten comes too late"),
        (lambda: seq(dense(32, "relu"), dense(10, "softmax"), layers.Flatten(), shape=(8, 8)), "(None, 80)"),
        (lambda: seq(layers.Flatten(), dense(32, "relu"), dense(10), shape=(8, 8)), "differ from the broken model"),
        (lambda: seq(layers.Flatten(), dense(64, "relu"), dense(32, "relu"), dense(10, "softmax"), shape=(8, 8)), "differ"),
        (lambda: keras.Sequential([layers.Flatten(), dense(32, "relu"), dense(10, "softmax")]), "no weights yet"),
        *WRONG_TYPES,
    ],
    ids=["unchanged", "input-changed", "flatten-late", "flatten-last", "no-softmax", "extra-layer", "unbuilt",
         *WRONG_TYPE_IDS],
)
def test_2_3_rejects(make, phrase):
    assert_fails("2.3", phrase, model=make())


def test_2_3_placeholder_says_not_done():
    assert_fails("2.3", "not done yet", model=not_done("2.3"))


# --- 2.4 reach accuracy >= 0.90 on the held-out digits -------------------------------------

def least_squares_weights(x, y):
    """A linear classifier solved in closed form: instant, deterministic, about 0.94 accurate."""
    design = np.hstack([x, np.ones((len(x), 1))])
    solution = np.linalg.lstsq(design, np.eye(10)[y], rcond=None)[0].astype("float32")
    return [solution[:-1], solution[-1]]


def linear_classifier(*, images=False, softmax=True, samples=None):
    (x_train, y_train), _ = load_digits_split()
    stack = [layers.Flatten()] if images else []
    out = dense(10, "softmax" if softmax else None)
    model = seq(*stack, out, shape=(8, 8) if images else (64,))
    out.set_weights(least_squares_weights(x_train[:samples], y_train[:samples]))
    return model


@pytest.fixture(scope="module")
def fitted():
    """A model trained the way the lesson does it (a couple of seconds)."""
    keras.utils.set_random_seed(0)
    (x_train, y_train), _ = load_digits_split()
    model = seq(dense(32, "relu"), dense(10, "softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    return model


def accuracy_of(model, flat=True):
    _, (x_test, y_test) = load_digits_split(flat=flat)
    return float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x_test)), axis=1) == y_test))


def test_2_4_accepts_a_model_trained_with_fit(fitted):
    assert accuracy_of(fitted) >= 0.90
    assert assert_passes("2.4", model=fitted).endswith("accuracy >= 0.90 on 450 held-out digits")


@pytest.mark.parametrize(
    "make",
    [
        lambda: linear_classifier(),
        lambda: linear_classifier(images=True),
        lambda: linear_classifier(softmax=False),
    ],
    ids=["flat", "images", "logits"],
)
def test_2_4_accepts(make):
    assert_passes("2.4", model=make())


def test_2_4_untrained_model_fails_with_its_accuracy():
    keras.utils.set_random_seed(1)
    model = seq(dense(32, "relu"), dense(10, "softmax"))
    accuracy = accuracy_of(model)
    assert accuracy < 0.3
    failure = assert_fails("2.4", f"accuracy {accuracy:.2f}", model=model)
    assert "fit never ran" in field(failure, "found") + field(failure, "hint")
    assert "still exactly 0" in failure.message()


def badly_trained():
    """fit really ran (one epoch, a tiny learning rate): the model learned almost nothing."""
    keras.utils.set_random_seed(3)
    (x_train, y_train), _ = load_digits_split()
    model = seq(dense(32, "relu"), dense(10, "softmax"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-4), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    return model


def test_2_4_a_model_that_trained_badly_is_not_asked_whether_fit_ran():
    model = badly_trained()
    accuracy = accuracy_of(model)
    assert accuracy < 0.3
    failure = assert_fails("2.4", f"accuracy {accuracy:.2f}", model=model)
    assert "fit never ran" not in failure.message() and "did fit" not in failure.message()
    assert "learned little" in failure.message()


def test_2_4_undertrained_model_gets_train_longer():
    model = linear_classifier(samples=60)
    accuracy = accuracy_of(model)
    assert 0.3 <= accuracy < 0.90
    failure = assert_fails("2.4", f"accuracy {accuracy:.2f}", model=model)
    assert "train longer" in field(failure, "hint")


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: keras.Sequential([dense(32, "relu"), dense(10, "softmax")]), "never built or trained"),
        (lambda: seq(dense(1)), "one score per digit class"),
        (lambda: seq(dense(10, "softmax"), shape=(32,)), "does not accept the digits"),
        *WRONG_TYPES,
    ],
    ids=["unbuilt", "one-output", "wrong-input", *WRONG_TYPE_IDS],
)
def test_2_4_rejects(make, phrase):
    assert_fails("2.4", phrase, model=make())


def test_2_4_placeholder_says_not_done():
    assert_fails("2.4", "not done yet", model=not_done("2.4"))


# --- 2.5 choose the loss for each task ------------------------------------------------------

LOSSES = {
    "digits": "sparse_categorical_crossentropy",
    "digits_one_hot": "categorical_crossentropy",
    "odd": "binary_crossentropy",
    "price": "mse",
}


def losses(**changes):
    return {**LOSSES, **changes}


@pytest.mark.parametrize(
    "answer",
    [
        LOSSES,
        losses(price="mean_squared_error"),
        losses(price="mae"),
        losses(price="huber"),
        losses(price="MeanSquaredError"),
        losses(digits="SparseCategoricalCrossentropy", digits_one_hot="CategoricalCrossentropy", odd="BinaryCrossentropy"),
        losses(odd="bce"),
        dict(reversed(list(LOSSES.items()))),
    ],
    ids=["short-names", "mse-long", "mae", "huber", "class-name", "class-names", "bce-alias", "other-key-order"],
)
def test_2_5_accepts(answer):
    assert_passes("2.5", losses=answer)


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (losses(digits="categorical_crossentropy"), "one-hot"),
        (losses(digits="mse"), "classes, not quantities"),
        (losses(digits="binary_crossentropy"), "one yes/no output"),
        (losses(digits_one_hot="sparse_categorical_crossentropy"), "integer labels"),
        (losses(odd="sparse_categorical_crossentropy"), "one sigmoid output"),
        (losses(odd="categorical_crossentropy"), "one sigmoid output"),
        (losses(price="categorical_crossentropy"), "a quantity, not a class"),
        (losses(price="binary_crossentropy"), "a quantity, not a class"),
        (losses(price="accuracy"), "no loss called 'accuracy'"),
        (losses(digits="sparse_crossentropy"), "no loss called 'sparse_crossentropy'"),
        (losses(price=keras.losses.MeanSquaredError()), "as a string"),
        (losses(price=keras.losses.mean_squared_error), "as a string"),
        ({k: v for k, v in LOSSES.items() if k != "odd"}, "'odd' is missing"),
        (losses(extra="mse"), "unexpected key 'extra'"),
        (list(LOSSES.values()), "a dict"),
        ("sparse_categorical_crossentropy", "a dict"),
        (None, "None"),
    ],
    ids=["cce-for-integers", "mse-for-classes", "bce-for-ten-classes", "sparse-for-one-hot", "sparse-for-yes-no",
         "cce-for-yes-no", "cce-for-price", "bce-for-price", "metric-name", "unknown", "loss-object", "loss-function",
         "missing-key", "extra-key", "list", "string", "none"],
)
def test_2_5_rejects(answer, phrase):
    assert_fails("2.5", phrase, losses=answer)


@pytest.mark.parametrize(
    "answer, phrase, not_phrase",
    [
        (losses(digits="sparse_categorical_crossentropie"), "did you mean 'sparse_categorical_crossentropy'", "metrics"),
        (losses(price="mean_squared_eror"), "did you mean 'mean_squared_error'", "metrics"),
        (losses(odd="binary_crosentropy"), "did you mean 'binary_crossentropy'", "metrics"),
        (losses(digits_one_hot="Categorical_Crossentropy"), "did you mean 'categorical_crossentropy'", "metrics"),
        (losses(price="accuracy"), "'accuracy' is a metric", "did you mean"),
        (losses(digits="sparse_categorical_accuracy"), "is a metric", "did you mean"),
        (losses(price="least_squares"), "lesson 2's table of losses", "metrics"),
    ],
    ids=["sparse-typo", "mse-typo", "bce-typo", "capitalised", "metric", "sparse-metric", "unknown"],
)
def test_2_5_an_unknown_name_is_told_whether_it_is_misspelled_or_a_metric(answer, phrase, not_phrase):
    """Issue 15: a misspelled loss name was hinted "metrics such as accuracy are not losses"."""
    failure = assert_fails("2.5", phrase, losses=answer)
    assert not_phrase not in failure.message()


def test_2_5_the_wrong_pairing_the_lesson_shows_really_fails_in_keras():
    """The message for categorical_crossentropy on integer labels quotes what Keras says: check it is so."""
    model = seq(dense(10, "softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="must have the same rank"):
        model.fit(np.zeros((4, 64), "float32"), np.arange(4), verbose=0)
    assert_fails("2.5", "must have the same rank", losses=losses(digits="categorical_crossentropy"))


def test_2_5_placeholder_says_not_done():
    assert_fails("2.5", "not done yet", losses=not_done("2.5"))


# --- 2.6 which networks can be a Sequential model? -------------------------------------------

CAN = {"a": True, "b": False, "c": False, "d": False, "e": True, "f": True}


def can(**changes):
    return {**CAN, **changes}


@pytest.mark.parametrize(
    "answer",
    [CAN, {k: np.bool_(v) for k, v in CAN.items()}, dict(sorted(CAN.items(), reverse=True))],
    ids=["bools", "numpy-bools", "other-order"],
)
def test_2_6_accepts(answer):
    assert_passes("2.6", sequential_can=answer)


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (can(a=False), "a: a straight chain"),
        (can(b=True), "b: two inputs"),
        (can(c=True), "c: two outputs"),
        (can(d=True), "d: the input of a layer is added back"),
        (can(e=False), "e: a model is a layer"),
        (can(f=False), "f: depth"),
        (can(b=True, c=True), "2 of 6 answers are wrong"),
        ({k: not v for k, v in CAN.items()}, "6 of 6 answers are wrong"),
        (can(a="yes"), "True or False"),
        (can(a=1), "True or False"),
        ({k: v for k, v in CAN.items() if k != "f"}, "'f' is missing"),
        (["a", "e", "f"], "a dict"),
        (None, "None"),
    ],
    ids=["a", "b", "c", "d", "e", "f", "two-wrong", "all-wrong", "yes-string", "one-int", "missing", "list", "none"],
)
def test_2_6_rejects(answer, phrase):
    assert_fails("2.6", phrase, sequential_can=answer)


def test_2_6_placeholder_says_not_done():
    assert_fails("2.6", "not done yet", sequential_can=not_done("2.6"))


# --- no check of lessons 1-3 judges a value the learner could swap for their own reference -------


def test_checks_take_only_the_learner_s_answers_as_evidence():
    """A given model handed in as evidence lets a learner pass their own reference (issue: old 2.5)."""
    from coursetools.registry import all_exercises

    given_names = {"given", "encoder", "reference", "kernel", "bias", "x", "features_of"}
    answers = {"1.1": ("layer",), "1.2": ("y_by_hand",), "1.3": ("layer",), "1.4": ("batch", "one_output"),
               "1.5": ("values", "symbolic_shape"), "2.1": ("model",), "2.2": ("n_params",), "2.3": ("model",),
               "2.4": ("model",), "2.5": ("losses",), "2.6": ("sequential_can",)}
    exercises = all_exercises()
    for exercise_id, names in answers.items():
        assert exercises[exercise_id].evidence == names, exercise_id
    for exercise_id, ex in exercises.items():
        if exercise_id[0] in "123":
            assert not set(ex.evidence) & given_names, (exercise_id, ex.evidence)


# --- the grading path: the same verdicts after export and safe-mode loading ------------------

def test_lesson2_verdicts_survive_export(tmp_path, fitted):
    good = {
        "2.1": {"model": seq(dense(48, "relu"), dense(24, "relu"), dense(10, "softmax"))},
        "2.2": {"n_params": 1210},
        "2.3": {"model": seq(layers.Flatten(), dense(32, "relu"), dense(10, "softmax"), shape=(8, 8))},
        "2.4": {"model": fitted},
    }
    for exercise_id, evidence in good.items():
        assert_passes(exercise_id, **round_trip(tmp_path / exercise_id, **evidence))

    keras.utils.set_random_seed(1)
    untrained = seq(dense(32, "relu"), dense(10, "softmax"))
    bad = [
        ("2.1", "wrong order", {"model": seq(dense(24, "relu"), dense(48, "relu"), dense(10, "softmax"))}),
        ("2.1", "no weights yet", {"model": keras.Sequential([dense(48, "relu"), dense(24, "relu"), dense(10, "softmax")])}),
        ("2.2", "biases are missing", {"n_params": 1184}),
        ("2.3", "per pixel row", {"model": broken()}),
        ("2.4", f"accuracy {accuracy_of(untrained):.2f}", {"model": untrained}),
        ("2.1", "a function", {"model": lambda: 0}),
        ("2.3", "not done yet", {"model": not_done("2.3")}),
    ]
    for index, (exercise_id, phrase, evidence) in enumerate(bad):
        assert_fails(exercise_id, phrase, **evidence)  # in the learner's kernel ...
        assert_fails(exercise_id, phrase, **round_trip(tmp_path / f"bad{index}", **evidence))  # ... and after export
