"""pytest plugin: a cell tagged to raise must really raise, and raise what it stored.

nbval accepts a ``raises-exception`` cell that no longer raises (nbval issue 108),
so a lesson's "here is the real error" demonstration could silently turn into a
cell that shows nothing. This wrapper looks at what nbval just ran and fails the
cell when no error came out, or a different exception than the stored one.
"""

from __future__ import annotations

import pytest

from coursetools import schema


def _stored_error_name(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename")
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    cell = getattr(item, "cell", None)
    outputs = getattr(item, "test_outputs", None)
    if cell is None or outputs is None or not schema.raises(cell):
        return result
    raised = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
    if not raised:
        pytest.fail("cell is tagged raises-exception but ran without raising", pytrace=False)
    stored = _stored_error_name(cell)
    if stored is not None and raised[0] != stored:
        pytest.fail(f"cell raised {raised[0]}, but the notebook shows {stored}", pytrace=False)
    return result
