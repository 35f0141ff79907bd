"""The verdict process cannot be reached from a learner's kernel, even without the sandbox.

Two attacks from the issue "grading that holds against a hostile class", each graded
with the real command and ``--no-sandbox`` (the kernels run as the grader's own user,
so they can read and write whatever the grader can: the defence must not rely on
the sandbox):

* **lazy import**: a learner's cell finds the grader's work folder among its own
  working directory's parents and appends code that forges every verdict to the
  verdict process's modules on disk. If the verdict process imported one of them
  after kernels started, every learner of the run would pass.
* **kill and patch**: a learner's kernel kills the verdict process while it judges
  another learner's notebook, then patches the fresh copy of the check code the
  grader writes for its restart. The notebook being judged lost its verdict, and
  every notebook judged afterwards would pass.

Both learners and their victims hand in WRONG answers to exercise 1.1 (8 units
instead of 16), except one victim whose right answer must still pass.
"""

from __future__ import annotations

import textwrap

import pytest

from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    by_learner,
    grade_cli,
    load,
    read_grades,
    set_answer,
    write_learner,
)

WRONG = 'hidden = layers.Dense(8, activation="relu")'
RIGHT = 'hidden = layers.Dense(16, activation="relu")'
OPTIONS = ("--notebooks", LAYERS, "--no-progress", "--cell-timeout", "200", "--no-sandbox")

# Appended to a module of the verdict process: every check passes, no hidden check runs.
FORGERY = '''
import dataclasses as _forge_dc
import coursetools.registry as _forge_registry
_forge_registry.all_exercises()
for _forge_key, _forge_ex in list(_forge_registry._EXERCISES.items()):
    _forge_registry._EXERCISES[_forge_key] = _forge_dc.replace(_forge_ex, check=lambda **evidence: "forged")
_forge_registry.hidden_checks()
_forge_registry._HIDDEN.clear()
'''

LAZY_IMPORT_ATTACK = f"""
import pathlib
_forgery = {FORGERY!r}
for _parent in list(pathlib.Path.cwd().parents)[:5]:
    for _module in _parent.glob("*/lib/coursetools/grading/*.py"):
        with open(_module, "a", encoding="utf-8") as _handle:
            _handle.write(_forgery)
"""

# Runs in a thread of the attacker's kernel while other learners are graded. It only
# touches processes of *this* grading run: the grader is found by the submissions
# folder in its command line, the verdict process is its child serving jobs.
KILL_AND_PATCH_ATTACK = """
import os, pathlib, signal, threading, time
_forgery = {forgery!r}
_marker = {marker!r}.encode()

def _processes():
    for _entry in pathlib.Path("/proc").iterdir():
        if _entry.name.isdigit():
            try:
                _argv = (_entry / "cmdline").read_bytes().split(b"\\0")
                _fields = (_entry / "stat").read_text().rsplit(")", 1)[1].split()
                yield int(_entry.name), _argv, int(_fields[1]), int(_fields[11]) + int(_fields[12])
            except (OSError, ValueError, IndexError):
                pass

def _verdict():
    _all = list(_processes())
    _graders = {{pid for pid, argv, _, _ in _all if any(_marker in a for a in argv)}}
    return next(((pid, cpu) for pid, argv, ppid, cpu in _all if ppid in _graders and b"--serve" in argv), None)

def _attack():
    _deadline = time.monotonic() + 150
    _samples, _found = [], None
    while time.monotonic() < _deadline:  # 1. kill the verdict process when it starts judging
        _found, _now = _verdict(), time.monotonic()
        if _found is None or (_samples and _samples[-1][1] != _found[0]):
            _samples = []
        if _found is not None:
            _samples.append((_now, _found[0], _found[1]))
            _before = [cpu for t, _, cpu in _samples if t <= _now - 0.25]
            _quiet = [cpu for t, _, cpu in _samples if _now - 1.25 <= t <= _now - 0.25]
            if _before and _samples[0][0] <= _now - 1.25 and len(set(_quiet)) == 1 and _found[1] - _before[-1] >= 2:
                os.kill(_found[0], signal.SIGKILL)
                break
        time.sleep(0.005)
    _killed = _found[0] if _found else None
    _work = list(pathlib.Path.cwd().parents)[3]
    _old = set(_work.glob("verdict-*"))
    _new_since = None
    while time.monotonic() < _deadline:  # 2. patch the copy the restarted process imports
        for _copy in set(_work.glob("verdict-*")) - _old:
            _modules = list(_copy.glob("lib/coursetools/grading/*.py"))
            if any(m.name == "verdict.py" for m in _modules):
                for _module in _modules:
                    with open(_module, "a", encoding="utf-8") as _handle:
                        _handle.write(_forgery)
                return
        _found = _verdict()
        if _found and _found[0] != _killed:
            _new_since = _new_since or time.monotonic()
            if time.monotonic() - _new_since > 20:  # a fresh verdict process, and nothing to patch
                return
        time.sleep(0.002)

_attacker = threading.Thread(target=_attack, daemon=True)
_attacker.start()
"""

