"""Lesson 7's reporters: what a learner's custom layer (7.1) or subclassed model (7.2) computes.

A class is learner code: it cannot travel to the grader's verdict process, which never
runs learner code. So the check of 7.1 and 7.2 judges a **report** on the class, made by
the reporters here on inputs the course owns: outputs, weight shapes, outputs after the
reporter put its **own** weights in, and whether a ``.keras`` file of it loads back. The
check (:mod:`coursetools.lessons.lesson07.checks`) recomputes every expected number with
NumPy from weights it regenerates itself, so a report passes only if the class computes
the specified function for *any* weights.

Where the report is made is :mod:`coursetools.class_runner`'s job: in a fresh process,
from the answer cell's definitions only, both for the learner's check cell and for the
grader. The factories (``make_layer_reporter``, ``make_model_reporter``) are called there
*before* the answer's code runs and bind every function and probe they use, so an answer
that redefines or patches this module changes nothing.

Reporters never raise for a learner's mistake: they record the step that failed and the
sentence of its error that names the problem, and the check turns that into a card.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from collections.abc import Callable
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np

from coursetools.probing import to_numpy, useful_line

REPORT_KEY = "report"  # a report says what it is: {"report": "layer" | "model", ...}
PROBE_INITIAL_SCALE = 0.5  # exercise 7.1: FeatureScale(initial_scale=0.5) must start as x * 0.5
LAYER_WIDTHS = (5, 3)  # exercise 7.1: widths the custom layer is built for
LAYER_SEED, MODEL_SEED = 7101, 7201  # the seeds of the weights the reporters put in (the checks regenerate them)


# --- Inputs and weights the checks own ------------------------------------------------------


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
    """The weights a reporter puts into a learner's layer or model; the check makes the same ones."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.4, size=tuple(shape)).astype("float32") for shape in shapes]


# --- What every reporter binds before the answer's code runs --------------------------------


class _StepFailed(Exception):
    """A step of a report failed; the report already says which and why."""


def _bound() -> SimpleNamespace:
    """Everything a reporter uses, looked up now: later patches of Keras, NumPy or this module change nothing."""
    import keras

    return SimpleNamespace(
        Layer=keras.layers.Layer, Model=keras.Model, Input=keras.Input, save_model=keras.saving.save_model,
        load_model=keras.saving.load_model, to_numpy=to_numpy, useful_line=useful_line, isclass=inspect.isclass,
        catch_warnings=warnings.catch_warnings, simplefilter=warnings.simplefilter, folder=tempfile.TemporaryDirectory,
        join=os.path.join, random_weights=random_weights, StepFailed=_StepFailed, asarray=np.asarray,
        isinstance=isinstance, issubclass=issubclass, len=len, list=list, tuple=tuple, bool=bool, type=type,
        str=str, Exception=Exception,
    )


def _stepper(b: SimpleNamespace) -> Callable[..., Any]:
    def step(report: dict[str, Any], what: str, action: Callable[[], Any]) -> Any:
        """Run ``action()``; on an error record that ``what`` failed and why, then stop the report."""
        try:
            with b.catch_warnings():
                b.simplefilter("ignore")  # a learner's layer may warn; the report speaks instead
                return action()
        except b.Exception as error:  # the learner's code may fail in any way
            report["failed_step"] = what
            report["error"] = b.useful_line(error)
            raise b.StepFailed from None

    return step


def _one_tensor(b: SimpleNamespace) -> Callable[[Any], np.ndarray]:
    def one_tensor(value: Any) -> np.ndarray:
        """A layer's or model's single output as float32 NumPy; several outputs are the learner's mistake."""
        if b.isinstance(value, (b.list, b.tuple, dict)):
            raise TypeError(f"it returned a {b.type(value).__name__}, not one tensor")
        return b.to_numpy(value, "float32")

    return one_tensor


