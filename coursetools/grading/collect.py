"""Collect the evidence a capture cell saved: move it out of the kernel's reach, read it, say what is wrong.

Right after a capture cell ran, the grader moves its folder to a place of its own
(the kernel learnt the folder's name only when that cell ran, and without the sandbox
it could still reach it), reads it by the evidence format's rules
(:mod:`.manifest`) and records each file's hash. An entry that holds no value
(``missing_name``, ``capture_error``) becomes the learner's message here, in words
that name the learner's variable and never the grader's paths.
"""

from __future__ import annotations

import builtins
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursetools.evidence import CAPTURE_ERROR, MISSING_NAME, SAVE, ManifestError
from coursetools.grading import manifest
from coursetools.grading.outcome import clip
from coursetools.grading.snapshot import CheckCall

_OS_ERRORS = {name for name, value in vars(builtins).items()  # OSError, FileNotFoundError, ...
              if isinstance(value, type) and issubclass(value, OSError)}


@dataclass
class Captured:
    """Evidence of one exercise, moved out of the kernel's reach, with its file hashes."""

    exercise: str
    folder: Path
    entries: dict[str, dict[str, Any]]
    hashes: dict[str, str]


def collect(call: CheckCall, source: Path, target: Path) -> Captured | str | None:
    """The evidence of ``call``'s exercise moved from ``source`` to ``target`` and read; or the
    learner's message saying why there is none; or None when the capture left no folder at all."""
    ex = call.exercise
    if source.is_symlink() or not source.is_dir():
        return None
    try:  # the kernel can reach these folders (without a sandbox): it may have removed or planted some
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent.is_symlink() or os.path.lexists(target):
            raise FileExistsError(target)
        os.replace(source, target)
    except OSError:
        return (
            f"the grader could not collect the evidence of exercise {ex}: code in your notebook changed "
            "the grader's folders. Do not delete or create files outside your notebook's own folder."
        )
    try:
        entries, hashes = manifest.read(target, ex, tuple(name for name, _ in call.evidence))
    except ManifestError as error:
        return f"the evidence for exercise {ex} could not be read ({clip(error, 150)})."
    for name, entry in entries.items():
        problem = _no_value(call, name, entry)
        if problem:
            return problem
    return Captured(ex, target, entries, hashes)


def _no_value(call: CheckCall, name: str, entry: dict[str, Any]) -> str | None:
    """The learner's message for an entry that holds no value (see the module docstring), else None."""
    ex = call.exercise
    if entry["kind"] == MISSING_NAME:
        missing = clip(entry["name"], 60)
        return (
            f"`{missing}` is not defined when exercise {ex} is checked: keep the variable name "
            f"`{missing}` that the exercise asks for, and make sure your answer cell assigns it."
        )
    if entry["kind"] == CAPTURE_ERROR and entry.get("stage") == SAVE:
        message, advice = entry["message"], ""
        if entry["error"] in _OS_ERRORS:  # the kernel could not write: say so, without the grader's paths
            message = re.sub(r":\s*'[^']*'", "", message)
            advice = (" Did code in your notebook delete or change its working folder, HOME or TMPDIR? "
                      "Leave them in place, run the notebook again and hand it in.")
        return (
            f"`{dict(call.evidence)[name]}` could not be saved for the grader ({clip(entry['error'], 60)}: "
            f"{clip(message, 150)}).{advice}"
        )
    if entry["kind"] == CAPTURE_ERROR:
        return (
            f"getting the value the check of {ex} needs raised {clip(entry['error'], 60)}: "
            f"{clip(entry['message'], 150)}."
        )
    return None
