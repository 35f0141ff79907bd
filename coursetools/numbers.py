"""Printing a measured number that may differ slightly between computers: ``about``.

A lesson that trains a model talks about numbers ("about 93% of the test digits"), and a
learner learns from seeing them. But the last digits of a trained model's accuracy
depend on the CPU, so a notebook that prints them cannot be compared strictly with its
stored outputs. ``about(value, low, high)`` does two things:

* it **checks the claim**: ``low <= value <= high``, the range the lesson's text states;
  outside it the cell raises, so a claim that stops holding fails the notebook's tests;
* it **marks the number** as measured: ``≈0.93``. ``nbval-sanitize.cfg`` replaces exactly
  such a token (``≈`` followed by a number, nothing else) before comparing outputs, so
  the rest of the line is still compared strictly (``tests/test_number_marker.py``).
"""

from __future__ import annotations

import math
import re

MARK = "≈"
# What nbval-sanitize.cfg masks: the mark, an optional sign, digits, an optional fraction,
# exponent and percent sign. No spaces, no letters other than the exponent's e: it can
# never reach past the number it marks (tests/test_number_marker.py).
TOKEN = re.compile(r"\u2248-?\d+(?:\.\d+)?(?:e[+-]\d+)?%?")  # \u2248 is ≈; the same text as the sanitize file's


class ClaimNoLongerHolds(AssertionError):
    """A number a lesson prints is outside the range its text states."""


def about(value: float, low: float, high: float, fmt: str = ".2f") -> str:
    """``≈value`` (formatted with ``fmt``), after checking ``low <= value <= high``.

    ``fmt`` is a format spec: ``".2f"`` (``≈0.93``), ``".0%"`` (``≈93%``), ``".0e"``
    (``≈3e-04``), ``".1f"``...
    """
    number = float(value)
    if not (low <= high):
        raise ValueError(f"about(): the range is empty ({low} > {high})")
    if math.isnan(number) or not (low <= number <= high):
        raise ClaimNoLongerHolds(
            f"{number!r} is outside [{low}, {high}], the range this cell's text claims: "
            "the claim no longer holds on this computer (or the lesson needs a new range)")
    text = MARK + format(number, fmt)
    if TOKEN.fullmatch(text) is None:  # e.g. a format with thousands separators or padding
        raise ValueError(f"about(): {text!r} is not a number the sanitize file can mask; use a plain format")
    return text
