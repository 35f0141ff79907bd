"""Course code that lesson 10's check cells run: probes of a function, reports on learner classes.

* :func:`probe_inception_blocks` turns a learner's ``inception_block(x)`` *function* into
  evidence: one small model per input width, built here by calling the function (a
  function cannot travel to the grader; the models it builds can).
* :func:`make_router_reporter` and :func:`make_step_reporter` are the reporter factories
  of exercises 10.3 and 10.4, whose answers are classes. The class runner
  (:mod:`coursetools.class_runner`) calls a factory *before* the learner's definitions
  run, in a fresh process, and hands the class to the reporter it returns. The reporter
  builds the model from the class, puts weights it chose into it, trains it with Keras's
  own ``fit`` on course data and records plain facts: outputs, losses, weights. The
  checks (:mod:`coursetools.lessons.lesson10.checks`) recompute every expected number
  with NumPy from the weights the report set.

Reporters never raise for a learner's mistake: they record the step that failed and the
first line of its error. A placeholder (``not_done``) never reaches them: the check cell
passes it to the check unchanged.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from coursetools.lessons.lesson10.given import ROUTER_BATCH, ROUTER_FEATURES, router_data
from coursetools.placeholders import is_not_done
from coursetools.probing import first_line, is_plain_function, models_of_block

REPORT_KEY = "report"  # a report says what it is: {"report": "router" | "train_step", ...}

# --- Exercise 10.1: an Inception block for any input width ------------------------------------

# (name, shape of one input sample). The names are the keys of the evidence dict; the check
# knows the same cases. Widths on both sides of the reduction's threshold (4 channels).
INCEPTION_CASES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("1 channel", (8, 8, 1)),
    ("4 channels", (8, 8, 4)),
    ("5 channels", (7, 5, 5)),
    ("40 channels", (4, 6, 40)),
)
REDUCE_ABOVE = 4  # the 3x3 branch is reduced to 4 channels only for inputs with more than 4


def probe_inception_blocks(inception_block: Any) -> Any:
    """``{"1 channel": model, ...}``: ``keras.Model(x, inception_block(x))`` for every case.

    A case where the function raises, or returns something that is not a tensor, holds
    a one-line description instead of a model, so the check can say which width broke
    the block. A placeholder or anything that is not a function is returned unchanged.
    """
    if is_not_done(inception_block) or not is_plain_function(inception_block):
        return inception_block
    return models_of_block((name, shape, "inception_block(x)", inception_block) for name, shape in INCEPTION_CASES)


# --- Weights the reporters put into a learner's model ------------------------------------------


def report_weights(shapes: list[tuple[int, ...]], seed: int, scale: float = 0.4) -> list[np.ndarray]:
    """Fixed weights for the given shapes (normal, ``scale``), the same on every machine."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, scale, size=shape).astype("float32") for shape in shapes]


# --- Exercise 10.3: a router that trains under fit ---------------------------------------------

ROUTER_ROLES = ("small", "hidden", "big")
ROUTER_KERNELS = {"small": (ROUTER_FEATURES, 1), "hidden": (ROUTER_FEATURES, 16), "big": (16, 1)}
ROUTER_LEARNING_RATE = 0.02
ROUTER_EPOCHS = 2
ROUTER_SEED = 1030


def router_start_weights() -> list[np.ndarray]:
    """The weights the report puts into the router, by role: small kernel, bias, hidden ..., big ..."""
    shapes = []
    for role in ROUTER_ROLES:
        kernel = ROUTER_KERNELS[role]
        shapes += [kernel, (kernel[1],)]
    return report_weights(shapes, ROUTER_SEED, scale=0.3)


def router_probes() -> dict[str, np.ndarray]:
    """Batches the report feeds the router: mean clearly above 0, clearly below 0, and a mixed batch.

    The mixed batch has a positive mean overall but holds rows of both signs, so a model
    that decides row by row (``ops.where``) answers it differently from one decision per batch.
    """
    rng = np.random.default_rng(1031)
    positive = rng.normal(1.0, 1.0, size=(12, ROUTER_FEATURES))
    negative = rng.normal(-1.0, 1.0, size=(12, ROUTER_FEATURES))
    mixed = np.concatenate([rng.normal(1.5, 0.5, size=(8, ROUTER_FEATURES)),
                            rng.normal(-1.0, 0.5, size=(4, ROUTER_FEATURES))])
    return {name: value.astype("float32") for name, value in
            (("positive", positive), ("negative", negative), ("mixed", mixed))}


class _ReportStepFailed(Exception):
    """A step of a report failed; the report already says which and why."""


