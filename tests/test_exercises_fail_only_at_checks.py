"""The learner's self-grading command, run on the unsolved exercises.

Unsolved, every exercise notebook must fail at each check cell with "not done
yet" and nowhere else: an unsolved exercise never crashes a later cell. The test
runs exactly the documented command (`python3 course.py check`).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from coursetools import schema

pytestmark = pytest.mark.kernels  # starts kernels or pytest runs: not in the quick loop

ROOT = Path(__file__).resolve().parent.parent


def test_unsolved_exercises_fail_exactly_at_their_checks(tmp_path):
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, str(ROOT / "course.py"), "check", f"--junitxml={report}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 1, result.stdout[-3000:]

    notebooks = sorted((ROOT / "exercises").glob("*.ipynb"))
    checks = sum(len(schema.exercises_in(nbformat.read(p, as_version=4))) for p in notebooks)
    code_cells = sum(
        sum(1 for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code") for p in notebooks
    )

    cases = ET.parse(report).getroot().iter("testcase")
    failures = []
    total = 0
    for case in cases:
        total += 1
        for failure in list(case.findall("failure")) + list(case.findall("error")):
            failures.append((case.get("classname"), case.get("name"), failure.get("message", "") + (failure.text or "")))
    assert total == code_cells
    assert len(failures) == checks, "\n".join(f"{c} {n}: {m[:200]}" for c, n, m in failures)
    for where, name, text in failures:
        assert "not done yet" in text, f"{where} {name} failed for another reason:\n{text[:1500]}"


def test_a_solved_notebook_passes_the_self_check_without_a_stored_verdict(tmp_path):
    """The exercise notebooks store no ✅ line; the self-check supplies it, detail aside."""
    solved = tmp_path / "01_layers.ipynb"
    nb = nbformat.read(ROOT / "solutions" / "01_solutions_layers.ipynb", as_version=4)
    for cell in nb.cells:
        if schema.is_check(cell):
            cell.outputs = []
    nbformat.write(nb, solved)
    result = subprocess.run(
        [sys.executable, str(ROOT / "course.py"), "check", str(solved)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert nbformat.read(solved, as_version=4) == nb, "the learner's notebook must not be written"
