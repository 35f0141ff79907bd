"""Checks for lesson 1 (layers). Each takes plain evidence and returns a success detail."""

from __future__ import annotations

import numpy as np

from coursetools.data import dense_by_hand_example
from coursetools.evidence import describe, expect_array, expect_layer
from coursetools.feedback import Mistake
from coursetools.probing import activation_of
from coursetools.registry import exercise


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
            hint=f"weights are created lazily: call layer.build((None, {inputs})) or call the layer on data",
        )
    kernel = tuple(layer.kernel.shape)
    if kernel != (inputs, units):
        raise Mistake(
            "the layer was built for the wrong input width.",
            expected=f"kernel shape ({inputs}, {units}): {inputs} input features, {units} units",
            found=f"kernel shape {kernel}: built for {kernel[0]} input features",
            hint="the kernel's first dimension comes from the last axis of the input the layer first saw",
        )


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
    if not layer.use_bias:
        raise Mistake("the layer has no bias.", expected="use_bias=True (the default)", found="use_bias=False")
    return "a Dense layer with 16 units and ReLU"


@exercise("1.2", "Compute a Dense layer by hand")
def dense_by_hand(y_by_hand: object) -> str:
    x, kernel, bias = dense_by_hand_example()
    y = expect_array(y_by_hand, "`y_by_hand`")
    expected = np.maximum(x @ kernel + bias, 0.0)
    if y.shape != expected.shape:
        hint = "multiply the batch by the kernel, x @ kernel: (5, 3) @ (3, 4) gives (5, 4)"
        if y.shape == expected.T.shape:
            hint = "your result is transposed: use x @ kernel, not kernel.T @ x.T"
        raise Mistake(
            "the result has the wrong shape.",
            expected=f"shape {expected.shape}: one row per sample, one column per unit",
            found=f"shape {y.shape}",
            hint=hint,
        )
    if np.allclose(y, expected, atol=1e-4):
        return "relu(x @ kernel + bias) matches the layer"
    diagnoses = [
        (x @ kernel + bias, "the activation was not applied.", "x @ kernel + bias, negative values kept", "apply ReLU: np.maximum(..., 0)"),
        (np.maximum(x @ kernel, 0.0), "the bias is missing.", "relu(x @ kernel)", "add the bias before the activation"),
        (x @ kernel, "both the bias and the activation are missing.", "x @ kernel", "add the bias, then apply ReLU"),
        (np.maximum(x @ kernel, 0.0) + bias, "the bias was added after the activation.", "relu(x @ kernel) + bias", "add the bias first, then apply ReLU"),
    ]
    for wrong, problem, found, hint in diagnoses:
        if np.allclose(y, wrong, atol=1e-4):
            raise Mistake(problem, expected="relu(x @ kernel + bias)", found=f"the values of {found}", hint=hint)
    worst = float(np.max(np.abs(y - expected)))
    raise Mistake(
        "the numbers do not match the layer's output.",
        expected="relu(x @ kernel + bias) computed from the given x, kernel and bias",
        found=f"values off by up to {worst:.3g}",
        hint="use the arrays given in the cell above, unchanged",
    )


@exercise("1.3", "Create a layer's weights without data")
def built_layer(layer: object) -> str:
    layer = expect_layer(layer, "Dense", "`wide`")
    _require_units(layer, 6)
    _require_kernel(layer, 10, 6)
    return "kernel (10, 6) and bias (6,) exist before any data"


@exercise("1.4", "Freeze a layer")
def frozen_layer(layer: object) -> str:
    layer = expect_layer(layer, "Dense", "`frozen`")
    _require_units(layer, 4)
    _require_kernel(layer, 3, 4)
    if layer.trainable or layer.trainable_weights:
        raise Mistake(
            "the layer is still trainable.",
            expected="trainable == False, so fit() leaves its 16 parameters alone",
            found=f"trainable == {layer.trainable}, {len(layer.trainable_weights)} trainable weight tensors",
            hint="set the attribute: frozen.trainable = False",
        )
    if len(layer.non_trainable_weights) != 2:
        raise Mistake(
            "the frozen layer should keep both of its weights.",
            expected="2 non-trainable weights (kernel and bias)",
            found=f"{len(layer.non_trainable_weights)} ({describe(layer)})",
        )
    return "16 parameters, all non-trainable"
