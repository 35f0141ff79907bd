"""A check cell run before its answer cell shows the course's card, not a bare NameError traceback.

Seen before this was fixed: running ``check("1.1", layer=hidden)`` before the answer
cell gave ``NameError: name 'hidden' is not defined`` with a traceback, raised before
``check`` runs. Now the learner reads "❌ 1.1: run the answer cell above first." with
expected / found / hint lines, and the cell still fails (nbval, the grader and
JupyterLab's "Run All" see an error). Any other NameError keeps IPython's traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from coursetools.lessons import all_lessons
from coursetools.run_order import card_for, check_call_names

ROOT = Path(__file__).resolve().parent.parent
CARD = "❌ 1.1: run the answer cell above first."
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_the_check_call_and_its_argument_names_are_read_from_the_cell():
    assert check_call_names('check("4.1", model=model)') == ("4.1", {"model"})
    assert check_call_names('check("1.4", batch=batch, one_output=one_output[0])') == ("1.4", {"batch", "one_output"})
    assert check_call_names("print(model)") is None
    assert check_call_names('x = 1\ncheck("4.1", model=model)') is None  # not a check cell as the course writes them
    assert check_call_names('check("4.1", model=') is None


def test_the_card_looks_like_every_other_card():
    lines = card_for("4.1", "model").lines()
    assert lines[0] == "❌ 4.1: run the answer cell above first."
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["expected", "found", "hint"]
    assert "`model`" in lines[1] and "Run All Above Selected Cell" in lines[3]
    assert all(len(line) <= 100 for line in lines), "a card line must fit a notebook's width without wrapping"


def _run(cells: list[str]) -> list[dict]:
    """Run the cells in one fresh kernel, errors allowed; each cell's outputs."""
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return [cell.outputs for cell in nb.cells]


def _error(outputs: list[dict]) -> dict:
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert len(errors) == 1, outputs
    return errors[0]


@pytest.mark.kernels
def test_in_a_real_kernel_a_check_before_its_answer_shows_the_card_and_other_name_errors_a_traceback():
    outputs = _run([
        "from coursetools import check, not_done",
        'check("1.1", layer=hidden)',  # the answer cell has not run
        "print(undefined_thing)",  # an ordinary NameError of the learner's own code
        "def make():\n    return nowhere\n",
        'check("1.1", layer=make())',  # raised inside code the check cell calls: not about running order
        'hidden = not_done("1.1")',
        'check("1.1", layer=hidden)',  # the answer cell ran: the check itself speaks
    ])
    card = _error(outputs[1])
    text = "\n".join(card["traceback"])
    assert card["ename"] == "NameError", "the cell must still fail as a NameError"
    assert text.splitlines()[0] == CARD
    assert "expected: `hidden`" in text and "hint:" in text
    assert "Traceback" not in text and "Cell In[" not in text and "---" not in text

    for index, name in ((2, "undefined_thing"), (4, "nowhere")):
        plain = _error(outputs[index])
        text = ANSI.sub("", "\n".join(plain["traceback"]))
        assert plain["ename"] == "NameError" and name in plain["evalue"]
        assert "❌" not in text and "Cell In[" in text, text

    assert "not done yet" in "\n".join(_error(outputs[6])["traceback"])


@pytest.mark.kernels
def test_the_cell_still_counts_as_failed():
    nb = new_notebook(cells=[new_code_cell("from coursetools import check"), new_code_cell('check("1.1", layer=hidden)'),
                             new_code_cell("print('after')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with pytest.raises(CellExecutionError, match="run the answer cell above first"):
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    assert nb.cells[2].outputs == [], "execution stops at the failed check, as JupyterLab's Run All does"


@pytest.mark.kernels
def test_course_py_check_reports_the_card_for_a_renamed_answer(tmp_path):
    """`course.py check` (nbval, lax) fails that check cell, and prints the card rather than a traceback."""
    lesson = all_lessons()[0]
    nb = json.loads((ROOT / lesson.exercise_notebook).read_text(encoding="utf-8"))
    answer = next(c for c in nb["cells"] if "answer" in c["metadata"].get("tags", [])
                  and c["metadata"].get("exercise") == "1.1")
    answer["source"] = 'hiden = layers.Dense(16, activation="relu")'  # a typo: `hidden` never made
    path = tmp_path / Path(lesson.exercise_notebook).name
    path.write_text(json.dumps(nb), encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "course.py"), "check", str(path), "-x"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-3000:]
    assert CARD in result.stdout, result.stdout[-3000:]
    assert "1 failed" in result.stdout
