"""What a check expects of a value, and how to describe a value a learner handed in.

Checks call the ``expect_*`` helpers first, so a wrong kind of answer (``None``,
a function, the ``Dense`` class instead of a layer, a symbolic tensor instead of a
model) gets a message that names what was found. :class:`Unexportable` stands in
for a value the evidence format cannot carry (:mod:`coursetools.evidence`), and
remembers what it was, so the check's message is the same in the learner's kernel
and in the grader.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from coursetools.feedback import Mistake
from coursetools.placeholders import NotDone


class Unexportable:
    """Stands in, after a round trip to disk, for a value that cannot be saved.

    It remembers how the original was described, and what sort of thing it was
    (``nature``: a symbolic tensor, a class, a function, a layer...), so that a
    check gives the same message and hint in the grading process as it would have
    given on the original object.
    """

    NATURES = ("symbolic", "class", "function", "model", "layer", "subclassed", "unloadable", "other")

    def __init__(self, description: str, nature: str = "other") -> None:
        self.description = description
        self.nature = nature if nature in self.NATURES else "other"

    def __repr__(self) -> str:
        return f"<unexportable: {self.description}>"


def _is_symbolic(value: object) -> bool:
    return type(value).__name__ == "KerasTensor" or (
        isinstance(value, Unexportable) and value.nature == "symbolic"
    )


def _is_class(value: object) -> bool:
    return inspect.isclass(value) or (isinstance(value, Unexportable) and value.nature == "class")


def nature(value: object) -> str:
    """What sort of thing a value that cannot be saved is, for :class:`Unexportable`."""
    if _is_symbolic(value):
        return "symbolic"
    if inspect.isclass(value):
        return "class"
    if inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value):
        return "function"
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency
        return "other"
    if isinstance(value, keras.Model):
        return "model"
    if isinstance(value, keras.layers.Layer):
        return "layer"
    return "other"


def _is_eager_tensor(value: object) -> bool:
    return hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype")


def describe(value: object) -> str:
    """A short phrase for what a value is, as a learner would recognise it."""
    if isinstance(value, Unexportable):
        return value.description
    if isinstance(value, NotDone):
        return "the not-done placeholder"
    if value is None:
        return "None (did the cell assign the result of a call that returns nothing?)"
    if _is_symbolic(value):
        return f"a symbolic KerasTensor of shape {tuple(value.shape)} (no values, just a placeholder)"
    if inspect.isclass(value):
        return f"the class {value.__name__} itself, not an instance of it"
    if inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value):
        return f"a function ({getattr(value, '__name__', '?')}), not the value it returns"
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency
        keras = None
    if keras is not None:
        if isinstance(value, keras.Model):
            return f"a {type(value).__name__} model named {value.name!r}"
        if isinstance(value, keras.layers.Layer):
            return f"a {type(value).__name__} layer named {value.name!r}"
    if _is_eager_tensor(value):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"a {type(value).__name__} object"


def expect_layer(value: object, kind: str, what: str = "your answer") -> Any:
    """Require a single Keras layer whose class is named ``kind`` (e.g. ``"Dense"``)."""
    import keras

    if isinstance(value, keras.Model) or not isinstance(value, keras.layers.Layer):
        hint = f"create one with keras.layers.{kind}(...)"
        if _is_class(value):
            hint = f"call the class to make a layer: keras.layers.{kind}(...)"
        elif isinstance(value, keras.Model):
            hint = "this exercise asks for one layer, not a model that contains layers"
        raise Mistake(
            f"{what} is not a {kind} layer.",
            expected=f"a keras.layers.{kind} instance",
            found=describe(value),
            hint=hint,
        )
    if type(value).__name__ != kind:
        raise Mistake(
            f"{what} is the wrong kind of layer.",
            expected=f"a {kind} layer",
            found=describe(value),
            hint=f"use keras.layers.{kind}(...)",
        )
    return value


def is_unloadable(value: object) -> bool:
    """A Keras object that was saved but that Keras could not load back in safe mode (the loader says why)."""
    return isinstance(value, Unexportable) and value.nature == "unloadable"


def expect_model(value: object, what: str = "your model") -> Any:
    """Require a Keras model (Sequential, functional, or nested)."""
    import keras

    if isinstance(value, keras.Model):
        return value
    hint = "build a model with keras.Sequential([...]) or keras.Model(inputs, outputs)"
    if isinstance(value, Unexportable) and value.nature == "subclassed":
        raise Mistake(
            f"{what} is not built with the functional API or Sequential.",
            expected="a model made of built-in Keras layers: keras.Model(inputs, outputs) or keras.Sequential([...])",
            found=value.description,
            hint="a subclassed model runs code the grader never executes; build this one from "
            "keras.Input and layer calls",
        )
    if is_unloadable(value):
        raise Mistake(
            f"{what} cannot be loaded back by the grader.",
            expected="a model Keras saves and loads back in safe mode: built-in layers called on keras.Input "
            "tensors, or keras.Sequential([...])",
            found=value.description,
            hint="the error Keras gave is in brackets above; rebuild the model from built-in layers "
            "(without Lambda layers or classes of your own) and run this check again",
        )
    if _is_symbolic(value):
        hint = "that is the output tensor; wrap it: keras.Model(inputs=..., outputs=...)"
    elif isinstance(value, keras.layers.Layer) or isinstance(value, Unexportable) and value.nature == "layer":
        hint = "a single layer is not a model; build a model around it"
    raise Mistake(f"{what} is not a Keras model.", expected="a keras.Model", found=describe(value), hint=hint)


def expect_array(
    value: object,
    what: str = "your answer",
    hint: str = "assign the array your code computes (predict() and keras.ops.convert_to_numpy give NumPy arrays)",
) -> np.ndarray:
    """Require real numbers: a NumPy array, a list of numbers or an eager tensor.

    ``hint`` says how *this* exercise gets its numbers: a generic hint ("use @ and
    np.maximum") misleads a learner whose task is to add an axis or to load data.
    """
    bad = (
        value is None
        or isinstance(value, (str, bytes, dict, Unexportable, NotDone))
        or inspect.isclass(value)
        or callable(value) and not _is_eager_tensor(value)
        or _is_symbolic(value)
    )
    if not bad:
        try:
            array = np.asarray(value, dtype="float64")
        except (TypeError, ValueError):
            bad = True
        else:
            return array
    raise Mistake(
        f"{what} is not an array of numbers.",
        expected="a NumPy array (or something np.asarray turns into numbers)",
        found=describe(value),
        hint=hint,
    )


def expect_int(value: object, what: str = "your answer") -> int:
    """Require a whole number (a Python or NumPy integer, not a bool).

    The message names what was found truthfully: ``1210.0`` *is* a whole number,
    only of the wrong type, so it is called a float; text is called text.
    """
    if isinstance(value, (bool, np.bool_)):
        raise Mistake(f"{what} is a bool, not a whole number.", expected="an int", found=describe(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        raise Mistake(
            f"{what} is the float {float(value)!r}, not an int.",
            expected="an int (a count has no decimal point)",
            found=describe(value),
            hint="wrap the expression in int(...), or use // instead of / where you divide",
        )
    if isinstance(value, str):
        raise Mistake(
            f"{what} is text, not a whole number.",
            expected="an int",
            found=describe(value),
            hint="remove the quotes: write the number (or the arithmetic) itself",
        )
    raise Mistake(f"{what} is not a whole number.", expected="an int", found=describe(value))
