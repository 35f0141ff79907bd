"""Course-side helpers of lesson 4, used in its notebooks and by its checks.

* :func:`probe_residual_blocks` turns a learner's ``residual_block(x, filters)``
  *function* into evidence a check can judge: one small model per input width,
  built here by calling the function (a function itself cannot be exported to the
  grader; the models it builds can).
* :func:`layer_gradients` measures how much gradient reaches each ``Dense`` layer
  of a classifier at a fresh start, the number exercise 4.5 is judged on. The
  learner can call it on their own model before running the check.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from coursetools.placeholders import is_not_done
from coursetools.probing import dense_layers, is_plain_function, models_of_block

# Exercise 4.1: (name, shape of one input sample, filters). The names are the keys of
# the evidence dict; the check knows the same cases and looks for every one of them.
# The statement names none of them: a block written for the widths a learner can guess
# (1, 8, 16 channels) still meets widths it never saw, narrower and wider than
# `filters`, on square and odd-sized images (at most 8x8: the probes crop real digits).
BLOCK_CASES: tuple[tuple[str, tuple[int, int, int], int], ...] = (
    ("8->8", (8, 8, 8), 8),
    ("1->8", (8, 8, 1), 8),
    ("16->8", (8, 8, 16), 8),
    ("3->3", (6, 5, 3), 3),
    ("2->5", (7, 5, 2), 5),
    ("5->2", (5, 7, 5), 2),
    ("7->7", (7, 7, 7), 7),
    ("12->3", (5, 3, 12), 3),
    ("4->8", (3, 6, 4), 8),
)


def probe_residual_blocks(residual_block: Any) -> Any:
    """``{"8->8": model, "1->8": model, ...}``: ``keras.Model(x, residual_block(x, filters))`` per case.

    A case where the function raises, or returns something that is not a tensor,
    holds a one-line description of what happened instead of a model, so the check
    can say which input width broke the block. A placeholder or anything that is not
    a function is returned unchanged (the check names it).
    """
    if is_not_done(residual_block) or not is_plain_function(residual_block):
        return residual_block
    return models_of_block((name, shape, f"residual_block(x, {filters})", lambda x, f=filters: residual_block(x, f))
                           for name, shape, filters in BLOCK_CASES)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras's default kernel initialiser, drawn from ``rng`` (the same numbers on every machine)."""
    fan_in, fan_out = int(np.prod(shape[:-1])), int(shape[-1])
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype("float32")


def layer_gradients(model: Any, *, seed: int = 0, samples: int = 256) -> np.ndarray:
    """Size (L2 norm) of the loss gradient reaching each ``Dense`` kernel of a digit classifier.

    Measured at a fresh start: a copy of ``model`` (the model itself is not touched)
    gets Keras's default initialisation from a fixed seed (Glorot-uniform kernels,
    zero biases), then one batch of ``samples`` training digits goes forward and the
    sparse categorical cross-entropy goes backward. The model must take 64 pixels
    and output 10 probabilities. Entry ``k`` belongs to the ``k``-th ``Dense`` layer.
    """
    import keras
    import tensorflow as tf

    from coursetools.data import load_digits_split

    (x_train, y_train), _ = load_digits_split()
    x, y = x_train[:samples], y_train[:samples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    layers = dense_layers(fresh)
    for layer in layers:
        weights = [glorot_uniform(rng, tuple(layer.kernel.shape))]
        if layer.bias is not None:
            weights.append(np.zeros(tuple(layer.bias.shape), "float32"))
        layer.set_weights(weights)
    kernels = [layer.kernel for layer in layers]
    with tf.GradientTape() as tape:
        probabilities = fresh(x, training=False)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))
    gradients = tape.gradient(loss, kernels)
    return np.array([0.0 if g is None else float(tf.norm(g)) for g in gradients])
