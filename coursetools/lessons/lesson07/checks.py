"""Checks for lesson 7 (custom layers and models).

Two kinds of evidence:

* **Exportable answers** (7.3 a dict of predictions about `call` methods under ``fit``)
  travel like every other answer, as plain values.
* **Answers that are classes** (7.1 a custom layer, 7.2 a subclassed model) are learner
  code, which the grader's verdict process never runs. Their check cells hand over the
  class; :mod:`coursetools.class_runner` runs only the answer cell's definitions in a fresh
  process (sandboxed when grading) and the lesson's reporter
  (:mod:`coursetools.lessons.lesson07.tools`) reports on the class: outputs on inputs the
  course chose, its weight shapes, outputs after the reporter put its **own** weights in,
  structural facts. The check regenerates those weights from their seed and recomputes
  every expected number with NumPy, so a report passes only if the class computes the
  specified function for *any* weights; a model that hands its work to a whole built-in
  model, or starts with `given`'s own weights, is named as such.

  What is judged is the class's behaviour, not its source (how it is written is up to the
  learner, as long as it behaves: built per input width, restored after a reload).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from coursetools.class_runner import FAILED_REPORT
from coursetools.expect import describe
from coursetools.feedback import Mistake
from coursetools.lessons.lesson07.given import FIT_SNIPPETS, given_two_input_skip
from coursetools.lessons.lesson07.tools import (
    LAYER_SEED,
    LAYER_WIDTHS,
    MODEL_SEED,
    PROBE_INITIAL_SCALE,
    REPORT_KEY,
    feature_probe,
    random_weights,
    two_way_probe,
)
from coursetools.probing import same_values
from coursetools.registry import exercise

LAYER_REPORTER = "coursetools.lessons.lesson07.tools:make_layer_reporter"
MODEL_REPORTER = "coursetools.lessons.lesson07.tools:make_model_reporter"

# --- Shared helpers ------------------------------------------------------------------------


def _np_relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _same_numbers(found: Any, expected: np.ndarray, atol: float = 1e-5) -> bool:
    return same_values(found, expected, atol=atol)


def _report(value: object, kind: str, what: str, expected: str, hint: str) -> dict[str, Any]:
    """The report on the learner's class, or a Mistake that says what the answer was instead."""
    if isinstance(value, dict) and value.get(REPORT_KEY) == kind:
        return value
    if isinstance(value, dict) and value.get(REPORT_KEY) == FAILED_REPORT:
        raise Mistake(
            f"{what} could not be used: {value.get('message')}",
            expected=expected,
            found=f"{value.get('error')} while running your answer cell's definitions"
            if value.get("stage") == "definitions" else str(value.get("error")),
            hint=hint,
        )
    if _is_an_instance(value):
        hint = f"keep the class itself under this name: class {what.strip('`')}(...): ..., not an instance of it"
    raise Mistake(f"{what} is not {expected}.", expected=expected, found=describe(value), hint=hint)


def _is_an_instance(value: object) -> bool:
    """A layer or model object (saved and loaded, or described), where the class itself was asked for."""
    import keras

    return isinstance(value, keras.layers.Layer) or (
        type(value).__name__ == "Unexportable" and getattr(value, "nature", "") in ("layer", "model", "subclassed"))


def _hint_for(error: str) -> str | None:
    """What to do about an error quoted from the learner's class, when the fix is known."""
    known = [
        ("forgot to call `super().__init__()`", "call super().__init__(**kwargs) as the first line of __init__"),
        ("Could not locate class", "put @keras.saving.register_keras_serializable() on the line above `class ...`, "
         "run that cell again, then this one"),
        ("must override `get_config()`", "write get_config(): return {**super().get_config(), \"initial_scale\": "
         "self.initial_scale}"),
        ("missing 1 required positional argument: 'initial_scale'", "give initial_scale a default: "
         "def __init__(self, initial_scale=1.0, **kwargs)"),
        ("unexpected keyword argument 'initial_scale'", "__init__ must accept initial_scale: "
         "def __init__(self, initial_scale=1.0, **kwargs)"),
        ("unexpected keyword argument", "accept **kwargs in __init__ and pass them on: super().__init__(**kwargs) "
         "(Keras passes name, trainable and dtype when it rebuilds a layer from its config)"),
        ("Unrecognized keyword arguments", "pass only Keras' own arguments (**kwargs) to super().__init__(); "
         "keep yours, such as initial_scale, in your own attributes"),
        ("is not defined", "your class may use only its own attributes and what your answer cell imports or "
         "defines (numpy as np, keras, layers and ops are there): the check runs the class on its own"),
        ("required positional argument", "the check creates your class with no arguments: give every argument "
         "of __init__ a default, and create the layers inside the class"),
    ]
    for phrase, hint in known:
        if phrase in error:
            return hint
    return None


