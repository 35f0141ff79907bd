"""Checks for lesson 5 (several inputs and outputs). Each takes plain evidence and returns a success detail.

Models arrive after the grader's round trip, compiled=False: what ``compile`` was told is
gone. The compile exercises (5.3, 5.4) therefore judge behaviour: the learner hands in the
dict that ``evaluate(..., return_dict=True)`` returned on probe data the course owns, and
the check recomputes every per-output loss itself from the exported model's own
predictions on that data. A loss paired with the wrong output (the ordering trap) gives
numbers that match the other output's loss function, and the check says so.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from coursetools.data import load_digits_split
from coursetools.expect import describe, expect_array, expect_model
from coursetools.feedback import Mistake
from coursetools.lessons.lesson05.given import digit_geometry, given_halves, width_loop_probe
from coursetools.probing import activation_of, first_line, same_values, to_numpy
from coursetools.registry import exercise

# --- helpers ------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _split(train: bool, flat: bool) -> tuple[np.ndarray, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = load_digits_split(flat=flat)
    return (x_train, y_train) if train else (x_test, y_test)


def _input_tensor_names(model: Any) -> list[str]:
    return [tensor.name for tensor in model.inputs]


def _outputs_on(model: Any, inputs: Any, what: str, fed: str) -> Any:
    """The model's outputs on ``inputs`` (inference mode), as NumPy, in the structure it returns."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model(inputs, training=False)
    except Exception as error:  # the learner's model may fail in many ways
        raise Mistake(
            f"{what} fails when it is fed {fed}.",
            expected=f"a model that accepts {fed}",
            found=first_line(error, limit=170),
        ) from None
    return to_numpy(out)


def _outputs_by_name(model: Any, out: Any) -> dict[str, np.ndarray]:
    """Outputs keyed by the name a loss dict would use: dict keys, else the output layers' names."""
    if isinstance(out, dict):
        return out
    if not isinstance(out, list):
        out = [out]
    return dict(zip(model.output_names, out))


def _output_tensors(model: Any, out: Any) -> dict[str, Any]:
    """The symbolic output tensors, keyed like :func:`_outputs_by_name`.

    ``model.outputs`` is flat: for a dict of outputs it follows the sorted keys.
    """
    names = sorted(out) if isinstance(out, dict) else list(model.output_names)
    return dict(zip(names, model.outputs))


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None)


