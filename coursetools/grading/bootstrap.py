"""Start the verdict process from check code held in memory, never from files a kernel could edit.

This module is the whole program the grader hands to ``python -I -c`` (standard
library only: it runs before anything of ``coursetools`` may be imported). The
grader sends its in-memory snapshot of the ``coursetools`` package as the first
line on the process's stdin, with the snapshot's sha256 digest on the command
line; this code recomputes the digest, refuses to start on any difference, and
installs an importer that serves ``coursetools`` *only* from that snapshot: no
file on disk is ever imported as ``coursetools``, so nothing a learner's kernel
writes (to the course, to the grader's work folder, anywhere) can change the
verdict's code, at the first start or at any restart. A ``coursetools`` module
missing from the snapshot cannot be imported at all (it is not looked for on
``sys.path``, where an editable install would point to the course folder).

Two ways to run it (see :mod:`.judge` and :mod:`.verdict`)::

    python -I -c "$(cat bootstrap.py)" - DIGEST --serve   # the grader: snapshot on stdin
    python -I -c "$(cat bootstrap.py)" LIB JOB.json        # by hand: LIB holds coursetools/
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.machinery
import json
import os
import sys
from collections.abc import Iterator, Mapping

PACKAGE = "coursetools"
ORIGIN = "<grader snapshot>/"  # prefix of every module's __file__: no such folder exists


def digest(files: Mapping[str, bytes]) -> str:
    """One sha256 for a set of files: their relative paths and contents, in sorted order."""
    total = hashlib.sha256()
    for relative in sorted(files):
        total.update(relative.encode("utf-8") + b"\0" + hashlib.sha256(files[relative]).digest())
    return total.hexdigest()


def encode(files: Mapping[str, bytes]) -> bytes:
    """The stdin line that carries a snapshot to the verdict process."""
    payload = {path: base64.b64encode(content).decode("ascii") for path, content in files.items()}
    return json.dumps({"files": payload}).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, bytes]:
    payload = json.loads(line)["files"]
    return {str(path): base64.b64decode(content) for path, content in payload.items()}


def read_folder(folder: str) -> dict[str, bytes]:
    """``coursetools/...`` files under ``folder`` (the by-hand form), read once into memory."""
    files = {}
    top = os.path.join(folder, PACKAGE)
    for directory, subfolders, names in os.walk(top):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        for name in names:
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(directory, name)
                with open(path, "rb") as handle:
                    files[os.path.relpath(path, folder).replace(os.sep, "/")] = handle.read()
    return files


class SnapshotImporter:
    """Finder and loader of ``coursetools`` modules from a dict of sources held in memory."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)

    def _location(self, name: str) -> tuple[str | None, bool]:
        base = name.replace(".", "/")
        if f"{base}/__init__.py" in self.files:
            return f"{base}/__init__.py", True
        if f"{base}.py" in self.files:
            return f"{base}.py", False
        return None, False

    # importlib.abc.MetaPathFinder
    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] != PACKAGE:
            return None
        relative, package = self._location(name)
        if relative is None:
            raise ModuleNotFoundError(f"No module named {name!r} in the grader's snapshot", name=name)
        spec = importlib.machinery.ModuleSpec(name, self, origin=ORIGIN + relative, is_package=package)
        if package:
            spec.submodule_search_locations = [ORIGIN + relative.rsplit("/", 1)[0]]
        spec.has_location = True  # __file__ names the snapshot file (for tracebacks)
        return spec

    # importlib.abc.Loader
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: object) -> None:
        origin = module.__spec__.origin  # type: ignore[attr-defined]
        code = compile(self.files[origin[len(ORIGIN):]], origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # type: ignore[attr-defined]

    def get_source(self, name: str) -> str | None:
        relative, _ = self._location(name)
        return self.files[relative].decode("utf-8") if relative else None

    def is_package(self, name: str) -> bool:
        return self._location(name)[1]

    # a sys.path_hooks entry, so that pkgutil.iter_modules(package.__path__) lists submodules
    def path_hook(self, entry: str) -> "_Folder":
        if not entry.startswith(ORIGIN):
            raise ImportError("not a snapshot folder")
        return _Folder(self, entry[len(ORIGIN):])

    def owns(self, module: object) -> bool:
        spec = getattr(module, "__spec__", None)
        return spec is not None and spec.loader is self


class _Folder:
    """A package folder of the snapshot, as pkgutil sees it."""

    def __init__(self, importer: SnapshotImporter, folder: str) -> None:
        self.importer, self.folder = importer, folder

    def find_spec(self, name: str, target: object = None) -> importlib.machinery.ModuleSpec | None:
        return self.importer.find_spec(name)

    def iter_modules(self, prefix: str = "") -> Iterator[tuple[str, bool]]:
        start = self.folder + "/"
        for relative in sorted(self.importer.files):
            if not relative.startswith(start):
                continue
            parts = relative[len(start):].split("/")
            if len(parts) == 1 and parts[0].endswith(".py") and parts[0] != "__init__.py":
                yield prefix + parts[0][:-3], False
            elif len(parts) == 2 and parts[1] == "__init__.py":
                yield prefix + parts[0], True


def install(files: Mapping[str, bytes]) -> SnapshotImporter:
    """Serve ``coursetools`` from ``files`` from now on, ahead of every other finder."""
    importer = SnapshotImporter(files)
    for name in [n for n in sys.modules if n.partition(".")[0] == PACKAGE]:
        del sys.modules[name]
    sys.meta_path.insert(0, importer)
    sys.path_hooks.insert(0, importer.path_hook)
    sys.path_importer_cache.clear()
    return importer


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "-":
        expected, rest = argv[1], argv[2:]
        files = decode(sys.stdin.buffer.readline())
    elif argv:
        expected, rest = None, argv[1:]
        files = read_folder(argv[0])
    else:
        print("usage: bootstrap (- DIGEST --serve | LIB JOB.json)", file=sys.stderr)
        return 2
    actual = digest(files)
    if expected is not None and actual != expected:
        print(f"bootstrap: the check code received has digest {actual}, not {expected}", file=sys.stderr)
        return 3
    importer = install(files)
    verdict = importlib.import_module(f"{PACKAGE}.grading.verdict")
    return verdict.main(rest, snapshot=importer, digest=actual)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
