"""The messages between the grader and the verdict process survive their JSON line, and nothing else passes for them."""

from __future__ import annotations

import json

import pytest

from coursetools.grading import outcome
from coursetools.grading.protocol import (
    VERDICT_STATUSES, Answer, Job, JobItem, ProtocolError, Ready, Verdict,
)


def test_a_job_and_its_answer_survive_the_line():
    item = JobItem("1.1", "1.1", "/w/collected/1.1-ab", {"layer": {"kind": "keras", "file": "layer.keras"}},
                   {"layer.keras": "0" * 64}, {"layer": "hidden"})
    job = Job(7, False, (item,))
    assert Job.from_line(job.to_line()) == job
    answer = Answer(7, {"1.1": Verdict("failed", "❌ 1.1: wrong", not_started=True, hidden="lesson01.hidden.x"),
                        "1.2": Verdict("error", "lost", retry=True), "1.3": Verdict("passed", "✅ 1.3 passed")})
    assert Answer.from_line(answer.to_line()) == answer
    ready = Ready("d" * 64, ("1.1", "1.2"), 3, ("coursetools", "coursetools.grading.verdict"))
    assert Ready.from_line(ready.to_line()) == ready


def test_status_names_come_from_one_place():
    assert set(VERDICT_STATUSES) | {outcome.MISSING} == set(outcome.STATUSES)
    with pytest.raises(ProtocolError, match="unknown verdict status"):
        Verdict("missing", "a verdict never says a notebook is missing")
    with pytest.raises(ProtocolError):
        Answer.from_line(json.dumps({"id": 1, "results": {"1.1": {"status": "passed!", "message": ""}}}))


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"id": 1, "results": []}',
                                  '{"id": 1, "results": {"1.1": {"status": "passed"}}}'])
def test_an_answer_that_is_not_one_is_refused(line):
    with pytest.raises(ProtocolError):
        Answer.from_line(line)


@pytest.mark.parametrize("line", ["", "not json", '{"items": []}', '{"id": 1, "items": {}}', '{"id": 1, "items": [7]}'])
def test_a_job_that_is_not_one_is_refused(line):
    with pytest.raises(ProtocolError):
        Job.from_line(line)


def test_a_ready_line_must_say_ready():
    with pytest.raises(ProtocolError):
        Ready.from_line('{"digest": "x"}')
