#!/usr/bin/env python3
"""Set up the course in a project-local environment, then open it, test it or grade it.

    python3 course.py lab      # set up, then open the course in JupyterLab
    python3 course.py test     # set up, then run the whole test suite
    python3 course.py quick [N ...]  # maintainers: check tests (of lessons N) and static tests, no kernels
    python3 course.py check    # grade your own exercises (nbval, lax mode)
    python3 course.py progress # a table of your exercises: passed / failed / not started
    python3 course.py setup    # only set up

Only the standard library is used here, so this runs on a fresh machine that has
nothing but Python. Everything is installed into ``.venv`` beside this file; a
second run skips the install when requirements.txt and pyproject.toml are
unchanged (a hash of both is stored in the environment).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
import urllib.parse
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".course-installed"
SUPPORTED = ((3, 10), (3, 13))  # the Python versions TensorFlow 2.21 publishes wheels for
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}  # see coursetools/quiet_env.py
START_PAGE = "START_HERE.md"
LAB_SETTINGS = ".jupyter/lab-settings"
# The options of `jupyter lab` that take no value: LabApp.flags of the pinned JupyterLab and
# traitlets' own (help, version). Every other option takes one. tests/test_lab_arguments.py
# compares this with the installed JupyterLab, so a new pin cannot leave it behind.
LAB_FLAGS = frozenset({
    "allow-root", "autoreload", "collaborative", "core-mode", "custom-css", "debug", "dev-mode",
    "expose-app-in-browser", "extensions-in-dev-mode", "generate-config", "no-browser", "no-script", "script",
    "show-config", "show-config-json", "skip-dev-build", "splice-source", "watch", "y",
    "h", "help", "help-all", "version",
})
HIDDEN_IN_LAB = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "*.egg-info")  # Jupyter's defaults + egg-info
GRAPHVIZ_HELP = (
    "Graphviz's `dot` program is missing, so model diagrams cannot be drawn. Install it with "
    "your system's package manager: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`."
)
BUBBLEWRAP_HINT = ROOT / "coursetools" / "grading" / "bubblewrap_hint.py"  # its package and install hint, said once
BROWSER_PACKAGES = ("chromium", "chromium-driver", "fonts-noto-color-emoji")
BROWSER_FILES = ("/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
BROWSER_HELP = (
    "Chromium is missing, so tests/test_learner_in_a_browser.py (a learner in a real browser) is skipped. "
    f"Install it as root: `apt-get install {' '.join(BROWSER_PACKAGES)}` (Debian/Ubuntu)."
)
SLURM_PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
SLURM_PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch")
SLURM_HELP = (
    "Slurm is missing, so tests/grading/test_slurm.py (the Slurm recipe on a real Slurm) is skipped. "
    f"Install it as root: `apt-get install --no-install-recommends {' '.join(SLURM_PACKAGES)}` (Debian/Ubuntu)."
)


def say(message: str) -> None:
    print(f"[course] {message}", flush=True)


def requirements_hash() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def check_python() -> None:
    version = sys.version_info[:2]
    if not SUPPORTED[0] <= version <= SUPPORTED[1]:
        low, high = (".".join(map(str, v)) for v in SUPPORTED)
        sys.exit(f"[course] Python {low} to {high} is needed (3.11 recommended); this is {sys.version.split()[0]}.")


LONG_SHEBANG = re.compile(r"""^'''exec' ("?)(.+?)\1 "\$0" "\$@"$""")  # pip's form for long paths or spaces


def _script_interpreter(script: Path) -> str | None:
    """The Python a console script of .venv/bin runs: its shebang, or the `exec` line pip writes instead."""
    try:
        head = script.read_bytes()[:4096].decode("utf-8", "replace").splitlines()[:2]
    except OSError:
        return None
    if not head or not head[0].startswith("#!"):
        return None
    if head[0].strip() != "#!/bin/sh":
        return head[0][2:].strip()
    found = LONG_SHEBANG.match(head[1]) if len(head) > 1 else None
    return found.group(2) if found else None


def _recorded_folders() -> list[Path]:
    """The course folders .venv's own files point to: the editable install and its scripts' interpreter."""
    folders = []
    for pattern in ("lib/python*/site-packages/coursetools-*.dist-info/direct_url.json",
                    "Lib/site-packages/coursetools-*.dist-info/direct_url.json"):
        for record in sorted(VENV.glob(pattern)):
            try:
                url = json.loads(record.read_text(encoding="utf-8")).get("url", "")
            except (OSError, ValueError):
                continue
            if url.startswith("file://"):
                folders.append(Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)))
    interpreter = _script_interpreter(BIN / "jupyter")
    if interpreter:
        folders.append(Path(interpreter).parents[2])  # <folder>/.venv/bin/python
    return folders


def venv_elsewhere() -> Path | None:
    """The other folder .venv was made in, when the course folder was moved or copied with it; else None.

    A venv is not relocatable: each script in .venv/bin starts `<folder>/.venv/bin/python`, and
    the editable install imports `coursetools` from `<folder>`, both as they were at install time.
    Moved or copied, the stamp still matches, but `jupyter` runs the old folder's environment
    and kernels import the old folder's code (or nothing runs, if that folder is gone).
    """
    here = os.path.realpath(ROOT)
    for folder in _recorded_folders():
        if os.path.realpath(folder) != here:
            return folder
    return None


def replace_foreign_venv() -> None:
    """Remove a .venv made for another folder (and say so), so that it is built anew for this one."""
    elsewhere = venv_elsewhere()
    if elsewhere is None:
        return
    again = f"rm -rf {VENV} && python3 {ROOT / 'course.py'} setup"
    if VENV.is_symlink() or not (VENV / "pyvenv.cfg").is_file():
        sys.exit(f"[course] {VENV} belongs to {elsewhere}, not to this folder, so it would run that folder's code. "
                 f"Make one for this folder: {again}")
    say(f".venv was made for {elsewhere}, not for this folder (the course folder was moved or copied with it), "
        "so it would run that folder's code: building a new one here")
    try:
        shutil.rmtree(VENV)
    except OSError as error:
        sys.exit(f"[course] could not remove {VENV} ({error.strerror}). Make one for this folder: {again}")


def ensure_environment() -> None:
    """Create .venv and install the pinned requirements, unless that is already done (for this folder)."""
    check_python()
    replace_foreign_venv()
    wanted = requirements_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        say("environment up to date (.venv), skipping install")
        return
    started = time.monotonic()
    if not PYTHON.exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    say("installing pinned requirements (first time: about a minute and 2 GB)")
    subprocess.run(pip + ["-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "--editable", str(ROOT)], check=True)
    STAMP.write_text(wanted + "\n")
    say(f"installed in {time.monotonic() - started:.0f} s")


def may_apt() -> str | None:
    """apt-get, when we may install Debian packages with it (root), else None."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return shutil.which("apt-get") if is_root else None


def apt_get_install(apt: str, packages: list[str], recommends: bool = True) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([apt, "-qq", "update"], check=False, env=env, stdout=subprocess.DEVNULL)
    options = [] if recommends else ["--no-install-recommends"]
    subprocess.run([apt, "-qq", "install", "-y", *options, *packages], check=False, env=env, stdout=subprocess.DEVNULL)


def apt_install(package: str, program: str) -> bool:
    """Install a Debian package when ``program`` is missing and we may (root, apt-get); is it there now?"""
    if shutil.which(program):
        return True
    apt = may_apt()
    if apt:
        say(f"installing {program} (Debian package {package})")
        apt_get_install(apt, [package])
    return bool(shutil.which(program))


def ensure_graphviz(required: bool) -> None:
    """Model diagrams need Graphviz's `dot`; install it where we may, else say how."""
    if apt_install("graphviz", "dot"):
        return
    if required:
        sys.exit(f"[course] {GRAPHVIZ_HELP} The notebook tests compare the diagrams' cells, so they need it too.")
    say(f"warning: {GRAPHVIZ_HELP}")


def bubblewrap_hint() -> dict[str, str]:
    """Bubblewrap's package, program and install hint, from the file the grader reads them from too.

    Loaded by its path, not imported: the package's dependencies may not be installed yet.
    """
    facts = runpy.run_path(str(BUBBLEWRAP_HINT))
    return {key: facts[key] for key in ("PACKAGE", "PROGRAM", "INSTALL_HINT")}


def ensure_bubblewrap() -> None:
    """Classroom grading sandboxes learners' kernels with bubblewrap (Linux); install it where we may."""
    if not sys.platform.startswith("linux"):
        return
    hint = bubblewrap_hint()
    if not apt_install(hint["PACKAGE"], hint["PROGRAM"]):
        say(f"warning: bubblewrap (`{hint['PROGRAM']}`) is missing, so `python -m coursetools grade` would run "
            f"learners' code unsandboxed (it warns when it does). To sandbox it, {hint['INSTALL_HINT']}.")


def ensure_slurm() -> None:
    """The Slurm recipe's test runs a single-node Slurm (Debian's daemons); install them where we may."""
    if not sys.platform.startswith("linux"):
        return
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])  # the daemons are in sbin
    if all(shutil.which(program, path=search) for program in SLURM_PROGRAMS):
        return
    apt = may_apt()
    if apt:
        say(f"installing Slurm for the Slurm recipe's test (Debian packages {' '.join(SLURM_PACKAGES)})")
        apt_get_install(apt, list(SLURM_PACKAGES), recommends=False)  # recommends: 34 more plugin packages
    if not all(shutil.which(program, path=search) for program in SLURM_PROGRAMS):
        say(f"warning: {SLURM_HELP}")


def ensure_browser() -> None:
    """The learner's end-to-end test drives JupyterLab in Debian's Chromium; install it where we may.

    Only `test` asks for it: learners never need a browser from us (they bring their own).
    """
    if not sys.platform.startswith("linux") or all(os.path.exists(path) for path in BROWSER_FILES):
        return
    apt = may_apt()
    if apt:
        say(f"installing a headless browser for the learner's end-to-end test (Debian packages "
            f"{' '.join(BROWSER_PACKAGES)})")
        apt_get_install(apt, list(BROWSER_PACKAGES))
    if not all(os.path.exists(path) for path in BROWSER_FILES):
        say(f"warning: {BROWSER_HELP}")


def course_env() -> dict[str, str]:
    env = dict(os.environ)
    for key, value in QUIET_TF_ENV.items():
        env.setdefault(key, value)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def run(args: list[str]) -> int:
    return subprocess.run(args, cwd=ROOT, env=course_env()).returncode


def test(extra: list[str]) -> int:
    """The whole suite: unit tests, then every lesson and solution under strict nbval."""
    ensure_environment()
    ensure_graphviz(required=True)
    ensure_bubblewrap()
    ensure_slurm()
    ensure_browser()
    started = time.monotonic()
    # testpaths (pyproject.toml): tests/, and notebooks/ + solutions/ compared strictly by nbval.
    code = run([str(PYTHON), "-m", "pytest", "-n", "2", "--dist", "loadscope", "--nbval", "--nbval-current-env", *extra])
    say(f"test suite finished in {time.monotonic() - started:.0f} s")
    return code


def quick(extra: list[str]) -> int:
    """A maintainer's quick loop: every check test and static test, nothing that starts a kernel.

    Left out: nbval on the notebooks and the grading pipeline (tests/grading), which run
    kernels, and tests marked ``kernels``. ``python3 course.py test`` runs everything.
    Lesson numbers among the arguments (``quick 9``) keep only those lessons' check tests.
    """
    ensure_environment()
    started = time.monotonic()
    lessons = [word for word in extra if word.isdigit()]  # `quick 9 10`: only those lessons' check tests
    extra = [word for word in extra if not word.isdigit()]
    checks = [f"tests/lessons/test_lesson{int(n):02d}.py" for n in lessons] or ["tests/lessons"]
    paths = [*checks, *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("test_*.py"))]
    code = run([str(PYTHON), "-m", "pytest", "-n", "2", "-q", "-m", "not kernels", *paths, *extra])
    say(f"quick loop finished in {time.monotonic() - started:.0f} s")
    return code


def check_exercises(extra: list[str]) -> int:
    """A learner's self-grading: nbval (lax) on copies of the exercise notebooks (coursetools/selfcheck.py)."""
    ensure_environment()
    return run([str(PYTHON), "-m", "coursetools", "selfcheck", *extra])


def files_to_open(extra: list[str]) -> list[str]:
    """The files a `jupyter lab` command line opens: its arguments that are not options or their values.

    Read as Jupyter (traitlets) reads them: `--port=8899` and `--port 8899` are one option with
    its value, as is any `--Class.trait value`; the options in LAB_FLAGS take no value; after
    `--` everything is a file. So `--no-browser --port 8899` opens no file (and keeps the start
    page), and `--no-browser notebooks/x.ipynb` opens x.
    """
    files: list[str] = []
    index = 0
    while index < len(extra):
        arg = extra[index]
        if arg == "--":
            return files + extra[index + 1:]
        if arg.startswith("-") and arg != "-":
            name = arg.lstrip("-")
            if "=" not in name and name not in LAB_FLAGS:
                index += 1  # the option's value, given as the next argument
        else:
            files.append(arg)
        index += 1
    return files


def lab_arguments(extra: list[str]) -> list[str]:
    """JupyterLab on the course: its own settings, and the start page in a fresh layout.

    The course's settings (.jupyter/lab-settings/overrides.json) turn off the "get notified
    about news?" pop-up and show Markdown rendered. Layouts are kept in the course folder
    (.jupyter/workspaces); the start page opens in front of whatever the last session left
    open. A path on the command line opens that file instead.
    """
    args = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={ROOT}",
            f"--LabApp.workspaces_dir={ROOT / '.jupyter' / 'workspaces'}"]
    if (ROOT / LAB_SETTINGS).is_dir():
        args.append(f"--LabApp.app_settings_dir={ROOT / LAB_SETTINGS}")
    # the file browser shows the course, not the packaging's by-products
    args += [f"--ContentsManager.hide_globs={pattern}" for pattern in HIDDEN_IN_LAB]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines run as root; Jupyter refuses that by default
    if not files_to_open(extra):
        args.append(f"--LabApp.default_url=/lab/tree/{START_PAGE}")
    return args + extra  # passed on untouched: Jupyter parses them itself


def lab(extra: list[str]) -> int:
    ensure_environment()
    ensure_graphviz(required=False)
    return run(lab_arguments(extra))


COMMANDS = {
    "lab": lab,
    "test": test,
    "quick": quick,
    "check": check_exercises,
    "setup": lambda extra: (ensure_environment(), ensure_graphviz(required=False), ensure_bubblewrap(), 0)[-1],
    # your progress: every exercise passed / failed / not started, graded like the instructor grades
    "progress": lambda extra: (ensure_environment(), run([str(PYTHON), "-m", "coursetools", "progress", *extra]))[-1],
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
