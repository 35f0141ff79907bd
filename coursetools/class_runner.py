"""Judge a learner's *class* without the learner's kernel: run its definitions fresh, report with course code.

Some answers are classes (a custom layer, a subclassed model). A class is learner code:
it cannot travel to the grader's verdict process, which never runs learner code. So
the check of such an exercise judges a **report**: plain facts (outputs on inputs the
course chose, weights the report set) that a course *reporter* records by using the
class. Where that report is made decides what it proves. Made in the learner's
kernel, it can be forged: the kernel is the learner's, and an answer cell can redefine
the reporter or relabel another object. So the report is made here instead:

1. only the **definitions** of the answer (its imports, functions and classes, taken
   from the answer cells' source: not the kernel's state, not its other statements)
   run in a **fresh Python process** that no kernel touched (in the grader: sandboxed
   like a kernel);
2. the reporter and the evidence writer are bound **before** that code runs, so
   redefining or patching them in the answer changes nothing;
3. the report is written in the evidence format (:mod:`coursetools.evidence`) to a
   folder, judged afterwards by the clean verdict process like any evidence.

The learner's check cell takes the same path (the class's cell source, found through
the class's own code objects), so the notebook and the grader agree. A pass still needs
the specified computation: the reporter puts its own weights into the class and the
check recomputes every expected number from them.

Run as ``python -m coursetools.class_runner`` with one JSON job on stdin::

    {"source": "...", "class": "FeatureScale", "reporter": "coursetools.lessons.lesson07.tools:make_layer_reporter",
     "folder": "/path/for/the/evidence", "name": "FeatureScale", "exercise": "7.1"}

``reporter`` names a *factory*: called before the answer's code runs, it returns the
reporter with every function it uses already bound (as :func:`coursetools.evidence.make_exporter`
does for the writer), so patching the course's modules from the answer changes nothing.
"""

from __future__ import annotations

import ast
import json
import linecache
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFINITIONS = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
ANSWER_FILE = "<your answer cell>"
PRELUDE = "import numpy as np\nimport keras\nfrom keras import layers, ops\n"
FAILED_REPORT = "failed"  # a report that says the class could not be used: {"report": "failed", ...}


