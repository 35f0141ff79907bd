"""Answers that are classes (7.1 a custom layer, 7.2 a subclassed model), graded through the real pipeline.

The grader reports on a class from the hand-in's answer cell, in a fresh sandboxed
process (coursetools.grading.classes): what the kernel says about the class cannot pass
it. The forgeries are the ones issue 15 found (each passed before, when the report was
made in the kernel): a layer that returns its input with the check path patched in the
kernel to say it passed; a "subclass" that is `given` relabelled; a class that borrows
`given` from the notebook. Each learner's kernel is patched so that its own check cell
would print a pass: only the grader's report decides.
"""

from __future__ import annotations

import pytest

from coursetools.lessons import all_lessons
from fixtures.grading.classroom import by_learner, grade_cli, load, read_grades, set_answer, write_learner

pytestmark = pytest.mark.kernels

CUSTOM = next(lesson for lesson in all_lessons() if lesson.number == 7)
NOTEBOOK = CUSTOM.exercise_notebook.split("/")[-1]

# Patches the kernel's whole check path: the notebook's own check cell would now "pass" anything.
PATCH_THE_KERNEL = """
import coursetools, coursetools.registry as _registry, coursetools.class_runner as _runner
_registry.run_check_as_graded = lambda exercise_id, **evidence: "✅ " + exercise_id + " passed: forged"
_runner.report_in_fresh_process = lambda value, *a, **k: {"report": "layer", "forged": True}
"""

IDENTITY_LAYER = PATCH_THE_KERNEL + """
@keras.saving.register_keras_serializable(package="forgery")
class FeatureScale(layers.Layer):
    def __init__(self, initial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = initial_scale

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "initial_scale": self.initial_scale}
"""

RELABELLED_GIVEN = PATCH_THE_KERNEL + """
TwoWay = type(given)
"""

BORROWS_GIVEN = PATCH_THE_KERNEL + """
class TwoWay(keras.Model):
    def call(self, inputs):
        return given(inputs)
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("classes")
    submissions = base / "submissions"
    solved = load("solutions", NOTEBOOK)
    write_learner(submissions, "solved", {NOTEBOOK: solved})
    forged = set_answer(set_answer(load("solutions", NOTEBOOK), "7.1", IDENTITY_LAYER), "7.2", RELABELLED_GIVEN)
    write_learner(submissions, "forged", {NOTEBOOK: forged})
    write_learner(submissions, "borrows", {NOTEBOOK: set_answer(load("solutions", NOTEBOOK), "7.2", BORROWS_GIVEN)})
    result = grade_cli(submissions, base / "report", "--notebooks", NOTEBOOK, "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return by_learner(read_grades(base / "report"))


def test_the_solutions_pass(graded):
    assert {ex: row["status"] for ex, row in graded["solved"].items()} == {"7.1": "passed", "7.2": "passed",
                                                                          "7.3": "passed"}


def test_a_layer_that_returns_its_input_fails_however_the_kernel_was_patched(graded):
    row = graded["forged"]["7.1"]
    assert row["status"] == "failed", row
    assert "has no weights" in row["message"]


def test_given_relabelled_as_a_subclass_fails(graded):
    row = graded["forged"]["7.2"]
    assert row["status"] == "failed", row
    assert "defines no class named TwoWay" in row["message"]


def test_a_class_that_borrows_given_from_the_notebook_fails(graded):
    row = graded["borrows"]["7.2"]
    assert row["status"] == "failed", row
    assert "given" in row["message"] and "not defined" in row["message"]
