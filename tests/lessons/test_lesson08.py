"""Lesson 8 checks: correct answers written differently pass; typical mistakes are named.

8.1 and 8.2 moved here from lesson 7 (where they were 7.3 and 7.4), unchanged. 8.3's
tests load the course's file with the course's class, as the exercise does, and with the
stand-in classes a learner might write.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers, ops

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson08.given import (
    INITIAL_TEMPERATURE,
    LEARNED_TEMPERATURE,
    given_calibrated_model,
    given_weights_source,
    temperature_softmax_class,
)
from coursetools.lessons.lesson08.tools import (
    calibration_probe,
    old_style_data,
    saved_model,
    write_calibrated_file,
    write_weights_file,
)
from coursetools.placeholders import not_done


def test_given_models_are_the_same_every_time():
    for make in (given_weights_source, given_calibrated_model):
        a, b = make(), make()
        assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_the_weights_source_has_the_structure_the_notebook_describes():
    original = given_weights_source()
    assert [type(layer).__name__ for layer in original.layers] == ["InputLayer", "Dense", "Dense", "Add", "Dropout", "Dense"]


# --- 8.1 load a weights file into the right architecture -----------------------------------


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return write_weights_file(str(tmp_path_factory.mktemp("l8") / "original.weights.h5"))


def _skip_model(*, dropout=True, merge="Add", act="relu"):
    pixels = keras.layers.Input(shape=(64,))
    first = layers.Dense(20, activation=act)(pixels)
    second = layers.Dense(20, activation="relu")(first)
    skip = layers.Add()([first, second]) if merge == "Add" else layers.add([second, first])
    if dropout:
        skip = layers.Dropout(0.5)(skip)
    return keras.Model(pixels, layers.Dense(10, activation="softmax")(skip))


def loaded(model, path):
    model.load_weights(path)
    return model


@pytest.mark.parametrize(
    "make",
    [lambda: _skip_model(), lambda: _skip_model(dropout=False), lambda: _skip_model(merge="add")],
    ids=["solution", "no-dropout", "add-function-swapped"],
)
def test_8_1_accepts(make, weights_file):
    assert_passes("8.1", restored=loaded(make(), weights_file))


def _chain():
    return keras.Sequential([keras.Input((64,)), layers.Dense(20, activation="relu"), layers.Dense(20, activation="relu"),
                             layers.Dense(10, activation="softmax")])


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first, self.second = layers.Dense(20, activation="relu"), layers.Dense(20, activation="relu")
        self.digit = layers.Dense(10, activation="softmax")

    def call(self, x):
        first = self.first(x)
        return self.digit(first + self.second(first))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda path: loaded(_chain(), path), "nothing adds `first` to `second`"),
        (lambda path: loaded(_skip_model(act="tanh"), path), "activations"),
        (lambda path: _skip_model(), "does not hold the weights stored in the file"),
        (lambda path: keras.Sequential([keras.Input((32,)), layers.Dense(10)]), "wrong inputs"),
        (lambda path: loaded(built_subclassed(), path), "not built with the functional API or Sequential"),
        (lambda path: None, "None"),
        (lambda path: path, "str"),
    ],
    ids=["chain", "tanh", "not-loaded", "wrong-input", "subclassed", "none", "path"],
)
def test_8_1_rejects(make, phrase, weights_file):
    assert_fails("8.1", phrase, restored=make(weights_file))


def built_subclassed():
    model = Subclassed()
    model(np.zeros((1, 64), "float32"))
    return model


def test_8_1_placeholder_says_not_done():
    assert_fails("8.1", "not done yet", restored=not_done("8.1"))


# --- 8.2 port old tf.keras code ------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rows, labels = old_style_data()
    return np.array(rows, dtype="float32"), np.array(labels)


def _ported(center="ops", axis=-1, optimizer=None, loss="sparse_categorical_crossentropy", train=True, data=None,
            hidden=32):
    keras.utils.set_random_seed(0)  # each variant starts from the same weights, on every run
    pixels = keras.Input(shape=(64,))
    h = layers.Dense(hidden, activation="relu")(pixels)
    if center == "ops":
        h = h - ops.mean(h, axis=axis, keepdims=True)
    elif center == "subtract":
        h = layers.Subtract()([h, ops.mean(h, axis=1, keepdims=True)])
    elif center == "lambda":
        h = layers.Lambda(lambda t: t - ops.mean(t, axis=-1, keepdims=True))(h)
    model = keras.Model(pixels, layers.Dense(10, activation="softmax")(h))
    if optimizer != "none":
        model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=0.005), loss=loss, metrics=["accuracy"])
        if train:
            model.fit(*data, epochs=train if isinstance(train, int) and train is not True else 5, batch_size=32,
                      verbose=0)
    return model


_PREDICT = object()


def _evidence(model, data, *, save=True, digits=_PREDICT):
    """The check cell's evidence, made in the working folder as the notebook does."""
    path = "digits_model.keras"
    if save:
        model.save(path)
    if digits is _PREDICT:
        digits = model.predict(data[0][:5], verbose=0).argmax(axis=1)
    return {"ported": model, "saved": saved_model(path), "predicted_digits": digits}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "options",
    [{}, {"axis": 1}, {"center": "subtract"}, {"loss": keras.losses.SparseCategoricalCrossentropy()},
     {"optimizer": "adam_string_lr"}],
    ids=["solution", "axis-1", "subtract-layer", "loss-object", "adam-with-learning-rate"],
)
def test_8_2_accepts(options, data, workdir):
    if options.get("optimizer") == "adam_string_lr":
        options = {"optimizer": keras.optimizers.Adam(0.005)}
    model = _ported(data=data, **options)
    evidence = _evidence(model, data)
    assert_passes("8.2", **evidence)
    evidence["predicted_digits"] = [int(d) for d in evidence["predicted_digits"]]
    assert_passes("8.2", **evidence)


