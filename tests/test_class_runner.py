"""The class runner: a learner's class judged from its definitions, in a fresh process, by a bound reporter.

The forgery these tests guard against was real: an answer cell that redefines the
reporter its check cell calls passed exercise 7.1 with a layer returning its input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from coursetools.class_runner import answer_definitions, make_report, run_job
from coursetools.evidence import load_evidence

ROOT = Path(__file__).resolve().parent.parent
REPORTER = "fixtures.reporters:make_scale_reporter"

DOUBLE = '''
import math

def twice(x):
    return 2 * x

class Double(layers.Layer):
    def call(self, x):
        return twice(x)

layer = Double()
print("a statement that is not a definition")
'''

FORGERY = '''
import fixtures.reporters as _reporters
_reporters.make_scale_reporter = lambda: (lambda cls: {"report": "scale", "outputs": [[0, 2, 4], [6, 8, 10]]})

class Double(layers.Layer):
    import fixtures.reporters as _inside
    _inside.np = None  # patch the module the reporter came from, while the class is defined

    def call(self, x):
        return x
'''


def report_on(source, tmp_path, cls="Double", **run):
    job = {"source": source, "class": cls, "reporter": REPORTER, "folder": str(tmp_path), "name": "Double",
           "exercise": "0.0"}
    manifest = run_job(job, **run) if run else make_report(job)
    entry = manifest["evidence"]["Double"]
    return entry if entry["kind"] == "capture_error" else load_evidence(entry, tmp_path)


def test_only_imports_functions_and_classes_are_kept():
    kept = answer_definitions(DOUBLE + "\n@keras.saving.register_keras_serializable()\nclass Other:\n    pass\n")
    assert "def twice" in kept and "class Double" in kept and "import math" in kept
    assert "@keras.saving.register_keras_serializable()" in kept
    assert "layer = Double()" not in kept and "print(" not in kept


def test_the_report_is_what_the_class_computes(tmp_path):
    report = report_on(DOUBLE, tmp_path)
    assert np.array_equal(report["outputs"], 2 * np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("source, phrase", [
    ("class Double(layers.Layer):\n    def call(self, x):\n        return given(x)\n", "not defined"),
    ("x = 1\n", "no class named Double"),
    ("class Double(layers.Layer:\n", "SyntaxError"),
    ("class Double(undefined_base):\n    pass\n", "only your answer cell's imports, functions and classes"),
])
def test_what_goes_wrong_is_reported_not_raised(tmp_path, source, phrase):
    result = report_on(source, tmp_path)
    text = json.dumps(result, default=str)
    assert phrase in text, text


@pytest.mark.kernels
def test_in_a_fresh_process_redefining_or_patching_the_reporter_changes_nothing(tmp_path):
    """Only in a process of its own: a patch made in-process would outlive the job (the tests' shortcut)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    for folder in ("forged", "honest"):
        (tmp_path / folder).mkdir()
    forged = report_on(FORGERY, tmp_path / "forged", python=sys.executable, env=env)
    assert np.array_equal(forged["outputs"], np.arange(6).reshape(2, 3)), "the layer returns its input: no forgery"
    honest = report_on(DOUBLE, tmp_path / "honest", python=sys.executable, env=env)
    assert np.array_equal(honest["outputs"], 2 * np.arange(6).reshape(2, 3))


def test_the_marker_of_grader_kernels_is_the_grader_s():
    """A kernel the grader starts never starts report processes ahead (grading reports on classes itself)."""
    from coursetools.class_runner import GRADER_KERNEL
    from coursetools.grading.kernel import RUN_MARKER

    assert GRADER_KERNEL == RUN_MARKER


def test_no_process_is_started_ahead_outside_a_notebook(monkeypatch):
    import coursetools.class_runner as runner

    started = []
    monkeypatch.setattr(runner, "start_process", lambda **kwargs: started.append(kwargs))
    runner.prewarm_in_notebook()
    assert started == []


@pytest.mark.kernels
def test_a_process_started_ahead_serves_one_job(tmp_path):
    from coursetools.class_runner import start_process

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = start_process(python=sys.executable, env=env)
    report = report_on(DOUBLE, tmp_path, process=process)
    assert np.array_equal(report["outputs"], 2 * np.arange(6).reshape(2, 3))
    assert process.returncode == 0


def test_only_a_check_cell_of_a_lesson_with_class_checks_starts_a_process_ahead(monkeypatch, capsys):
    """Importing lessons (a check of lesson 2 imports all of them) starts nothing; a check of lesson 10 does."""
    import importlib

    import coursetools.class_runner as runner
    from coursetools import registry
    from coursetools.feedback import CheckFailed

    asked = []
    monkeypatch.setattr(runner, "prewarm_in_notebook", lambda: asked.append("prewarm"))
    for lesson in ("lesson07", "lesson10"):
        importlib.reload(importlib.import_module(f"coursetools.lessons.{lesson}"))
    assert asked == []
    assert not registry.lesson_has_class_checks("2.1") and registry.lesson_has_class_checks("10.1")
    with pytest.raises(CheckFailed):  # None is not a model: the check says so
        registry.check("2.1", model=None)
    assert asked == []
    with pytest.raises(CheckFailed):
        registry.check("10.1", blocks=None)
    assert asked == ["prewarm"]