def _failed(report: dict[str, Any], what: str, hint: str | None = None) -> Mistake:
    error = str(report.get("error", ""))
    return Mistake(
        f"{what} fails when the check runs it: {report.get('failed_step', 'a step')} raised an error.",
        expected="no error",
        found=error,
        hint=_hint_for(error) or hint or "run that step yourself in a new cell to see the whole error",
    )


def _stage(report: dict[str, Any], key: str, what: str, hint: str | None = None) -> Any:
    """A fact of the report; when it is missing, the step that should have produced it failed."""
    if key in report:
        return report[key]
    raise _failed(report, what, hint)


def _role_assignments(arrays: list[Any], roles: list[tuple[str, tuple[int, ...]]]) -> list[dict[str, np.ndarray]]:
    """Every way to give each role an array of its shape (arrays of equal shapes may swap)."""
    arrays = [np.asarray(a, dtype="float64") for a in arrays]
    if sorted(a.shape for a in arrays) != sorted(shape for _, shape in roles):
        return []
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, array in enumerate(arrays):
        groups.setdefault(array.shape, []).append(index)
    per_shape = []
    for shape, indices in groups.items():
        names = [name for name, s in roles if s == shape]
        per_shape.append([dict(zip(names, order)) for order in itertools.permutations(indices)])
    return [
        {name: arrays[index] for part in combo for name, index in part.items()}
        for combo in itertools.product(*per_shape)
    ]


def _shapes_text(arrays: list[Any]) -> str:
    return ", ".join(str(tuple(np.shape(a))) for a in arrays) or "none"


# --- 7.1 a custom layer ---------------------------------------------------------------------

_LAYER_HINT = "define it as class FeatureScale(keras.layers.Layer): ... and run that cell"


@exercise("7.1", "Write a custom layer with weights that saves and loads", reports={"FeatureScale": LAYER_REPORTER})
def custom_layer(FeatureScale: object) -> str:  # noqa: N803 (the evidence is the learner's class, named as in the task)
    report = _report(FeatureScale, "layer", "`FeatureScale`", "your own subclass of keras.layers.Layer", _LAYER_HINT)
    _require_own_layer_class(report)
    width, other = LAYER_WIDTHS
    x, y = feature_probe(width).astype("float64"), feature_probe(other).astype("float64")
    width_hint = ("create the weights in build(self, input_shape), with shape (input_shape[-1],), not in __init__"
                  if report.get("weights_before_call", 0) > 0 else None)
    initial = _stage(report, "initial_outputs", "`FeatureScale`", width_hint)
    _require_feature_weights(report, initial, x, width)
    _require_initial_scale(initial, x)
    _require_scale_and_offset(report, x)
    default = _stage(report, "default_outputs", "`FeatureScale()`", width_hint)
    if not _same_numbers(default, y):
        raise Mistake(
            f"`FeatureScale()` on {other} features does not start as the identity.",
            expected=f"outputs equal to the inputs, shape {y.shape}: initial_scale defaults to 1.0, one weight per feature",
            found=f"outputs of shape {np.shape(default)}" if np.shape(default) != y.shape else "other numbers",
            hint="def __init__(self, initial_scale=1.0, **kwargs), and shapes from input_shape[-1] in build()",
        )
    _require_config_and_reload(report, x)
    return "a layer with one scale and one offset per feature, built for any width, saved and reloaded"


