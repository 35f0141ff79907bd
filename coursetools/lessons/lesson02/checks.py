"""Checks for lesson 2 (the Sequential model). Each takes plain evidence and returns a success detail.

The checks judge what a model *is* and *does* (its input, its chain of Dense layers,
its parameter count, its outputs on real digits), never how it was written: a list or
``add()``, ``keras.Input`` or ``build()``, activations inside ``Dense`` or as separate
layers, a nested or a functional model all pass when they compute the asked stack.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

import numpy as np

from coursetools.data import load_digits_split
from coursetools.expect import describe, expect_int, expect_model
from coursetools.feedback import Mistake
from coursetools.probing import activation_of, first_line, output_of, untouched_biases
from coursetools.registry import exercise

ACCURACY_TARGET = 0.90
_ACTIVATION_LAYERS = {"Activation", "ReLU", "Softmax"}
_RESHAPING_LAYERS = {"Flatten", "Reshape"}


# --- helpers ------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _test_split(flat: bool) -> tuple[np.ndarray, np.ndarray]:
    """The held-out digits every lesson uses (never seen by the learner's training code)."""
    _, (x_test, y_test) = load_digits_split(flat=flat)
    return x_test, y_test


def _steps(model: Any) -> list[Any]:
    """The model's layers in order, nested models expanded, input layers skipped."""
    import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += _steps(layer)
        elif type(layer).__name__ != "InputLayer":
            out.append(layer)
    return out


def _dense_stack(model: Any, allowed: set[str] = frozenset()) -> tuple[list[list[Any]], list[str]]:
    """``[[units, activation], ...]`` for the Dense layers, and the kinds of unexpected layers.

    A separate activation layer right after a linear Dense is folded into it, so
    ``Dense(8), ReLU()`` reads the same as ``Dense(8, activation="relu")``.
    """
    chain: list[list[Any]] = []
    unexpected: list[str] = []
    for layer in _steps(model):
        kind = type(layer).__name__
        if kind == "Dense":
            chain.append([layer.units, activation_of(layer)])
        elif kind in _ACTIVATION_LAYERS and chain and chain[-1][1] == "linear":
            chain[-1][1] = activation_of(layer)
        elif kind not in allowed:
            unexpected.append(kind)
    return chain, unexpected


def _show_chain(inputs: str, chain: list[list[Any]]) -> str:
    parts = [inputs] + [f"{units} ({'no activation' if act == 'linear' else act})" for units, act in chain]
    return " → ".join(parts)


def _sample_shape(model: Any) -> tuple[int, ...] | None:
    """The shape of one sample the model takes, without the batch axis."""
    try:
        return tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _require_built(model: Any, what: str, shape: str) -> None:
    if not model.weights:
        raise Mistake(
            f"{what} has no weights yet: it does not know its input.",
            expected=f"a built model whose first element is keras.Input(shape={shape})",
            found="weights == [] (summary() would show '0 (unbuilt)')",
            hint=f"start the list with keras.Input(shape={shape})",
        )


def _output_or_none(model: Any, x: np.ndarray, what: str) -> np.ndarray | None:
    """The model's output on ``x``, or ``None`` if it refuses that input (see :func:`_refusal`)."""
    try:
        return output_of(model, x, what)
    except Mistake:
        raise
    except Exception:
        return None


def _refusal(model: Any, x: np.ndarray) -> str:
    """Why the model refused ``x``: the input it was built for, else the error's first line."""
    shape = _sample_shape(model)
    if shape is not None:
        return f"a model for inputs of shape {_batch_shape_text((None,) + shape)}"
    try:
        output_of(model, x, "the model")
    except Exception as error:
        return first_line(error)
    return "no error"  # pragma: no cover - only called after a refusal


def _batch_shape_text(shape: tuple[int, ...]) -> str:
    return "(None, " + ", ".join(str(n) for n in shape[1:]) + ")"


# --- 2.1 --------------------------------------------------------------------------------

STACK = [[48, "relu"], [24, "relu"], [10, "softmax"]]
STACK_PARAMS = 64 * 48 + 48 + 48 * 24 + 24 + 24 * 10 + 10  # 4,546


@exercise("2.1", "Build a given stack")
def given_stack(model: object) -> str:
    model = expect_model(model, "`stack`")
    _require_built(model, "`stack`", "(64,)")
    shape = _sample_shape(model)
    if shape is not None and shape != (64,):
        raise Mistake(
            "the model was built for the wrong input.",
            expected="samples of 64 features: keras.Input(shape=(64,))",
            found=f"inputs of shape {_batch_shape_text((None,) + shape)}",
            hint="each digit is a flat vector of 64 pixel values",
        )
    chain, unexpected = _dense_stack(model)
    if unexpected:
        raise Mistake(
            "the stack has a layer the exercise does not ask for.",
            expected="three Dense layers (activations may also be separate layers)",
            found=", ".join(unexpected),
            hint="build exactly the stack described above, nothing more",
        )
    wanted = _show_chain("64", STACK)
    found = _show_chain("64", chain)
    units = [u for u, _ in chain]
    if len(chain) != len(STACK):
        raise Mistake(
            f"the stack has {len(chain)} Dense layer(s), not {len(STACK)}.",
            expected=wanted,
            found=found,
            hint="two hidden layers, then the output layer",
        )
    if units != [u for u, _ in STACK]:
        if sorted(units) == sorted(u for u, _ in STACK):
            raise Mistake(
                "the layers are in the wrong order.",
                expected=f"{wanted}: {STACK_PARAMS:,} parameters",
                found=f"{found}: {model.count_params():,} parameters",
                hint="a Sequential model runs its layers in the order you list or add them",
            )
        raise Mistake("a layer has the wrong number of units.", expected=wanted, found=found)
    for position, ((_, act), (_, want)) in enumerate(zip(chain, STACK), start=1):
        if act != want:
            which = "the output layer" if position == len(STACK) else f"hidden layer {position}"
            shown = "no activation (linear)" if act == "linear" else f"activation {act!r}"
            reason = "so each row is 10 probabilities" if want == "softmax" else "so the stack is not just one affine map"
            raise Mistake(
                f"{which} has the wrong activation.",
                expected=f"{want} ({reason})",
                found=shown,
                hint=f'pass activation="{want}" to that Dense layer',
            )
    if model.count_params() != STACK_PARAMS:
        raise Mistake(
            "the model has the wrong number of parameters.",
            expected=f"{STACK_PARAMS:,}: every Dense layer has a kernel and a bias",
            found=f"{model.count_params():,}",
            hint="keep use_bias at its default (True)",
        )
    return f"{wanted}, {STACK_PARAMS:,} parameters"


# --- 2.2 --------------------------------------------------------------------------------

COUNT_MODEL = "keras.Input(shape=(8, 8)) → Flatten → Dense(16, relu) → Dense(10, softmax)"
COUNT_PARAMS = 8 * 8 * 16 + 16 + 16 * 10 + 10  # 1,210


@exercise("2.2", "Count parameters by hand")
def count_by_hand(n_params: object) -> str:
    count = expect_int(n_params, "`n_params`")
    if count == COUNT_PARAMS:
        return f"{COUNT_PARAMS:,} parameters (1,040 + 0 + 170)"
    diagnoses = {
        8 * 8 * 16 + 16 * 10: (
            "the biases are missing.",
            "every Dense layer also has one bias per unit: add 16 and 10",
        ),
        8 * 16 + 16 + 16 * 10 + 10: (
            "the first Dense layer does not see 8 features.",
            "Flatten turns each 8×8 image into 8 × 8 = 64 features; the first kernel is 64 × 16",
        ),
        8 * 8 * 16 + 16: ("only the first Dense layer was counted.", "add the second Dense layer: 16 × 10 + 10"),
        16 * 10 + 10: ("only the last Dense layer was counted.", "add the first Dense layer: 64 × 16 + 16"),
        16 + 10: ("that counts units, not parameters.", "a Dense layer has inputs × units kernel entries plus units biases"),
        8 * 8 * 16 + 16 + 16 * 10: ("the last layer's bias is missing.", "add its 10 biases"),
        8 * 8 * 16 + 16 * 10 + 10: ("the first layer's bias is missing.", "add its 16 biases"),
    }
    if count in diagnoses:
        problem, hint = diagnoses[count]
        raise Mistake(problem, expected="the total number of weights of the model", found=f"{count:,}", hint=hint)
    raise Mistake(
        "that is not the model's parameter count.",
        expected="the sum over the Dense layers of (inputs × units + units); Flatten has none",
        found=f"{count:,}",
        hint="work out the width each Dense layer receives, then count kernel and bias",
    )


# --- 2.3 --------------------------------------------------------------------------------

FIXED = [[32, "relu"], [10, "softmax"]]
FIXED_PARAMS = 64 * 32 + 32 + 32 * 10 + 10  # 2,410


@exercise("2.3", "Fix a broken model")
def fixed_model(model: object) -> str:
    model = expect_model(model, "`fixed`")
    _require_built(model, "`fixed`", "(8, 8)")
    shape = _sample_shape(model)
    if shape is not None and shape != (8, 8):
        raise Mistake(
            "the model no longer takes 8×8 images.",
            expected="keras.Input(shape=(8, 8)), as in the broken model: the data stay images",
            found=f"inputs of shape {_batch_shape_text((None,) + shape)}",
            hint="keep the input and flatten inside the model with layers.Flatten()",
        )
    images = _test_split(flat=False)[0][:5]
    out = _output_or_none(model, images, "`fixed`")
    if out is None:
        raise Mistake(
            "the model fails on a batch of 8×8 images.",
            expected="a model that accepts images of shape (8, 8)",
            found=_refusal(model, images),
        )
    if out.shape == (5, 8, 10):
        raise Mistake(
            "the model still gives 10 scores per pixel row, not per image.",
            expected="output shape (None, 10): one row of 10 probabilities per image",
            found="output shape (None, 8, 10): Dense works on the last axis, so each of the 8 rows got its own 10 scores",
            hint="add layers.Flatten() right after the input",
        )
    if out.shape[1:] != (10,):
        raise Mistake(
            "the output has the wrong shape.",
            expected="(None, 10): 10 probabilities per image",
            found=_batch_shape_text(out.shape),
            hint="flatten first, and keep Dense(10, softmax) as the last layer",
        )
    steps = _steps(model)
    if type(steps[0]).__name__ not in _RESHAPING_LAYERS:
        raise Mistake(
            "Flatten comes too late.",
            expected=f"Flatten first, so the first Dense layer sees all 64 pixels ({FIXED_PARAMS:,} parameters)",
            found=f"a {type(steps[0]).__name__} layer first, which sees one row of 8 pixels at a time "
            f"({model.count_params():,} parameters)",
            hint="put layers.Flatten() directly after keras.Input(shape=(8, 8))",
        )
    chain, unexpected = _dense_stack(model, _RESHAPING_LAYERS)
    if unexpected or chain != FIXED:
        raise Mistake(
            "the layers differ from the broken model's.",
            expected="only the missing piece added: " + _show_chain("64", FIXED),
            found=_show_chain("64", chain) + (f", plus {', '.join(unexpected)}" if unexpected else ""),
            hint="fix the bug and keep everything else as it was",
        )
    return f"8×8 images → Flatten → 32 → 10, {FIXED_PARAMS:,} parameters"


# --- 2.4 --------------------------------------------------------------------------------


@exercise("2.4", "Train a classifier")
def trained_classifier(model: object) -> str:
    model = expect_model(model, "`trained`")
    if not model.weights:
        raise Mistake(
            "the model has no weights: it was never built or trained.",
            expected=f"a trained model reaching accuracy >= {ACCURACY_TARGET:.2f} on held-out digits",
            found="weights == []",
            hint="compile it, then call fit(x_train, y_train, ...)",
        )
    x_flat, y_test = _test_split(flat=True)
    x_images = _test_split(flat=False)[0]
    out = _output_or_none(model, x_flat, "`trained`")
    if out is None:
        out = _output_or_none(model, x_images, "`trained`")
    if out is None:
        raise Mistake(
            "the model does not accept the digits.",
            expected="inputs of 64 features (or 8×8 images)",
            found=_refusal(model, x_flat),
            hint="start the model with keras.Input(shape=(64,))",
        )
    if out.shape[1:] != (10,):
        raise Mistake(
            "the model does not give one score per digit class.",
            expected="output shape (None, 10): 10 scores per image, one per digit 0-9",
            found=f"output shape {_batch_shape_text(out.shape)}",
            hint="end with Dense(10, activation=\"softmax\")",
        )
    predicted = np.argmax(out, axis=1)
    correct = int(np.sum(predicted == y_test))
    accuracy = correct / len(y_test)
    if accuracy < ACCURACY_TARGET:
        found = f"accuracy {accuracy:.2f} ({correct} of {len(y_test)} right)"
        if untouched_biases(model):
            found += "; fit never ran on this model: every bias is still exactly 0, as Keras creates it"
            hint = "compile the model, then call fit(x_train, y_train, ...) on this very model"
        elif accuracy < 0.3:
            found += ", close to guessing (0.10): the model trained but learned little"
            hint = "check the loss (sparse_categorical_crossentropy for integer labels) and the learning rate"
        else:
            hint = "train longer (more epochs) and check the loss: sparse_categorical_crossentropy for integer labels"
        raise Mistake(
            "the model is not accurate enough on digits it has never seen.",
            expected=f"accuracy >= {ACCURACY_TARGET:.2f} on the {len(y_test)} held-out digits",
            found=found,
            hint=hint,
        )
    return f"accuracy >= {ACCURACY_TARGET:.2f} on {len(y_test)} held-out digits"


# --- 2.5 --------------------------------------------------------------------------------

LOSS_TASKS = {
    "digits": "10 softmax outputs, integer labels 0-9",
    "digits_one_hot": "10 softmax outputs, one-hot labels",
    "odd": "one sigmoid output, label 1 for odd and 0 for even",
    "price": "one output without activation, a price to predict",
}
REGRESSION = {"mean_squared_error", "mean_absolute_error", "huber", "log_cosh", "mean_squared_logarithmic_error",
              "mean_absolute_percentage_error"}
KINDS = {
    "sparse_categorical_crossentropy": "integer",
    "categorical_crossentropy": "one-hot",
    "categorical_focal_crossentropy": "one-hot",
    "binary_crossentropy": "binary",
    "binary_focal_crossentropy": "binary",
    **{name: "regression" for name in REGRESSION},
}
RIGHT_KIND = {"digits": "integer", "digits_one_hot": "one-hot", "odd": "binary", "price": "regression"}
# (task, kind chosen) -> (problem, hint); the problem names the mistake, the hint the way out.
LOSS_MISTAKES = {
    ("digits", "one-hot"): ("categorical_crossentropy expects one-hot rows, and these labels are integers 0-9.",
                            "Keras stops with \"Arguments `target` and `output` must have the same rank\": use "
                            "the sparse version, made for integer labels"),
    ("digits", "binary"): ("binary crossentropy is for one yes/no output, and this model has 10 classes.",
                           "10 softmax outputs with integer labels: the sparse categorical crossentropy"),
    ("digits", "regression"): ("a regression loss treats the labels as numbers to approach, but digits are classes, "
                               "not quantities (a 7 is not closer to an 8 than to a 1).",
                               "a crossentropy compares the 10 probabilities with the true class"),
    ("digits_one_hot", "integer"): ("sparse_categorical_crossentropy expects integer labels, and these are one-hot rows.",
                                    "one-hot labels go with the plain categorical crossentropy"),
    ("digits_one_hot", "binary"): ("binary crossentropy is for one yes/no output, and this model has 10 classes.",
                                   "one-hot labels go with the categorical crossentropy"),
    ("digits_one_hot", "regression"): ("a regression loss treats the labels as numbers to approach, but digits are "
                                       "classes, not quantities.", "one-hot labels go with the categorical crossentropy"),
    ("odd", "integer"): ("the model has one sigmoid output (the probability of odd), not 10 classes.",
                         "a yes/no question answered by one sigmoid output: the binary crossentropy"),
    ("odd", "one-hot"): ("the model has one sigmoid output (the probability of odd), not one-hot classes.",
                         "a yes/no question answered by one sigmoid output: the binary crossentropy"),
    ("odd", "regression"): ("a regression loss treats 0 and 1 as amounts; here they are a yes/no answer.",
                            "one sigmoid output and labels 0/1: the binary crossentropy"),
    ("price", "integer"): ("a price is a quantity, not a class: a crossentropy compares probabilities of classes.",
                           "a number to predict: a regression loss such as the mean squared error (\"mse\")"),
}
for _kind in ("one-hot", "binary"):
    LOSS_MISTAKES[("price", _kind)] = LOSS_MISTAKES[("price", "integer")]


def _loss_name(name: str) -> str | None:
    """What Keras makes of a loss name, in snake case (\"mse\" and \"MeanSquaredError\" -> mean_squared_error)."""
    import keras

    try:
        found = keras.losses.get(name)
    except (ValueError, TypeError):
        return None
    label = getattr(found, "__name__", None) or type(found).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", label).lower() if label[:1].isupper() else label


def _loss_names() -> list[str]:
    """Every loss name Keras accepts written in snake case ("mse", "binary_crossentropy", ...)."""
    import keras

    names = []
    for name in dir(keras.losses):
        if name.islower() and not name.startswith("_") and name not in ("get", "serialize", "deserialize"):
            if _loss_name(name) is not None:
                names.append(name)
    return names


def _is_metric(name: str) -> bool:
    import keras

    try:
        keras.metrics.get(name)
    except (ValueError, TypeError):
        return False
    return True


def _unknown_loss(name: str, key: str) -> Mistake:
    """A name ``keras.losses.get`` refuses: a metric's name, a misspelled loss, or something else."""
    problem = f"Keras knows no loss called {name!r} (for {key!r})."
    expected = "a loss name that compile(loss=...) accepts"
    if _is_metric(name):
        return Mistake(problem, expected=expected, found=f"{name!r} is a metric: it measures a model, it is not a loss to train it",
                       hint="metrics go to compile(metrics=[...]); choose a loss from lesson 2's table of losses")
    close = difflib.get_close_matches(name.lower(), _loss_names(), n=1, cutoff=0.75)
    if close:
        return Mistake(problem, expected=expected, found=repr(name), hint=f"did you mean {close[0]!r}? Keras needs the exact spelling")
    return Mistake(problem, expected=expected, found=repr(name), hint="check the name against lesson 2's table of losses")


@exercise("2.5", "Choose the loss")
def choose_loss(losses: object) -> str:
    wanted = list(LOSS_TASKS)
    if not isinstance(losses, dict):
        raise Mistake(
            "`losses` is not a dict.",
            expected="a dict with the keys " + ", ".join(repr(k) for k in wanted) + ", each mapped to a loss name",
            found=describe(losses),
            hint='fill in the dict of the answer cell: {"digits": "...", ...}',
        )
    for key in wanted:
        if key not in losses:
            raise Mistake(f"the key {key!r} is missing from `losses`.", expected=f"one loss per task: {wanted}",
                          found=f"keys {list(losses)}", hint=f"add the loss for {key!r}: {LOSS_TASKS[key]}")
    extra = [key for key in losses if key not in LOSS_TASKS]
    if extra:
        raise Mistake(f"`losses` has an unexpected key {extra[0]!r}.", expected=f"exactly the keys {wanted}",
                      found=f"keys {list(losses)}", hint="keep the four keys of the statement")
    for key in wanted:
        name = losses[key]
        if not isinstance(name, str):
            raise Mistake(f"the loss for {key!r} is not written as a string.",
                          expected='the name you would pass to compile(loss=...), such as "mse"',
                          found=describe(name), hint="write the loss's name in quotes, not a loss object or function")
        canonical = _loss_name(name)
        if canonical is None:
            raise _unknown_loss(name, key)
        kind = KINDS.get(canonical)
        if kind == RIGHT_KIND[key]:
            continue
        problem, hint = LOSS_MISTAKES.get(
            (key, kind), (f"{name!r} is not a loss for this task.", "see lesson 2's table of losses"))
        raise Mistake(f"{key}: {problem}", expected=f"a loss for {LOSS_TASKS[key]}", found=repr(name), hint=hint)
    return "a loss that fits each kind of label and output"


# --- 2.6 --------------------------------------------------------------------------------

NETWORKS = {
    # letter: (can it be a Sequential model?, why, in a few words)
    "a": (True, "a straight chain: one input, one output, each layer feeding the next"),
    "b": (False, "two inputs: a Sequential model has room for one keras.Input only"),
    "c": (False, "two outputs: a Sequential model ends in one layer, so it has one output"),
    "d": (False, "the input of a layer is added back to its output: a merge needs two tensors, and "
                 "each layer of a Sequential model receives exactly one"),
    "e": (True, "a model is a layer: a trained Sequential model can be one step of a new Sequential model"),
    "f": (True, "depth is no obstacle: any number of layers, one after the other, is still a straight chain"),
}


@exercise("2.6", "Can Sequential do it?")
def sequential_or_not(sequential_can: object) -> str:
    letters = list(NETWORKS)
    if not isinstance(sequential_can, dict):
        raise Mistake("`sequential_can` is not a dict.",
                      expected="a dict mapping each letter " + ", ".join(letters) + " to True or False",
                      found=describe(sequential_can), hint='fill in the dict of the answer cell: {"a": ..., ...}')
    for letter in letters:
        if letter not in sequential_can:
            raise Mistake(f"the key {letter!r} is missing from `sequential_can`.", expected=f"the keys {letters}",
                          found=f"keys {list(sequential_can)}", hint="answer every network of the statement")
    for letter in letters:
        if not isinstance(sequential_can[letter], bool):
            raise Mistake(f"the answer for {letter!r} is not True or False.", expected="True or False",
                          found=describe(sequential_can[letter]), hint="write True or False, without quotes")
    wrong = [letter for letter in letters if sequential_can[letter] is not NETWORKS[letter][0]]
    if wrong:
        first = wrong[0]
        said = "can" if sequential_can[first] else "cannot"
        raise Mistake(
            f"{len(wrong)} of {len(letters)} answers are wrong; the first is {first!r}.",
            expected=f"{first}: {NETWORKS[first][1]}",
            found=f"{first!r} answered as: Sequential {said} do it",
            hint="lesson 2's section \"What Sequential cannot do\" shows each limit with its real error",
        )
    return "you can tell a straight chain of layers from a graph"
