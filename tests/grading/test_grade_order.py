"""The order grading guarantees (grader.py's docstring), with the kernels and the verdict process stubbed.

Every notebook is parsed and rebuilt once, all of them before the verdict process
starts; the verdict process is ready before the first kernel runs; and when no
notebook needs a kernel, no verdict process (nor sandbox probe) is started at all.
"""

from __future__ import annotations

import json

import pytest

from coursetools.grading import grader, notebook
from coursetools.grading.learners import LearnerFiles
from coursetools.grading.options import GradeOptions
from coursetools.grading.run import NotebookRun
from coursetools.grading.snapshot import take_snapshot
from fixtures.grading.classroom import LAYERS, ROOT, load, set_answer


@pytest.fixture(scope="module")
def snapshot():
    return take_snapshot(ROOT, only=[LAYERS])


def hand_in(nb: dict) -> bytes:
    return json.dumps(nb).encode()


@pytest.fixture
def events(monkeypatch):
    """What happened, in order: rebuilds, the verdict process starting, kernels running."""
    happened: list[tuple[str, str]] = []
    real_rebuild = notebook.rebuild

    def counted_rebuild(pristine, learner):
        happened.append(("rebuild", str(len(happened))))
        return real_rebuild(pristine, learner)

    class StubJudge:
        def __init__(self, *args, **kwargs):
            self.deaths, self.restarts = [], 0

        def start(self):
            happened.append(("verdict process", "start"))

        def wait_ready(self):
            happened.append(("verdict process", "ready"))

        def judge(self, items, label=""):
            return {}

        def close(self):
            pass

    monkeypatch.setattr(notebook, "rebuild", counted_rebuild)
    monkeypatch.setattr(notebook, "run_plan", lambda plan, *a, **k: happened.append(("kernel", plan.notebook)) or NotebookRun())
    monkeypatch.setattr(grader, "Judge", StubJudge)
    monkeypatch.setattr(grader, "detect_sandbox", lambda enabled: (None, "no sandbox: stubbed"))
    return happened


def test_each_notebook_is_rebuilt_once_before_the_verdict_process_which_is_ready_before_any_kernel(snapshot, events):
    wrong = hand_in(set_answer(load("solutions"), "1.1", 'hidden = layers.Dense(8, activation="relu")'))
    learners = [LearnerFiles("a", "a", {LAYERS: wrong}), LearnerFiles("b", "b", {LAYERS: wrong}),
                LearnerFiles("c", "c", {LAYERS: hand_in(load("exercises"))}),  # untouched: rebuilt, not run
                LearnerFiles("d", "d", {LAYERS: b"{"}), LearnerFiles("e", "e", {})]  # not JSON; no notebook
    outcome = grader.grade_learners(learners, snapshot, GradeOptions(workers=2, progress_bar=False))
    kinds = [kind for kind, _ in events]
    assert kinds.count("rebuild") == 3
    assert kinds.count("kernel") == 2 and outcome.kernels == 2
    assert kinds.index("verdict process") > max(i for i, kind in enumerate(kinds) if kind == "rebuild")
    assert events.index(("verdict process", "ready")) < kinds.index("kernel")
    assert [r.status for r in outcome.learners[3].results] == ["error"] * 5
    assert [r.status for r in outcome.learners[4].results] == ["missing"] * 5


def test_no_verdict_process_when_no_notebook_needs_a_kernel(snapshot, events):
    learners = [LearnerFiles("c", "c", {LAYERS: hand_in(load("exercises"))}), LearnerFiles("d", "d", {LAYERS: b""})]
    outcome = grader.grade_learners(learners, snapshot, GradeOptions(progress_bar=False))
    assert [kind for kind, _ in events] == ["rebuild"]
    assert outcome.sandbox == "" and outcome.kernels == 0
    assert all(r.status == "failed" and r.not_started for r in outcome.learners[0].results)
