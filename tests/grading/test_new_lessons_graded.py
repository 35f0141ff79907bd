"""Lessons 9 and 10 through ``grade``: the solved notebooks pass, typical mistakes fail by name, forgeries fail.

The check tests (tests/lessons/) judge many variants through the export round trip; this
file takes the grader's path for the two new lessons: one class, three learners, one
``grade`` run. The 10.4 answer is a class, reported on by the grader in a fresh sandboxed
process from the hand-in's answer cell; the learner's kernel is patched so that its own
check cell would print a pass, which must change nothing.
"""

from __future__ import annotations

import pytest

from coursetools.lessons import all_lessons
from fixtures.grading.classroom import by_learner, grade_cli, load, read_grades, set_answer, write_learner

pytestmark = pytest.mark.kernels

SEQUENCES = next(lesson for lesson in all_lessons() if lesson.number == 9).exercise_notebook.split("/")[-1]
BRANCHES = next(lesson for lesson in all_lessons() if lesson.number == 10).exercise_notebook.split("/")[-1]

PATCH_THE_KERNEL = """
import coursetools.registry as _registry, coursetools.class_runner as _runner
_registry.run_check_as_graded = lambda exercise_id, **evidence: "✅ " + exercise_id + " passed: forged"
_runner.report_in_fresh_process = lambda value, *a, **k: value
"""

PYTORCH_MASK = """
lengths = np.array([5, 3, 6, 2])
i = np.arange(6)[None, :, None]
j = np.arange(6)[None, None, :]
mask = ~((j <= i) & (j < lengths[:, None, None]))  # True = hidden: PyTorch's convention
"""

CAUSAL_ONLY_MASK = """
mask = np.broadcast_to(np.tril(np.ones((6, 6), dtype=bool)), (4, 6, 6))
"""

STEP_WITHOUT_APPLY = PATCH_THE_KERNEL + """
import tensorflow as tf


class GradNormModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_norm = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.grad_norm.update_state(ops.sqrt(sum(ops.sum(g * g) for g in gradients)))  # computed, never applied
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            elif metric.name != "grad_norm":
                metric.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("new-lessons")
    submissions = base / "submissions"
    write_learner(submissions, "solved", {SEQUENCES: load("solutions", SEQUENCES), BRANCHES: load("solutions", BRANCHES)})
    write_learner(submissions, "pytorch-habits", {SEQUENCES: set_answer(load("solutions", SEQUENCES), "9.4", PYTORCH_MASK),
                                                  BRANCHES: set_answer(load("solutions", BRANCHES), "10.4", STEP_WITHOUT_APPLY)})
    write_learner(submissions, "no-padding", {SEQUENCES: set_answer(load("solutions", SEQUENCES), "9.4", CAUSAL_ONLY_MASK)})
    result = grade_cli(submissions, base / "report", "--notebooks", SEQUENCES, BRANCHES, "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    return by_learner(read_grades(base / "report"))


def test_the_solved_notebooks_pass_every_exercise(graded):
    statuses = {ex: row["status"] for ex, row in graded["solved"].items()}
    assert statuses == {f"9.{n}": "passed" for n in range(1, 7)} | {f"10.{n}": "passed" for n in range(1, 7)}


def test_a_mask_in_pytorch_s_convention_is_named_inverted(graded):
    row = graded["pytorch-habits"]["9.4"]
    assert row["status"] == "failed" and "inverted" in row["message"], row


def test_a_causal_mask_that_forgets_padding_is_named(graded):
    row = graded["no-padding"]["9.4"]
    assert row["status"] == "failed" and "lets steps look at padding" in row["message"], row


def test_a_train_step_that_never_applies_its_gradients_fails_however_the_kernel_was_patched(graded):
    row = graded["pytorch-habits"]["10.4"]
    assert row["status"] == "failed" and "does not change the weights" in row["message"], row


def test_the_other_exercises_of_those_notebooks_still_pass(graded):
    assert all(row["status"] == "passed" for ex, row in graded["pytorch-habits"].items() if ex not in ("9.4", "10.4"))
    assert graded["no-padding"]["9.1"]["status"] == "passed"
    assert graded["no-padding"]["10.1"]["status"] == "missing"  # handed in lesson 9 only