def _require_own_layer_class(report: dict[str, Any]) -> None:
    if "wrong_base" in report:
        raise Mistake(
            "`FeatureScale` is a class, but not a layer.",
            expected="class FeatureScale(keras.layers.Layer)",
            found=f"{report['class_name']}: {report['wrong_base']}",
            hint="inherit from keras.layers.Layer (a Model is for whole networks)",
        )
    if report["builtin"]:
        raise Mistake(
            "`FeatureScale` is a built-in Keras class, not one you wrote.",
            expected="class FeatureScale(keras.layers.Layer) with build() and call()",
            found=f"keras' own {report['class_name']}",
            hint=_LAYER_HINT,
        )


def _require_feature_weights(report: dict[str, Any], initial: Any, x: np.ndarray, width: int) -> None:
    if np.shape(initial) != x.shape:
        raise Mistake(
            "`FeatureScale` changes the shape of its input.",
            expected=f"outputs of shape {x.shape}, like the batch it received: one output per feature",
            found=f"outputs of shape {np.shape(initial)}",
            hint="scale and shift each feature: return inputs * self.scale + self.offset",
        )
    shapes = [tuple(s) for s in report["weight_shapes"]]
    if not shapes:
        raise Mistake(
            "`FeatureScale` has no weights.",
            expected=f"two trainable weights, scale and offset, each of shape ({width},) for {width} features",
            found="no weights after the layer was called",
            hint="create them in build(self, input_shape) with self.add_weight(shape=(input_shape[-1],), ...)",
        )
    if sorted(shapes) != [(width,), (width,)]:
        raise Mistake(
            "`FeatureScale` does not have one scale and one offset per feature.",
            expected=f"two weights of shape ({width},) for a batch of {width} features",
            found=f"weights of shapes {_shapes_text([np.zeros(s) for s in shapes])}",
            hint="in build(), make each weight with shape=(input_shape[-1],)",
        )
    if not all(report["weight_trainable"]):
        raise Mistake(
            "a weight of `FeatureScale` is not trainable.",
            expected="scale and offset both trainable, so fit() can learn them",
            found=f"trainable flags {report['weight_trainable']}",
            hint="leave trainable=True in self.add_weight(...)",
        )


def _require_initial_scale(initial: Any, x: np.ndarray) -> None:
    if _same_numbers(initial, x * PROBE_INITIAL_SCALE):
        return
    if _same_numbers(initial, x):
        found = "the layer returned its inputs unchanged: the scale started at 1, not 0.5"
        hint = 'start the scale at initial_scale: initializer=keras.initializers.Constant(self.initial_scale)'
    else:
        found = "other numbers"
        hint = 'scale starts at initial_scale (keras.initializers.Constant), offset at 0 ("zeros")'
    raise Mistake(
        "a new `FeatureScale(initial_scale=0.5)` does not start as inputs * 0.5.",
        expected="scale = 0.5 for every feature and offset = 0 before any training",
        found=found,
        hint=hint,
    )


def _require_scale_and_offset(report: dict[str, Any], x: np.ndarray) -> None:
    """With the reporter's weights (regenerated here from their seed), outputs = x * scale + offset."""
    probe = _stage(report, "probe_outputs", "`FeatureScale`")
    w = [a.astype("float64") for a in random_weights([tuple(s) for s in report["weight_shapes"]], LAYER_SEED)]
    if any(_same_numbers(probe, x * w[i] + w[1 - i]) for i in (0, 1)):
        return
    if any(_same_numbers(probe, x * w[i]) for i in (0, 1)):
        found = "inputs * scale: the offset is not added"
    elif any(_same_numbers(probe, x + w[i]) for i in (0, 1)):
        found = "inputs + offset: the scale is not used"
    else:
        found = "numbers that do not follow the layer's weights"
    raise Mistake(
        "`FeatureScale` does not compute inputs * scale + offset from its weights.",
        expected="with any values in its two weights, outputs = inputs * scale + offset, feature by feature",
        found=f"after the check set other weights: {found}",
        hint="in call(): return inputs * self.scale + self.offset (use the weights, not constants)",
    )


