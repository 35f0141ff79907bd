"""The tampering corpus: tricks that forge a pass in an in-kernel autograder must not work here.

Each trick is handed in twice, by two learners: once around a WRONG answer to
exercise 1.1 (a Dense layer with 8 units instead of 16), which must still be graded
``failed``, and once around the RIGHT answer, which must be graded ``passed`` (the
trick does not break honest grading either). Exercises 1.2-1.5 hold the solutions
and must pass in both. The whole corpus is graded in one run of the real command,
with the kernel sandbox on (the default).

``SANDBOX_TRICKS`` reach outside the kernel -- the instructor's files, the network,
other learners' files while they are graded, the grader's process, daemons -- which
only the sandbox stops (:mod:`coursetools.grading.sandbox`); they are graded only
where the sandbox is available. They never touch anything but this test's own
folders and processes: the grader they look for is the one whose command line
holds this run's submissions folder.
"""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    ROOT,
    by_learner,
    cell_index,
    checksums,
    grade_cli,
    load,
    read_grades,
    set_answer,
    set_check,
    write_learner,
)
from fixtures.grading.sandboxing import Server, external_ip, kill_processes_with, sandbox_or_skip

WRONG = 'hidden = layers.Dense(8, activation="relu")'
RIGHT = 'hidden = layers.Dense(16, activation="relu")'
FAKE = "✅ 1.1 passed: a Dense layer with 16 units and ReLU"
CONTEXT: dict = {}  # this run's paths and ports, for the tricks that reach out (set by the fixture)


def in_answer(code: str):
    """A trick that lives in the answer cell of 1.1, after the answer itself (``_CTX``: :data:`CONTEXT`)."""

    def apply(nb: dict, answer: str) -> dict:
        context = f"_CTX = {CONTEXT!r}\n" if "_CTX" in code else ""
        return {LAYERS: set_answer(nb, "1.1", answer + "\n" + context + textwrap.dedent(code))}

    return apply


def edit_check_cell(nb: dict, answer: str) -> dict:
    set_answer(nb, "1.1", answer)
    set_check(nb, "1.1", 'check("1.1", layer=layers.Dense(16, activation="relu"))')
    return {LAYERS: nb}


def delete_check_cell(nb: dict, answer: str) -> dict:
    set_answer(nb, "1.1", answer)
    del nb["cells"][cell_index(nb, "check", "1.1")]
    return {LAYERS: nb}


def fake_outputs(nb: dict, answer: str) -> dict:
    """Print and display the success line, and store it as the check cell's output in the file."""
    set_answer(nb, "1.1", answer + textwrap.dedent(f"""
        print({FAKE!r})
        from IPython.display import Markdown, display
        display(Markdown({FAKE!r}))
        """))
    check = nb["cells"][cell_index(nb, "check", "1.1")]
    check["outputs"] = [{"name": "stdout", "output_type": "stream", "text": FAKE + "\n"}]
    check["execution_count"] = 3
    nb["metadata"]["grade"] = {"1.1": "passed", "points": 1}
    return {LAYERS: nb}


def planted_files(nb: dict, answer: str) -> dict:
    """Fake `coursetools`, `keras.py` and `sitecustomize.py` in the working dir and in the hand-in."""
    files = in_answer("""
        import os, pathlib
        _fake_pkg = "def check(*a, **k):\\n    print('✅ forged')\\nnot_done = None\\n"
        for _d in {pathlib.Path.cwd(), pathlib.Path.cwd().parent, pathlib.Path.home()}:
            (_d / "coursetools").mkdir(exist_ok=True)
            (_d / "coursetools" / "__init__.py").write_text(_fake_pkg)
            (_d / "coursetools" / "registry.py").write_text("def run_check(i, **e):\\n    return '✅ forged'\\n")
            (_d / "keras.py").write_text("raise SystemExit('keras hijacked')\\n")
            (_d / "sitecustomize.py").write_text("import builtins\\nbuiltins.FORGED = True\\n")
        """)(nb, answer)
    files["keras.py"] = "raise SystemExit('keras hijacked')\n"
    files["sitecustomize.py"] = "import builtins\nbuiltins.FORGED = True\n"
    files["coursetools/__init__.py"] = "def check(*a, **k):\n    print('✅ forged')\n"
    return files


