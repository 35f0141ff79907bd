"""One rule for a count given as a whole float, in every exercise that asks for a count (issue 15).

A count is an int: ``1210.0`` is refused, with the message that calls it a float and says
how to make it an int (``coursetools.expect.expect_int``), in 2.2, 3.5, 4.4 and 6.1 alike.
Before, 6.1 accepted ``1313.0`` and 4.4 ``4904.0`` while 2.2 refused ``1210.0``.
"""

from __future__ import annotations

import numpy as np
import pytest

from check_helpers import assert_fails, assert_passes

PREDICTED_3_5 = {"rows": (None, 8, 4), "flat": (None, 32), "scores": (None, 10)}

# exercise -> (evidence with the count as an int, the same evidence with the count as a float)
COUNTS = {
    "2.2": (lambda n: {"n_params": n}, 1210),
    "3.5": (lambda n: {"predicted": {**PREDICTED_3_5, "n_layers": n}}, 4),
    "4.4": (lambda n: {"output_shape": (None, 4, 4, 16), "total_params": n}, 4904),
    "6.1": (lambda n: {"n_params": n}, 1313),
}


@pytest.mark.parametrize("exercise", sorted(COUNTS))
def test_a_count_as_an_int_passes(exercise):
    evidence, count = COUNTS[exercise]
    assert_passes(exercise, **evidence(count))
    assert_passes(exercise, **evidence(np.int64(count)))


@pytest.mark.parametrize("as_float", [float, np.float64, np.float32], ids=["float", "numpy-float64", "numpy-float32"])
@pytest.mark.parametrize("exercise", sorted(COUNTS))
def test_a_count_as_a_whole_float_is_refused_with_one_message(exercise, as_float):
    evidence, count = COUNTS[exercise]
    failure = assert_fails(exercise, f"is the float {float(count)!r}, not an int", **evidence(as_float(count)))
    assert "int(...)" in failure.message()