def _require_config_and_reload(report: dict[str, Any], x: np.ndarray) -> None:
    rebuilt = _stage(report, "config_outputs", "`FeatureScale`'s configuration")
    if not _same_numbers(rebuilt, x * PROBE_INITIAL_SCALE):
        raise Mistake(
            "a layer rebuilt from `get_config()` forgets initial_scale.",
            expected="FeatureScale.from_config(layer.get_config()) starts at scale 0.5, like the layer it came from",
            found="it starts with another scale" + (" (1.0, the default)" if _same_numbers(rebuilt, x) else ""),
            hint='keep the argument in the config: return {**super().get_config(), "initial_scale": self.initial_scale}',
        )
    reloaded = _stage(report, "reloaded_outputs", "`FeatureScale`")
    if not _same_numbers(reloaded, np.asarray(report["probe_outputs"], dtype="float64")):
        raise Mistake(
            "after saving to a .keras file and loading it back, the layer computes something else.",
            expected="the reloaded layer has the same weights and gives the same outputs",
            found="different outputs after the round trip",
            hint="create the weights with self.add_weight in build() so Keras saves and restores them",
        )


# --- 7.2 a subclassed model equal to a functional one ------------------------------------

_TWO_WAY_ROLES = [
    ("encode_kernel", (64, 24)), ("encode_bias", (24,)),
    ("refine_kernel", (28, 24)), ("refine_bias", (24,)),
    ("digit_kernel", (24, 10)), ("digit_bias", (10,)),
]


def _two_way(w: dict[str, np.ndarray], pixels: np.ndarray, stats: np.ndarray, *, stats_first: bool = False,
             skip: bool = True, relu_encode: bool = True, relu_refine: bool = True, softmax: bool = True) -> np.ndarray:
    """Exercise 7.2's network in NumPy (and the usual ways of getting it wrong)."""
    h = pixels @ w["encode_kernel"] + w["encode_bias"]
    h = _np_relu(h) if relu_encode else h
    joined = np.concatenate([stats, h] if stats_first else [h, stats], axis=1)
    g = joined @ w["refine_kernel"] + w["refine_bias"]
    g = _np_relu(g) if relu_refine else g
    z = ((h + g) if skip else g) @ w["digit_kernel"] + w["digit_bias"]
    return _np_softmax(z) if softmax else z


_TWO_WAY_MISTAKES = [
    (dict(stats_first=True), "it joins [stats, encoded pixels]: given joins [encoded pixels, stats], so given's "
     "weights for `refine` would meet the wrong numbers", "swap the list you pass to Concatenate"),
    (dict(skip=False), "the skip connection is missing: the output layer sees only the refine output",
     "add the encode output to the refine output before the last layer: h + g (or layers.Add()([h, g]))"),
    (dict(relu_refine=False), "the refine layer has no ReLU", 'give it activation="relu", as in given.summary()'),
    (dict(relu_encode=False), "the encode layer has no ReLU", 'give it activation="relu", as in given.summary()'),
    (dict(softmax=False), "the last layer has no softmax: the outputs are not probabilities",
     'give the last Dense layer activation="softmax"'),
]


@exercise("7.2", "Subclass a model equal to a given functional one", reports={"TwoWay": MODEL_REPORTER})
def subclassed_twin(TwoWay: object) -> str:  # noqa: N803 (the evidence is the learner's class, named as in the task)
    hint = "define it as class TwoWay(keras.Model): layers in __init__, the graph in call(self, inputs)"
    report = _report(TwoWay, "model", "`TwoWay`", "your own subclass of keras.Model", hint)
    weights = _require_own_model(report)
    outputs = _stage(report, "outputs", "`TwoWay`")
    pixels, stats = (a.astype("float64") for a in two_way_probe())
    if np.shape(outputs) != (len(pixels), 10):
        raise Mistake(
            "`TwoWay` returns outputs of the wrong shape.",
            expected=f"({len(pixels)}, 10): ten probabilities per sample",
            found=f"{np.shape(outputs)}",
        )
    _require_given_graph(report, weights, pixels, stats)
    return "a subclassed model with its own layers that computes what `given` computes, for any weights"


