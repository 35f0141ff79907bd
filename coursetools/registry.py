"""Which check belongs to which exercise, and the ``check()`` call of check cells.

A check is a function of plain evidence (a Keras model or layer, an array, a
number, a dict), never of a notebook's namespace. That keeps one check usable in
two places: in the learner's kernel for instant feedback, and in a separate clean
process that grades evidence exported from a submission.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from coursetools.feedback import CheckFailed, Mistake, passed_line
from coursetools.placeholders import is_not_done

CheckFunction = Callable[..., str]


@dataclass(frozen=True)
class Exercise:
    """One auto-graded exercise: its id, title, check and evidence names."""

    id: str
    title: str
    check: CheckFunction
    evidence: tuple[str, ...]


_EXERCISES: dict[str, Exercise] = {}
_LOADED = False


def exercise(exercise_id: str, title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register ``fn`` as the check of ``exercise_id``; its parameters name the evidence."""

    def register(fn: CheckFunction) -> CheckFunction:
        if exercise_id in _EXERCISES:
            raise ValueError(f"exercise {exercise_id} has two checks")
        names = tuple(inspect.signature(fn).parameters)
        _EXERCISES[exercise_id] = Exercise(exercise_id, title, fn, names)
        return fn

    return register


def _load_check_modules() -> None:
    """Import every module of :mod:`coursetools.checks` so its exercises register."""
    global _LOADED
    if _LOADED:
        return
    import coursetools.checks as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED = True


def get_exercise(exercise_id: str) -> Exercise:
    _load_check_modules()
    try:
        return _EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; known: {sorted(_EXERCISES)}") from None


def all_exercises() -> dict[str, Exercise]:
    _load_check_modules()
    return dict(_EXERCISES)


def run_check(exercise_id: str, **evidence: object) -> str:
    """Judge the evidence; return the success line or raise :class:`CheckFailed`."""
    ex = get_exercise(exercise_id)
    if set(evidence) != set(ex.evidence):
        # A course bug, not a learner mistake: the check cell and the check disagree.
        raise TypeError(
            f"check {exercise_id} takes evidence {list(ex.evidence)}, got {sorted(evidence)}"
        )
    for value in evidence.values():
        if is_not_done(value):
            raise CheckFailed(
                exercise_id,
                Mistake(
                    "not done yet.",
                    expected="your own code in the answer cell above",
                    found=f'the placeholder not_done("{exercise_id}")',
                    hint="replace the placeholder with your code, run that cell, then run this one.",
                ),
            )
    try:
        detail = ex.check(**evidence)
    except Mistake as mistake:
        raise CheckFailed(exercise_id, mistake) from None
    return passed_line(exercise_id, detail)


def run_check_as_graded(exercise_id: str, **evidence: object) -> str:
    """Judge the evidence after the grader's round trip (export, then load in safe mode).

    This is the one path to a verdict: the learner's check cell and the instructor's
    grading judge the very same values, so an answer never passes in the notebook and
    fails in ``grade`` (a NumPy scalar, a per-variable ``trainable`` flag that saving
    drops, a Lambda layer that safe mode refuses), or the other way round.
    """
    from coursetools.evidence import as_graded

    return run_check(exercise_id, **as_graded(evidence))


def check(exercise_id: str, **evidence: object) -> None:
    """What a check cell calls: prints one ✅ line, or raises a short feedback card."""
    print(run_check_as_graded(exercise_id, **evidence))
