"""Build the folder learners receive: lessons, exercises, data, and the feedback code.

Left out on purpose: ``solutions/``, the instructor's tests, hidden checks
(``coursetools/lessons/*/hidden.py``), version control and environments. A pristine copy
of every exercise notebook goes to ``.course/pristine/`` so that ``progress`` can
rebuild a learner's notebook from it exactly as the grader does, and
``.course/release.json`` records the checksum of every released file.

The release refuses to build when ``exercises/`` is stale against ``solutions/``
or an exercise still contains a solution region: handing out answers is the one
mistake a release must not make.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from coursetools import schema
from coursetools.grading.snapshot import PACKAGE, CourseError, is_hidden_path, library_files

TOP_FILES = ["README.md", "START_HERE.md", "course.py", "requirements.txt", "environment.yml", "pyproject.toml",
             "conftest.py", ".gitignore"]
TOP_DIRS = ["notebooks", "exercises", "data", ".jupyter/lab-settings"]  # the last: JupyterLab settings of `course.py lab`
PRISTINE_DIR = ".course/pristine"
RELEASE_INFO = ".course/release.json"


class ReleaseError(RuntimeError):
    """The course is not in a state that may be handed out."""


def _files_pytest_needs(root: Path) -> list[str]:
    """Files the pytest configuration names (the nbval sanitize file), so ``course.py check`` runs."""
    import re
    import tomllib

    try:
        config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    addopts = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts", "")
    if isinstance(addopts, list):
        addopts = " ".join(addopts)
    return re.findall(r"--nbval-sanitize-with[ =](\S+)", addopts)


def _check_exercises(root: Path) -> None:
    from coursetools.build import build_all

    stale = build_all(root / "solutions", root / "exercises", write=False) if (root / "solutions").is_dir() else []
    if stale:
        names = ", ".join(p.name for p in stale)
        raise ReleaseError(f"exercises/ is out of date ({names}): run `python -m coursetools build-exercises`")
    for path in sorted((root / "exercises").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        if schema.BEGIN_SOLUTION in text or schema.END_SOLUTION in text:
            raise ReleaseError(f"{path.name} still contains a solution region")
        schema.exercises_in(nbformat.reads(text, as_version=4))


def make_release(root: Path, out_dir: Path) -> dict[str, str]:
    """Write the learners' folder to ``out_dir`` (new or empty); return {path: sha256}."""
    _check_exercises(root)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ReleaseError(f"{out_dir} is not empty: choose a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for name in TOP_FILES + _files_pytest_needs(root):
        if (root / name).is_file():
            files[name] = (root / name).read_bytes()
    for folder in TOP_DIRS:
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            relative = path.relative_to(root)
            if path.is_file() and ".ipynb_checkpoints" not in relative.parts and "__pycache__" not in relative.parts:
                files[relative.as_posix()] = path.read_bytes()
    for relative, content in library_files(root / PACKAGE).items():
        if not is_hidden_path(relative):
            files[relative] = content
    for path in sorted((root / "exercises").glob("*.ipynb")):
        files[f"{PRISTINE_DIR}/{path.name}"] = path.read_bytes()
    checksums = {}
    for relative, content in files.items():
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        checksums[relative] = hashlib.sha256(content).hexdigest()
    exercises = {}
    for path in sorted((root / "exercises").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        exercises[path.name] = [{"exercise": e.exercise_id, "points": e.points} for e in schema.exercises_in(nb)]
    info = {
        "released": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exercises": exercises,
        "files": checksums,
    }
    (out_dir / RELEASE_INFO).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return checksums


def released_pristine(root: Path) -> Path | None:
    """The untouched exercises a release holds (``.course/pristine/``), if ``root`` is a release."""
    released = root / PRISTINE_DIR
    return released if released.is_dir() else None


@contextmanager
def pristine_notebooks(root: Path) -> Iterator[Path]:
    """A folder of the untouched exercise notebooks that a learner's ``exercises/`` is compared with.

    ``progress`` must tell a learner's saved work from the notebooks as handed out, so the
    reference may never be the folder the learner edits:

    * in a release: ``.course/pristine/``, written by ``release`` and never opened by the learner;
    * in the course folder itself (a clone of the repository, Binder): built afresh from
      ``solutions/`` by the exercise builder, into a temporary folder, on every run. The
      build is deterministic and equals ``exercises/`` as the repository holds it (a test
      keeps them equal), so it follows a ``git pull`` that changes the exercises, and no
      learner edit in ``exercises/`` can leak into it;
    * anywhere else there is nothing to compare with: :class:`CourseError`, saying so.
    """
    released = released_pristine(root)
    if released is not None:
        yield released
        return
    solutions = root / "solutions"
    if not solutions.is_dir() or not any(solutions.glob("*.ipynb")):
        raise CourseError(
            f"{root} holds neither {PRISTINE_DIR}/ (a release) nor solutions/ (the course's own folder), so "
            "there is no untouched copy of the exercises to tell your work from: run progress in the "
            "folder you were given")
    from coursetools.build import BuildError, build_all

    with tempfile.TemporaryDirectory(prefix="course-pristine-") as folder:
        try:
            build_all(solutions, Path(folder), write=True)
        except (BuildError, ValueError) as error:
            raise CourseError(f"the exercise notebooks cannot be rebuilt from solutions/: {error}") from None
        yield Path(folder)