def test_8_2_accepts_numpy_integer_digits(data, workdir):
    model = _ported(data=data)
    evidence = _evidence(model, data)
    evidence["predicted_digits"] = list(evidence["predicted_digits"].astype("int64"))
    assert_passes("8.2", **evidence)


@pytest.mark.parametrize(
    "options, phrase",
    [
        ({"center": "lambda"}, "Lambda layer"),
        ({"center": None}, "leaves out the centering step"),
        ({"axis": 0}, "centers over the batch"),
        ({"hidden": 64}, "does not have the layers of the old code"),
        ({"optimizer": "none"}, "not compiled"),
        ({"optimizer": "sgd"}, "Adam with learning rate 0.005"),
        ({"optimizer": "adam"}, "learning rate 0.001"),
        ({"loss": "categorical_crossentropy", "train": False}, "another loss"),
        ({"train": False}, "has not been trained"),
        ({"train": 1}, "has not been trained"),
    ],
    ids=["lambda", "no-centering", "batch-axis", "wider", "not-compiled", "sgd", "default-lr", "loss", "untrained",
         "one-epoch"],
)
def test_8_2_rejects_the_model(options, phrase, data, workdir):
    model = _ported(data=data, **options)
    assert_fails("8.2", phrase, **_evidence(model, data))


def test_8_2_an_optimizer_counter_set_by_hand_is_not_training(data, workdir):
    """Issue 15: optimizer.iterations.assign(40) made an untrained model "trained"; trained is what it does."""
    model = _ported(data=data, train=False)
    model.optimizer.iterations.assign(40)
    assert_fails("8.2", "has not been trained", **_evidence(model, data))


def test_8_2_accepts_more_epochs_than_the_old_code(data, workdir):
    """The text asks for at least the old code's training: more epochs are not a mistake."""
    assert_passes("8.2", **_evidence(_ported(data=data, train=10), data))


def test_8_2_rejects_a_missing_or_stale_file(data, workdir):
    model = _ported(data=data)
    assert_fails("8.2", "there is no file 'digits_model.keras'", **_evidence(model, data, save=False))
    model.save("digits_model.keras")
    model.fit(*data, epochs=1, batch_size=32, verbose=0)  # trained again after saving
    assert_fails("8.2", "holds a different model", **_evidence(model, data, save=False))


def test_8_2_rejects_a_file_that_is_not_a_keras_model(data, workdir):
    model = _ported(data=data)
    (workdir / "digits_model.keras").write_text("not a zip file")
    assert_fails("8.2", "cannot be loaded as a Keras model", **_evidence(model, data, save=False))


