"""The course's lessons: one package per lesson, found by its folder.

Everything of one lesson that is code lives in ``coursetools/lessons/lessonNN/``:

* ``__init__.py``: ``LESSON``, what the lesson is (number, title, what it covers, the
  time it takes), and the names its notebooks import (``from coursetools.lessons.lesson04
  import ...``);
* ``checks.py``: the checks of its exercises (:func:`coursetools.registry.exercise`);
* ``given.py`` (optional): the given models and data of its exercises;
* ``tools.py`` (optional): course code that its check cells run in the learner's kernel;
* ``hidden.py`` (optional): instructor-only checks, never released.

A lesson's notebooks are named after it: ``notebooks/NN_lesson_slug.ipynb`` (the lesson),
``solutions/NN_solutions_slug.ipynb`` (the exercises solved: the source) and
``exercises/NN_slug.ipynb`` (built from the solutions; the name learners hand in). Three
different names, because a JupyterLab tab shows only the file's name. Nothing here
imports Keras.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

PACKAGE = __name__
FOLDER = re.compile(r"lesson(\d{2})\Z")


@dataclass(frozen=True)
class Lesson:
    """What a lesson is, as the start page and the README list it."""

    number: int
    slug: str  # the notebooks' name after the number: "skip_connections"
    title: str
    covers: str  # one line for the README's table
    minutes: int  # reading and running the lesson
    exercise_minutes: int  # doing its exercises

    @property
    def stem(self) -> str:
        return f"{self.number:02d}_{self.slug}"

    @property
    def lesson_notebook(self) -> str:
        return f"notebooks/{self.number:02d}_lesson_{self.slug}.ipynb"

    @property
    def solution_notebook(self) -> str:
        return f"solutions/{self.number:02d}_solutions_{self.slug}.ipynb"

    @property
    def exercise_notebook(self) -> str:
        return f"exercises/{self.stem}.ipynb"

    @property
    def package(self) -> str:
        return f"{PACKAGE}.lesson{self.number:02d}"


def lesson_packages() -> list[str]:
    """``coursetools.lessons.lessonNN`` for every lesson folder, in lesson order."""
    package = importlib.import_module(PACKAGE)
    names = [info.name for info in pkgutil.iter_modules(package.__path__) if info.ispkg and FOLDER.match(info.name)]
    return [f"{PACKAGE}.{name}" for name in sorted(names)]


def lesson_number(module_name: str) -> int | None:
    """The lesson a module belongs to (``coursetools.lessons.lesson04.checks`` -> 4), if any."""
    parts = module_name.split(".")
    if len(parts) >= 3 and parts[:2] == PACKAGE.split(".") and FOLDER.match(parts[2]):
        return int(parts[2][len("lesson"):])
    return None


def all_lessons() -> list[Lesson]:
    """Every lesson's ``LESSON``, in order; a folder whose number disagrees is a course bug."""
    lessons = []
    for name in lesson_packages():
        lesson = importlib.import_module(name).LESSON
        if lesson.package != name:
            raise ValueError(f"{name} declares lesson {lesson.number}: the folder and LESSON must agree")
        lessons.append(lesson)
    return lessons