def _require_own_model(report: dict[str, Any]) -> list[Any]:
    """The model's own weights, after ruling out a layer class, a built-in model and delegation to a whole model."""
    name = report["class_name"]
    if "wrong_base" in report:
        raise Mistake("`TwoWay` is a class, but not a model.", expected="class TwoWay(keras.Model)",
                      found=f"{name}: {report['wrong_base']}", hint="inherit from keras.Model")
    if report["builtin"]:
        raise Mistake(
            f"`TwoWay` is Keras' own {name}: this exercise asks for a subclass of your own.",
            expected="class TwoWay(keras.Model) with __init__ and call",
            found=f"keras' {name}",
            hint="create the layers in __init__ and connect them in call(self, inputs)",
        )
    weights = _stage(report, "weights", "`TwoWay`")
    whole = [text for text, count in zip(report["nested"], report["nested_weights"]) if count and count >= len(weights)]
    if whole:
        raise Mistake(
            "`TwoWay` hands its work to a whole model inside it.",
            expected="its own layers (Dense, Concatenate, ...) created in __init__, connected in call",
            found=f"{name} holds {whole[0]}, which holds all of its weights",
            hint="do not store `given` (or another model) in your class: recreate its layers one by one",
        )
    if not weights:
        raise Mistake(
            "`TwoWay` has no weights of its own.",
            expected="the weights of its Dense layers: shapes " + _shapes_text([np.zeros(s) for _, s in _TWO_WAY_ROLES]),
            found=f"a {name} without weights: calling a model or layers that are not attributes of the class "
            "does not make them part of it",
            hint="create each layer in __init__ as an attribute (self.encode = layers.Dense(...)), use them in call",
        )
    if not _role_assignments(weights, _TWO_WAY_ROLES):
        raise Mistake(
            "the layers of `TwoWay` do not have the sizes of given's layers.",
            expected="weights of shapes " + _shapes_text([np.zeros(s) for _, s in _TWO_WAY_ROLES]),
            found=f"weights of shapes {_shapes_text(weights)}",
            hint="Dense(24) on the pixels, Dense(24) on [encoded, stats], Dense(10) at the end, as in given.summary()",
        )
    given = [w.astype("float64") for w in given_two_input_skip().get_weights()]
    if any(_same_numbers(w, g, atol=0.0) for w in weights for g in given if np.shape(w) == np.shape(g) and g.ndim == 2):
        raise Mistake(
            "`TwoWay` starts with given's own weights: its layers come from `given`.",
            expected="layers of your own, created in __init__ (a new Dense starts with its own random weights)",
            found="a kernel equal to one of given's",
            hint="create new layers, e.g. self.encode = layers.Dense(24, activation=\"relu\"), not given's layers",
        )
    return weights


def _require_given_graph(report: dict[str, Any], weights: list[Any], pixels: np.ndarray, stats: np.ndarray) -> None:
    """With the reporter's weights (regenerated here), the outputs follow given's graph for some role of each weight."""
    probe = _stage(report, "probe_outputs", "`TwoWay`")
    assignments = _role_assignments(random_weights([np.shape(w) for w in weights], MODEL_SEED), _TWO_WAY_ROLES)
    if any(_same_numbers(probe, _two_way(w, pixels, stats)) for w in assignments):
        return
    for variant, found, fix in _TWO_WAY_MISTAKES:
        if any(_same_numbers(probe, _two_way(w, pixels, stats, **variant)) for w in assignments):
            raise Mistake("`TwoWay` does not compute what `given` computes.", expected="the graph of given.summary()",
                          found=found, hint=fix)
    raise Mistake(
        "`TwoWay` does not compute what `given` computes.",
        expected="h = encode(pixels); g = refine([h, stats]); outputs = digit(h + g)",
        found="with other weights in its layers, its outputs do not follow that graph",
        hint="compare call() with given.summary() line by line (the 'Connected to' column shows the wiring)",
    )


# --- 7.3 will it run under fit? -------------------------------------------------------------

