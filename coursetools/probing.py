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
_TF_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")  # TensorFlow's "{{function_node __wrapped__MatMul_...}}"
_TF_OP = re.compile(r"\s*\[Op:\w+\]( name:\s*\S*)?\s*$")  # and its " [Op:MatMul] name: " tail


def same_values(found: Any, expected: Any, *, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """Same shape and the same numbers, within ``atol + rtol * |expected|``.

    ``np.allclose`` alone broadcasts, so one row would "match" a whole batch of equal
    rows, and a (5, 1) column a (5,) vector: every check compares shapes first, here.
    """
    found, expected = np.asarray(found, dtype="float64"), np.asarray(expected, dtype="float64")
    return found.shape == expected.shape and bool(np.allclose(found, expected, atol=atol, rtol=rtol))


def first_line(error: BaseException, limit: int = 200) -> str:
    """``"ValueError: <first line>"``: enough of an error to quote in a feedback card.

    Keras wraps some messages in colour codes and an "Exception encountered when
    calling ..." header; TensorFlow prefixes its own with a ``{{function_node ...}}``
    tag and ends them with ``[Op:...]``: all are dropped. A line longer than
    ``limit`` loses its middle, not its end, because Keras puts what it received
    last ("... but received input with shape (24, 64)").
    """
    text = _ANSI.sub("", str(error)).strip()
    lines = [line for line in text.splitlines() if line.strip() and "Exception encountered" not in line]
    line = _TF_OP.sub("", _TF_NODE.sub("", lines[0])).strip() if lines else ""
    quoted = f"{type(error).__name__}: {line}"
    if len(quoted) <= limit:
        return quoted
    head = max(limit // 2 - 2, 0)
    tail = limit - head - 3
    if tail <= 0:
        return quoted[:limit]
    start, end = quoted[:head], quoted[len(quoted) - tail:]
    start = start.rsplit(" ", 1)[0] if " " in start else start  # cut between words
    end = end.split(" ", 1)[1] if " " in end else end
    return f"{start} … {end}"


# Phrases that make a line of a long Keras error the one worth quoting.
USEFUL_PHRASES = (
    "forgot to call `super().__init__()`",
    "Could not locate class",
    "must override `get_config()`",
    "unexpected keyword argument",
    "Unrecognized keyword arguments",
)


def useful_line(error: BaseException, limit: int = 300) -> str:
    """``"Type: sentence"``: the sentence of an error that names the problem, else :func:`first_line`.

    Keras wraps some errors (an unknown class met while loading becomes a ``TypeError``
    about ``Functional`` whose *fourth* line says which class is missing).
    """
    text = " ".join(str(error).split())
    for phrase in USEFUL_PHRASES:
        at = text.find(phrase)
        if at >= 0:
            start = max(text.rfind(". ", 0, at), text.rfind(": ", 0, at))
            start = 0 if start < 0 else start + 2
            end = text.find(". ", at)
            if 0 <= end < start + 120:  # a short sentence: the next one usually says what to do
                end = text.find(". ", end + 2)
            sentence = text[start:] if end < 0 else text[start:end + 1]
            return f"{type(error).__name__}: {sentence}"[:limit]
    return first_line(error, limit=limit)


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


def require_bias(layer: Any, what: str) -> None:
    """The course's one rule for ``use_bias``: keep Keras's default (a bias) unless an exercise says otherwise.

    Every exercise statement says so, and every check that judges a ``Dense`` layer
    applies it, so ``use_bias=False`` gets the same message everywhere.
    """
    if getattr(layer, "use_bias", True) is False:
        raise Mistake(
            f"{what} has no bias.",
            expected="use_bias=True, Keras's default: the exercises keep Keras's defaults unless they say otherwise",
            found="use_bias=False",
            hint="remove use_bias=False",
        )


def to_numpy(value: Any, dtype: str = "float64") -> Any:
    """A model's output as NumPy: a tensor becomes an array, a dict or list of them stays one."""
    import keras

    if isinstance(value, dict):
        return {key: to_numpy(item, dtype) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy(item, dtype) for item in value]
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=dtype)


def all_layers(model: Any) -> list[Any]:
    """Every layer of a model, nested models expanded, each once, in the model's order."""
    import keras

    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        for inner in all_layers(layer) if isinstance(layer, keras.Model) else [layer]:
            if not any(inner is seen for seen in found):
                found.append(inner)
    return found


def dense_layers(model: Any) -> list[Any]:
    """The model's ``Dense`` layers in the order the graph runs them, inside nested models too."""
    return [layer for layer in all_layers(model) if type(layer).__name__ == "Dense"]


def untouched_biases(model: Any) -> bool:
    """True when the model has biases and every one is still exactly 0, as Keras creates them.

    One step of ``fit`` moves every bias, so all-zero biases mean that ``fit`` never
    ran on this model; a model that trained but learned little has nonzero biases.
    (The optimizer's state is not saved with a model, so this is what a check can see.)
    """
    biases = [w for layer in all_layers(model) if getattr(layer, "use_bias", False) and layer.weights
              for w in [layer.bias]]
    return bool(biases) and all(not np.any(np.asarray(b)) for b in biases)


def output_or_mistake(model: Any, x: np.ndarray, what: str) -> np.ndarray:
    """:func:`output_of`, with whatever the learner's model raises turned into a :class:`Mistake`.

    The card quotes the error's useful line and says what input the check fed, e.g.
    "fails on a batch of 64 features" or "fails on a batch of shape (24, 8, 8, 1)".
    """
    try:
        return output_of(model, x, what)
    except Mistake:
        raise
    except Exception as error:  # the learner's model may fail in many ways
        fed = f"{x.shape[1]} features" if x.ndim == 2 else f"shape {x.shape}"
        raise Mistake(
            f"{what} fails on a batch of {fed}.",
            expected=f"a model that accepts inputs of shape (batch, {', '.join(map(str, x.shape[1:]))})",
            found=first_line(error, limit=170),
        ) from None


def _inner_graph(operation: Any) -> Any:
    """The functional graph a nested model runs (a Sequential model keeps one inside), else None."""
    from keras.src.models.functional import Functional

    graph = getattr(operation, "_functional", None) if type(operation).__name__ == "Sequential" else operation
    return graph if isinstance(graph, Functional) else None


def unnested(model: Any) -> Any:
    """The same computation as ``model``, with the layers of every nested model called directly.

    A functional or Sequential model used as a layer inside ``model`` (at any depth) is
    replaced by calls of its own layers, the very same layer objects with their weights,
    so ``unnested(model).layers`` lists every layer the graph really runs and a check that
    reads the graph sees a nested ``keras.Sequential([...])`` like the same layers written
    out. A layer shared between the outer graph and a nested model is called twice, as it
    is in ``model``. Anything else (a subclassed model, a layer) is called as it is, and a
    value that is not a functional or Sequential model, or a graph that cannot be replayed,
    comes back unchanged.

    It also makes a model saveable that Keras 3.15 saves but cannot load back: one that
    calls a layer directly and also through a nested model that contains it (the loader
    rebuilds the nested model first, which shifts the layer's node indices; see
    ``tests/test_probing.py``).
    """
    import keras

    def operation_fn(operation: Any) -> Any:
        graph = _inner_graph(operation)
        if graph is None:
            return operation

        def call_inline(*args: Any, **kwargs: Any) -> Any:
            inputs = args[0] if args else kwargs.get("inputs")
            return graph._run_through_graph(inputs, operation_fn=operation_fn)

        return call_inline

    graph = _inner_graph(model)
    if graph is None:
        return model
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fresh = [keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=t.name) for t in graph.inputs]
            structure = keras.tree.pack_sequence_as(graph._inputs_struct, fresh)
            outputs = graph._run_through_graph(structure, operation_fn=operation_fn)
            return keras.Model(structure, outputs, name=model.name)
    except Exception:  # a graph that cannot be replayed (a layer of the learner's own that refuses): judge it as it is
        return model


