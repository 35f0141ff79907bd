"""coursetools.data is one module that several lessons add to: a name defined twice would
silently replace another lesson's given model (it happened once: two `given_two_way`)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import coursetools.data


def test_every_top_level_name_of_the_data_module_is_defined_once():
    tree = ast.parse(Path(coursetools.data.__file__).read_text(encoding="utf-8"))
    names = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    names += [target.id for node in tree.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)]
    assert [name for name, count in Counter(names).items() if count > 1] == []