def _is_builtin(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras")


# --- Exercise 7.1: a custom layer ------------------------------------------------------------


def make_layer_reporter() -> Callable[[Any], Any]:
    """7.1's reporter: built per width, computed with the layer's and the reporter's weights, reloaded."""
    b = _bound()
    step, one_tensor, is_builtin = _stepper(b), _one_tensor(b), _is_builtin
    outputs, default_and_config, reloaded = _layer_outputs, _layer_default_and_config, _layer_reloaded
    width, other = LAYER_WIDTHS
    x, y = feature_probe(width), feature_probe(other)

    def report(cls: Any) -> Any:
        if not b.isclass(cls):
            return cls  # a placeholder or a wrong kind of value: the check names it
        facts: dict[str, Any] = {REPORT_KEY: "layer", "class_name": cls.__name__, "builtin": is_builtin(cls)}
        if not b.issubclass(cls, b.Layer) or b.issubclass(cls, b.Model):
            facts["wrong_base"] = "a model class" if b.issubclass(cls, b.Model) else \
                "a class whose bases are " + ", ".join(base.__name__ for base in cls.__mro__[1:-1] or (object,))
            return facts
        try:
            layer = outputs(b, step, one_tensor, cls, facts, x)
            default_and_config(step, one_tensor, cls, layer, facts, x, y)
            reloaded(b, step, one_tensor, layer, facts, x)
        except b.StepFailed:
            pass
        return facts

    return report


def _layer_outputs(b, step, one_tensor, cls, facts, x) -> Any:
    layer = step(facts, f"{cls.__name__}(initial_scale={PROBE_INITIAL_SCALE})",
                 lambda: cls(initial_scale=PROBE_INITIAL_SCALE))
    facts["weights_before_call"] = b.len(layer.weights)
    facts["initial_outputs"] = step(facts, f"calling the layer on a batch of shape {x.shape}", lambda: one_tensor(layer(x)))
    facts["weight_shapes"] = [b.list(w.shape) for w in layer.weights]
    facts["weight_trainable"] = [b.bool(w.trainable) for w in layer.weights]
    probe = b.random_weights([b.tuple(w.shape) for w in layer.weights], LAYER_SEED)
    step(facts, "layer.set_weights(...) with new values", lambda: layer.set_weights(probe))
    facts["probe_outputs"] = step(facts, "calling the layer again after set_weights", lambda: one_tensor(layer(x)))
    return layer


def _layer_default_and_config(step, one_tensor, cls, layer, facts, x, y) -> None:
    default = step(facts, f"{cls.__name__}() with no arguments", lambda: cls())
    facts["default_outputs"] = step(facts, f"calling {cls.__name__}() on a batch of shape {y.shape}",
                                    lambda: one_tensor(default(y)))
    config = step(facts, "layer.get_config()", layer.get_config)
    fresh = step(facts, f"{cls.__name__}.from_config(layer.get_config())", lambda: cls.from_config(config))
    facts["config_outputs"] = step(facts, "calling the layer made by from_config", lambda: one_tensor(fresh(x)))


def _layer_reloaded(b, step, one_tensor, layer, facts, x) -> None:
    with b.folder(prefix="lesson07-") as folder:
        path = b.join(folder, "feature_scale.keras")

        def save() -> None:
            inputs = b.Input(shape=(x.shape[1],))
            b.save_model(b.Model(inputs, layer(inputs)), path)

        step(facts, "saving a model that holds the layer to a .keras file", save)
        loaded = step(facts, "loading that .keras file back (safe mode)",
                      lambda: b.load_model(path, safe_mode=True, compile=False))
        facts["reloaded_outputs"] = step(facts, "calling the reloaded model", lambda: one_tensor(loaded(x)))


# --- Exercise 7.2: a subclassed model -------------------------------------------------------


def _sublayers(model: Any) -> list[Any]:
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:  # a private helper of Keras: fall back to the public list
        return list(getattr(model, "layers", []))


def make_model_reporter() -> Callable[[Any], Any]:
    """7.2's reporter: ``cls()`` called on ``[pixels, stats]``, then again with the reporter's weights."""
    b = _bound()
    step, one_tensor, is_builtin, sublayers = _stepper(b), _one_tensor(b), _is_builtin, _sublayers
    pixels, stats = two_way_probe()

    def report(cls: Any) -> Any:
        if not b.isclass(cls):
            return cls  # a placeholder or a wrong kind of value: the check names it
        facts: dict[str, Any] = {REPORT_KEY: "model", "class_name": cls.__name__, "builtin": is_builtin(cls)}
        if not b.issubclass(cls, b.Model):
            facts["wrong_base"] = "a layer class" if b.issubclass(cls, b.Layer) else "a class that is not a model"
            return facts
        try:
            model = step(facts, f"{cls.__name__}() with no arguments", lambda: cls())
            facts["outputs"] = step(facts, "calling the model as model([pixels, stats])",
                                    lambda: one_tensor(model([pixels, stats], training=False)))
            nested = [layer for layer in sublayers(model) if b.isinstance(layer, b.Model)][:5]
            facts["nested"] = [f"a {b.type(layer).__name__} model named {layer.name!r}" for layer in nested]
            facts["nested_weights"] = [b.len(layer.weights) for layer in nested]
            facts["weights"] = [b.asarray(w, dtype="float32") for w in model.get_weights()]
            probe = b.random_weights([w.shape for w in facts["weights"]], MODEL_SEED)
            step(facts, "model.set_weights(...) with new values", lambda: model.set_weights(probe))
            facts["probe_outputs"] = step(facts, "calling the model after set_weights",
                                          lambda: one_tensor(model([pixels, stats], training=False)))
        except b.StepFailed:
            pass
        return facts

    return report
