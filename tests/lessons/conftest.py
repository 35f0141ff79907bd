"""Check tests of lessons: a learner's class is reported on in this process (same steps, no new one per class).

The fresh process the check cell and the grader use costs seconds per class; it and the
forgeries it stops are tested in ``tests/test_class_runner.py`` and the grading tests.
"""

import pytest


@pytest.fixture(autouse=True)
def reports_in_process(monkeypatch):
    monkeypatch.setenv("COURSETOOLS_REPORT_IN_PROCESS", "1")