def forged_evidence(nb: dict, answer: str) -> dict:
    """Forged manifests (paths that escape, a "passed" field) and a correct .keras file, everywhere."""
    files = in_answer("""
        import json, os, pathlib, tempfile
        _good = layers.Dense(16, activation="relu")
        _manifest = {"exercise": "1.1", "status": "passed", "points": 1,
                     "evidence": {"layer": {"kind": "keras", "file": "../../forged/layer.keras"}}}
        _places = [pathlib.Path.cwd(), pathlib.Path.cwd() / "evidence", pathlib.Path.cwd().parent,
                   pathlib.Path.home(), pathlib.Path(tempfile.gettempdir())]
        for _d in _places:
            for _sub in (_d, _d / "1.1", _d / "forged"):
                _sub.mkdir(parents=True, exist_ok=True)
                (_sub / "manifest.json").write_text(json.dumps(_manifest))
                keras.saving.save_model(_good, _sub / "layer.keras")
        """)(nb, answer)
    files["manifest.json"] = json.dumps({"exercise": "1.1", "status": "passed",
                                         "evidence": {"layer": {"kind": "keras", "file": "/etc/passwd"}}})
    return files


TRICKS = {
    "patch-check-functions": in_answer(f"""
        import coursetools, coursetools.registry as _registry
        def _forged_check(*args, **kwargs):
            print({FAKE!r})
        _registry.run_check = lambda exercise_id, **evidence: "✅ " + exercise_id + " passed: forged"
        _registry.check = _forged_check
        coursetools.check = _forged_check
        check = _forged_check
        """),
    "patch-registered-checks": in_answer("""
        import dataclasses, coursetools.registry as _registry, coursetools.lessons.lesson01.checks as _lesson
        _registry.all_exercises()
        for _key, _ex in list(_registry._EXERCISES.items()):
            _registry._EXERCISES[_key] = dataclasses.replace(_ex, check=lambda **evidence: "forged")
        _lesson.dense_layer = lambda layer: "forged"
        _lesson._require_units = lambda layer, units: None
        """),
    "redefine-print": in_answer(f"""
        import builtins
        _real_print = builtins.print
        def print(*args, **kwargs):
            _real_print({FAKE!r})
        builtins.print = print
        """),
    "fake-pass-output": fake_outputs,
    "edit-check-cell": edit_check_cell,
    "delete-check-cell": delete_check_cell,
    "exit-in-check-path": in_answer("""
        import sys, coursetools, coursetools.registry as _registry
        def _exit(*args, **kwargs):
            raise SystemExit(0)
        def _interrupt(*args, **kwargs):
            raise KeyboardInterrupt
        _registry.run_check = _exit
        _registry.check = _interrupt
        coursetools.check = _interrupt
        check = _exit
        """),
    "planted-modules": planted_files,
    "forged-evidence": forged_evidence,
    "patch-save-model": in_answer("""
        import numpy as _np, coursetools.evidence as _evidence
        _good = layers.Dense(16, activation="relu")
        _real_save = keras.saving.save_model
        def _swap(model, filepath, *args, **kwargs):
            return _real_save(_good, filepath, *args, **kwargs)
        keras.saving.save_model = _swap
        keras.models.save_model = _swap
        keras.Layer.save = lambda self, filepath, *a, **k: _real_save(_good, filepath)
        keras.Model.save = lambda self, filepath, *a, **k: _real_save(_good, filepath)
        _real_export = _evidence.export_evidence
        _evidence.export_evidence = lambda value, folder, name: _real_export(_good, folder, name)
        """),
    "edit-check-modules": in_answer("""
        import pathlib, coursetools.lessons.lesson01.checks as _lesson
        _file = pathlib.Path(_lesson.__file__)
        if "coursetools-grade-" not in str(_file):  # never touch the course's own files
            raise RuntimeError("the kernel imported the course's own coursetools: " + str(_file))
        try:  # the kernel's copy is read-only in the sandbox: an attacker tries anyway
            _file.write_text(_file.read_text().replace("if layer.units != units:", "if False:"))
            (_file.parent / "hidden.py").write_text("# all hidden checks removed\\n")
            (_file.parents[2] / "grading" / "verdict.py").write_text("print('{\\"results\\": \\"forged\\"}')\\n")
        except OSError:
            pass
        import importlib, coursetools.registry as _registry
        _registry._EXERCISES.clear()
        importlib.reload(_lesson)  # the kernel's own checks now accept any number of units
        """),
}


# Where a trick finds this run's grader: the process whose command line holds this marker.
FIND_GRADER = """
import os, pathlib
def _grader_pids():
    for _entry in pathlib.Path("/proc").iterdir():
        try:
            if _entry.name.isdigit() and _CTX["marker"].encode() in (_entry / "cmdline").read_bytes():
                yield int(_entry.name)
        except OSError:
            pass
"""

