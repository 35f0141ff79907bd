"""Helpers for the check tests: assert a pass, or a failure naming the mistake.

Both go through the grader's round trip (export, then load in safe mode): it is the
one path by which a check cell and ``grade`` reach a verdict, so what a test proves
here holds in the learner's notebook and in the instructor's grading alike.
"""

from __future__ import annotations

import pytest

from coursetools.evidence import export_evidence, load_evidence
from coursetools.feedback import CheckFailed
from coursetools.registry import run_check_as_graded


def assert_passes(exercise_id: str, **evidence: object) -> str:
    """The check passes on the evidence as graded (exported, then loaded back)."""
    line = run_check_as_graded(exercise_id, **evidence)
    assert line.startswith(f"✅ {exercise_id} passed"), line
    return line


def assert_fails(exercise_id: str, phrase: str, **evidence: object) -> CheckFailed:
    """The check rejects the evidence as graded, with a message containing ``phrase``."""
    with pytest.raises(CheckFailed) as caught:
        run_check_as_graded(exercise_id, **evidence)
    message = caught.value.message()
    assert phrase.lower() in message.lower(), f"{phrase!r} not in:\n{message}"
    assert "Traceback" not in message
    return caught.value


def round_trip(tmp_path, **evidence: object) -> dict[str, object]:
    """The evidence as the grader's clean process would see it after export."""
    loaded = {}
    for name, value in evidence.items():
        entry = export_evidence(value, tmp_path / "evidence", name)
        loaded[name] = load_evidence(entry, tmp_path / "evidence")
    return loaded
