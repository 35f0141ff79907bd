"""Checks for lesson 1 (layers). Each takes plain evidence and returns a success detail.

The rule for ``use_bias`` is the course's (``coursetools.probing.require_bias``):
every ``Dense`` layer keeps its bias unless a statement says otherwise.
"""

from __future__ import annotations

import numpy as np

from coursetools.lessons.lesson01.given import dense_by_hand_example, sensor_layer_weights, sensor_readings
from coursetools.expect import describe, expect_array, expect_layer, nature
from coursetools.feedback import Mistake
from coursetools.probing import activation_of, require_bias, same_values
from coursetools.registry import exercise

# Float32 arithmetic on these small numbers is exact to about 1e-6; an answer further
# off than this computed something else (the hidden check adds: never negative).
TOLERANCE = 1e-5


def _require_units(layer: object, units: int) -> None:
    if layer.units != units:
        raise Mistake(
            "the layer has the wrong number of units.",
            expected=f"{units} units (outputs per sample)",
            found=f"{layer.units} units",
            hint="the first argument of Dense is the number of units",
        )


def _require_kernel(layer: object, inputs: int, units: int) -> None:
    if not layer.weights:
        raise Mistake(
            "the layer has no weights yet.",
            expected=f"a kernel of shape ({inputs}, {units}) and a bias of shape ({units},)",
            found="weights == [] (the layer was never built)",
            hint=f"call layer.build((None, {inputs})), or call the layer on data. (input_shape= and "
            "input_dim= build nothing on a layer of its own in Keras 3: Keras only warns about them)",
        )
    kernel = tuple(layer.kernel.shape)
    if kernel != (inputs, units):
        raise Mistake(
            "the layer was built for the wrong input width.",
            expected=f"kernel shape ({inputs}, {units}): {inputs} input features, {units} units",
            found=f"kernel shape {kernel}: built for {kernel[0]} input features",
            hint="the kernel's first dimension comes from the last axis of the input the layer first saw",
        )


def _expect_numbers(value: object, what: str, hint: str) -> np.ndarray:
    """An array of real numbers; a symbolic tensor gets a message of its own."""
    if nature(value) == "symbolic":
        raise Mistake(
            f"{what} is a symbolic tensor: it has a shape but no numbers.",
            expected="real numbers (a NumPy array or a tensor computed from an array)",
            found=describe(value),
            hint=hint,
        )
    return expect_array(value, what, hint=hint)


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


# --- 1.1 ------------------------------------------------------------------------------------


@exercise("1.1", "Make a Dense layer")
def dense_layer(layer: object) -> str:
    layer = expect_layer(layer, "Dense", "`hidden`")
    _require_units(layer, 16)
    activation = activation_of(layer)
    if activation != "relu":
        found = "no activation (linear)" if activation == "linear" else f"activation {activation!r}"
        raise Mistake(
            "the layer has the wrong activation.",
            expected="ReLU, which sets negative values to zero",
            found=found,
            hint='pass activation="relu"',
        )
    require_bias(layer, "the layer")
    return "a Dense layer with 16 units and ReLU"


# --- 1.2 ------------------------------------------------------------------------------------


@exercise("1.2", "Compute a Dense layer by hand")
def dense_by_hand(y_by_hand: object) -> str:
    x, kernel, bias = (a.astype("float64") for a in dense_by_hand_example())
    y = expect_array(y_by_hand, "`y_by_hand`", hint="compute the numbers with NumPy operations such as @, + and np.maximum")
    expected = np.maximum(x @ kernel + bias, 0.0)
    if y.shape != expected.shape:
        raise _wrong_shape(y, x, kernel, bias)
    if np.allclose(y, expected, rtol=0, atol=TOLERANCE):
        return "relu(x @ kernel + bias) matches the layer"
    diagnoses = [
        (x @ kernel + bias, "the activation was not applied.", "x @ kernel + bias, negative values kept", "apply ReLU: np.maximum(..., 0)"),
        (np.maximum(x @ kernel, 0.0), "the bias is missing.", "relu(x @ kernel)", "add the bias before the activation"),
        (x @ kernel, "both the bias and the activation are missing.", "x @ kernel", "add the bias, then apply ReLU"),
        (np.maximum(x @ kernel, 0.0) + bias, "the bias was added after the activation.", "relu(x @ kernel) + bias", "add the bias first, then apply ReLU"),
    ]
    for wrong, problem, found, hint in diagnoses:
        if np.allclose(y, wrong, rtol=0, atol=TOLERANCE):
            raise Mistake(problem, expected="relu(x @ kernel + bias)", found=f"the values of {found}", hint=hint)
    worst = float(np.max(np.abs(y - expected)))
    raise Mistake(
        "the numbers do not match the layer's output.",
        expected=f"relu(x @ kernel + bias) computed from the given x, kernel and bias, to within {TOLERANCE:g}",
        found=f"values off by up to {worst:.2g}",
        hint="use the arrays given in the cell above, unchanged",
    )