# Each ``_make_...`` below is called by a reporter factory, before the learner's definitions run,
# and returns a function (or class) whose every name is bound then: patching this module from an
# answer cell changes none of them.


def _make_report_step():
    """``step(report, what, action)``: one step of a report, run quietly; a failure is written into the report."""
    catch_warnings, simplefilter, first_line_ = warnings.catch_warnings, warnings.simplefilter, first_line
    step_failed = _ReportStepFailed

    def step(report: dict[str, Any], what: str, action):
        try:
            with catch_warnings():
                # the learner's model may warn (e.g. the deprecation warnings of old tf.keras code): the report speaks
                simplefilter("ignore")
                return action()
        except Exception as error:  # the learner's code may fail in any way
            report["failed_step"] = what
            report["error"] = first_line_(error, limit=300)
            raise step_failed from None

    return step


def _make_router_output():
    """``one_output(value)``: what the router returned, as one float32 array (a list, tuple or dict is refused)."""
    import keras

    asarray, to_numpy, isinstance_ = np.asarray, keras.ops.convert_to_numpy, isinstance

    def one_output(value: Any) -> np.ndarray:
        if isinstance_(value, (list, tuple, dict)):
            raise TypeError(f"it returned a {type(value).__name__}, not one tensor")
        return asarray(to_numpy(value), dtype="float32")

    return one_output


def _make_router_roles():
    """``by_role(model, report)``: the router's three built Dense layers by role, or None (the report says why)."""
    import keras

    layer_class, dense_class, isinstance_ = keras.layers.Layer, keras.layers.Dense, isinstance
    roles, kernels = ROUTER_ROLES, dict(ROUTER_KERNELS)

    def dense_layers(model: Any) -> list[Any]:
        found, todo = [], list(model.layers)
        while todo:
            layer = todo.pop(0)
            if isinstance_(layer, dense_class):
                found.append(layer)
            elif isinstance_(layer, layer_class):
                todo[:0] = list(getattr(layer, "layers", []))
        return found

    def by_role(model: Any, report: dict[str, Any]) -> dict[str, Any] | None:
        dense = dense_layers(model)
        report["kernel_shapes"] = [list(layer.kernel.shape) for layer in dense if layer.built]
        layers = {}
        for role in roles:
            matching = [layer for layer in dense if layer.built and tuple(layer.kernel.shape) == kernels[role]]
            if len(matching) != 1 or matching[0].bias is None:
                report["failed_step"] = "finding the three Dense layers"
                return None
            layers[role] = matching[0]
        return layers

    return by_role


def _make_router_steps(step):
    """``steps(cls, report)``: build the router, call it eagerly with the report's weights, train it with fit."""
    import keras

    compile_, fit_, call_ = keras.Model.compile, keras.Model.fit, keras.layers.Layer.__call__
    sgd, asarray = keras.optimizers.SGD, np.asarray
    x_train, y_train = router_data()
    probes, start = router_probes(), router_start_weights()
    roles, learning_rate, epochs, batch = ROUTER_ROLES, ROUTER_LEARNING_RATE, ROUTER_EPOCHS, ROUTER_BATCH
    one_output, by_role_of = _make_router_output(), _make_router_roles()

    def steps(cls: type, report: dict[str, Any]) -> None:
        model = step(report, f"{cls.__name__}()", cls)
        for name in ("positive", "negative"):  # eager calls: each runs (and builds) one branch
            step(report, f"calling {cls.__name__}() on a batch of shape {probes[name].shape}",
                 lambda name=name: call_(model, probes[name]))
        by_role = by_role_of(model, report)
        if by_role is None:
            return
        for index, role in enumerate(roles):
            step(report, f"setting the weights of {role}", lambda index=index, role=role:
                 by_role[role].set_weights([start[2 * index], start[2 * index + 1]]))
        report["eager"] = {name: step(report, f"calling the router on the {name} batch",
                                      lambda name=name: one_output(call_(model, probes[name])))
                           for name in probes}
        step(report, "compile(optimizer=SGD(...), loss=\"mse\")",
             lambda: compile_(model, optimizer=sgd(learning_rate=learning_rate), loss="mse"))
        history = step(report, "fit(...) on the course's batches (graph mode, the default)",
                       lambda: fit_(model, x_train, y_train, batch_size=batch, epochs=epochs, shuffle=False,
                                    verbose=0))
        report["history"] = [float(v) for v in history.history.get("loss", [])]
        report["run_eagerly"] = bool(model.run_eagerly)
        report["trained"] = [asarray(w, dtype="float32") for role in roles
                             for w in by_role[role].get_weights()]

    return steps


