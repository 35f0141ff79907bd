"""How a check speaks to a learner: one line on success, a short card on failure.

A failing check raises :class:`CheckFailed`. IPython calls an exception's
``_render_traceback_`` instead of printing a traceback, so the learner sees only
what went wrong, what was expected and a hint, never the inside of our code.
The exception still propagates, so nbval and the grader see the cell fail.
"""

from __future__ import annotations

PASS_MARK = "✅"
FAIL_MARK = "❌"


class Mistake(Exception):
    """Raised inside a check: what is wrong, without knowing the exercise id.

    Checks raise this; :func:`coursetools.registry.run_check` turns it into a
    :class:`CheckFailed` that names the exercise.
    """

    def __init__(
        self,
        problem: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(problem)


class CheckFailed(AssertionError):
    """A learner's answer does not do what the exercise asks: a mistake, tied to its exercise."""

    def __init__(self, exercise_id: str, mistake: Mistake) -> None:
        self.exercise_id = exercise_id
        self.mistake = mistake
        super().__init__(self.message())

    def lines(self) -> list[str]:
        """The feedback card, one string per line, with no traceback."""
        m = self.mistake
        out = [f"{FAIL_MARK} {self.exercise_id}: {m.problem}"]
        for label, text in (("expected", m.expected), ("found", m.found), ("hint", m.hint)):
            if text is not None:
                out.append(f"   {label + ':':<9} {text}")
        return out

    def message(self) -> str:
        return "\n".join(self.lines())

    def _render_traceback_(self) -> list[str]:
        return self.lines()


def passed_line(exercise_id: str, detail: str) -> str:
    """The single line a passing check prints (stable: nbval compares it)."""
    return f"{PASS_MARK} {exercise_id} passed: {detail}"


def hidden_check_failed(exercise_id: str, hint: str) -> str:
    """What a learner reads when a hidden check fails: the exercise and its hint, nothing of the check."""
    return "\n".join([
        f"{FAIL_MARK} {exercise_id}: your answer passes the check in the notebook, but not "
        "all of the grader's additional checks for this exercise.",
        f"   hint:     {hint}",
    ])