def _summed_over(axis: int, y: np.ndarray, x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> bool:
    """Whether ``y`` is the products x[i, j] * kernel[j, k] summed over ``axis`` (0 samples, 2 units)."""
    total = np.sum(x[:, :, None] * kernel[None, :, :], axis=axis)
    candidates = [total, np.maximum(total, 0.0)]
    if total.shape[-1] == bias.shape[0]:
        candidates += [total + bias, np.maximum(total + bias, 0.0)]
    return any(same_values(y, c, rtol=0, atol=TOLERANCE) for c in candidates)


def _wrong_shape(y: np.ndarray, x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> Mistake:
    """Name what a wrongly shaped answer did: transposed, or summed over the wrong axis."""
    expected = "shape (5, 4): one row per sample, one column per unit"
    right_sum = "a Dense layer sums over the 3 input features: x @ kernel, (5, 3) @ (3, 4) → (5, 4)"
    found = f"shape {_shape_text(y.shape)}"
    if y.shape == (4, 5):
        return Mistake("the result is transposed.", expected=expected, found=found,
                       hint="use x @ kernel, not kernel.T @ x.T")
    if y.shape == (3, 4) and _summed_over(0, y, x, kernel, bias):
        return Mistake("the result was summed over the 5 samples instead of the 3 features.", expected=expected,
                       found=found + ": one row per input feature, the samples are gone", hint=right_sum)
    if y.shape == (5, 3) and _summed_over(2, y, x, kernel, bias):
        return Mistake("the result was summed over the 4 units instead of the 3 features.", expected=expected,
                       found=found + ": one column per input feature, the units are gone", hint=right_sum)
    return Mistake("the result has the wrong shape.", expected=expected, found=found,
                   hint="keep one row per sample and one column per unit: " + right_sum)


# --- 1.3 ------------------------------------------------------------------------------------


@exercise("1.3", "Create a layer's weights without data")
def built_layer(layer: object) -> str:
    layer = expect_layer(layer, "Dense", "`wide`")
    _require_units(layer, 6)
    require_bias(layer, "the layer")
    _require_kernel(layer, 10, 6)
    return "kernel (10, 6) and bias (6,) exist before any data"


# --- 1.4 ------------------------------------------------------------------------------------


def _sensor_output(x: np.ndarray, *, relu: bool = True, bias: bool = True) -> np.ndarray:
    """What the sensor layer computes for ``x``; without its ReLU or its bias for the typical slips."""
    kernel, offset = (w.astype("float64") for w in sensor_layer_weights())
    out = x.astype("float64") @ kernel + (offset if bias else 0.0)
    return np.maximum(out, 0.0) if relu else out


# Arithmetic by hand that leaves out part of the layer: (relu, bias) -> what is missing.
_LEFT_OUT = {(False, True): "its ReLU", (True, False): "its bias", (False, False): "its bias and its ReLU"}


def _not_the_layer_output(out: np.ndarray, x: np.ndarray, what: str, fed: str) -> Mistake:
    """Name what an output that differs from ``layer(x)`` computed: the layer's arithmetic short of a step, or other weights."""
    for (relu, bias), missing in _LEFT_OUT.items():
        if np.allclose(out, _sensor_output(x, relu=relu, bias=bias), rtol=0, atol=TOLERANCE):
            shown = ("relu(" if relu else "") + f"{fed} @ kernel" + (" + bias" if bias else "") + (")" if relu else "")
            return Mistake(f"{what} is the layer's arithmetic without {missing}.",
                           expected=f"the given layer's output for `{fed}`: relu({fed} @ kernel + bias)",
                           found=f"the values of {shown}",
                           hint=f"call the layer itself, layer({fed}): it adds the bias and applies its ReLU for you")
    return Mistake(f"{what} is not what `layer` computes for the {'reading' if fed == 'batch' else 'readings'}.",
                   expected=f"the given layer's output for `{fed}`",
                   found="other numbers (a new Dense layer starts with its own random weights)",
                   hint=f"call the given `layer` on `{fed}`")


@exercise("1.4", "Give one sample its batch axis")
def batch_axis(batch: object, one_output: object) -> str:
    reading = sensor_readings()[0]
    batch = expect_array(batch, "`batch`", hint="start from `reading` and add the batch axis: reading[np.newaxis, :]")
    if batch.shape != (1, 3):
        expected = "shape (1, 3): a batch holding one sample of 3 features"
        add_axis = "add the batch axis in front: reading[np.newaxis, :] or reading.reshape(1, 3)"
        if batch.shape == (3,):
            raise Mistake("`batch` has no batch axis.", expected=expected, found="shape (3,): one sample on its own",
                          hint=add_axis)
        if batch.shape == (3, 1):
            raise Mistake("`batch` is a column: 3 samples of 1 feature each.", expected=expected,
                          found="shape (3, 1)", hint="the batch axis comes first: " + add_axis.split(": ")[1])
        if batch.ndim > 2 and batch.size == 3:
            raise Mistake("`batch` has one axis too many.", expected=expected, found=f"shape {_shape_text(batch.shape)}",
                          hint=add_axis)
        if batch.shape == (5, 3):
            raise Mistake("`batch` holds 5 samples, not the one reading.", expected=expected, found="shape (5, 3)",
                          hint="start from `reading`, the single sample of shape (3,)")
        raise Mistake("`batch` has the wrong shape.", expected=expected, found=f"shape {_shape_text(batch.shape)}",
                      hint=add_axis)
    if not np.allclose(batch[0], reading, rtol=0, atol=1e-6):
        raise Mistake("`batch` holds other numbers than `reading`.", expected=f"the 3 values of `reading`",
                      found="other values", hint="do not change the numbers, only add an axis")
    out = _expect_numbers(one_output, "`one_output`", "call the layer on the real batch: layer(batch)")
    expected = _sensor_output(batch)
    if out.shape == (4,):
        raise Mistake("`one_output` has lost its batch axis.",
                      expected="shape (1, 4): the layer returns a batch too, here a batch of one",
                      found="shape (4,)", hint="keep what layer(batch) returns, without indexing [0]")
    if out.shape != (1, 4):
        raise Mistake("`one_output` has the wrong shape.", expected="shape (1, 4): one sample, 4 units",
                      found=f"shape {_shape_text(out.shape)}", hint="one_output = layer(batch)")
    if not np.allclose(out, expected, rtol=0, atol=TOLERANCE):
        raise _not_the_layer_output(out, batch, "`one_output`", "batch")
    return "a batch of one sample, shape (1, 3), and the layer's output for it, shape (1, 4)"


# --- 1.5 ------------------------------------------------------------------------------------


@exercise("1.5", "Symbolic or real?")
def symbolic_or_real(values: object, symbolic_shape: object) -> str:
    readings = sensor_readings()
    out = _expect_numbers(values, "`values`", "call the layer on the real array: layer(readings)")
    if same_values(out, readings, rtol=0, atol=1e-6):
        raise Mistake("`values` holds the readings themselves.", expected="the layer's output for them, shape (5, 4)",
                      found="the (5, 3) readings", hint="call the layer: layer(readings)")
    if out.ndim == 2 and out.shape[1] == 4 and out.shape[0] != 5:
        raise Mistake(f"`values` has the output for {out.shape[0]} sample(s), not for all 5 readings.",
                      expected="shape (5, 4): one row per reading", found=f"shape {_shape_text(out.shape)}",
                      hint="call the layer on the whole batch: layer(readings)")
    if out.shape != (5, 4):
        raise Mistake("`values` has the wrong shape.", expected="shape (5, 4): 5 readings, 4 units",
                      found=f"shape {_shape_text(out.shape)}", hint="values = layer(readings)")
    if not np.allclose(out, _sensor_output(readings), rtol=0, atol=TOLERANCE):
        raise _not_the_layer_output(out, readings, "`values`", "readings")
    _require_symbolic_shape(symbolic_shape)
    return "real numbers of shape (5, 4), and a symbolic shape (None, 4) with no numbers behind it"


def _require_symbolic_shape(shape: object) -> None:
    expected = "(None, 4): None for the batch axis, which a symbolic tensor leaves open, then 4 units"
    if nature(shape) == "symbolic":
        raise Mistake("`symbolic_shape` is the symbolic tensor itself, not its shape.", expected=expected,
                      found=describe(shape), hint="take its .shape")
    if not isinstance(shape, (tuple, list)):
        found = describe(shape)
        hint = "write the shape as a tuple, e.g. (None, 7), or take the symbolic tensor's .shape"
        if "TensorShape" in found:
            hint = "that is a real tensor's TensorShape; take the shape of the symbolic output instead"
        raise Mistake("`symbolic_shape` is not a shape written as a tuple.", expected=expected, found=found, hint=hint)
    items = list(shape)
    if items == [None, 4]:
        return
    if items == [5, 4]:
        raise Mistake("`symbolic_shape` is the shape of the real output.", expected=expected,
                      found="(5, 4): the real batch has 5 samples; a symbolic tensor has no samples, so None",
                      hint="take the shape of the tensor the layer returned for keras.Input(shape=(3,))")
    if items == [4]:
        raise Mistake("`symbolic_shape` leaves out the batch axis.", expected=expected, found="(4,)",
                      hint="Keras keeps the batch axis in every shape it shows, as None")
    if items == [None, 3]:
        raise Mistake("`symbolic_shape` is the input's shape, not the layer's output.", expected=expected,
                      found="(None, 3)", hint="the Dense layer has 4 units: its output has 4 values per sample")
    raise Mistake("`symbolic_shape` is not the shape of the symbolic output.", expected=expected,
                  found=f"{tuple(items)}", hint="print the symbolic output and read its shape")
