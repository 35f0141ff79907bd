"""The shape of the course's code: no function of coursetools/ longer than about a screen.

A long check is hard to review: which Mistake comes first, and why, gets lost. The rule
is "no function over 60 lines" (def, docstring and body; a nested function counts in the
function around it too); data tables are module-level assignments, not functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 60


def long_functions(folder: Path, limit: int = MAX_LINES) -> list[str]:
    """``"path:line name (N lines)"`` (path relative to ``folder``'s parent) for every function over ``limit`` lines."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.relative_to(folder.parent)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_coursetools_is_longer_than_60_lines():
    too_long = long_functions(ROOT / "coursetools")
    assert too_long == [], (
        f"split these into named steps of at most {MAX_LINES} lines (small private helpers, one job each):\n"
        + "\n".join(too_long))


def test_the_measure_counts_def_docstring_and_body(tmp_path):
    folder = tmp_path / "package"
    folder.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES - 2))
    (folder / "shape.py").write_text(f'def fits():\n    """Doc."""\n{body}', encoding="utf-8")
    assert long_functions(folder) == []
    (folder / "shape.py").write_text(f'def too_long():\n    """Doc."""\n{body}    return x0\n', encoding="utf-8")
    assert long_functions(folder) == [f"package/shape.py:1 too_long ({MAX_LINES + 1} lines)"]
