"""Course code that lesson 7's check cells run in the learner's kernel: reports on learner classes.

A custom layer or a subclassed model cannot travel to the grader: its class is the
learner's code, and the grader's verdict process loads evidence in safe mode and never
runs learner code. So for exercises whose answer *is* a class, the check cell hands the
check a **report** instead of the object: this module (course code, fixed by the
release) runs the learner's class in the learner's kernel on inputs the course owns and
records plain facts: outputs (arrays), weights (``get_weights()``), the weights it set
itself and the outputs they gave, structural facts (class name, whether a sublayer is a
whole built-in model), whether a ``.keras`` file of it loads back in safe mode. The check
(:mod:`coursetools.lessons.lesson07.checks`) recomputes every expected number itself, with NumPy,
from those weights.

What such a report proves, and what it cannot: see the module docstring of
:mod:`coursetools.lessons.lesson07.checks`. Every reporter here returns a placeholder
(``not_done``) unchanged, so an unsolved exercise says "not done yet", and hands back a
value that is not of the expected kind unchanged, so the check can say what it is.
Reporters never raise for a learner's mistake: they record the step that failed and the
first line of its error.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from coursetools.placeholders import is_not_done
from coursetools.probing import to_numpy, useful_line

REPORT_KEY = "report"  # a report says what it is: {"report": "layer" | "model" | "port", ...}
PROBE_INITIAL_SCALE = 0.5  # exercise 7.1: FeatureScale(initial_scale=0.5) must start as x * 0.5
LAYER_WIDTHS = (5, 3)  # exercise 7.1: widths the custom layer is built for


# --- Inputs the checks own -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _digits() -> np.ndarray:
    from coursetools.data import load_digits_split

    _, (x_test, _) = load_digits_split()
    return x_test


def feature_probe(width: int) -> np.ndarray:
    """Exercise 7.1's inputs: slices of real digits (with zeros and ones) and random normal rows."""
    digits = _digits()[:6, 18:18 + width]
    noise = np.random.default_rng(7100 + width).normal(0.0, 1.5, size=(6, width))
    return np.concatenate([digits, noise]).astype("float32")


def two_way_probe() -> tuple[np.ndarray, np.ndarray]:
    """Exercise 7.2's inputs ``(pixels, stats)``: 16 real test digits, then 8 random rows."""
    from coursetools.lessons.lesson07.given import digit_stats

    digits = _digits()[:16]
    rng = np.random.default_rng(7200)
    pixels = np.concatenate([digits, rng.uniform(0.0, 1.0, size=(8, 64))]).astype("float32")
    stats = np.concatenate([digit_stats(digits), rng.uniform(0.0, 1.0, size=(8, 4))]).astype("float32")
    return pixels, stats


