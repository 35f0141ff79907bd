"""The grader's side of the verdict process: start it clean, ask it, time it out.

One verdict process serves a whole grading run (TensorFlow takes seconds to import,
so one per notebook would double the cost of grading). It is started *before* any
learner kernel, with ``python -I`` from an empty directory, and its ``coursetools``
comes from the grader's in-memory snapshot, sent over its stdin and checked against
the snapshot's sha256 digest (:mod:`.bootstrap`) at every start; the process
imports everything it uses before it reports ready, and reports the digest it
checked. No copy of the check code is ever written to disk, so a learner's kernel
that finds the grader's folders, or kills the verdict process to make the grader
start a fresh one while kernels run, has nothing to patch.

If a job times out or blows the memory limit, that job's exercises get ``error``
(the evidence is too heavy to judge). If the process dies in any other way -- a
crash, a kill from outside -- it is *suspicious*: the death is recorded in
:attr:`Judge.deaths` (the grader writes them to grading.log and exits with its own
status) and the lost job's items come back marked ``retry``, for the grader to judge
again in a clean process once no kernel runs. The next job starts a fresh process.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from coursetools.grading import bootstrap, watchdog
from coursetools.grading.options import GradeOptions
from coursetools.grading.outcome import ERROR
from coursetools.grading.protocol import Answer, Job, JobItem, ProtocolError, Ready, Verdict
from coursetools.quiet_env import QUIET_TF_ENV

BOOTSTRAP_FILE = "coursetools/grading/bootstrap.py"  # in the snapshot: the program the process runs
BOOTSTRAP = Path(bootstrap.__file__).read_text(encoding="utf-8")  # the same, for running it by hand


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
        job_timeout: float = GradeOptions.verdict_timeout,
        startup_timeout: float = 300.0,
        memory_mb: int = GradeOptions.verdict_memory_mb,
    ) -> None:
        self.library = dict(library)
        self.digest = bootstrap.digest(self.library)
        if BOOTSTRAP_FILE not in self.library:
            raise JudgeUnavailable(f"the course snapshot has no {BOOTSTRAP_FILE}")
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
        self.info: Ready | None = None  # what the running process said when it was ready
        self.restarts = 0
        self.deaths: list[str] = []  # unexpected deaths of the verdict process, for grading.log
        self._started = time.monotonic()

    # --- process life ---------------------------------------------------------------

    def start(self) -> None:
        """Launch the process and send it the snapshot; :meth:`wait_ready` (or the first job) waits for it."""
        if bootstrap.digest(self.library) != self.digest:
            raise JudgeUnavailable("the grader's in-memory copy of the check code changed during the run")
        home = self.workdir / f"verdict-{uuid.uuid4().hex}"
        cwd, tmp = home / "cwd", home / "tmp"
        cwd.mkdir(parents=True)
        tmp.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(cwd),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "KERAS_BACKEND": "tensorflow",
            "MPLBACKEND": "Agg",
            **QUIET_TF_ENV,
        }
        source = self.library[BOOTSTRAP_FILE].decode("utf-8")
        args = [sys.executable, "-I", "-c", source, "-", self.digest, "--serve"]
        self._lines = queue.Queue()
        self._ready.clear()
        log = open(self.log_path, "a", encoding="utf-8")
        self._process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True, encoding="utf-8", bufsize=1, start_new_session=True,
        )
        log.close()
        self._started = time.monotonic()
        self._guard = watchdog.Watchdog(self._process.pid, memory_bytes=self.memory_mb * 2**20)
        self._guard.__enter__()
        threading.Thread(target=self._read, args=(self._process, self._lines), daemon=True).start()
        self._send(bootstrap.encode(self.library).decode("ascii"))

    def _send(self, text: str) -> None:
        """Write to the process's stdin; a process that died is noticed by the reader."""
        try:
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.write(text)
            self._process.stdin.flush()
        except OSError:
            pass

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
            self._stop()
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-1500:] if self.log_path.exists() else ""
            raise JudgeUnavailable(f"the verdict process did not start:\n{tail}")
        try:
            info = Ready.from_line(line)
        except ProtocolError:
            self._stop()
            raise JudgeUnavailable(f"the verdict process answered {line[:300]!r} instead of ready") from None
        if info.digest != self.digest:
            self._stop()
            raise JudgeUnavailable(f"the verdict process runs check code with digest {info.digest!r}, "
                                   f"not the snapshot's {self.digest}")
        self.info = info
        self._ready.set()

    def close(self) -> None:
        """Stop the process at the end of a run; one found dead already died unexpectedly."""
        if self._process is not None and self._process.poll() is not None:
            self._unexpected(f"{self._exit()} while it had no job")
        self._stop()

    def _stop(self) -> None:
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

    def _exit(self) -> str:
        code = self._process.poll() if self._process is not None else None
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def _unexpected(self, what: str) -> None:
        self.deaths.append(f"the verdict process {what}, {time.monotonic() - self._started:.1f} s after it started")

    def judge(self, items: list[JobItem], label: str = "") -> dict[str, Verdict]:
        """Verdicts keyed like ``items``; a process failure becomes ``error`` verdicts.

        ``label`` names the notebook in :attr:`deaths`. Items whose verdict was lost because
        the process died unexpectedly carry ``retry=True``.
        """
        if not items:
            return {}
        with self._lock:
            try:
                self._ensure_running(label)
            except JudgeUnavailable:
                return self._lost(items, "could not start", retry=True)
            job = Job(next(self._ids), self.hidden, tuple(items))
            answer, timed_out = self._ask(job)
            if answer is None or answer.id != job.id:
                reason, retry = self._why_lost(timed_out, label)
                self._stop()
                self.restarts += 1
                return self._lost(items, reason, retry)
            return answer.results

    def _ensure_running(self, label: str) -> None:
        """A ready process for the next job: a fresh one if the last one died (noted as unexpected)."""
        if self._process is not None and self._process.poll() is not None:
            self._unexpected(f"{self._exit()} while it had no job")
            self._stop()
            self.restarts += 1
        try:
            if self._process is None:
                self.start()
            self.wait_ready()
        except JudgeUnavailable as error:
            self._unexpected(f"could not be started again for {label or 'a job'} "
                             f"({str(error).strip().splitlines()[0][:200]})")
            self._stop()
            raise

    def _ask(self, job: Job) -> tuple[Answer | None, bool]:
        """Send ``job``; its answer (None if none came or it could not be read) and whether time ran out."""
        self._send(job.to_line())
        try:
            line = self._lines.get(timeout=self.job_timeout)
        except queue.Empty:
            return None, True
        if not line:
            return None, False
        try:
            return Answer.from_line(line), False
        except ProtocolError:
            return None, False

    def _why_lost(self, timed_out: bool, label: str) -> tuple[str, bool]:
        """Why a job got no answer, and whether that was an unexpected death (to judge again later)."""
        if timed_out:
            return f"took longer than {self.job_timeout:g} s", False
        if self._guard and self._guard.reason:
            return f"used more than {self.memory_mb} MB of memory", False
        time.sleep(0.2)  # let a dying process be reaped, for its exit status
        self._unexpected(f"{self._exit()} while judging {label or 'a job'}")
        return "stopped", True

    @staticmethod
    def _lost(items: list[JobItem], reason: str, retry: bool) -> dict[str, Verdict]:
        message = (
            f"the grader could not judge this notebook's evidence: the verdict process {reason} "
            "while loading it. Hand in answers built from standard Keras layers and arrays."
        )
        return {item.key: Verdict(ERROR, message, retry=retry) for item in items}
