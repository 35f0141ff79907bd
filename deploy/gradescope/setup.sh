#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu), from
# the unpacked autograder zip in /autograder/source (README.md, "Gradescope"):
#   - bubblewrap (the grader's per-kernel sandbox, where the container allows it) and Graphviz;
#   - Python 3.11, the course's version, where the image's package sources have it (else the
#     image's own Python 3.10-3.13, which course.py accepts);
#   - course/.venv with the course's pinned requirements (`python3 course.py setup`).
# AUTOGRADER_ROOT (default /autograder) lets a test build the same layout in a temporary folder;
# AUTOGRADER_NO_APT=1 skips the Debian packages (the test's machine has them).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
COURSE="$ROOT/source/course"
say() { echo "[setup.sh] $*"; }

if [ "${AUTOGRADER_NO_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update >/dev/null
  apt-get -qq install -y --no-install-recommends bubblewrap graphviz >/dev/null \
    || say "warning: bubblewrap or graphviz could not be installed: grading.log will say NO SANDBOX"
  if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get -qq install -y --no-install-recommends python3.11 python3.11-venv >/dev/null 2>&1 \
      || apt-get -qq install -y --no-install-recommends python3-venv >/dev/null 2>&1 \
      || say "no python3.11 package here: using the image's own Python"
  else
    apt-get -qq install -y --no-install-recommends python3.11-venv >/dev/null 2>&1 || true
  fi
fi

PYTHON=""
for candidate in python3.11 python3.12 python3.10 python3.13 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
      'import sys, venv, ensurepip; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
    PYTHON="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$PYTHON" ]; then
  say "no Python 3.10-3.13 with venv and ensurepip found; install python3.11 and python3.11-venv" >&2
  exit 1
fi
say "Python: $PYTHON ($("$PYTHON" --version 2>&1))"
cd "$COURSE"
"$PYTHON" course.py setup
"$COURSE/.venv/bin/python" -c "import coursetools.grading.grader, coursetools.grading.gradescope"
command -v bwrap >/dev/null 2>&1 || say "warning: no bubblewrap: learners' code will run unsandboxed (grading.log says so)"
say "ready: $COURSE/.venv"