def _make_class_reporter(kind: str, steps: Any) -> Any:
    """A reporter on a learner's ``keras.Model`` subclass: ``steps(cls, result)`` fill its report.

    Everything it uses is bound now, when the factory runs, before learner code runs.
    Not a class: returned unchanged, for the check to name. Not a ``keras.Model``
    subclass: its bases are reported. A step that fails has written its error already.
    """
    import keras

    model_class, isclass, issubclass_ = keras.Model, inspect.isclass, issubclass
    key, step_failed = REPORT_KEY, _ReportStepFailed

    def report(cls: Any) -> Any:
        if not isclass(cls):
            return cls
        result: dict[str, Any] = {key: kind, "class_name": cls.__name__}
        if not issubclass_(cls, model_class):
            result["wrong_base"] = ", ".join(base.__name__ for base in cls.__mro__[1:-1]) or "object"
            return result
        try:
            steps(cls, result)
        except step_failed:
            pass
        return result

    return report


def make_router_reporter():
    """The reporter of exercise 10.3, with every function it uses bound now (before learner code runs)."""
    return _make_class_reporter("router", _make_router_steps(_make_report_step()))


# --- Exercise 10.4: a train_step that trains and reports the gradient norm --------------------

STEP_SAMPLES = 1024  # 16 batches of 64 training digits
STEP_BATCH = 64
STEP_EPOCHS = 3
STEP_LEARNING_RATE = 0.1
STEP_SEED = 1040


def step_data() -> tuple[np.ndarray, np.ndarray]:
    """The digits the report trains on: the first 1,024 training digits, in order."""
    from coursetools.data import load_digits_split

    (x_train, y_train), _ = load_digits_split()
    return x_train[:STEP_SAMPLES], y_train[:STEP_SAMPLES]


def step_start_weights() -> list[np.ndarray]:
    """The softmax regression's starting kernel (64, 10) and bias (10,), set by the report."""
    kernel, bias = report_weights([(64, 10), (10,)], STEP_SEED, scale=0.1)
    return [kernel, bias]


def _make_epoch_logs():
    """The callback class of the step report: what a callback sees at the end of every epoch."""
    import keras

    callback_class, sorted_ = keras.callbacks.Callback, sorted

    class EpochLogs(callback_class):
        """What a callback sees at the end of every epoch: the names of the logged values."""

        def __init__(self) -> None:
            super().__init__()
            self.seen: list[list[str]] = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(sorted_(logs or {}))

    return EpochLogs


def _make_gradnorm_steps(step):
    """``steps(cls, report)``: a softmax regression made with the class, from the report's weights, trained by fit."""
    import keras

    input_, dense = keras.Input, keras.layers.Dense
    compile_, fit_, sgd = keras.Model.compile, keras.Model.fit, keras.optimizers.SGD
    asarray, float_ = np.asarray, float
    x_train, y_train = step_data()
    start = step_start_weights()
    learning_rate, batch, epochs = STEP_LEARNING_RATE, STEP_BATCH, STEP_EPOCHS
    epoch_logs = _make_epoch_logs()

    def steps(cls: type, report: dict[str, Any]) -> None:
        inputs = input_(shape=(64,))
        outputs = dense(10, activation="softmax")(inputs)
        model = step(report, f"{cls.__name__}(inputs, outputs)", lambda: cls(inputs, outputs))
        step(report, "setting the starting weights", lambda: model.set_weights(start))
        step(report, "compile(optimizer=SGD(learning_rate=0.1), loss=\"sparse_categorical_crossentropy\", "
                     "metrics=[\"accuracy\"])",
             lambda: compile_(model, optimizer=sgd(learning_rate=learning_rate),
                              loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
        logs = epoch_logs()
        history = step(report, "fit(...) on 1,024 digits", lambda: fit_(
            model, x_train, y_train, batch_size=batch, epochs=epochs, shuffle=False, verbose=0,
            callbacks=[logs]))
        report["history"] = {str(key): [float_(v) for v in values] for key, values in history.history.items()}
        report["callback_keys"] = logs.seen
        report["weights"] = [asarray(w, dtype="float32") for w in model.get_weights()]

    return steps


def make_step_reporter():
    """The reporter of exercise 10.4, with every function it uses bound now (before learner code runs)."""
    gradnorm_steps = _make_gradnorm_steps(_make_report_step())

    def steps(cls: Any, result: dict[str, Any]) -> None:
        result["overrides_train_step"] = "train_step" in vars(cls) or any(
            "train_step" in vars(base) for base in cls.__mro__[1:] if not base.__module__.startswith("keras"))
        gradnorm_steps(cls, result)

    return _make_class_reporter("train_step", steps)
