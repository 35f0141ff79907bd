"""The machine-readable roles of notebook cells, shared by the builder, tests and grader.

Exercise notebooks mark their cells like this (documented in the README):

* answer cell: tag ``answer``, ``metadata.exercise = "1.2"``; holds the learner's code.
  In ``solutions/`` the answer sits between ``### BEGIN SOLUTION`` / ``### END SOLUTION``.
* check cell: tags ``check`` and ``nbval-check-output``, ``metadata.exercise = "1.2"``,
  optional ``metadata.points`` (default 1); calls ``check("1.2", name=value, ...)``.
* a cell that demonstrates an error: tag ``raises-exception``; it must really raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ANSWER_TAG = "answer"
CHECK_TAG = "check"
CHECK_OUTPUT_TAG = "nbval-check-output"
RAISES_TAGS = frozenset({"raises-exception", "nbval-raises-exception"})
EXERCISE_KEY = "exercise"
POINTS_KEY = "points"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

_CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")


def tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def exercise_id(cell: Any) -> str | None:
    value = cell.get("metadata", {}).get(EXERCISE_KEY)
    return str(value) if value is not None else None


def is_answer(cell: Any) -> bool:
    return cell.get("cell_type") == "code" and ANSWER_TAG in tags(cell)


def is_check(cell: Any) -> bool:
    return cell.get("cell_type") == "code" and CHECK_TAG in tags(cell)


def raises(cell: Any) -> bool:
    return bool(tags(cell) & RAISES_TAGS)


def points(cell: Any) -> float:
    return float(cell.get("metadata", {}).get(POINTS_KEY, 1))


@dataclass(frozen=True)
class ExerciseCells:
    """Where one exercise lives in a notebook (cell indices)."""

    exercise_id: str
    answers: tuple[int, ...]
    check: int
    points: float


def exercises_in(nb: Any) -> list[ExerciseCells]:
    """The exercises of a notebook in order; raises ValueError if the roles are inconsistent."""
    answers: dict[str, list[int]] = {}
    checks: dict[str, int] = {}
    order: list[str] = []
    problems: list[str] = []
    for index, cell in enumerate(nb["cells"]):
        if not (is_answer(cell) or is_check(cell)):
            continue
        ex = exercise_id(cell)
        if ex is None:
            problems.append(f"cell {index} has role tags but no metadata.exercise")
            continue
        if is_answer(cell) and is_check(cell):
            problems.append(f"cell {index} is tagged both answer and check")
        elif is_answer(cell):
            if ex in checks:
                problems.append(f"answer cell {index} of {ex} comes after its check")
            answers.setdefault(ex, []).append(index)
        else:
            if ex in checks:
                problems.append(f"exercise {ex} has two check cells")
            checks[ex] = index
            if CHECK_OUTPUT_TAG not in tags(cell):
                problems.append(f"check cell {index} lacks the {CHECK_OUTPUT_TAG} tag")
            called = _CHECK_CALL.findall("".join(cell["source"]))
            if called != [ex]:
                problems.append(f"check cell {index} of {ex} calls check() for {called}")
        if ex not in order:
            order.append(ex)
    for ex in order:
        if ex not in answers:
            problems.append(f"exercise {ex} has no answer cell")
        if ex not in checks:
            problems.append(f"exercise {ex} has no check cell")
    if problems:
        raise ValueError("; ".join(problems))
    return [
        ExerciseCells(ex, tuple(answers[ex]), checks[ex], points(nb["cells"][checks[ex]]))
        for ex in order
    ]


def iter_code_cells(nb: Any) -> Iterator[tuple[int, Any]]:
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "code":
            yield index, cell
