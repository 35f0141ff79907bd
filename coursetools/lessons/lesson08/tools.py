"""Course code that lesson 8's exercise notebook runs in the learner's kernel: files to load, and a report.

* :func:`write_weights_file` (8.1) and :func:`write_calibrated_file` (8.3) write the files
  the exercises load, from models the course defines (:mod:`coursetools.lessons.lesson08.given`).
* :func:`port_report` (8.2) records how the ported model was compiled and trained and
  whether the file it was saved to holds it: facts about the learner's kernel that a
  saved model cannot carry. Like every reporter it returns a placeholder (``not_done``)
  unchanged, so an unsolved exercise says "not done yet", and never raises for a
  learner's mistake: it records the step that failed and the first line of its error.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from coursetools.placeholders import is_not_done
from coursetools.probing import same_values, to_numpy, useful_line

REPORT_KEY = "report"  # a report says what it is: {"report": "port", ...}
CALIBRATED_FILE = "calibrated.keras"  # exercise 8.3


class _ReportStopped(Exception):
    """A step of the report failed; the report already says which and why."""


def _recorded_step(report: dict[str, Any], what: str, action):
    """Run ``action()``; on an error record ``what`` failed and its first line, then stop the report."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return action()
    except Exception as error:  # the learner's model or file may fail in any way
        report["failed_step"] = what
        report["error"] = useful_line(error)
        raise _ReportStopped from None


def _single_output(value: Any) -> np.ndarray:
    if isinstance(value, (list, tuple, dict)):
        raise TypeError(f"it returned a {type(value).__name__}, not one tensor")
    return to_numpy(value, "float32")


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


def port_report(model: Any, path: str) -> Any:
    """How a model was compiled and trained, and whether ``path`` holds it (exercise 8.2)."""
    import keras

    if is_not_done(model) or not isinstance(model, keras.Model):
        return model
    report: dict[str, Any] = {REPORT_KEY: "port", "path": str(path)}
    optimizer = getattr(model, "optimizer", None)
    report["compiled"] = bool(getattr(model, "compiled", False)) and optimizer is not None
    if report["compiled"]:
        report["optimizer"] = type(optimizer).__name__
        try:
            report["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        except Exception:  # a schedule: no single number
            report["learning_rate"] = None
        report["iterations"] = int(keras.ops.convert_to_numpy(optimizer.iterations))
        loss = getattr(model, "loss", None)
        report["loss"] = loss if isinstance(loss, str) else type(loss).__name__
    report["file_exists"] = os.path.isfile(path)
    if report["file_exists"]:
        x = np.asarray(old_style_data()[0][:24], dtype="float32")
        try:
            loaded = _recorded_step(report, f"loading {path!r} with keras.saving.load_model (safe mode)",
                                    lambda: keras.saving.load_model(path, safe_mode=True, compile=False))
            saved = _recorded_step(report, "calling the loaded model", lambda: _single_output(loaded(x)))
            now = _recorded_step(report, "calling `ported`", lambda: _single_output(model(x, training=False)))
            report["file_matches"] = same_values(saved, now, atol=1e-6)
        except _ReportStopped:
            pass
    return report


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