def is_plain_function(value: object) -> bool:
    """A plain callable (a function, a method, a partial), not a class, layer or model.

    Exercises that ask for a block-building *function* (4.1, 10.1) hand it to
    :func:`models_of_block`; a class or a layer there is a different answer, which the
    check names.
    """
    import inspect

    import keras

    if inspect.isclass(value) or isinstance(value, keras.layers.Layer):
        return False
    return callable(value)


def models_of_block(cases: Any) -> dict[str, Any]:
    """``{name: keras.Model(x, build(x))}`` for ``(name, shape, label, build)`` cases, ``x`` an Input of ``shape``.

    Run in the learner's kernel on their block-building function, so that the evidence is
    one model per input width. A case where ``build`` raises, returns something that is
    not a tensor, or gives a graph ``keras.Model`` refuses holds a one-line description
    instead (``label`` names the call, e.g. ``residual_block(x, 8)``), so the check can
    say which width broke the block.
    """
    import keras

    from coursetools.expect import describe

    results: dict[str, Any] = {}
    for name, shape, label, build in cases:
        call = f"{label} on an input of shape {(None, *shape)}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inputs = keras.Input(shape=shape)
            try:
                outputs = build(inputs)
            except Exception as error:  # the learner's function may fail in many ways
                results[name] = f"{call} raised {first_line(error, limit=240)}"
                continue
            if not isinstance(outputs, keras.KerasTensor):
                results[name] = f"{call} returned {describe(outputs)}, not the output tensor of the block"
                continue
            try:
                results[name] = keras.Model(inputs, outputs)
            except Exception as error:
                results[name] = f"keras.Model(x, {label}) raised {first_line(error, limit=240)}"
    return results
