"""Course code that lesson 8's exercise notebook runs in the learner's kernel: files to load, and a report.

* :func:`write_weights_file` (8.1) and :func:`write_calibrated_file` (8.3) write the files
  the exercises load, from models the course defines (:mod:`coursetools.lessons.lesson08.given`).
* :func:`saved_model` (8.2) loads the file the ported script saved, so that the check can
  compare it with ``ported``; a missing or broken file becomes a short dict saying so.
  How ``ported`` was compiled travels inside its own ``.keras`` evidence, and whether it
  was trained is judged from what it does (:mod:`coursetools.lessons.lesson08.checks`).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from coursetools.probing import useful_line

REPORT_KEY = "report"  # a file that could not be loaded says so: {"report": "file", ...}
CALIBRATED_FILE = "calibrated.keras"  # exercise 8.3


# --- Exercise 8.1: a weights file -------------------------------------------------------------


def write_weights_file(path: str = "original.weights.h5") -> str:
    """Save the weights of :func:`coursetools.lessons.lesson08.given.given_weights_source` to ``path``; show its summary."""
    from coursetools.lessons.lesson08.given import given_weights_source

    original = given_weights_source()
    original.summary()
    original.save_weights(path)
    return path


# --- Exercise 8.2: the ported code ------------------------------------------------------------


def old_style_data() -> tuple[list[list[float]], list[int]]:
    """Exercise 8.2's data the way old code holds it: Python lists (200 training digits)."""
    from coursetools.data import load_digits_split

    (x_train, y_train), _ = load_digits_split()
    return [[round(float(v), 4) for v in row] for row in x_train[:200]], [int(v) for v in y_train[:200]]


def saved_model(path: str) -> Any:
    """The model in the file the ported script saved (exercise 8.2), loaded as the grader loads models.

    What the check judges is the model itself (it must predict what ``ported`` predicts);
    a missing or unloadable file becomes a short dict that says so, for the check's card.
    """
    import keras

    if not os.path.isfile(path):
        return {REPORT_KEY: "file", "path": str(path), "problem": "missing"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # not a zip, not a model, a Lambda layer: the learner's file
        return {REPORT_KEY: "file", "path": str(path), "problem": useful_line(error)}


# --- Exercise 8.3: a file that holds an unregistered custom layer -----------------------------


def calibration_probe() -> np.ndarray:
    """Exercise 8.3's inputs: 12 real test digits, then 4 rows of random pixels."""
    from coursetools.data import load_digits_split

    _, (x_test, _) = load_digits_split()
    noise = np.random.default_rng(8300).uniform(0.0, 1.0, size=(4, 64))
    return np.concatenate([x_test[100:112], noise]).astype("float32")


def write_calibrated_file(path: str = CALIBRATED_FILE) -> str:
    """Save the model of :func:`coursetools.lessons.lesson08.given.given_calibrated_model` to ``path``.

    Its last layer is an instance of a class the course defines and does **not**
    register, as a colleague's file would be: loading it needs that class.
    """
    from coursetools.lessons.lesson08.given import given_calibrated_model

    given_calibrated_model().save(path)
    return path