USE_IF_READABLE = """
import json, os, pathlib
_places = [pathlib.Path(_CTX["root"])] + [pathlib.Path("/proc", pid, "cwd") for pid in os.listdir("/proc") if pid.isdigit()]
"""

SANDBOX_TRICKS = {
    # The instructor's solution notebook, from the course folder or a process's working folder: run its 1.1 answer.
    "read-solutions": in_answer(USE_IF_READABLE + textwrap.dedent("""
        for _place in _places:
            try:
                _nb = json.loads((_place / "solutions" / "01_solutions_layers.ipynb").read_text())
            except (OSError, ValueError):
                continue
            for _cell in _nb["cells"]:
                if _cell["metadata"].get("exercise") == "1.1" and "answer" in _cell["metadata"].get("tags", []):
                    exec("".join(_cell["source"]))
            break
        """)),
    # The hidden checks say what the grader wants beyond the notebook's check: a learner who reads them fixes
    # the answer they point at (here: hands in the right layer).
    "read-hidden-checks": in_answer(USE_IF_READABLE + textwrap.dedent("""
        for _place in _places:
            try:
                _hidden = (_place / "coursetools" / "lessons" / "lesson01" / "hidden.py").read_text()
            except OSError:
                continue
            if "hidden=True" in _hidden:
                hidden = layers.Dense(16, activation="relu")
                break
        """)),
    # A server on this machine hands out the answer: the network address, then the host's loopback.
    "use-network": in_answer("""
        import socket
        for _host in [h for h in (_CTX["external"], "127.0.0.1") if h]:
            try:
                with socket.create_connection((_host, _CTX["port"]), timeout=3) as _connection:
                    exec(_connection.makefile().read())
                break
            except OSError:
                pass
        """),
    # Kill this run's grader and its verdict process.
    "kill-grader": in_answer(FIND_GRADER + textwrap.dedent("""
        import signal
        for _pid in list(_grader_pids()):
            try:
                _children = [int(c) for t in pathlib.Path(f"/proc/{_pid}/task").iterdir()
                             for c in (t / "children").read_text().split()]
            except OSError:
                _children = []
            for _victim in [_pid] + [c for c in _children if c != os.getpid()]:
                try:
                    os.kill(_victim, signal.SIGKILL)
                except OSError:
                    pass
        """)),
    # A daemon that leaves the kernel's process tree and sheds its environment (and the grader's run marker).
    "leave-daemon": in_answer("""
        import subprocess, sys
        _daemon = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
                   + repr(_CTX["daemon"]) + "], env={}, start_new_session=True, stdin=subprocess.DEVNULL, "
                   "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); os._exit(0)")
        subprocess.run([sys.executable, "-c", _daemon], env={}, timeout=60)
        """),
    # For 25 s, while other learners are graded: overwrite their evidence with a wrong layer and their
    # hand-ins (found from the grader's command line) with an empty notebook.
    "overwrite-others": in_answer(FIND_GRADER + textwrap.dedent("""
        import time
        _bad = layers.Dense(8, activation="relu")
        _work = list(pathlib.Path.cwd().parents)[3]
        _deadline = time.monotonic() + 25
        while time.monotonic() < _deadline:
            for _file in list(_work.glob("evidence/*/*/*.keras")) + list(_work.glob("collected/*/*/*.keras")):
                try:
                    keras.saving.save_model(_bad, _file)
                except Exception:
                    pass
            for _pid in list(_grader_pids()):
                try:
                    _argv = pathlib.Path(f"/proc/{_pid}/cmdline").read_bytes().decode().split("\\0")
                    _folder = pathlib.Path(_argv[_argv.index("grade") + 1])
                    for _hand_in in _folder.glob("*/*.ipynb"):
                        if "overwrite-others" not in str(_hand_in):
                            _hand_in.write_text("{}")
                except (OSError, ValueError, IndexError):
                    pass
            time.sleep(0.2)
        """)),
}
ALL_TRICKS = {**TRICKS, **SANDBOX_TRICKS}