@pytest.mark.parametrize(
    "digits, phrase",
    [
        (lambda m, x: m.predict(x, verbose=0), "probabilities, not digits"),
        (lambda m, x: (m.predict(x, verbose=0).argmax(axis=1) + 1) % 10, "not the digits `ported` predicts"),
        (lambda m, x: m.predict(x[:3], verbose=0).argmax(axis=1), "shape (3,)"),
        (lambda m, x: None, "None"),
    ],
    ids=["probabilities", "other-digits", "three-digits", "none"],
)
def test_8_2_rejects_predicted_digits(digits, phrase, data, workdir):
    model = _ported(data=data)
    evidence = _evidence(model, data, digits=digits(model, data[0][:5]))
    assert_fails("8.2", phrase, **evidence)


def test_8_2_digits_that_are_not_numbers_get_this_exercise_s_hint(data, workdir):
    model = _ported(data=data)
    failure = assert_fails("8.2", ".argmax(axis=1)", **_evidence(model, data, digits=None))
    assert "np.maximum" not in failure.message()


def test_8_2_placeholders_say_not_done(tmp_path):
    placeholder = not_done("8.2")
    assert_fails("8.2", "not done yet", ported=placeholder, predicted_digits=placeholder,
                 saved=saved_model(str(tmp_path / "digits_model.keras")))


# --- 8.3 load a file that holds an unregistered custom layer ----------------------------------


@pytest.fixture(scope="module")
def calibrated_file(tmp_path_factory):
    return write_calibrated_file(str(tmp_path_factory.mktemp("l8") / "calibrated.keras"))


def _load(path, cls=None, **options):
    cls = cls or temperature_softmax_class()
    return keras.saving.load_model(path, custom_objects={"TemperatureSoftmax": cls}, **options)


def test_8_3_the_file_needs_the_class(calibrated_file):
    """Loading the plain way fails, with safe mode or without: the file holds the class's name, not its code."""
    for options in ({}, {"safe_mode": False}):
        with pytest.raises(TypeError, match="Could not locate class 'TemperatureSoftmax'"):
            keras.saving.load_model(calibrated_file, **options)


def test_8_3_registering_after_saving_does_not_help(calibrated_file):
    """A file saved from an unregistered class records "TemperatureSoftmax"; registering now records "<package>>..."."""
    registered = keras.saving.register_keras_serializable(package="learner")(temperature_softmax_class())
    with pytest.raises(TypeError, match="Could not locate class 'TemperatureSoftmax'"):
        keras.saving.load_model(calibrated_file)
    assert keras.saving.get_registered_name(registered) == "learner>TemperatureSoftmax"


def test_8_3_the_exercise_shows_the_course_s_class():
    """The class the learner runs in the exercise notebook computes what the course's class computes."""
    from pathlib import Path

    import nbformat

    solution = Path(__file__).resolve().parents[2] / "solutions" / "08_solutions_saving_porting.ipynb"
    cells = [c.source for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "code"]
    source = next(s for s in cells if s.lstrip().startswith("class TemperatureSoftmax"))
    namespace = {"keras": keras}
    exec(source, namespace)
    x = calibration_probe()
    ours = given_calibrated_model().predict(x, verbose=0)
    theirs = given_calibrated_model(namespace["TemperatureSoftmax"]).predict(x, verbose=0)
    assert np.allclose(ours, theirs, atol=1e-6)


class PlainSoftmax(layers.Layer):
    """A stand-in a learner writes to make the file load: the right name, another computation."""

    def __init__(self, initial_temperature=1.0, **kwargs):
        super().__init__(**kwargs)

    def call(self, logits):
        return ops.softmax(logits)