def random_weights(shapes: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    """Weights the reporters put into a learner's layer or model (fixed, so tests reproduce)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.4, size=shape).astype("float32") for shape in shapes]


# --- Small steps, each recorded -----------------------------------------------------------


class _StepFailed(Exception):
    """A step of a report failed; the report already says which and why."""


def _step(report: dict[str, Any], what: str, action):
    """Run ``action()``; on an error record ``what`` failed and its first line, then stop the report."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a learner's layer may warn; the report speaks instead
            return action()
    except Exception as error:  # the learner's code may fail in any way
        report["failed_step"] = what
        report["error"] = useful_line(error)
        raise _StepFailed from None


def _one_tensor(value: Any) -> np.ndarray:
    """A layer's or model's single output as float32 NumPy; several outputs are the learner's mistake."""
    if isinstance(value, (list, tuple, dict)):
        raise TypeError(f"it returned a {type(value).__name__}, not one tensor")
    return to_numpy(value, "float32")


def _is_builtin(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras")


# --- Exercise 7.1: a custom layer ------------------------------------------------------------


def layer_report(candidate: Any) -> Any:
    """What a custom layer class does: built per width, computed, reloaded (exercise 7.1).

    ``candidate`` is the learner's class (an instance is accepted too: its class is used).
    """
    import keras

    if is_not_done(candidate):
        return candidate
    cls = type(candidate) if isinstance(candidate, keras.layers.Layer) else candidate
    if not inspect.isclass(cls):
        return candidate
    report: dict[str, Any] = {REPORT_KEY: "layer", "class_name": cls.__name__, "builtin": _is_builtin(cls)}
    if not issubclass(cls, keras.layers.Layer) or issubclass(cls, keras.Model):
        report["wrong_base"] = "a model class" if issubclass(cls, keras.Model) else \
            "a class whose bases are " + ", ".join(base.__name__ for base in cls.__mro__[1:-1] or (object,))
        return report
    try:
        _layer_steps(cls, report)
    except _StepFailed:
        pass
    return report


def _layer_steps(cls: type, report: dict[str, Any]) -> None:
    import keras

    width, other = LAYER_WIDTHS
    x = feature_probe(width)
    layer = _step(report, f"{cls.__name__}(initial_scale={PROBE_INITIAL_SCALE})",
                  lambda: cls(initial_scale=PROBE_INITIAL_SCALE))
    report["weights_before_call"] = len(layer.weights)
    report["initial_outputs"] = _step(report, f"calling the layer on a batch of shape {x.shape}",
                                      lambda: _one_tensor(layer(x)))
    report["weight_shapes"] = [list(w.shape) for w in layer.weights]
    report["weight_trainable"] = [bool(w.trainable) for w in layer.weights]
    probe = random_weights([tuple(w.shape) for w in layer.weights], seed=7101)
    _step(report, "layer.set_weights(...) with new values", lambda: layer.set_weights(probe))
    report["probe_weights"] = probe
    report["probe_outputs"] = _step(report, "calling the layer again after set_weights", lambda: _one_tensor(layer(x)))

    y = feature_probe(other)
    default = _step(report, f"{cls.__name__}() with no arguments", lambda: cls())
    report["default_outputs"] = _step(report, f"calling {cls.__name__}() on a batch of shape {y.shape}",
                                      lambda: _one_tensor(default(y)))

    config = _step(report, "layer.get_config()", layer.get_config)
    fresh = _step(report, f"{cls.__name__}.from_config(layer.get_config())", lambda: cls.from_config(config))
    report["config_outputs"] = _step(report, "calling the layer made by from_config", lambda: _one_tensor(fresh(x)))

    with tempfile.TemporaryDirectory(prefix="lesson07-") as folder:
        path = os.path.join(folder, "feature_scale.keras")

        def save() -> None:
            inputs = keras.Input(shape=(width,))
            keras.Model(inputs, layer(inputs)).save(path)

        _step(report, "saving a model that holds the layer to a .keras file", save)
        loaded = _step(report, "loading that .keras file back (safe mode)",
                       lambda: keras.saving.load_model(path, safe_mode=True, compile=False))
        report["reloaded_outputs"] = _step(report, "calling the reloaded model", lambda: _one_tensor(loaded(x)))


# --- Exercise 7.2: a subclassed model -------------------------------------------------------


def _sublayers(model: Any) -> list[Any]:
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:  # a private helper of Keras: fall back to the public list
        return list(getattr(model, "layers", []))


def model_report(model: Any) -> Any:
    """What a model does with its own weights and with weights the report sets (exercise 7.2).

    The model is called as ``model([pixels, stats], training=False)`` on
    :func:`two_way_probe`. Its weights are restored afterwards.
    """
    import keras

    if is_not_done(model) or not isinstance(model, keras.Model):
        return model
    report: dict[str, Any] = {
        REPORT_KEY: "model",
        "class_name": type(model).__name__,
        "builtin": _is_builtin(type(model)),
        "built": bool(model.built),
    }
    nested = [layer for layer in _sublayers(model) if isinstance(layer, keras.Model)][:5]
    report["nested"] = [f"a {type(layer).__name__} model named {layer.name!r}" for layer in nested]
    report["nested_weights"] = [len(layer.weights) for layer in nested]
    pixels, stats = two_way_probe()
    original = [np.asarray(w, dtype="float32") for w in model.get_weights()]
    report["weights"] = original
    if not model.built:
        return report  # calling it here would build it with fresh random weights
    try:
        report["outputs"] = _step(report, "calling the model as model([pixels, stats])",
                                  lambda: _one_tensor(model([pixels, stats], training=False)))
        if original:
            probe = random_weights([w.shape for w in original], seed=7201)
            _step(report, "model.set_weights(...) with new values", lambda: model.set_weights(probe))
            try:
                report["probe_weights"] = probe
                report["probe_outputs"] = _step(report, "calling the model after set_weights",
                                                lambda: _one_tensor(model([pixels, stats], training=False)))
            finally:
                model.set_weights(original)
    except _StepFailed:
        pass
    return report
