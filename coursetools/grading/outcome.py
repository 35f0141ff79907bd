"""What grading says about one exercise of one learner: the row of ``grades.csv``.

Kept apart from the machinery so that the report, the progress table and the tests
share one vocabulary of statuses and one way to cut learner-controlled text short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the notebook could not be run, or its evidence could not be produced or loaded
MISSING = "missing"  # the notebook, or the exercise's answer cell, is not there
STATUSES = (PASSED, FAILED, ERROR, MISSING)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with lone surrogates (which no UTF-8 file can hold) replaced by U+FFFD.

    An exception message can carry one (``ValueError("\\ud800")``); written as is, it
    would stop the CSV writer, and with it the whole class's report.
    """
    return _SURROGATE.sub("\ufffd", text)


def clip(text: object, limit: int = 300) -> str:
    """Learner-controlled text (an exception message, a file name) made safe to show.

    Control characters go (line breaks other than ``\\n`` included), lone surrogates
    become U+FFFD, and the length is capped, so an answer cannot flood the report or
    smuggle a long text (e.g. a hidden check's source) out through it.
    """
    value = safe_text(_CONTROL.sub(" ", str(text))).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass
class ExerciseResult:
    """One learner's result for one exercise, with a message the learner understands."""

    notebook: str
    exercise: str
    title: str
    status: str
    max_points: float
    message: str
    not_started: bool = False
    points: float = field(init=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        self.message = safe_text(self.message[:1].upper() + self.message[1:])
        self.points = self.max_points if self.status == PASSED else 0.0


def format_points(value: float) -> str:
    """``1`` rather than ``1.0``; fractional points keep their decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