class ConstantTemperature(layers.Layer):
    """A stand-in that keeps the temperature as a plain number: the learned weight is dropped."""

    def __init__(self, initial_temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = initial_temperature

    def call(self, logits):
        return ops.softmax(logits / self.temperature)


@pytest.mark.parametrize(
    "predict",
    [
        lambda path, x: _load(path).predict(x, verbose=0),
        lambda path, x: _load(path, safe_mode=False).predict(x, verbose=0),
        lambda path, x: keras.ops.convert_to_numpy(_load(path)(x)),
        lambda path, x: [list(map(float, row)) for row in _load(path).predict(x, verbose=0)],
        lambda path, x: _scoped(path).predict(x, verbose=0),
    ],
    ids=["custom-objects", "safe-mode-off", "called", "nested-lists", "scope"],
)
def test_8_3_accepts(predict, calibrated_file):
    assert_passes("8.3", predictions=predict(calibrated_file, calibration_probe()))


def _logits_of(model):
    return keras.Model(model.inputs, model.get_layer("logits").output)


def _scoped(path):
    with keras.saving.custom_object_scope({"TemperatureSoftmax": temperature_softmax_class()}):
        return keras.saving.load_model(path)


@pytest.mark.filterwarnings("ignore:Skipping variable loading:UserWarning")
@pytest.mark.parametrize(
    "predict, phrase",
    [
        (lambda path, x: _load(path), "is a model, not its predictions"),
        (lambda path, x: _load(path, PlainSoftmax).predict(x, verbose=0), "the temperature is missing"),
        (lambda path, x: _load(path, ConstantTemperature).predict(x, verbose=0), "started with, not the one it learned"),
        (lambda path, x: _load(path).predict(x, verbose=0).argmax(axis=1), "digits, not probabilities"),
        (lambda path, x: _load(path).predict(x[:5], verbose=0), "one row of 10 probabilities per row"),
        (lambda path, x: _logits_of(_load(path)).predict(x, verbose=0), "the logits, before the custom layer"),
        (lambda path, x: given_calibrated_model().predict(x[::-1], verbose=0), "custom_objects="),
        (lambda path, x: np.full((len(x), 10), 0.1), "not what the model in the file predicts"),
        (lambda path, x: None, "None"),
        (lambda path, x: "TemperatureSoftmax", "str"),
    ],
    ids=["the-model", "plain-softmax-stand-in", "constant-temperature-stand-in", "digits", "five-rows", "logits",
         "other-inputs", "uniform", "none", "text"],
)
def test_8_3_rejects(predict, phrase, calibrated_file):
    assert_fails("8.3", phrase, predictions=predict(calibrated_file, calibration_probe()))


def test_8_3_the_stand_ins_differ_as_the_check_says(calibrated_file):
    """The temperatures the check recognises are the ones the stand-ins really use."""
    assert LEARNED_TEMPERATURE != INITIAL_TEMPERATURE != 1.0
    loaded = _load(calibrated_file, ConstantTemperature)
    assert loaded.get_layer("calibrate").temperature == INITIAL_TEMPERATURE


def test_8_3_placeholder_says_not_done():
    assert_fails("8.3", "not done yet", predictions=not_done("8.3"))


# --- lesson 8's claims that need a fresh process ------------------------------------------------


@pytest.mark.kernels  # starts a Python process: not in the quick loop
def test_a_registered_class_loads_in_a_fresh_process_only_after_its_module_is_imported(tmp_path):
    """What lesson 8, section 3, shows inside one kernel, for real: a new process has no registrations."""
    import subprocess
    import sys

    (tmp_path / "my_layers.py").write_text('''
import keras


@keras.saving.register_keras_serializable(package="my_layers")
class Scale(keras.layers.Layer):
    def build(self, input_shape):
        self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.factor
''')
    script = '''
import sys
import keras
if sys.argv[1] == "save":
    import my_layers
    pixels = keras.Input(shape=(4,))
    keras.Model(pixels, my_layers.Scale()(pixels)).save("scaled.keras")
else:
    try:
        keras.saving.load_model("scaled.keras")
        print("loaded without the import")
    except TypeError as error:
        print("without the import:", "Could not locate class 'Scale'" in str(error))
    import my_layers
    print("after the import:", type(keras.saving.load_model("scaled.keras").layers[-1]).__name__)
'''
    for step in ("save", "load"):
        result = subprocess.run([sys.executable, "-c", script, step], cwd=tmp_path, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["without the import: True", "after the import: Scale"]


def test_a_model_subclass_records_its_defaults_not_its_arguments():
    """Lesson 8's trap (Keras 3.15): a Model subclass's automatic config holds __init__'s defaults; a Layer's does not."""

    class Net(keras.Model):
        def __init__(self, hidden=32, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(hidden)

        def call(self, x):
            return self.hidden(x)

    class Block(layers.Layer):
        def __init__(self, hidden=32, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(hidden)

        def call(self, x):
            return self.hidden(x)

    assert Net(hidden=16).get_config()["hidden"] == 32
    assert Block(hidden=16).get_config()["hidden"] == 16
