"""Lesson 9 checks: correct answers written differently pass; typical mistakes are named.

Every assertion goes through the grader's round trip (saved, then loaded in safe mode),
like the learner's check cell and ``grade``.
"""

from __future__ import annotations

import keras
import pytest
from keras import layers

from check_helpers import assert_fails, assert_passes


@pytest.mark.parametrize("layer", [layers.Dense(4), layers.Dense(units=4, activation="relu")])
def test_9_1_accepts(layer):
    assert_passes("9.1", layer=layer)


@pytest.mark.parametrize("layer, phrase", [
    (layers.Dense(3), "wrong number of units"),
    (layers.Conv2D(4, 3), "wrong kind of layer"),
])
def test_9_1_names_the_mistake(layer, phrase):
    assert_fails("9.1", phrase, layer=layer)


def test_9_2_accepts_the_count():
    assert_passes("9.2", n_params=3 * 4 + 4)


@pytest.mark.parametrize("n_params, phrase", [(12, "kernel only"), (7, "not the number"), (16.0, "float")])
def test_9_2_names_the_mistake(n_params, phrase):
    assert_fails("9.2", phrase, n_params=n_params)


def functional():
    inputs = keras.Input(shape=(3,))
    return keras.Model(inputs, layers.Dense(1)(layers.Dense(8, activation="relu")(inputs)))


@pytest.mark.parametrize("build", [
    lambda: keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)]),
    functional,
])
def test_9_3_accepts(build):
    assert_passes("9.3", model=build())


@pytest.mark.parametrize("build, phrase", [
    (lambda: keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)]), "wrong number of outputs"),
    (lambda: keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)]), "fails on a batch"),
    (lambda: layers.Dense(1), "not a keras model"),
])
def test_9_3_names_the_mistake(build, phrase):
    assert_fails("9.3", phrase, model=build())
