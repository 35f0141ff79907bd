"""Data and given models: each name defined once in its module.

Lessons keep their given models in their own folder (``coursetools/lessons/lessonNN/given.py``),
so two lessons can no longer replace each other's (it happened once, in the shared data module:
two ``given_two_way``); within one module a name defined twice would still silently win.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

import coursetools.data

ROOT = Path(coursetools.data.__file__).resolve().parent
MODULES = [ROOT / "data.py", *sorted((ROOT / "lessons").glob("lesson*/given.py"))]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_top_level_name_is_defined_once(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    names += [target.id for node in tree.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)]
    assert [name for name, count in Counter(names).items() if count > 1] == []


def test_the_shared_data_module_holds_no_lesson_s_given_model():
    names = [node.name for node in ast.parse((ROOT / "data.py").read_text(encoding="utf-8")).body
             if isinstance(node, ast.FunctionDef)]
    assert not [name for name in names if name.startswith("given_")]
