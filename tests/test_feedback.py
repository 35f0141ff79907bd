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
    from coursetools.lessons.lesson01 import dense_by_hand_example

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


# --- quoting an error: the useful part survives ------------------------------------------------


def _raised(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - we quote whatever Keras or TensorFlow raised
        return error
    raise AssertionError("nothing was raised")


def test_first_line_keeps_the_end_of_a_long_keras_message():
    import keras
    import numpy as np
    from coursetools.probing import first_line

    model = keras.Sequential([keras.Input(shape=(32,)), keras.layers.Dense(3)])
    quoted = first_line(_raised(lambda: model(np.zeros((24, 64), "float32"))), limit=170)
    assert len(quoted) <= 170
    assert quoted.startswith("ValueError: ")
    assert "value 32" in quoted and "(24, 64)" in quoted  # what it wanted, and what it got


def test_first_line_drops_tensorflow_s_function_node_prefix():
    import tensorflow as tf
    from coursetools.probing import first_line

    quoted = first_line(_raised(lambda: tf.matmul(tf.zeros((5, 64)), tf.zeros((32, 3)))))
    assert "function_node" not in quoted and "device:CPU" not in quoted
    assert "Matrix size-incompatible: In[0]: [5,64], In[1]: [32,3]" in quoted


def test_first_line_of_a_short_message_is_unchanged():
    from coursetools.probing import first_line

    assert first_line(ValueError("Cannot convert '2' to a shape.")) == "ValueError: Cannot convert '2' to a shape."


def test_same_values_compares_shapes_before_numbers():
    import numpy as np

    from coursetools.probing import same_values

    batch = np.ones((5, 3))
    assert same_values(batch, batch + 5e-6)
    assert not same_values(batch, batch + 1e-3)
    assert not same_values(batch[:1], batch)  # np.allclose alone would broadcast one row to the batch
    assert not same_values(np.ones((5, 1)), np.ones(5))
    assert same_values([1.0, 2.0], np.array([1.0, 2.0], "float32"))  # lists and float32 arrays are numbers too
    assert not same_values(batch, batch + 5e-6, rtol=0, atol=1e-6)
