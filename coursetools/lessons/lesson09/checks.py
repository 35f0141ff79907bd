"""Checks for lesson 9. Each takes plain evidence and returns a success detail.

Replace the examples (a layer, a number, a model): a check judges what the exercise
asks (probe the answer with inputs the check chooses, compare with a reference
computed here, never from the learner's own numbers), and names each typical
mistake with a hint.
"""

from __future__ import annotations

import numpy as np

from coursetools.expect import expect_int, expect_layer, expect_model
from coursetools.feedback import Mistake
from coursetools.probing import output_or_mistake
from coursetools.registry import exercise


@exercise("9.1", "Make a Dense layer of 4 units")
def four_units(layer: object) -> str:
    layer = expect_layer(layer, "Dense", "`layer`")
    if layer.units != 4:
        raise Mistake(
            "`layer` has the wrong number of units.",
            expected="4 units",
            found=f"{layer.units} units",
            hint="the first argument of layers.Dense is the number of units",
        )
    return "a Dense layer of 4 units"


@exercise("9.2", "Count the parameters of a Dense layer")
def count_parameters(n_params: object) -> str:
    n_params = expect_int(n_params, "`n_params`")
    if n_params == 3 * 4:
        raise Mistake("`n_params` counts the kernel only.", expected="16", found="12",
                      hint="each unit also has a bias: add 4")
    if n_params != 3 * 4 + 4:
        raise Mistake("`n_params` is not the number of parameters.", expected="16", found=str(n_params),
                      hint="a Dense layer has inputs x units weights, plus one bias per unit")
    return "16 parameters (3 x 4 weights + 4 biases)"


@exercise("9.3", "A model from 3 features to one number")
def three_to_one(model: object) -> str:
    model = expect_model(model, "`model`")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    y = output_or_mistake(model, x, "`model`")
    if y.shape != (5, 1):
        raise Mistake("`model` gives the wrong number of outputs per sample.", expected="(5, 1) for 5 samples",
                      found=str(y.shape), hint="end with a Dense layer of 1 unit")
    return "3 features in, one number out"
