"""`python3 course.py lab ...` passes Jupyter's options through as Jupyter parses them.

Seen before this was fixed: `python3 course.py lab --no-browser --port 8899` took `8899`
for a file to open and dropped the start page (`--port=8899` worked). Here every command
line is read by the real JupyterLab's parser too, so course.py and Jupyter must agree on
which arguments are files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.lessons import all_lessons

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import course  # noqa: E402  (the set-up script, importable for its helpers)

LESSON = all_lessons()[1].lesson_notebook
START = f"/lab/tree/{course.START_PAGE}"

CASES = [  # command line after `course.py lab`, files it opens, port it sets
    ([], [], None),
    (["--no-browser", "--port", "8899"], [], 8899),
    (["--no-browser", "--port=8899"], [], 8899),
    (["--ServerApp.port", "8899", "--no-browser"], [], 8899),
    (["--ServerApp.port=8899"], [], 8899),
    ([LESSON], [LESSON], None),
    (["--no-browser", LESSON, "--port", "8899"], [LESSON], 8899),
    (["--port", "8899", "--allow-root", LESSON], [LESSON], 8899),
    (["--ip", "127.0.0.1", "--no-browser"], [], None),
]

PARSE = """
import json, sys
from jupyterlab.labapp import LabApp
out = []
for argv in json.loads(sys.argv[1]):
    app = LabApp()
    app.parse_command_line(argv)
    out.append({"files": app.extra_args, "port": app.config.ServerApp.get("port"),
                "open_browser": app.config.ServerApp.get("open_browser"),
                "default_url": app.config.LabApp.get("default_url")})
print(json.dumps(out))
"""


def jupyter_reads(command_lines: list[list[str]]) -> list[dict]:
    """How the installed JupyterLab parses each command line (without starting anything)."""
    result = subprocess.run([sys.executable, "-c", PARSE, json.dumps(command_lines)], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("extra, files, port", CASES, ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_files_to_open_are_what_jupyter_takes_for_files(extra, files, port):
    assert course.files_to_open(extra) == files
    args = course.lab_arguments(extra)
    if extra:
        assert args[-len(extra):] == extra, "the learner's arguments are passed on untouched"
    starts_on_start_page = f"--LabApp.default_url={START}" in args
    assert starts_on_start_page == (not files)


@pytest.mark.kernels  # starts a Python process that imports JupyterLab
def test_jupyter_parses_every_command_line_as_course_py_does():
    """One parse per case by the real JupyterLab: the port, the browser, the files, the start page."""
    readings = jupyter_reads([course.lab_arguments(extra)[2:] for extra, _, _ in CASES])  # after `jupyter lab`
    for (extra, files, port), reading in zip(CASES, readings):
        assert reading["files"] == files, (extra, reading)
        assert reading["port"] == port, (extra, reading)
        assert reading["default_url"] == (None if files else START), (extra, reading)
        assert reading["open_browser"] == (False if "--no-browser" in extra else None), (extra, reading)


@pytest.mark.kernels
def test_the_options_without_a_value_are_jupyterlabs():
    """LAB_FLAGS must follow the pinned JupyterLab: a new flag read as taking a value would swallow a file name."""
    code = "import json; from jupyterlab.labapp import LabApp; print(json.dumps(sorted(LabApp.flags)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == course.LAB_FLAGS - {"h", "help", "help-all", "version"}
