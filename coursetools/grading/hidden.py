"""Hidden checks: extra conditions an instructor grades but never hands out.

Instructors write them in ``coursetools/hidden_checks/`` (any module there), which
:mod:`coursetools.grading.release` leaves out of the release::

    from coursetools.grading.hidden import hidden_check

    @hidden_check("1.1", hint="keep the defaults of everything the exercise does not mention")
    def default_dtype(layer):
        assert layer.dtype == "float32"

A hidden check takes the same evidence names as the exercise's check (any subset),
runs only in the verdict process and only after the visible check passed, and fails
by raising (``AssertionError``, :class:`~coursetools.feedback.Mistake`, anything).
The learner then reads the exercise id and the *hint*, never the check itself, so
the feedback does not reveal what is tested.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from coursetools.feedback import FAIL_MARK

HIDDEN_PACKAGE = "coursetools.hidden_checks"


@dataclass(frozen=True)
class HiddenCheck:
    exercise: str
    hint: str
    name: str  # for the instructor's log only
    check: Callable[..., object]
    evidence: tuple[str, ...]


_HIDDEN: dict[str, list[HiddenCheck]] = {}
_LOADED = False


def hidden_check(exercise_id: str, *, hint: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Register ``fn`` as a hidden check of ``exercise_id``; ``hint`` is all the learner sees."""
    if not hint.strip():
        raise ValueError("a hidden check needs a hint: it is the learner's only feedback")

    def register(fn: Callable[..., object]) -> Callable[..., object]:
        names = tuple(inspect.signature(fn).parameters)
        _HIDDEN.setdefault(exercise_id, []).append(
            HiddenCheck(exercise_id, hint, f"{fn.__module__}.{fn.__qualname__}", fn, names)
        )
        return fn

    return register


def load_hidden_checks() -> dict[str, list[HiddenCheck]]:
    """Import every module of ``coursetools.hidden_checks`` (absent in a release: no checks)."""
    global _LOADED
    if not _LOADED:
        try:
            package = importlib.import_module(HIDDEN_PACKAGE)
        except ModuleNotFoundError as error:
            if error.name not in (HIDDEN_PACKAGE, "coursetools"):
                raise
        else:
            for info in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{HIDDEN_PACKAGE}.{info.name}")
        _LOADED = True
    return {ex: list(checks) for ex, checks in _HIDDEN.items()}


def hidden_checks_for(exercise_id: str) -> list[HiddenCheck]:
    return list(load_hidden_checks().get(exercise_id, []))


def failure_message(check: HiddenCheck) -> str:
    """What the learner reads: the exercise and the hint, nothing about the check itself."""
    return "\n".join(
        [
            f"{FAIL_MARK} {check.exercise}: your answer passes the check in the notebook, but not "
            "all of the grader's additional checks for this exercise.",
            f"   hint:     {check.hint}",
        ]
    )