def answer_definitions(source: str) -> str:
    """The imports, functions and classes of ``source`` (decorators and comments inside kept), nothing else.

    Statements that do something (build an instance, train, redefine a course function,
    call ``exit()``) are left out: the report judges the class, not what the cell did.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # running it gives the learner Python's own message
    lines = source.splitlines()
    kept = []
    for node in tree.body:
        if isinstance(node, DEFINITIONS):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            kept.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n".join(kept)


def cell_source_of(cls: type) -> str | None:
    """The source that defined ``cls``: its whole notebook cell, or the class alone in a ``.py`` file.

    ``inspect.getsource`` cannot find a class defined in a notebook cell; its methods'
    code objects name the cell's file, whose lines IPython keeps in ``linecache``. The
    whole cell is used, so helper functions and imports of the answer cell come along.
    """
    import inspect

    try:
        if os.path.isfile(inspect.getfile(cls)):
            return inspect.getsource(cls)
    except (OSError, TypeError):
        pass
    files = []
    for value in vars(cls).values():
        function = getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        if code is not None and code.co_filename not in files:
            files.append(code.co_filename)
    for filename in files:
        lines = linecache.getlines(filename)
        if lines and any(line.lstrip().startswith(f"class {cls.__name__}") for line in lines):
            return "".join(lines)
    return None


def start_process(*, python: str = sys.executable, wrap: Callable[[list[str]], list[str]] | None = None,
                  env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.Popen:
    """A fresh report process: it imports Keras at once, then waits for its one job on stdin."""
    command = [python, "-m", "coursetools.class_runner"]
    return subprocess.Popen(wrap(command) if wrap else command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def run_job(job: dict[str, Any], *, process: subprocess.Popen | None = None, timeout: float = 120.0,
            **start: Any) -> dict[str, Any]:
    """Run one report job in a fresh process (``process``, already started, or a new one); return its manifest.

    ``start`` are :func:`start_process`'s options (``wrap`` makes the command a sandboxed
    one). A process that fails, times out or writes no manifest gives an entry that says
    so, never a pass.
    """
    process = process or start_process(**start)
    name = job["name"]
    try:
        _, err = process.communicate(json.dumps(job), timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"evidence": {name: _problem("TimeoutError", f"using your class took longer than {timeout:g} s")}}
    from coursetools.evidence import MANIFEST

    manifest = Path(job["folder"]) / MANIFEST
    if process.returncode != 0 or not manifest.is_file():
        tail = (err or "").strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        return {"evidence": {name: _problem("ProcessError", f"the process using your class stopped: {tail[0][:200]}")}}
    return json.loads(manifest.read_text(encoding="utf-8"))


# --- In the learner's notebook: the next report process, started ahead ------------------------
#
# A report process spends seconds importing TensorFlow before it can run one job. In a
# notebook whose exercises are classes, the next one is started ahead (when the lesson's
# package is imported, and after each report), so that the import overlaps with the
# learner's work. Each process still serves exactly one job, and no learner code ran in
# it before: started ahead is as fresh as started late.

_READY: subprocess.Popen | None = None
GRADER_KERNEL = "COURSETOOLS_RUN"  # set in every kernel the grader starts (coursetools.grading.kernel.RUN_MARKER)


def prewarm() -> None:
    """Start the next report process now, unless one is waiting already."""
    global _READY
    if _READY is None or _READY.poll() is not None:
        _READY = start_process(env=_child_env())


def prewarm_in_notebook() -> None:
    """:func:`prewarm`, only in a learner's own Jupyter kernel (not in the grader's, not in scripts or tests)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None or GRADER_KERNEL in os.environ or in_process_wanted():
        return
    prewarm()


def _ready_process() -> subprocess.Popen | None:
    global _READY
    process, _READY = _READY, None
    return process if process is not None and process.poll() is None else None


def in_process_wanted() -> bool:
    """``COURSETOOLS_REPORT_IN_PROCESS=1``: the check tests' shortcut, the reporter on the live class, here.

    Only the judgement of many correct and wrong classes is tested that way (their
    variants are made by code, not written as cells); running the definitions in a fresh
    process, and what that defends against, have tests of their own.
    """
    return os.environ.get("COURSETOOLS_REPORT_IN_PROCESS") == "1"


def report_here(value: object, reporter: str) -> object:
    """The reporter's report on ``value`` made in this process (the tests' shortcut, see :func:`in_process_wanted`)."""
    import importlib

    module_name, _, factory_name = reporter.partition(":")
    return getattr(importlib.import_module(module_name), factory_name)()(value)


def _problem(error: str, message: str) -> dict[str, Any]:
    """A manifest entry for a report process that never reported (it timed out, or died)."""
    from coursetools.evidence import CAPTURE_ERROR, GET

    return {"kind": CAPTURE_ERROR, "stage": GET, "error": error, "message": message}


def failed_report(error: str, message: str, stage: str) -> dict[str, Any]:
    """The report when the class could not be used at all: the check turns it into the learner's card."""
    return {"report": FAILED_REPORT, "stage": stage, "error": error, "message": message}


