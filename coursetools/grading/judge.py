"""The grader's side of the verdict process: start it clean, ask it, time it out.

One verdict process serves a whole grading run (TensorFlow takes seconds to import,
so one per notebook would double the cost of grading). It is started *before* any
learner kernel, with ``python -I`` from an empty directory, and imports
``coursetools`` from a private copy written from the grader's in-memory snapshot, so
its check code is loaded before a learner could touch any file. If a job times out,
blows the memory limit or crashes it, that job's exercises get ``error`` and the
next job starts a fresh process from a fresh copy of the snapshot.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from coursetools.grading import watchdog
from coursetools.grading.outcome import ERROR
from coursetools.grading.snapshot import write_library
from coursetools.quiet_env import QUIET_TF_ENV

BOOTSTRAP = (
    "import sys\n"
    "lib = sys.argv[1]\n"
    "sys.path.insert(0, lib)\n"
    "import coursetools\n"
    "if not coursetools.__file__.startswith(lib):\n"
    "    raise SystemExit('coursetools was not imported from the snapshot: ' + coursetools.__file__)\n"
    "from coursetools.grading.verdict import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


class JudgeUnavailable(RuntimeError):
    """The verdict process cannot start: grading itself cannot run."""


class Judge:
    """A verdict process shared by the grader's worker threads (one job at a time)."""

    def __init__(
        self,
        library: dict[str, bytes],
        workdir: Path,
        *,
        hidden: bool = True,
        job_timeout: float = 300.0,
        startup_timeout: float = 300.0,
        memory_mb: int = 4096,
    ) -> None:
        self.library = library
        self.workdir = workdir
        self.hidden = hidden
        self.job_timeout = job_timeout
        self.startup_timeout = startup_timeout
        self.memory_mb = memory_mb
        self.log_path = workdir / "verdict.log"
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._guard: watchdog.Watchdog | None = None
        self._ready = threading.Event()
        self._start_error: str | None = None
        self.restarts = 0

    # --- process life ---------------------------------------------------------------

    def start(self) -> None:
        """Launch the process; :meth:`wait_ready` (or the first job) waits for it."""
        home = self.workdir / f"verdict-{uuid.uuid4().hex}"
        library = write_library(self.library, home / "lib")
        cwd = home / "cwd"
        cwd.mkdir(parents=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(cwd),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "KERAS_BACKEND": "tensorflow",
            "MPLBACKEND": "Agg",
            **QUIET_TF_ENV,
        }
        args = [sys.executable, "-I", "-c", BOOTSTRAP, str(library), "--serve"]
        self._lines = queue.Queue()
        self._ready.clear()
        self._start_error = None
        log = open(self.log_path, "a", encoding="utf-8")
        self._process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True, encoding="utf-8", bufsize=1, start_new_session=True,
        )
        log.close()
        self._guard = watchdog.Watchdog(self._process.pid, memory_bytes=self.memory_mb * 2**20)
        self._guard.__enter__()
        threading.Thread(target=self._read, args=(self._process, self._lines), daemon=True).start()

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def wait_ready(self) -> None:
        """Block until the process has imported everything; raise :class:`JudgeUnavailable`."""
        if self._ready.is_set():
            return
        if self._process is None:
            self.start()
        try:
            line = self._lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            line = None
        if not line:
            self.close()
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-1500:] if self.log_path.exists() else ""
            raise JudgeUnavailable(f"the verdict process did not start:\n{tail}")
        info = json.loads(line)
        if not info.get("ready"):
            raise JudgeUnavailable(f"the verdict process answered {line!r} instead of ready")
        self.info = info
        self._ready.set()

    def close(self) -> None:
        process, self._process = self._process, None
        if self._guard is not None:
            self._guard.__exit__(None, None, None)
            self._guard = None
        if process is not None:
            try:
                if process.stdin:
                    process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            watchdog.kill_tree(process.pid)
        self._ready.clear()

    def __enter__(self) -> "Judge":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- jobs ---------------------------------------------------------------------------

    def judge(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Verdicts keyed like ``items``; a process failure becomes ``error`` results."""
        if not items:
            return {}
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:
                    self.close()
                    self.restarts += 1
                self.start()
            self.wait_ready()
            job_id = next(self._ids)
            job = {"id": job_id, "hidden": self.hidden, "items": items}
            timed_out = False
            try:
                assert self._process is not None and self._process.stdin is not None
                self._process.stdin.write(json.dumps(job) + "\n")
                self._process.stdin.flush()
                line = self._lines.get(timeout=self.job_timeout)
            except queue.Empty:
                line, timed_out = None, True
            except OSError:
                line = None
            answer = None
            if line:
                try:
                    answer = json.loads(line)
                except json.JSONDecodeError:
                    answer = None
            if not answer or answer.get("id") != job_id:
                if timed_out:
                    reason = f"took longer than {self.job_timeout:g} s"
                elif self._guard and self._guard.reason:
                    reason = f"used more than {self.memory_mb} MB of memory"
                else:
                    reason = "stopped"
                self.close()
                self.restarts += 1
                message = (
                    f"the grader could not judge this notebook's evidence: the verdict process {reason} "
                    "while loading it. Hand in answers built from standard Keras layers and arrays."
                )
                return {str(item["key"]): {"status": ERROR, "message": message} for item in items}
            return answer.get("results", {})
