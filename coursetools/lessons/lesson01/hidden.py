"""Hidden checks for lesson 1: properties the visible checks do not look at.

1.1: the layer must really compute relu(x @ kernel + bias) in float32. The visible
check reads the configuration (units, activation, bias); a layer made with, say,
``dtype="float16"`` passes it but computes at half precision.
1.2: ReLU never outputs a negative number. The visible check accepts values within
1e-5 of the right ones (float32 rounding), so an answer that subtracts a tiny
constant passes it.
"""

from __future__ import annotations

import numpy as np

from coursetools.registry import exercise


@exercise("1.1", hidden=True, hint="keep Keras's defaults for everything the exercise does not ask you to change")
def computes_relu_in_float32(layer):
    layer = layer.__class__.from_config(layer.get_config())  # a fresh copy: never change the evidence
    layer.build((None, 3))
    kernel = np.linspace(-1.0, 1.0, 3 * 16, dtype="float32").reshape(3, 16)
    bias = np.linspace(-0.5, 0.5, 16, dtype="float32")
    layer.set_weights([kernel, bias])
    x = np.array([[0.5, -1.0, 2.0], [-0.25, 0.75, -1.5]], dtype="float32")
    y = np.asarray(layer(x))
    assert y.dtype == np.float32, y.dtype
    np.testing.assert_allclose(y, np.maximum(x @ kernel + bias, 0.0), rtol=1e-6, atol=1e-6)


@exercise("1.2", hidden=True, hint="ReLU never gives a negative number: compute exactly relu(x @ kernel + bias)")
def relu_output_is_never_negative(y_by_hand):
    y = np.asarray(y_by_hand, dtype="float64")
    assert np.all(np.isfinite(y)) and y.min() >= 0.0
