"""Read the class into memory: every learner folder, every expected notebook's bytes, before any learner code runs.

Grading reads every submission first (:mod:`.grader`), so nothing a kernel writes to disk
later changes what is graded, and submission files are only ever read: links are never
followed, pipes never waited on, a folder tree is searched only two levels deep (for
misplaced notebooks, named in the "missing" message). Each learner gets a name for the
report that is readable, one line, and unique (:func:`learner_name`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.grading.submission import MAX_NOTEBOOK_BYTES, SubmissionError

MAX_LISTED_FOLDERS = 200  # subfolders of a learner folder searched for misplaced notebooks
MAX_OTHERS = 50  # misplaced notebooks remembered for the rename hint


class GradingError(RuntimeError):
    """Grading as a whole cannot run (bad arguments, a broken course, no verdict process)."""


@dataclass
class LearnerFiles:
    """One learner's folder, read into memory: notebook bytes, or why a file is unusable."""

    folder: str  # the folder name as on disk (undecodable bytes as surrogate escapes)
    name: str  # how the report names the learner: see learner_name
    notebooks: dict[str, bytes | SubmissionError] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)  # other notebooks found, for rename hints
    problem: str | None = None  # the folder itself cannot be used


_HASHED = re.compile(r" \[[0-9a-f]{8}\]\Z")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _visible(char: str) -> str:
    """A character as shown in the report: itself, or an escape if it is invisible or breaks lines."""
    category = unicodedata.category(char)
    if category not in _INVISIBLE and (category != "Zs" or char == " "):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(name: str) -> str:
    """A file or folder name as one line of readable text: undecodable bytes as ``\\xff``,
    invisible characters and line breaks as escapes such as ``\\u200b`` or ``\\x0a``."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(_visible(char) for char in text)


def learner_name(folder: str) -> str:
    """How the report names the learner of ``folder``: readable, one line, and unique.

    A folder name that is valid UTF-8 in NFC form, with no invisible characters, no
    surrounding spaces and no leading ``'`` is shown exactly as it is. Any other name is
    shown made readable (:func:`visible`, NFC), followed by `` [`` + the first 8 hex
    digits of the sha256 of the folder name's bytes + ``]``; a name that already ends
    that way is treated the same. So two different folders never get the same name (nor
    the same name once grades.csv adds ``'`` before ``= + - @``), and a folder's name
    depends on that folder alone: the same on every run, in every shard.
    """
    raw = os.fsencode(folder)
    text = unicodedata.normalize("NFC", visible(folder))
    try:
        exact = raw.decode("utf-8")
    except UnicodeDecodeError:
        exact = None
    if text != exact or text != text.strip() or text.startswith("'") or _HASHED.search(text):
        text += f" [{hashlib.sha256(raw).hexdigest()[:8]}]"
    return text


@dataclass
class ClassListing:
    """Every learner folder of a submissions folder, in canonical order, and what was skipped."""

    folders: list[Path]  # sorted by the bytes of their names: not by the file system's listing order
    notes: list[str]


def list_class(submissions: Path) -> ClassListing:
    """The learner folders of ``submissions``; files, hidden entries and ``__MACOSX`` are noted and skipped."""
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of learner folders")
    try:
        entries = sorted(os.scandir(submissions), key=lambda e: os.fsencode(e.name))
    except OSError as error:
        raise GradingError(f"{submissions} cannot be listed ({error.strerror})") from None
    folders, notes = [], []
    for entry in entries:
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_folder = False
        kind = "folder" if is_folder else "file"
        if entry.name.startswith("."):
            notes.append(f"skipped '{visible(entry.name)}': a hidden {kind}")
        elif entry.name == "__MACOSX":
            notes.append(f"skipped '{visible(entry.name)}': macOS archive metadata, not a learner folder")
        elif not is_folder and not entry.is_symlink():
            notes.append(f"skipped '{visible(entry.name)}': a file, not a learner folder")
        else:
            folders.append(Path(entry.path))
    return ClassListing(folders, notes)


def _special_file(mode: int) -> str | None:
    """What a non-regular file is, in words a learner understands."""
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return None if stat.S_ISREG(mode) else "not a regular file"


def _read_notebook(path: Path, name: str) -> bytes | SubmissionError | None:
    """The bytes of one expected notebook, why it cannot be used, or None if it is not there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return SubmissionError(f"{name} could not be read ({error.strerror}).")
    special = _special_file(info.st_mode)
    if special:
        return SubmissionError(f"{name} is {special}, not a notebook file. Hand in the notebook file itself.")
    too_large = SubmissionError(
        f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB; clear its outputs "
        "(Edit > Clear Outputs of All Cells), save and hand it in again.")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return too_large
    try:  # never follow a link, never wait on a pipe, even if the file changed since lstat
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return SubmissionError(f"{name} could not be read ({error.strerror}).")
    with open(fd, "rb") as handle:
        special = _special_file(os.fstat(handle.fileno()).st_mode)
        if special:
            return SubmissionError(f"{name} is {special}, not a notebook file. Hand in the notebook file itself.")
        try:
            data = handle.read(MAX_NOTEBOOK_BYTES + 1)
        except OSError as error:
            return SubmissionError(f"{name} could not be read ({error.strerror}).")
    return too_large if len(data) > MAX_NOTEBOOK_BYTES else data


def _scan(folder: Path) -> list[tuple[str, bool]]:
    """(name, is a folder) of each entry of ``folder``, sorted; nothing if it cannot be listed."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    found.append((entry.name, entry.is_dir(follow_symlinks=False)))
                except OSError:
                    found.append((entry.name, False))
    except OSError:
        return []
    return sorted(found, key=lambda item: os.fsencode(item[0]))


def _other_notebooks(folder: Path, expected: list[str]) -> list[str]:
    """Notebooks at the top of ``folder`` or one folder down, other than the expected ones.

    Only these two levels are looked at (a folder tree can be arbitrarily deep or wide).
    """
    wanted, found = set(expected), []
    subfolders = []
    for name, is_folder in _scan(folder):
        if name == ".ipynb_checkpoints":
            continue
        if is_folder:
            subfolders.append(name)
        elif name.lower().endswith(".ipynb") and name not in wanted:
            found.append(name)
    for sub in subfolders[:MAX_LISTED_FOLDERS]:
        found += [f"{sub}/{name}" for name, is_folder in _scan(folder / sub)
                  if name.lower().endswith(".ipynb") and not is_folder]
    return [visible(name) for name in sorted(found)[:MAX_OTHERS]]


def read_learner(folder: Path, expected: list[str], display: str | None = None) -> LearnerFiles:
    """Read the expected notebooks of one folder; never follow links, never write."""
    files = LearnerFiles(folder.name, display or learner_name(folder.name))
    if folder.is_symlink() or not folder.is_dir():
        files.problem = "your submission is a link or a file, not a folder of notebooks."
        return files
    for name in expected:
        data = _read_notebook(folder / name, name)
        if data is not None:
            files.notebooks[name] = data
    files.others = _other_notebooks(folder, expected)
    return files


def read_class(
    submissions: Path, expected: list[str], select: Callable[[list[Path]], list[Path]] | None = None,
) -> tuple[list[LearnerFiles], list[str], list[str]]:
    """The learner folders under ``submissions`` (canonical order; ``select`` picks a shard of them),
    read into memory; notes on what was skipped; and every learner folder of the class."""
    listing = list_class(submissions)
    chosen = select(listing.folders) if select else listing.folders
    return [read_learner(folder, expected) for folder in chosen], listing.notes, [f.name for f in listing.folders]