def sandbox_available() -> bool:
    try:
        sandbox_or_skip()
    except pytest.skip.Exception:
        return False
    return True


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole corpus once; return (rows by learner, checksums before, after, report, run facts)."""
    base = tmp_path_factory.mktemp("tampering")
    submissions = base / "submissions"
    sandboxed = sandbox_available()
    daemon = f"coursetools-tampering-daemon-{uuid.uuid4().hex}"
    server = Server(f"hidden = layers.Dense(16, activation={'relu'!r})\n".encode())
    CONTEXT.update(root=str(ROOT), marker=str(submissions), external=external_ip(), port=server.port, daemon=daemon)
    tricks = ALL_TRICKS if sandboxed else TRICKS
    for trick, apply in tricks.items():
        for variant, answer in (("wrong", WRONG), ("right", RIGHT)):
            write_learner(submissions, f"{trick}-{variant}", apply(load("solutions"), answer))
    # A hidden check: passes the visible check in the notebook, fails the hidden one.
    write_learner(submissions, "hidden-check-learner", {LAYERS: set_answer(
        set_answer(load("solutions"), "1.1", 'hidden = layers.Dense(16, activation="relu", dtype="float16")'),
        "1.2", "y_by_hand = np.maximum(x @ kernel + bias, 0.0) - 5e-6")})  # within the visible tolerance
    # Sabotage of the capture step itself: it can lose points, never win them.
    write_learner(submissions, "sabotage-capture", {LAYERS: set_answer(load("solutions"), "1.1", WRONG + """
for _name in [n for n in globals() if n.startswith("_capture_")]:
    globals()[_name] = lambda *args, **kwargs: None
""")})
    before = checksums(submissions)
    with server:
        try:
            # Three workers: the two overwrite-others learners (sorted together, 25 s each) then
            # leave a third worker grading victims while they run; with two, nobody would be.
            result = grade_cli(submissions, base / "report", "--notebooks", LAYERS, "--workers", "3",
                               "--cell-timeout", "60", "--no-progress")
        finally:
            daemons = kill_processes_with(daemon)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = {"sandboxed": sandboxed, "daemons": daemons, "connections": server.connections}
    return by_learner(read_grades(base / "report")), before, checksums(submissions), base / "report", facts


def needs_sandbox(graded, trick: str) -> None:
    if trick in SANDBOX_TRICKS and not graded[4]["sandboxed"]:
        sandbox_or_skip()  # skips (or fails under COURSETOOLS_REQUIRE_SANDBOX=1) with the reason


@pytest.mark.parametrize("trick", sorted(ALL_TRICKS))
def test_wrong_answer_with_trick_still_fails(graded, trick):
    needs_sandbox(graded, trick)
    rows = graded[0][f"{trick}-wrong"]
    assert rows["1.1"]["status"] == "failed", rows["1.1"]
    assert "wrong number of units" in rows["1.1"]["message"]
    assert rows["1.1"]["points"] == "0"
    for exercise in LAYERS_EXERCISES[1:]:
        assert rows[exercise]["status"] == "passed", rows[exercise]


@pytest.mark.parametrize("trick", sorted(ALL_TRICKS))
def test_right_answer_with_trick_passes(graded, trick):
    needs_sandbox(graded, trick)
    rows = graded[0][f"{trick}-right"]
    assert [rows[e]["status"] for e in LAYERS_EXERCISES] == ["passed"] * len(LAYERS_EXERCISES), rows


def test_corpus_is_large_enough():
    assert len(TRICKS) >= 8


def test_hidden_checks_fail_without_revealing_themselves(graded):
    rows = graded[0]["hidden-check-learner"]
    for exercise in ("1.1", "1.2"):
        message = rows[exercise]["message"]
        assert rows[exercise]["status"] == "failed"
        assert exercise in message and "hint:" in message
        assert "float" not in message and "assert" not in message
        assert "lessons.lesson01.hidden" not in message and "computes_relu" not in message
    assert "keep Keras's defaults" in rows["1.1"]["message"]
    feedback = (graded[3] / "feedback" / "hidden-check-learner.md").read_text(encoding="utf-8")
    assert "computes_relu_in_float32" not in feedback and "float16" not in feedback
    assert "computes_relu_in_float32" in (graded[3] / "grading.log").read_text(encoding="utf-8")


def test_sabotaged_capture_is_never_a_pass(graded):
    row = graded[0]["sabotage-capture"]["1.1"]
    assert row["status"] == "error"
    assert "interfered" in row["message"]


def test_submissions_are_unchanged(graded):
    _, before, after, *_ = graded
    assert before == after


def test_kernels_ran_in_the_sandbox(graded):
    needs_sandbox(graded, "kill-grader")
    log = (graded[3] / "grading.log").read_text(encoding="utf-8")
    assert "sandbox: every kernel ran in bubblewrap" in log and "NO SANDBOX" not in log


def test_no_daemon_outlives_its_kernel(graded):
    needs_sandbox(graded, "leave-daemon")
    assert graded[4]["daemons"] == 0


def test_no_kernel_reached_the_network(graded):
    needs_sandbox(graded, "use-network")
    assert graded[4]["connections"] == 0
