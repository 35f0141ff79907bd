"""Read a capture folder: its manifest and its evidence files, by the evidence format's rules.

A capture folder is written inside the learner's kernel, so everything in it is
untrusted: the manifest must be a small regular file holding valid JSON whose entries
obey the format's rules (:func:`coursetools.evidence.validate_manifest`: kinds,
names, limits; the rules themselves live there, not here), and each evidence file it
names must be a regular file (not a link) of bounded size. JSON too deeply nested for
Python's parser is refused like any other broken manifest.

The grader reads a folder when it collects it (:func:`read`, recording each file's
sha256); the verdict process copies the files into a folder of its own and checks
those hashes before it loads anything (:func:`copy_verified`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from coursetools.evidence import (
    MANIFEST, MAX_EVIDENCE_BYTES, MAX_MANIFEST_BYTES, ManifestError, entry_files, validate_manifest,
)


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


def read(folder: Path, exercise: str, names: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Validated entries of ``folder``'s manifest and the sha256 of each evidence file."""
    path = folder / MANIFEST
    regular_file(path, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ManifestError("the manifest is nested too deeply to be read") from None
    except ValueError:  # not UTF-8, not JSON, or JSON Python refuses (a 5000-digit number)
        raise ManifestError("the manifest is not valid JSON") from None
    entries = validate_manifest(manifest, exercise, names)
    hashes = {}
    for entry in entries.values():
        for file in entry_files(entry):
            regular_file(folder / file, MAX_EVIDENCE_BYTES)
            hashes[file] = sha256(folder / file)
    return entries, hashes


def copy_verified(entries: dict[str, dict[str, Any]], source: Path, target: Path, hashes: dict[str, str]) -> None:
    """Copy every file of ``entries`` from ``source`` to ``target``; each copy must have its recorded hash.

    Raises :class:`~coursetools.evidence.ManifestError` (or ``OSError``) for a file that is
    gone, a link, too large, or changed since it was collected.
    """
    for file in (file for entry in entries.values() for file in entry_files(entry)):
        regular_file(source / file, MAX_EVIDENCE_BYTES)
        shutil.copyfile(source / file, target / file, follow_symlinks=False)
        if sha256(target / file) != hashes.get(file):
            raise ManifestError(f"{file} changed after it was collected")
