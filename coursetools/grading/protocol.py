"""The messages between the grader and the verdict process, typed, in one module both sides import.

They cross a process boundary as one JSON line each, so a field renamed on one
side only would not fail loudly: it would read as missing, and a verdict would
be lost or misread. Both sides therefore build and read them here and nowhere
else: the grader sends a :class:`Job`, the verdict process answers
:class:`Answer` (one :class:`Verdict` per item), after one :class:`Ready` line
when it has imported everything it uses.

The verdict process imports this module from the grader's in-memory snapshot
(:mod:`.bootstrap`) before it says it is ready, so it uses only the standard
library and :mod:`.outcome`, where the status names live.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from coursetools.grading.outcome import ERROR, FAILED, PASSED

VERDICT_STATUSES = (PASSED, FAILED, ERROR)  # what a verdict can say; "missing" is the grader's alone


class ProtocolError(ValueError):
    """A line that is not the message it should be."""


@dataclass(frozen=True)
class JobItem:
    """One exercise's evidence, as the grader collected it, to be judged."""

    key: str  # how the grader finds this item's verdict in the answer
    exercise: str
    folder: str  # the collected capture folder: the verdict process copies its files before loading them
    evidence: dict[str, Any]  # manifest entries by evidence name; validated again by the verdict process
    hashes: dict[str, str] = field(default_factory=dict)  # file -> sha256 recorded when collected
    labels: dict[str, str] = field(default_factory=dict)  # evidence name -> the learner's expression

    @classmethod
    def from_dict(cls, data: Any) -> "JobItem":
        _expect(isinstance(data, dict), "a job item is not an object")
        return cls(
            key=str(data.get("key")), exercise=str(data.get("exercise")), folder=str(data.get("folder")),
            evidence=data.get("evidence") if isinstance(data.get("evidence"), dict) else {},
            hashes=_strings(data.get("hashes")), labels=_strings(data.get("labels")),
        )


@dataclass(frozen=True)
class Job:
    """What the grader asks of the verdict process: judge these items (with hidden checks or not)."""

    id: int
    hidden: bool
    items: tuple[JobItem, ...]

    def to_line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "Job":
        data = _object(line, "job")
        items = data.get("items", [])
        _expect(isinstance(items, list), "a job's items are not a list")
        job_id = data.get("id")
        _expect(isinstance(job_id, int), "a job has no id")
        return cls(job_id, bool(data.get("hidden", True)), tuple(JobItem.from_dict(item) for item in items))


@dataclass(frozen=True)
class Verdict:
    """The verdict on one item: what the learner reads, and what only the grader uses."""

    status: str  # one of VERDICT_STATUSES
    message: str
    not_started: bool = False  # the answer is still the placeholder: "not started" in progress
    hidden: str | None = None  # the hidden check that failed (grading.log only, never the learner)
    retry: bool = False  # lost because the verdict process died unexpectedly: judge it again

    def __post_init__(self) -> None:
        _expect(self.status in VERDICT_STATUSES, f"unknown verdict status {str(self.status)[:40]!r}")

    @classmethod
    def from_dict(cls, data: Any) -> "Verdict":
        _expect(isinstance(data, dict), "a verdict is not an object")
        _expect(isinstance(data.get("message"), str), "a verdict has no message")
        hidden = data.get("hidden")
        return cls(str(data.get("status")), data["message"], bool(data.get("not_started", False)),
                   hidden if isinstance(hidden, str) else None, bool(data.get("retry", False)))


@dataclass(frozen=True)
class Answer:
    """The verdict process's reply to one job: a verdict per item key (or why it could not read the job)."""

    id: int | None
    results: dict[str, Verdict]
    error: str | None = None

    def to_line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "Answer":
        data = _object(line, "answer")
        results = data.get("results", {})
        _expect(isinstance(results, dict), "an answer's results are not an object")
        error = data.get("error")
        return cls(data.get("id"), {str(key): Verdict.from_dict(value) for key, value in results.items()},
                   error if isinstance(error, str) else None)


@dataclass(frozen=True)
class Ready:
    """The verdict process's first line: it imported everything, from the snapshot with this digest."""

    digest: str | None
    exercises: tuple[str, ...]
    hidden: int  # how many hidden checks it holds
    modules: tuple[str, ...]  # every coursetools module it loaded

    def to_line(self) -> str:
        return json.dumps({"ready": True, **asdict(self)}) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "Ready":
        data = _object(line, "ready line")
        _expect(data.get("ready") is True, "not a ready line")
        return cls(data.get("digest"), tuple(data.get("exercises", ())), int(data.get("hidden", 0)),
                   tuple(data.get("modules", ())))


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise ProtocolError(problem)


def _object(line: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError(f"the {what} is not JSON") from None
    _expect(isinstance(data, dict), f"the {what} is not a JSON object")
    return data


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