def report_in_fresh_process(value: object, exercise_id: str, name: str, reporter: str, *,
                            timeout: float = 120.0) -> object:
    """The learner's check cell: the report on ``value`` (a class) made from its cell's source, in a new process.

    Anything that is not a class of the learner's (a placeholder, an instance, a wrong
    value) is returned unchanged, for the check to name.
    """
    import inspect

    from coursetools.evidence import CAPTURE_ERROR, load_evidence

    if not inspect.isclass(value):
        return value
    if in_process_wanted() or value.__module__.split(".")[0] in ("keras", "tensorflow", "builtins"):
        return report_here(value, reporter)  # a built-in class runs no learner code: its report can only fail
    source = cell_source_of(value)
    if source is None:
        return value
    with tempfile.TemporaryDirectory(prefix="class-report-") as folder:
        job = {"source": source, "class": value.__name__, "reporter": reporter, "folder": folder,
               "name": name, "exercise": exercise_id}
        manifest = run_job(job, process=_ready_process(), env=_child_env(), timeout=timeout)
        prewarm_in_notebook()  # the next class check of this notebook finds its process ready
        entry = manifest["evidence"][name]
        if entry.get("kind") == CAPTURE_ERROR:
            return failed_report(entry["error"], entry["message"], "process")
        return load_evidence(entry, Path(folder))


def _child_env() -> dict[str, str]:
    """The environment of the notebook's report process: this one's, with TensorFlow quiet."""
    from coursetools.quiet_env import QUIET_TF_ENV

    return {**os.environ, **QUIET_TF_ENV, "PYTHONPATH": os.pathsep.join(_coursetools_path())}


def _coursetools_path() -> Sequence[str]:
    import coursetools

    return [str(Path(coursetools.__file__).resolve().parent.parent)]


# --- The fresh process ---------------------------------------------------------------------------


def make_report(job: dict[str, Any]) -> dict[str, Any]:
    """Bind the reporter and the writer, run the answer's definitions, report on the class, write the evidence."""
    import contextlib
    import importlib
    import io

    module_name, _, factory_name = job["reporter"].partition(":")
    # Made before any learner code runs: a reporter factory binds every function it will use.
    report = getattr(importlib.import_module(module_name), factory_name)()
    from coursetools.evidence import make_exporter, make_manifest_writer

    export, write_manifest, redirect, buffer = make_exporter(), make_manifest_writer(), contextlib.redirect_stdout, io.StringIO
    base_exception, type_, str_, failed = BaseException, type, str, failed_report
    folder, name, wanted = job["folder"], job["name"], job["class"]
    namespace: dict[str, Any] = {"__name__": "__answer__"}
    result = _run_definitions(job["source"], wanted, namespace)
    if result is None:
        try:
            with redirect(buffer()):  # what the class prints is not the report
                result = report(namespace[wanted])
        except base_exception as error:  # reporters record a learner's errors themselves: a last resort
            result = failed(type_(error).__name__, str_(error)[:300], "report")
    entries = {name: export(result, folder, name)}
    write_manifest(folder, job.get("exercise", ""), entries)
    return {"exercise": job.get("exercise", ""), "evidence": entries}


def _serve() -> int:
    """Import what every report needs first (this is what a process started ahead does while it waits), then serve."""
    import keras  # noqa: F401

    import coursetools.evidence  # noqa: F401
    import coursetools.probing  # noqa: F401

    text = sys.stdin.read()
    if not text.strip():
        return 0  # the notebook's kernel ended before it needed this process
    make_report(json.loads(text))
    return 0


def _run_definitions(source: str, wanted: str, namespace: dict[str, Any]) -> dict[str, Any] | None:
    """Run the course prelude and the answer's definitions in ``namespace``; a failed report, or None."""
    import contextlib
    import io

    exec(compile(PRELUDE, "<course prelude>", "exec"), namespace)
    try:
        code = compile(answer_definitions(source), ANSWER_FILE, "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)
    except BaseException as error:  # the learner's definitions may fail in any way
        return failed_report(type(error).__name__, _first_line(error), "definitions")
    if not isinstance(namespace.get(wanted), type):
        return failed_report("NameError", f"your answer cell defines no class named {wanted}", "definitions")
    return None


def _first_line(error: BaseException) -> str:
    from coursetools.probing import first_line

    line = first_line(error, limit=250)
    if isinstance(error, NameError):
        line += (" (only your answer cell's imports, functions and classes are run when the class is judged, "
                 "with numpy as np, keras, layers and ops: a class may not use other names of the notebook)")
    return line


if __name__ == "__main__":
    sys.exit(_serve())
