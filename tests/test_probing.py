"""coursetools.probing.unnested: the graph that runs, with nested models' layers called directly."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from coursetools.probing import all_layers, unnested


def _outputs(model, x):
    out = model(x, training=False)
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), out)


def _nested_reader():
    pixels = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(32, activation="relu", name="hidden")(pixels)
    code = layers.Dense(16, activation="relu", name="code")(hidden)
    encoder = keras.Model(pixels, code, name="encoder")
    image = keras.Input(shape=(64,), name="image")
    head = keras.Sequential([layers.Dense(12, activation="relu"), layers.Dense(10, activation="softmax")], name="head")
    return keras.Model(image, head(encoder(image)), name="reader")


def test_unnested_computes_the_same_with_every_layer_at_the_top():
    reader = _nested_reader()
    flat = unnested(reader)
    x = np.random.default_rng(0).uniform(size=(5, 64)).astype("float32")
    assert np.allclose(_outputs(flat, x), _outputs(reader, x))
    assert [type(layer).__name__ for layer in flat.layers] == ["InputLayer", "Dense", "Dense", "Dense", "Dense"]
    assert all(any(layer is inner for inner in all_layers(reader)) for layer in flat.layers[1:])
    assert flat.name == "reader"


def test_unnested_keeps_dict_inputs_and_outputs():
    first, second = keras.Input(shape=(3,), name="first"), keras.Input(shape=(2,), name="second")
    inner = keras.Model([first, second], layers.Dense(4)(layers.Concatenate()([first, second])))
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    model = keras.Model({"a": a, "b": b}, {"sum": inner([a, b]), "b": layers.Dense(1)(b)})
    flat = unnested(model)
    data = {"a": np.ones((2, 3), "float32"), "b": np.ones((2, 2), "float32")}
    assert set(flat.output) == {"sum", "b"}
    for key in ("sum", "b"):
        assert np.allclose(_outputs(flat, data)[key], _outputs(model, data)[key])


def test_unnested_leaves_a_model_without_nesting_as_it_is_and_other_values_too():
    pixels = keras.Input(shape=(4,))
    model = keras.Model(pixels, layers.Dense(2)(pixels))
    assert [type(layer).__name__ for layer in unnested(model).layers] == ["InputLayer", "Dense"]
    layer = layers.Dense(3)
    assert unnested(layer) is layer


def test_a_layer_called_directly_and_through_its_nested_model_reloads_only_unnested(tmp_path):
    """The Keras 3.15 saving bug behind issue 15's 6.5 report, and the way round it.

    The saved config lists `hidden` at the top level and again inside `reader` -> `encoder`
    (the same object, so both copies carry one `shared_object_id`). Loading rebuilds the
    nested model first: its call of `hidden` becomes node 0, the outer call node 1, but the
    outer config still says node 0, so Keras connects the output to the encoder's input.
    """
    reader = _nested_reader()
    encoder = reader.get_layer("encoder")
    image = keras.Input(shape=(64,))
    hidden = encoder.get_layer("hidden")(image)
    model = keras.Model(image, {"hidden": hidden, "scores": reader(image)})
    model.save(tmp_path / "nested.keras")
    with pytest.raises(ValueError, match="Output with path `hidden` is not connected to `inputs`"):
        keras.saving.load_model(tmp_path / "nested.keras", safe_mode=False, compile=False)
    unnested(model).save(tmp_path / "flat.keras")
    loaded = keras.saving.load_model(tmp_path / "flat.keras", safe_mode=True, compile=False)
    x = np.random.default_rng(1).uniform(size=(4, 64)).astype("float32")
    for key in ("hidden", "scores"):
        assert np.allclose(_outputs(loaded, x)[key], _outputs(model, x)[key], atol=1e-6)


def test_unnested_gives_back_what_it_cannot_replay():
    from coursetools.placeholders import not_done

    placeholder = not_done("6.5")
    assert unnested(placeholder) is placeholder and unnested(None) is None
    symbolic = keras.Input(shape=(3,))
    assert unnested(symbolic) is symbolic

    pixels = keras.Input(shape=(4,))
    inner = keras.Model(pixels, layers.Dense(2)(pixels))
    outer_in = keras.Input(shape=(4,))
    model = keras.Model(outer_in, inner(outer_in))

    def refuse(*args, **kwargs):
        raise RuntimeError("a graph that cannot be replayed")

    inner._run_through_graph = refuse  # as a layer of the learner's own that refuses a second call would
    assert unnested(model) is model