WAIT_FOR_ATTACKER = "_attacker.join(160)"


def attacker(answer: str, attack: str, wait: bool = False) -> dict:
    nb = set_answer(load("solutions"), "1.1", answer + "\n" + textwrap.dedent(attack))
    if wait:  # keep the kernel alive while the attack thread works
        index = next(i for i, c in enumerate(nb["cells"]) if "answer" in c["metadata"].get("tags", [])
                     and c["metadata"].get("exercise") == "1.2")
        nb["cells"][index]["source"] = WAIT_FOR_ATTACKER + "\n" + "".join(nb["cells"][index]["source"])
    return {LAYERS: nb}


def solved_with(answer: str) -> dict:
    return {LAYERS: set_answer(load("solutions"), "1.1", answer)}


@pytest.fixture(scope="module")
def lazy_import(tmp_path_factory):
    """One worker: the attacker's kernel runs before any verdict is asked for."""
    base = tmp_path_factory.mktemp("lazy-import")
    submissions = base / "submissions"
    write_learner(submissions, "a-attacker", attacker(WRONG, LAZY_IMPORT_ATTACK))
    write_learner(submissions, "b-victim", solved_with(WRONG))
    result = grade_cli(submissions, base / "report", *OPTIONS, "--workers", "1")
    return result, base / "report"


@pytest.fixture(scope="module")
def kill_and_patch(tmp_path_factory):
    """Two workers: the attacker's kernel stays alive while the victims are graded."""
    base = tmp_path_factory.mktemp("kill-and-patch")
    submissions = base / "submissions"
    attack = KILL_AND_PATCH_ATTACK.format(forgery=FORGERY, marker=str(submissions))
    write_learner(submissions, "a-attacker", attacker(WRONG, attack, wait=True))
    slow = set_answer(load("solutions"), "1.1", RIGHT + "\nimport time\ntime.sleep(8)")  # judged once the attack runs
    write_learner(submissions, "b-victim-right", {LAYERS: slow})
    write_learner(submissions, "c-victim-wrong", solved_with(WRONG))
    write_learner(submissions, "d-victim-wrong", solved_with(WRONG))
    result = grade_cli(submissions, base / "report", *OPTIONS, "--workers", "2")
    return result, base / "report"


def assert_wrong_answer_failed(rows: dict, learner: str) -> None:
    row = rows[learner]["1.1"]
    assert row["status"] == "failed", (learner, row)
    assert "wrong number of units" in row["message"], (learner, row)
    for exercise in LAYERS_EXERCISES[1:]:
        assert rows[learner][exercise]["status"] == "passed", (learner, rows[learner][exercise])


def test_appending_to_the_verdict_modules_forges_nothing(lazy_import):
    result, report = lazy_import
    assert result.returncode == 0, result.stderr[-3000:]
    # --no-sandbox is said loudly, on the terminal and at the top of grading.log
    assert "WARNING: NO SANDBOX: --no-sandbox was given" in result.stderr
    assert (report / "grading.log").read_text(encoding="utf-8").splitlines()[1].startswith("WARNING: NO SANDBOX")
    rows = by_learner(read_grades(report))
    assert_wrong_answer_failed(rows, "a-attacker")
    assert_wrong_answer_failed(rows, "b-victim")


def test_killing_the_verdict_process_forges_nothing_and_costs_no_victim_a_verdict(kill_and_patch):
    result, report = kill_and_patch
    rows = by_learner(read_grades(report))
    for learner in ("a-attacker", "c-victim-wrong", "d-victim-wrong"):
        assert_wrong_answer_failed(rows, learner)
    # The notebook judged when the process was killed is graded again in a clean process.
    assert [rows["b-victim-right"][e]["status"] for e in LAYERS_EXERCISES] == ["passed"] * len(LAYERS_EXERCISES)


def test_an_unexpected_verdict_death_is_reported(kill_and_patch):
    result, report = kill_and_patch
    assert result.returncode == 4, (result.returncode, result.stderr[-3000:])
    assert "verdict process" in result.stderr and "unexpectedly" in result.stderr
    log = (report / "grading.log").read_text(encoding="utf-8")
    assert "SUSPICIOUS" in log and "died unexpectedly" in log
    assert "b-victim-right/01_layers.ipynb: graded again in a clean verdict process" in log
