"""``python3 course.py check``: a learner grades their own exercise notebooks with nbval.

An exercise notebook stores no verdict: its check cells are empty until the learner
runs them, so nobody sees "✅ passed" under an exercise they have not done. nbval's
lax mode, though, compares a check cell's output with the stored one. So the
notebooks are copied to a temporary folder, each check cell given the output a pass
prints (``✅ 1.2 passed``), and nbval runs on the copies with one extra sanitizing
rule that drops the detail after "passed:". A check that fails raises (an error,
which lax mode always fails); a check cell that prints anything but its ✅ line
fails the comparison. The learner's own files are never written.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from coursetools import schema
from coursetools.feedback import PASS_MARK

PASS_RULE = f"""
[a passed check, whatever its detail]
regex: ({PASS_MARK} \\S+ passed):[^\\n]*
replace: \\1
"""


def expected_pass(exercise_id: str) -> list[dict]:
    """The output a passing check cell is compared with (after sanitizing)."""
    return [nbformat.v4.new_output("stream", name="stdout", text=f"{PASS_MARK} {exercise_id} passed\n")]


def with_expected_passes(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy in which every check cell expects its pass line (and counts as executed)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if schema.is_check(cell):
            cell.outputs = expected_pass(schema.exercise_id(cell) or "?")
            cell.execution_count = 1  # nbval never compares a cell without one
    return nb


def main(argv: list[str], root: Path) -> int:
    """Run nbval (lax) on copies of the notebooks named in ``argv`` (default: exercises/)."""
    paths = [Path(a) for a in argv if not a.startswith("-")]
    options = [a for a in argv if a.startswith("-")]
    if not paths:
        paths = sorted((root / "exercises").glob("*.ipynb"))
    sanitize = (root / "nbval-sanitize.cfg").read_text(encoding="utf-8") + PASS_RULE
    with tempfile.TemporaryDirectory(prefix="course-check-") as folder:
        work = Path(folder)
        (work / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n", encoding="utf-8")
        (work / "sanitize.cfg").write_text(sanitize, encoding="utf-8")
        targets = []
        for path in paths:
            path = path if path.is_absolute() else (Path.cwd() / path)
            if not path.is_file():
                print(f"[course] no such notebook: {path}", file=sys.stderr)
                return 4
            copied = work / path.name
            nbformat.write(with_expected_passes(nbformat.read(path, as_version=4)), copied)
            targets.append(copied.name)
        command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "coursetools.pytest_plugin",
                   "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "sanitize.cfg",
                   *options, *targets]
        return subprocess.run(command, cwd=work).returncode
