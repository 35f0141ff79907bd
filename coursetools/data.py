"""Offline data for lessons and checks: generated here or shipped with scikit-learn.

Nothing is downloaded at run time. Generated arrays come from fixed seeds, so the
lesson, the exercise and the check all see the same numbers.
"""

from __future__ import annotations

import numpy as np


def dense_by_hand_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs ``x`` (5 samples, 3 features), ``kernel`` (3x4) and ``bias`` (4,) of exercise 1.2.

    Values are rounded to two decimals so learners can read them, and chosen so that
    some outputs of ``x @ kernel + bias`` are negative (ReLU then visibly matters)
    and the bias is far from zero (forgetting it visibly matters).
    """
    rng = np.random.default_rng(12)
    x = np.round(rng.normal(size=(5, 3)), 2).astype("float32")
    kernel = np.round(rng.normal(size=(3, 4)), 2).astype("float32")
    bias = np.array([0.5, -1.0, 0.25, 1.5], dtype="float32")
    return x, kernel, bias
