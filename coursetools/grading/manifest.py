"""The evidence manifest a capture cell writes, and the rules it must obey to be read.

The manifest is written inside the learner's kernel, so it is untrusted input. Both
the grader (when it collects evidence) and the verdict process (before it loads a
file) validate it with these rules: known kinds only, evidence names the check
expects, and file names that are exactly ``<name>.keras`` / ``<name>.npy`` -- no
paths, no ``..``, no links -- inside the one folder that belongs to this capture.
Nothing in it is trusted to be small or shallow: text fields must be strings, plain
JSON values and trees may nest no deeper than the exporter ever writes, and JSON too
deeply nested for Python's parser is refused like any other broken manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from coursetools.evidence import MAX_KEY_CHARS, MAX_TREE_DEPTH, MAX_TREE_ITEMS, TREE_TYPES, entry_files
from coursetools.expect import Unexportable
from coursetools.grading.capture import MANIFEST

FILE_KINDS = {"keras": ".keras", "array": ".npy"}
VALUE_KINDS = {"json", "not_done", "unexportable", "tree"}
PROBLEM_KINDS = {"missing_name", "capture_error"}  # the capture could not get a value at all
CAPTURE_STAGES = {"get", "save"}  # capture_error: evaluating the evidence, or saving it
MAX_MANIFEST_BYTES = 1_000_000
MAX_EVIDENCE_BYTES = 500 * 1024 * 1024
# The exporter writes a list or dict of plain values as one JSON value only while its
# containers sit no deeper than MAX_TREE_DEPTH (deeper ones make the value not plain).
MAX_JSON_NESTING = MAX_TREE_DEPTH + 1


class ManifestError(ValueError):
    """The manifest or an evidence file breaks a rule: nothing from it is loaded."""


def regular_file(path: Path, limit: int) -> int:
    """Size of ``path`` if it is a regular file (not a link) no larger than ``limit``."""
    try:
        info = os.lstat(path)
    except OSError:
        raise ManifestError(f"{path.name} is missing") from None
    if not stat.S_ISREG(info.st_mode):
        raise ManifestError(f"{path.name} is not a regular file")
    if info.st_size > limit:
        raise ManifestError(f"{path.name} is larger than {limit} bytes")
    return info.st_size


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_entry(name: str, entry: Any, depth: int = 0) -> dict[str, Any]:
    """A clean copy of one manifest entry, or :class:`ManifestError`.

    Items of a ``tree`` (a list, tuple or dict of evidence) are entries themselves,
    named ``<name>.<i>``, nested no deeper than the exporter ever writes.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
        raise ManifestError(f"entry {name!r} is not a manifest entry")
    kind = entry["kind"]
    if kind in FILE_KINDS:
        expected = name + FILE_KINDS[kind]
        if entry.get("file") != expected:
            raise ManifestError(f"entry {name!r} names file {_text(entry.get('file'), '?', 80)!r}, not {expected!r}")
        return {"kind": kind, "file": expected}
    if kind == "json":
        if "value" not in entry:
            raise ManifestError(f"entry {name!r} has no value")
        if _nesting(entry["value"]) > MAX_JSON_NESTING - depth:
            raise ManifestError(f"entry {name!r} holds a value nested too deeply")
        return {"kind": kind, "value": entry["value"]}
    if kind == "not_done":
        return {"kind": kind, "exercise": _text(entry.get("exercise"), "", 20)}
    if kind == "unexportable":
        nature = entry.get("nature")
        return {"kind": kind, "description": _text(entry.get("description"), "a value", 300),
                "nature": nature if isinstance(nature, str) and nature in Unexportable.NATURES else "other"}
    if kind == "tree":
        return _validate_tree(name, entry, depth)
    if kind == "missing_name":
        return {"kind": kind, "name": _text(entry.get("name"), name, 100)}
    if kind == "capture_error":
        clean = {"kind": kind, "error": _text(entry.get("error"), "Exception", 100),
                 "message": _text(entry.get("message"), "", 300)}
        if entry.get("stage") in CAPTURE_STAGES:
            clean["stage"] = entry["stage"]
        return clean
    raise ManifestError(f"entry {name!r} has unknown kind {kind[:40]!r}")


def _text(value: Any, default: str, limit: int) -> str:
    """A text field of the manifest, cut to ``limit``; anything but a string is ``default``."""
    return value[:limit] if isinstance(value, str) else default


def _nesting(value: Any) -> int:
    """How many lists/dicts deep a parsed JSON value goes, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _validate_tree(name: str, entry: dict[str, Any], depth: int) -> dict[str, Any]:
    items, kind = entry.get("items"), entry.get("type")
    if depth >= MAX_TREE_DEPTH or kind not in TREE_TYPES or not isinstance(items, list) or len(items) > MAX_TREE_ITEMS:
        raise ManifestError(f"entry {name!r} is not a list, tuple or dict the grader reads")
    clean: dict[str, Any] = {"kind": "tree", "type": kind,
                             "items": [validate_entry(f"{name}.{i}", item, depth + 1) for i, item in enumerate(items)]}
    if any(item["kind"] in PROBLEM_KINDS for item in clean["items"]):
        raise ManifestError(f"entry {name!r} holds an item that is not evidence")
    if kind == "dict":
        keys = entry.get("keys")
        if (not isinstance(keys, list) or len(keys) != len(items)
                or not all(isinstance(k, str) and len(k) <= MAX_KEY_CHARS for k in keys) or len(set(keys)) != len(keys)):
            raise ManifestError(f"entry {name!r} has keys the grader does not read")
        clean["keys"] = list(keys)
    return clean


def validate(manifest: Any, exercise: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Entries for exactly the evidence names of ``exercise``; anything else is refused."""
    if not isinstance(manifest, dict) or manifest.get("exercise") != exercise:
        raise ManifestError(f"the manifest is not the one of exercise {exercise}")
    evidence = manifest.get("evidence")
    if not isinstance(evidence, dict) or set(evidence) != set(names):
        raise ManifestError(f"the manifest does not list exactly the evidence {list(names)}")
    return {name: validate_entry(name, evidence[name]) for name in names}


def read(folder: Path, exercise: str, names: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Validated entries of ``folder/manifest.json`` and the sha256 of each evidence file."""
    path = folder / MANIFEST
    regular_file(path, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ManifestError("the manifest is nested too deeply to be read") from None
    except ValueError:  # not UTF-8, not JSON, or JSON Python refuses (a 5000-digit number)
        raise ManifestError("the manifest is not valid JSON") from None
    entries = validate(manifest, exercise, names)
    hashes = {}
    for entry in entries.values():
        for file in entry_files(entry):
            regular_file(folder / file, MAX_EVIDENCE_BYTES)
            hashes[file] = sha256(folder / file)
    return entries, hashes
