"""The rows of a report's ``grades.csv``, read back: what the class report, the gradebook and the
Gradescope results are built from.

Everything here depends on the report's *file* (its documented columns
``learner,notebook,exercise,status,points,max_points,message``), never on the grader's
objects, so a report written by ``grade``, by ``merge`` or by an earlier version of the
grader gives the same pages. Learner names and notebooks keep the file's order (the
grader's learner order: the bytes of the folder names; the course's notebook and exercise
order).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from coursetools.grading.outcome import ERROR, FAILED, MISSING, PASSED, format_points

COLUMNS = ["learner", "notebook", "exercise", "status", "points", "max_points", "message"]
NOT_DONE = "not done"  # a failed row whose check said "not done yet": a state of its own on the pages
STATES = (PASSED, FAILED, NOT_DONE, ERROR, MISSING)
_NOT_DONE = re.compile(r"\A\W*\s*[\w.]+: not done yet\.?\Z")


class GradesError(ValueError):
    """``grades.csv`` cannot be read as a report; ``str()`` says why."""


@dataclass(frozen=True)
class Row:
    """One row of ``grades.csv`` (``learner`` exactly as the file shows it)."""

    learner: str
    notebook: str
    exercise: str
    status: str
    points: float
    max_points: float
    message: str

    @property
    def parts(self) -> list[str]:
        """The feedback card's lines (the file joins them with `` | ``)."""
        return [part.strip() for part in self.message.split(" | ")]

    @property
    def state(self) -> str:
        """``status``, except that a failed row saying "not done yet" is :data:`NOT_DONE`."""
        if self.status == FAILED and _NOT_DONE.match(self.parts[0]):
            return NOT_DONE
        return self.status


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GradesError(f"{where}: {text!r} is not a number") from None


def read_grades(path: Path) -> list[Row]:
    """The rows of ``grades.csv`` at ``path``; :class:`GradesError` if it is not one."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header != COLUMNS:
                raise GradesError(f"{path} does not start with the columns {','.join(COLUMNS)}")
            rows = []
            for number, values in enumerate(reader, start=2):
                if len(values) != len(COLUMNS):
                    raise GradesError(f"{path}, line {number}: {len(values)} fields, not {len(COLUMNS)}")
                learner, notebook, exercise, status, points, max_points, message = values
                if status not in (PASSED, FAILED, ERROR, MISSING):
                    raise GradesError(f"{path}, line {number}: unknown status {status!r}")
                where = f"{path}, line {number}"
                rows.append(Row(learner, notebook, exercise, status, _number(points, where),
                                _number(max_points, where), message))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GradesError(f"{path} cannot be read ({error})") from None
    return rows


def ordered(values: list[str]) -> list[str]:
    """``values`` without repeats, in the order they first appear."""
    return list(dict.fromkeys(values))


def learners(rows: list[Row]) -> list[str]:
    return ordered([row.learner for row in rows])


def notebooks(rows: list[Row]) -> list[str]:
    return ordered([row.notebook for row in rows])


def exercises(rows: list[Row]) -> list[tuple[str, str]]:
    """(notebook, exercise) pairs in the course's order."""
    return list(dict.fromkeys((row.notebook, row.exercise) for row in rows))


def plain_name(learner: str) -> str:
    """The learner's name without the ``'`` that ``grades.csv`` puts before a leading ``= + - @``."""
    if learner.startswith("'") and learner[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return learner[1:]
    return learner


def points_text(value: float) -> str:
    return format_points(value)
