"""Offline data every lesson can use: scikit-learn's digits, and fixed weights.

Nothing is downloaded at run time. Generated arrays come from fixed seeds, so a
lesson, its exercises and its checks all see the same numbers. What belongs to one
lesson's exercises (a given model, a derived input) lives in that lesson's folder,
``coursetools/lessons/lessonNN/given.py``.
"""

from __future__ import annotations

import numpy as np


def load_digits_split(test_fraction: float = 0.25, *, flat: bool = True):
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1], split once and for all.

    Returns ``(x_train, y_train), (x_test, y_test)``. The digits ship inside
    scikit-learn (1,797 images), so nothing is downloaded. The split is stratified
    with a fixed seed: every lesson, exercise and check sees the same held-out set.
    With ``flat=False`` images keep their (8, 8) shape, for pictures.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    x = images.reshape(len(images), -1) if flat else images
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=0, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def digit_images(test_fraction: float = 0.25):
    """The digits of :func:`load_digits_split` as one-channel images, shape ``(n, 8, 8, 1)``.

    Same split, same order: ``(x_train, y_train), (x_test, y_test)``, ready for ``Conv2D``.
    """
    (x_train, y_train), (x_test, y_test) = load_digits_split(test_fraction, flat=False)
    return (x_train[..., None], y_train), (x_test[..., None], y_test)


def fixed_weights(seed: int, widths: list[int]) -> list[np.ndarray]:
    """Kernels and biases for a stack of Dense layers, the same on every machine."""
    rng = np.random.default_rng(seed)
    weights: list[np.ndarray] = []
    for fan_in, units in zip(widths[:-1], widths[1:]):
        weights.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, units)).astype("float32"))
        weights.append(rng.normal(0.0, 0.1, size=(units,)).astype("float32"))
    return weights