def _changed(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or not np.allclose(a, b, atol=1e-6, rtol=0.0)


def _require_names(found: list[str], expected: list[str], what: str, kind: str, hint: str,
                   count_hint: str | None = None) -> None:
    """``found`` must be the names ``expected`` (any order); with ``count_hint``, their number first."""
    if count_hint is not None and len(found) != len(expected):
        raise Mistake(
            f"{what} has {len(found)} {kind}(s).",
            expected=f"{len(expected)} {kind}s, named {expected}",
            found=f"{kind}s named {found}",
            hint=count_hint,
        )
    if sorted(found) != sorted(expected):
        missing = [name for name in expected if name not in found]
        raise Mistake(
            f"{what} does not have the {kind} names the exercise asks for.",
            expected=f"{kind}s named {expected}",
            found=f"{kind}s named {found}" + (f" (no {missing[0]!r})" if missing else ""),
            hint=hint,
        )


def _require_dict(value: object, what: str, role: str) -> dict:
    if isinstance(value, dict):
        return value
    hint = f"write {{'name': array, ...}} with one entry per {role}"
    if isinstance(value, (list, tuple)):
        problem = f"{what} is a {type(value).__name__}, not a dict."
        hint = (f"Keras would match a {type(value).__name__} by position; this exercise asks for a dict "
                f"keyed by {role} name, so the order cannot go wrong")
    else:
        problem = f"{what} is not a dict."
    raise Mistake(problem, expected=f"a dict keyed by {role} name", found=describe(value), hint=hint)


# --- 5.1 ------------------------------------------------------------------------------


def _require_two_way_outputs(model: Any, raw: Any, outputs: dict[str, np.ndarray], rows: int) -> None:
    """`digit`: 10 probabilities per sample; `ink`: one number, no activation; not swapped."""
    digit, ink = outputs["digit"], outputs["ink"]
    if digit.shape[1:] in ((1,), ()) and ink.shape[1:] == (10,):
        raise Mistake("the outputs `digit` and `ink` are swapped.",
                      expected="`digit`: 10 probabilities per sample; `ink`: one number per sample",
                      found="`digit` gives one number per sample and `ink` gives 10",
                      hint='put each head under its own name: outputs={"digit": <the softmax head>, "ink": <the Dense(1) '
                      "head>}, or name each output layer after its head")
    if digit.shape != (rows, 10):
        raise Mistake("the `digit` output has the wrong shape.", expected="10 numbers per sample",
                      found=f"shape {digit.shape[1:]} per sample", hint='end the digit head with Dense(10, activation="softmax")')
    if not (np.all(digit >= 0) and np.allclose(digit.sum(axis=1), 1.0, atol=1e-4)):
        raise Mistake("the `digit` output is not a set of probabilities.", expected="10 probabilities per sample that sum to 1",
                      found="values that do not sum to 1", hint='give the digit head activation="softmax"')
    if ink.shape not in ((rows, 1), (rows,)):
        raise Mistake("the `ink` output has the wrong shape.", expected="one number per sample",
                      found=f"shape {ink.shape[1:]} per sample", hint="end the ink head with Dense(1)")
    layer = _producer(_output_tensors(model, raw)["ink"])
    if layer is not None and type(layer).__name__ in ("Dense", "Activation", "ReLU", "Softmax"):
        activation = activation_of(layer)
        if activation not in ("linear", "None"):
            raise Mistake(
                "the `ink` output has an activation.",
                expected="no activation: ink is an amount, any real number (a regression output)",
                found=f"activation {activation!r} on the layer {layer.name!r}",
                hint="use Dense(1) with no activation for the ink head",
            )


def _require_wiring(outputs: dict[str, np.ndarray], geometry_moved: dict, pixels_moved: dict) -> None:
    """Which output reacts when one input changes: `digit` to both, `ink` to the pixels alone."""
    reactions = [  # output, what moved, must it react?, problem, found, hint
        ("digit", pixels_moved, True, "the `digit` output ignores the pixels.",
         "the same digit probabilities for different images",
         "feed the pixel branch into the merge that leads to the digit head"),
        ("digit", geometry_moved, True, "the `digit` output ignores `geometry`.",
         "the same digit probabilities when only the geometry numbers change",
         "merge geometry with the pixel branch (e.g. layers.Concatenate()) before the digit head"),
        ("ink", pixels_moved, True, "the `ink` output ignores the pixels.",
         "the same ink for different images", "put the ink head on the pixel branch"),
        ("ink", geometry_moved, False, "the `ink` output depends on `geometry`.",
         "ink changes when only the geometry numbers change",
         "call the ink head on the pixel branch's tensor, before (not after) the merge"),
    ]
    expected = {"digit": "digit computed from both inputs", "ink": "ink computed from the pixels alone"}
    for name, moved, must_react, problem, found, hint in reactions:
        if _changed(outputs[name], moved[name]) != must_react:
            raise Mistake(problem, expected=expected[name], found=found, hint=hint)


@exercise("5.1", "Two inputs, two outputs, wired as asked")
def two_inputs_two_outputs(two_way: object) -> str:
    model = expect_model(two_way, "`two_way`")
    _require_names(_input_tensor_names(model), ["pixels", "geometry"], "`two_way`", "input",
                   'name each input when you make it: keras.Input(shape=(64,), name="pixels")',
                   count_hint="make two keras.Input tensors and pass both: keras.Model(inputs=[pixels, geometry], ...)")
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    for name, width in (("pixels", 64), ("geometry", 3)):
        if shapes[name] != (None, width):
            raise Mistake(
                f"the input `{name}` has the wrong shape.",
                expected=f"(None, {width})",
                found=f"{shapes[name]}",
                hint=f'keras.Input(shape=({width},), name="{name}")',
            )

    x_digits, _ = _split(train=False, flat=True)
    rng = np.random.default_rng(51)
    pixels = np.concatenate([x_digits[:24], rng.uniform(0, 1, (8, 64))]).astype("float32")
    geometry = digit_geometry(pixels)
    other_geometry = rng.uniform(0.3, 1.0, geometry.shape).astype("float32")
    other_pixels = np.concatenate([x_digits[24:48], rng.uniform(0, 1, (8, 64))]).astype("float32")
    fed = "a dict {'pixels': (32, 64) array, 'geometry': (32, 3) array}"
    raw = _outputs_on(model, {"pixels": pixels, "geometry": geometry}, "`two_way`", fed)
    outputs = _outputs_by_name(model, raw)
    _require_names(list(outputs), ["digit", "ink"], "`two_way`", "output",
                   'use a dict, outputs={"digit": ..., "ink": ...}, or name the output layers "digit" and "ink"',
                   count_hint='pass both heads: outputs={"digit": digit, "ink": ink}')
    _require_two_way_outputs(model, raw, outputs, len(pixels))
    geometry_moved = _outputs_by_name(model, _outputs_on(model, {"pixels": pixels, "geometry": other_geometry}, "`two_way`", fed))
    pixels_moved = _outputs_by_name(model, _outputs_on(model, {"pixels": other_pixels, "geometry": geometry}, "`two_way`", fed))
    _require_wiring(outputs, geometry_moved, pixels_moved)
    return "inputs `pixels` and `geometry`; `digit` reads both, `ink` reads the pixels alone"


# --- 5.2 ------------------------------------------------------------------------------


def _expected_fit_data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    images, labels = _split(train=True, flat=False)
    return ({"pixels": images.reshape(len(images), 64), "geometry": digit_geometry(images)},
            {"digit": labels.astype("float64"), "odd": (labels % 2).astype("float64")})


def _require_keys(data: dict, expected: list[str], what: str, role: str) -> None:
    keys = [str(key) for key in data]
    missing = [key for key in expected if key not in data]
    extra = [key for key in keys if key not in expected]
    if missing:
        raise Mistake(
            f"{what} has no entry {missing[0]!r}.",
            expected=f"the keys {expected}, the model's {role} names",
            found=f"the keys {keys}",
            hint=f"Keras finds each {role}'s array by its name; look the names up on the model"
            + (f" (is {extra[0]!r} meant to be {missing[0]!r}?)" if extra else ""),
        )
    if extra:
        raise Mistake(
            f"{what} has a key the model does not have: {extra[0]!r}.",
            expected=f"exactly the keys {expected}",
            found=f"the keys {keys}",
            hint=f"keep one entry per {role} of the model, nothing else",
        )


def _same(found: np.ndarray, expected: np.ndarray) -> bool:
    return same_values(found, expected)


def _check_rows(found: np.ndarray, name: str, what: str, expected_rows: int) -> None:
    if found.ndim == 0 or found.shape[0] != expected_rows:
        test_rows = len(_split(train=False, flat=True)[0])
        rows = found.shape[0] if found.ndim else "no"
        raise Mistake(
            f"`{what}[{name!r}]` does not have one row per training digit.",
            expected=f"{expected_rows} rows (the training split)",
            found=f"{rows} rows" + (" (the test split)" if rows == test_rows else ""),
            hint="use x_train / y_train from load_digits_split",
        )


# 5.2: every entry is computed from the training arrays of the data cell.
_DATA_HINT = "compute each entry from the training arrays (x_train, y_train), as the exercise describes"


def _require_pixels(x_data: dict, expected: np.ndarray) -> None:
    rows = len(expected)
    pixels = expect_array(x_data["pixels"], "`x_data['pixels']`", hint=_DATA_HINT)
    _check_rows(pixels, "pixels", "x_data", rows)
    if pixels.shape == (rows, 8, 8):
        raise Mistake(
            "`x_data['pixels']` holds 8x8 images, but the input `pixels` takes 64 numbers per digit.",
            expected=f"({rows}, 64): each image flattened, as given.inputs shows (None, 64)",
            found=f"{pixels.shape}",
            hint="flatten each image: x_train.reshape(len(x_train), 64)",
        )
    if pixels.shape != (rows, 64):
        raise Mistake("`x_data['pixels']` has the wrong shape.", expected=f"({rows}, 64): 64 pixels per digit",
                      found=f"{pixels.shape}", hint="x_train.reshape(len(x_train), 64)")
    if not _same(pixels, expected):
        raise Mistake("`x_data['pixels']` does not hold the training images, in order.",
                      expected="the pixels of x_train, row by row", found="other pixel values",
                      hint="do not shuffle, scale or transpose the images; reshape them only")


def _require_targets(y_data: dict, expected: dict[str, np.ndarray]) -> None:
    rows = len(expected["digit"])
    digit = expect_array(y_data["digit"], "`y_data['digit']`", hint=_DATA_HINT)
    _check_rows(digit, "digit", "y_data", rows)
    if digit.shape == (rows, 10):
        raise Mistake("`y_data['digit']` holds one-hot rows.", expected=f"the labels 0-9 themselves, shape ({rows},)",
                      found=f"shape {digit.shape}",
                      hint="the digit head is trained with sparse_categorical_crossentropy, which takes the labels as integers")
    if digit.reshape(len(digit), -1).shape[1] != 1 or not _same(digit.reshape(-1), expected["digit"]):
        raise Mistake("`y_data['digit']` does not hold the training labels, in order.", expected="y_train",
                      found=f"an array of shape {digit.shape} with other values", hint="use y_train as it is")
    odd = expect_array(y_data["odd"], "`y_data['odd']`", hint=_DATA_HINT)
    _check_rows(odd, "odd", "y_data", rows)
    if odd.shape not in ((rows,), (rows, 1)):
        raise Mistake("`y_data['odd']` has the wrong shape.", expected=f"one number per digit: ({rows},) or ({rows}, 1)",
                      found=f"{odd.shape}", hint="one 0 or 1 per training label: y_train % 2")
    odd = odd.reshape(-1)
    if _same(odd, expected["odd"]):
        return
    if _same(odd, 1.0 - expected["odd"]):
        found = "1 for the even digits and 0 for the odd ones"
    elif _same(odd, expected["digit"]):
        found = "the labels 0-9 themselves"
    else:
        found = "other values"
    raise Mistake("`y_data['odd']` is not the target of the output `odd`.",
                  expected="1.0 for each odd training digit, 0.0 for each even one (a sigmoid output's target)",
                  found=found, hint="y_train % 2 gives 1 for odd labels and 0 for even ones")


@exercise("5.2", "Data for a model with two inputs and two outputs")
def fit_data_dicts(x_data: object, y_data: object) -> str:
    x_data = _require_dict(x_data, "`x_data`", "input")
    y_data = _require_dict(y_data, "`y_data`", "output")
    _require_keys(x_data, ["pixels", "geometry"], "`x_data`", "input")
    _require_keys(y_data, ["digit", "odd"], "`y_data`", "output")
    x_expected, y_expected = _expected_fit_data()
    rows = len(x_expected["pixels"])
    _require_pixels(x_data, x_expected["pixels"])
    geometry = expect_array(x_data["geometry"], "`x_data['geometry']`", hint=_DATA_HINT)
    _check_rows(geometry, "geometry", "x_data", rows)
    if not _same(geometry, x_expected["geometry"]):
        raise Mistake("`x_data['geometry']` is not digit_geometry of the training images.",
                      expected=f"digit_geometry(x_train): shape ({rows}, 3)",
                      found=f"an array of shape {geometry.shape} with other values",
                      hint="compute it from the same training images (flat or 8x8: digit_geometry takes both)")
    _require_targets(y_data, y_expected)
    return "dicts keyed by the model's input and output names: flat pixels, geometry, labels and odd/even targets"


# --- 5.3 and 5.4: losses recomputed from the model's own predictions ------------------------


# Every built-in loss a learner may pass for a one-number output, by Keras's name: the check
# recomputes each, so a wrong loss is named whichever it is ("huber", "poisson", ...).
CANDIDATE_LOSSES = (
    "mean_squared_error", "binary_crossentropy", "mean_absolute_error", "huber", "log_cosh",
    "mean_squared_logarithmic_error", "mean_absolute_percentage_error", "poisson", "binary_focal_crossentropy",
    "hinge", "squared_hinge", "categorical_crossentropy", "categorical_hinge", "kl_divergence", "cosine_similarity",
)


_NEEDS_THE_WORD_LOSS = {"huber", "log_cosh", "poisson", "hinge", "squared_hinge", "categorical_hinge"}  # "the huber loss"


def _loss_candidates(target: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """Each built-in loss of one output, computed the way Keras computes it, by readable name."""
    import keras

    target = target.astype("float32").reshape(len(target), -1)
    prediction = prediction.astype("float32").reshape(len(prediction), -1)
    found = {}
    for name in CANDIDATE_LOSSES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. categorical_crossentropy on one column warns
                value = float(np.mean(keras.ops.convert_to_numpy(keras.losses.get(name)(target, prediction))))
        except Exception:  # a loss that cannot take these shapes is not one the learner could have used
            continue
        label = name.replace("_", " ") + (" loss" if name in _NEEDS_THE_WORD_LOSS else "")
        found[label] = value  # nan too: Keras reports nan for that loss as well
    return found


RIGHT_LOSS = {"width": "mean squared error", "loop": "binary crossentropy"}


def _same_loss(a: float, b: float) -> bool:
    if np.isnan(a) or np.isnan(b):  # the poisson loss of a negative prediction, for one
        return bool(np.isnan(a) and np.isnan(b))
    return abs(a - b) <= 1e-4 * max(abs(a), abs(b)) + 1e-5


def _probe_losses(model: Any, what: str) -> dict[str, dict[str, float]]:
    """For each output of the width/loop model: every candidate loss on the probe data."""
    x, targets = width_loop_probe()
    raw = _outputs_on(model, x, what, "the probe digits (96 x 64 pixels)")
    outputs = _outputs_by_name(model, raw)
    _require_names(list(outputs), ["width", "loop"], what, "output",
                   "use the given model `width_loop`; do not rebuild it")
    return {name: _loss_candidates(targets[name], outputs[name]) for name in RIGHT_LOSS}


def _require_scores(scores: object) -> dict:
    if isinstance(scores, dict):
        return scores
    hint = "call model.evaluate(probe_x, probe_y, return_dict=True, verbose=0)"
    if isinstance(scores, (list, tuple)):
        problem = "`scores` is a list of numbers without names."
        hint = "pass return_dict=True to evaluate, so that each number comes with its name"
    else:
        problem = "`scores` is not what evaluate(..., return_dict=True) returns."
    raise Mistake(problem, expected="a dict such as {'loss': ..., 'loop_loss': ..., 'width_loss': ...}",
                  found=describe(scores), hint=hint)


def _reported(scores: dict, key: str) -> float:
    value = scores[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Mistake(f"`scores[{key!r}]` is not a number.", expected="the number evaluate reported", found=describe(value))
    return float(value)


def _require_right_losses(scores: dict, candidates: dict[str, dict[str, float]]) -> None:
    """Each output's reported loss must be its right loss on the probe data."""
    keys = sorted(str(key) for key in scores)
    per_output = [f"{name}_loss" for name in RIGHT_LOSS]
    if not all(key in scores for key in per_output):
        if "loss" in scores and not any(key.endswith("_loss") for key in keys):
            found = f"only a total: the keys {keys}"
            problem = "only one output has a loss: `scores` holds no loss per output."
            hint = 'give every output its loss: loss={"width": ..., "loop": ...} (an output left out of the dict is never trained)'
        else:
            found = f"the keys {keys}"
            problem = "`scores` does not hold the losses of `width` and `loop`."
            hint = "hand in what evaluate(probe_x, probe_y, return_dict=True, verbose=0) returns"
        raise Mistake(problem, expected=f"keys {sorted(per_output + ['loss'])}", found=found, hint=hint)

    reported = {name: _reported(scores, f"{name}_loss") for name in RIGHT_LOSS}
    matches = {
        name: [loss for loss, value in candidates[name].items() if _same_loss(value, reported[name])]
        for name in RIGHT_LOSS
    }
    if all(RIGHT_LOSS[name] in matches[name] for name in RIGHT_LOSS):
        return
    if matches["width"] == ["binary crossentropy"] and matches["loop"] == ["mean squared error"]:
        raise Mistake(
            "the two losses are swapped: `width` got binary crossentropy and `loop` got mean squared error.",
            expected="mean squared error for `width`, binary crossentropy for `loop`",
            found="width_loss equals the crossentropy of the width predictions, loop_loss their squared error",
            hint="a list of losses is matched with the outputs in sorted-name order (loop, width), not in the order "
            'you wrote them; pass a dict: loss={"width": "mse", "loop": "binary_crossentropy"}',
        )
    for name in RIGHT_LOSS:
        if RIGHT_LOSS[name] in matches[name]:
            continue
        if matches[name]:
            raise Mistake(
                f"the output `{name}` is trained with the wrong loss: {matches[name][0]}.",
                expected=f"{RIGHT_LOSS[name]} for `{name}`",
                found=f"{name}_loss equals the {matches[name][0]} of the {name} predictions",
                hint='give each output its own loss in a dict: loss={"width": "mse", "loop": "binary_crossentropy"}',
            )
        raise Mistake(
            f"`scores` does not match what the model predicts on the probe data (`{name}_loss`).",
            expected=f"{name}_loss = the {RIGHT_LOSS[name]} of the model's {name} predictions on probe_x",
            found=f"{name}_loss = {reported[name]:.4g}, which is none of the losses the check computed",
            hint="evaluate the model you hand in, on probe_x and probe_y, with the default batch size: "
            "model.evaluate(probe_x, probe_y, return_dict=True, verbose=0)",
        )


@exercise("5.3", "One loss per output, by name")
def losses_by_name(model: object, scores: object) -> str:
    scores = _require_scores(scores)
    model = expect_model(model, "`width_loop`")
    _require_right_losses(scores, _probe_losses(model, "`width_loop`"))
    return "`width` is trained with mean squared error and `loop` with binary crossentropy"


# --- 5.4 ------------------------------------------------------------------------------


def _require_weights(weights: object) -> dict[str, float]:
    weights = _require_dict(weights, "`weights`", "output")
    _require_keys(weights, list(RIGHT_LOSS), "`weights`", "output")
    out = {}
    for name in RIGHT_LOSS:
        value = weights[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Mistake(f"`weights[{name!r}]` is not a number.", expected="a float such as 0.5",
                          found=describe(value))
        out[name] = float(value)
    return out


@exercise("5.4", "Weight the losses to balance the outputs")
def balanced_loss_weights(model: object, weights: object, scores: object) -> str:
    weights = _require_weights(weights)
    scores = _require_scores(scores)
    model = expect_model(model, "`width_loop`")
    candidates = _probe_losses(model, "`width_loop`")
    _require_right_losses(scores, candidates)
    if "loss" not in scores:
        raise Mistake("`scores` has no total `loss`.", expected="the dict evaluate(..., return_dict=True) returns",
                      found=f"the keys {sorted(scores)}")
    width_loss, loop_loss = (candidates[name][RIGHT_LOSS[name]] for name in ("width", "loop"))
    total = _reported(scores, "loss")
    if not _same_loss(total, weights["width"] * width_loss + weights["loop"] * loop_loss):
        if _same_loss(total, weights["loop"] * width_loss + weights["width"] * loop_loss):
            found = "a total in which each weight multiplies the other output's loss"
            hint = ("loss_weights given as a list follow the sorted output names (loop, width); "
                    "pass the dict itself: loss_weights=weights")
        elif _same_loss(total, width_loss + loop_loss):
            found = "a total with both weights equal to 1: the weights were not used"
            hint = "pass loss_weights=weights to compile, then evaluate again"
        else:
            found = f"loss = {total:.4g}, not the weighted sum of the two losses"
            hint = "compile with loss_weights=weights, then evaluate the same model"
        raise Mistake(
            "`scores` was not computed with these `weights`.",
            expected="total loss = weights['width'] * width_loss + weights['loop'] * loop_loss",
            found=found,
            hint=hint,
        )
    if weights["loop"] != 1.0:
        raise Mistake("the weight of `loop` is not 1.", expected="weights['loop'] == 1.0 (only width's weight changes)",
                      found=f"weights['loop'] == {weights['loop']:g}")
    ratio = weights["width"] * width_loss / loop_loss
    if not 0.95 <= ratio <= 1.05:
        raise Mistake(
            "the two outputs do not weigh the same in the total loss.",
            expected="weights['width'] * width_loss within 5% of loop_loss on the probe data",
            found=f"the weighted width loss is {ratio:.3g} times the loop loss",
            hint="evaluate once without weights, read width_loss and loop_loss, and choose "
            "weights['width'] = loop_loss / width_loss",
        )
    return "each output contributes the same share of the total loss"


# --- 5.5 ------------------------------------------------------------------------------


@exercise("5.5", "Feed each input what it expects")
def unswapped_inputs(reader: object) -> str:
    model = expect_model(reader, "`reader`")
    shapes = [tuple(tensor.shape) for tensor in model.inputs]
    if shapes != [(None, 64)]:
        raise Mistake(
            "`reader` does not take the 64 pixels as its one input.",
            expected="one input of shape (None, 64), as in the original code",
            found=f"inputs of shapes {shapes}",
            hint="keep pixels = keras.Input(shape=(64,)) and the two slices; fix only how halves is called",
        )
    x_test, y_test = _split(train=False, flat=True)
    x = np.concatenate([x_test, np.random.default_rng(55).uniform(0, 1, (32, 64))]).astype("float32")
    found = _outputs_on(model, x, "`reader`", "a batch of 64-pixel digits")
    if not isinstance(found, np.ndarray):
        raise Mistake("`reader` has several outputs.", expected="one output: the 10 probabilities of halves",
                      found=f"{len(found)} outputs", hint="return halves(...) itself as the output")
    halves = given_halves()
    right = _outputs_on(halves, [x[:, :32], x[:, 32:]], "`halves`", "the two halves")
    swapped = _outputs_on(halves, [x[:, 32:], x[:, :32]], "`halves`", "the two halves")
    if _same(found, right):
        return "the top half reaches `top` and the bottom half reaches `bottom`"
    if _same(found, swapped):
        raise Mistake(
            "the halves are still swapped.",
            expected="the top half (pixels 0-31) fed to the input `top` of halves",
            found="the bottom half reaches `top` and the top half reaches `bottom`",
            hint='check the order of halves.inputs, or call it with a dict: halves({"top": ..., "bottom": ...})',
        )
    accuracy = float(np.mean(found[: len(y_test)].argmax(axis=-1) == y_test)) if found.shape == right.shape else None
    raise Mistake(
        "`reader` does not compute what `halves` computes on the two halves.",
        expected="exactly the probabilities of halves(top half, bottom half)",
        found=f"outputs of shape {found.shape[1:]} per sample" if accuracy is None
        else f"other probabilities ({accuracy:.0%} of the test digits read correctly)",
        hint="reuse the given `halves` model unchanged (no new or retrained layers) and slice "
        "pixels[:, :32] (top) and pixels[:, 32:] (bottom)",
    )
