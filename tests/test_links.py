"""Every notebook a page or a lesson names exists, and every exercise a lesson names is registered.

Lessons get split and renamed (lesson 7 became lessons 7 and 8): a stale
`07_subclassing_saving.ipynb` in a sentence, or an "exercise 7.5" that moved to another
lesson, is a broken promise to the learner even when every link in a table is generated.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from coursetools.registry import all_exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_NAME = re.compile(r"(?:\b(notebooks|solutions|exercises)/)?\b(\d\d_[a-z0-9_]+\.ipynb)\b")
EXERCISE_ID = re.compile(r"\b[Ee]xercises? (\d+\.\d+)\b")
EXAMPLES = {"11_lesson_generative_models.ipynb", "11_solutions_generative_models.ipynb",  # README's "Adding a
            "11_generative_models.ipynb"}  # lesson": what `new-lesson` would write


def pages() -> list[tuple[str, str]]:
    texts = [(name, (ROOT / name).read_text(encoding="utf-8")) for name in ("README.md", "START_HERE.md")]
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = nbformat.read(path, as_version=4).cells
            texts.append((f"{folder}/{path.name}", "\n".join(c.source for c in cells if c.cell_type == "markdown")))
    return texts


@pytest.mark.parametrize("page, text", pages(), ids=lambda value: value if isinstance(value, str) and len(value) < 60 else "")
def test_named_notebooks_exist(page, text):
    """A name with its folder must be in that folder. A bare name in a notebook is a lesson's; in
    README or START_HERE it may also be an exercise notebook (what a learner hands in)."""
    bare = ["notebooks"] if page.endswith(".ipynb") else ["notebooks", "solutions", "exercises"]

    def exists(folder: str, name: str) -> bool:
        folders = [folder] if folder else bare
        return name in EXAMPLES or any((ROOT / f / name).is_file() for f in folders)

    missing = sorted({f"{folder}/{name}".lstrip("/") for folder, name in NOTEBOOK_NAME.findall(text) if not exists(folder, name)})
    assert missing == [], f"{page} names notebooks that do not exist: {missing}"


@pytest.mark.parametrize("page, text", [p for p in pages() if p[0].startswith("notebooks/")], ids=lambda value: value if isinstance(value, str) and len(value) < 60 else "")
def test_named_exercises_are_registered(page, text):
    unknown = sorted(set(EXERCISE_ID.findall(text)) - set(all_exercises()))
    assert unknown == [], f"{page} names exercises that no check registers: {unknown}"
