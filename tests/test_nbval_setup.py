"""The project's nbval set-up hides only noise: real output changes and stderr still fail.

Runs nbval in strict mode with the project's sanitize file on tiny notebooks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

pytestmark = pytest.mark.kernels  # starts kernels or pytest runs: not in the quick loop

ROOT = Path(__file__).resolve().parent.parent


def notebook_with(path: Path, source: str, stored: list) -> Path:
    cell = new_code_cell(source, execution_count=1)
    cell.outputs = stored
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def strict_nbval(notebook: Path) -> subprocess.CompletedProcess:
    (notebook.parent / "pytest.ini").write_text("[pytest]\n")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval",
            "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "nbval-sanitize.cfg"),
            "-c", str(notebook.parent / "pytest.ini"), "--rootdir", str(notebook.parent), str(notebook)]
    return subprocess.run(args, capture_output=True, text=True, cwd=notebook.parent, timeout=120)


def stdout(text: str):
    return new_output("stream", name="stdout", text=text)


@pytest.mark.parametrize(
    "source, stored, passes",
    [
        ("print('7 units')", [stdout("7 units\n")], True),
        ("print('8 units')", [stdout("7 units\n")], False),
        ("import sys; print('noise', file=sys.stderr)", [], False),
        ("print(hex(id(object())))", [stdout("0x7f0123456789\n")], True),
        ("print('3ms/step')", [stdout("12ms/step\n")], True),
        ("print('accuracy \u22480.93')", [stdout("accuracy \u22480.91\n")], True),
        ("print('accuracy \u22480.93 on 10 digits')", [stdout("accuracy \u22480.93 on 12 digits\n")], False),
        ("print('accuracy 0.93')", [stdout("accuracy 0.91\n")], False),
    ],
    ids=["same", "changed-stdout", "unexpected-stderr", "address-masked", "step-time-masked", "measured-number-masked",
         "words-around-a-measured-number-compared", "unmarked-number-compared"],
)
def test_strict_comparison(tmp_path, source, stored, passes):
    result = strict_nbval(notebook_with(tmp_path / "probe.ipynb", source, stored))
    assert (result.returncode == 0) is passes, result.stdout[-2000:]