# The answer for each `call` of FIT_SNIPPETS, and what a learner who answered otherwise
# believes. tests/lessons/test_lesson07.py trains a model with each `call` to prove the key.
FIT_ANSWERS = {
    "a": ("runs", "`training` is a plain Python True or False that fit passes to call: it is known while fit "
          "traces call, so an `if` on it is an `if` on structure, fine under fit (lesson 7, section 3)"),
    "b": ("raises", "`ops.max(x) > 1.0` is a tensor: while fit traces call, x is symbolic, with a shape but no "
          "values, so Python's `if` cannot decide: OperatorNotAllowedInGraphError. An eager call model(x) runs it; "
          "under fit, branch with ops.cond (or ops.where), or compile with run_eagerly=True"),
    "c": ("runs", "self.repeats is a Python int set in __init__ (structure): the loop runs once while fit traces "
          "call and leaves three calls of refine in the graph"),
    "d": ("raises", "1,347 digits in batches of 32 leave a last batch of 3, so fit traces call for batches of "
          "any size: x.shape[0] is None, and `None > 1` raises TypeError. The feature axes are known "
          "(x.shape[-1] is 64); the batch size is not structure you can count on"),
    "e": ("runs", "ops.cond puts both branches into the traced graph and picks one by the tensor's value at run "
          "time: that is how call branches on a value under fit"),
    "f": ("raises", "`while` asks Python for the truth of a tensor on every turn, like `if`: under fit that raises "
          "OperatorNotAllowedInGraphError; a loop that depends on values needs ops.while_loop"),
}
assert FIT_ANSWERS.keys() == FIT_SNIPPETS.keys()


_SAYS_RUNS = {"runs", "run", "it runs", "works", "it works"}
_SAYS_RAISES = {"raises", "raise", "it raises", "error", "an error", "fails", "it fails"}


def _run_or_raise(value: object) -> str | None:
    """"runs" or "raises" from an answer (a few spellings of each); anything else is unreadable."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.lower().split()).strip(" .!")
    return "runs" if text in _SAYS_RUNS else "raises" if text in _SAYS_RAISES else None


@exercise("7.3", "Will it run under fit?")
def will_it_run(answers: object) -> str:
    keys = ", ".join(f'"{k}"' for k in FIT_ANSWERS)
    if not isinstance(answers, dict):
        raise Mistake("`answers` is not a dict.", expected=f"a dict with the keys {keys}",
                      found=describe(answers), hint='answers = {"a": "runs", "b": ..., ...}')
    missing = [k for k in FIT_ANSWERS if k not in answers]
    extra = [k for k in answers if k not in FIT_ANSWERS]
    if missing or extra:
        raise Mistake("`answers` does not answer exactly the questions a to f.", expected=f"the keys {keys}",
                      found=(f"missing {missing}" if missing else "") + (" " if missing and extra else "")
                      + (f"unknown keys {extra}" if extra else ""),
                      hint="one entry per `call`, keyed by its lower-case letter")
    unreadable = [k for k in FIT_ANSWERS if _run_or_raise(answers[k]) is None]
    if unreadable:
        raise Mistake("some answers are neither \"runs\" nor \"raises\".",
                      expected='each value "runs" or "raises"',
                      found=", ".join(f"{k}: {answers[k]!r}" for k in unreadable),
                      hint="one word per `call`: does model.fit(...) run it, or raise?")
    wrong = [k for k, (verdict, _) in FIT_ANSWERS.items() if _run_or_raise(answers[k]) != verdict]
    if wrong:
        raise Mistake(
            f"{len(wrong)} of {len(FIT_ANSWERS)} predictions are not what fit does.",
            expected="what model.fit(...) does with each call: runs it, or raises",
            found="; ".join(f"{k} ({answers[k]}): in fact it {FIT_ANSWERS[k][0]}: {FIT_ANSWERS[k][1]}" for k in wrong),
            hint="ask of each `if`, `for` and `while`: is its condition a Python value while fit traces call "
            "(a setting, the training flag, a feature axis), or a tensor's value?",
        )
    return "values need ops.cond or eager execution; settings, the training flag and feature shapes are fine"
