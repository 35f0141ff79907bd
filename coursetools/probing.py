"""What checks ask of a learner's layer or model: its activation, its output, its error.

Several lessons' checks run a learner's model on fixed inputs and quote the first
line of whatever it raised; keeping those small steps here makes every check read
a model, and report a refusal, the same way.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from coursetools.feedback import Mistake

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(error: BaseException, limit: int = 200) -> str:
    """``"ValueError: <first line>"``: enough of an error to quote in a feedback card.

    Keras wraps some messages in colour codes and an "Exception encountered when
    calling ..." header; both are dropped.
    """
    text = _ANSI.sub("", str(error)).strip()
    lines = [line for line in text.splitlines() if line.strip() and "Exception encountered" not in line]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:limit]


def activation_of(layer: Any) -> str:
    """The activation a layer applies, by name; separate ReLU/Softmax layers count too."""
    kind = type(layer).__name__
    if kind == "ReLU":
        return "relu"
    if kind == "Softmax":
        return "softmax"
    return str(layer.get_config().get("activation"))


def output_of(model: Any, x: np.ndarray, what: str) -> np.ndarray:
    """The model's single output on ``x`` (inference mode) as float64 NumPy.

    Raises whatever the model raises when it refuses ``x`` (callers decide how to
    report that), and a :class:`Mistake` when it returns several outputs.
    """
    import keras

    with warnings.catch_warnings():
        # e.g. a model built with inputs=[...] warns when called on one bare array
        warnings.simplefilter("ignore")
        out = model(x, training=False)
    if isinstance(out, (list, tuple, dict)):
        raise Mistake(
            f"{what} has {len(out)} outputs.",
            expected="one output tensor",
            found=f"a {type(out).__name__} of {len(out)} outputs",
            hint="pass a single tensor as outputs=..., not a list of several",
        )
    return np.asarray(keras.ops.convert_to_numpy(out), dtype="float64")
