"""What a learner sees: one ✅ line, or a short card with no traceback from our code."""

from __future__ import annotations

import pytest

from coursetools import check, not_done
from coursetools.feedback import CheckFailed, Mistake
from coursetools.placeholders import NotDoneError
from coursetools.registry import run_check


def test_card_has_problem_expected_found_hint_and_no_traceback():
    error = CheckFailed("1.1", Mistake("the layer has the wrong number of units.", expected="16", found="8", hint="units"))
    lines = error._render_traceback_()
    assert lines[0] == "❌ 1.1: the layer has the wrong number of units."
    assert [l.split(":")[0].strip() for l in lines[1:]] == ["expected", "found", "hint"]
    assert str(error) == "\n".join(lines)


def test_check_prints_one_line(capsys):
    import numpy as np
    from coursetools.data import dense_by_hand_example

    x, kernel, bias = dense_by_hand_example()
    check("1.2", y_by_hand=np.maximum(x @ kernel + bias, 0))
    assert capsys.readouterr().out == "✅ 1.2 passed: relu(x @ kernel + bias) matches the layer\n"


def test_placeholder_is_reported_as_not_done():
    with pytest.raises(CheckFailed, match="not done yet") as caught:
        run_check("1.3", layer=not_done("1.3"))
    assert 'not_done("1.3")' in caught.value.message()


def test_using_a_placeholder_names_the_exercise():
    placeholder = not_done("2.4")
    with pytest.raises(NotDoneError, match=r"Exercise 2\.4 is not done yet"):
        placeholder.fit()
    with pytest.raises(NotDoneError):
        placeholder()
    assert repr(placeholder) == "<exercise 2.4: not done yet>"
    assert not hasattr(placeholder, "_repr_html_")  # IPython's display probes must not explode


def test_wrong_evidence_names_are_a_course_bug_not_a_learner_mistake():
    with pytest.raises(TypeError, match="takes evidence"):
        run_check("1.1", model=None)
