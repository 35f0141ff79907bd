"""The value an unsolved answer cell holds until the learner replaces it.

An exercise notebook must run from top to bottom even when nothing is solved, so
that it fails at each check cell and nowhere else. The builder therefore turns a
solution into ``name = not_done("1.2")`` rather than a bare ``raise``: the answer
cell runs, the check cell reports "not done yet", and any accidental use of the
placeholder raises an error that names the exercise.
"""

from __future__ import annotations

from typing import Any, NoReturn


class NotDoneError(RuntimeError):
    """Raised when an unsolved exercise's placeholder is used like a real answer."""


class NotDone:
    """Stands in for the answer of an exercise that has not been done yet."""

    __slots__ = ("exercise_id",)

    def __init__(self, exercise_id: str) -> None:
        object.__setattr__(self, "exercise_id", exercise_id)

    def _fail(self) -> NoReturn:
        raise NotDoneError(
            f"Exercise {self.exercise_id} is not done yet: replace "
            f'not_done("{self.exercise_id}") with your answer and run that cell again.'
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            # IPython and debuggers probe private names; let them see a plain miss.
            raise AttributeError(name)
        self._fail()

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail()

    def __iter__(self) -> NoReturn:
        self._fail()

    def __bool__(self) -> NoReturn:
        self._fail()

    def __repr__(self) -> str:
        return f"<exercise {self.exercise_id}: not done yet>"


def not_done(exercise_id: str) -> NotDone:
    """Placeholder for an answer; the check cell of ``exercise_id`` says it is missing."""
    return NotDone(exercise_id)


def is_not_done(value: object) -> bool:
    """True for a placeholder left in place (also after a grading round trip)."""
    return isinstance(value, NotDone)
