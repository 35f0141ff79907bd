"""Sign a partial report with a key the instructor holds; check every part's signature before a merge.

``merge`` rebuilds the class's report from each part's ``partial.json``: whoever can
edit a part between ``grade --shard`` and ``merge`` (a CI artifact, a shared folder)
can turn a failed exercise into a pass. With a key (``COURSETOOLS_PARTS_KEY``, or
``--key-file``), ``grade --shard`` writes ``signature.json`` next to the part's files:
the sha256 of every file of the part (``partial.json``, ``grades.csv``, the feedback
files, ...) and an HMAC-SHA256 of that list under the key. ``merge`` given the same
key refuses a part that is unsigned, signed with another key, or whose files were
changed, removed or added after it was signed, and says which part and which file.

The key never leaves the grader's process: kernels get an explicit environment
without it, and inside the sandbox they cannot read the grader's environment or the
key file. Unsandboxed learner code runs as the grader's user and could read both
(README, "Not defended").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path

KEY_ENV = "COURSETOOLS_PARTS_KEY"
SIGNATURE = "signature.json"
FORMAT = "coursetools partial report signature"
VERSION = 1
ALGORITHM = "HMAC-SHA256"
MIN_KEY_BYTES = 16
MAKE_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


class SignatureError(ValueError):
    """A key cannot be used, or a part's signature does not hold; ``str()`` says which part and why."""


def read_key(key_file: str | None, env: Mapping[str, str]) -> bytes | None:
    """The key from ``key_file`` (when given) or ``$COURSETOOLS_PARTS_KEY`` (unset or empty: None).

    Surrounding white space (a file's final newline) is not part of the key.
    """
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as error:
            raise SignatureError(f"--key-file {key_file} cannot be read ({error.strerror or error})") from None
        where = f"--key-file {key_file}"
    else:
        text = env.get(KEY_ENV, "").strip()
        if not text:
            return None
        key, where = text.encode("utf-8", "surrogateescape"), KEY_ENV
    if len(key) < MIN_KEY_BYTES:
        raise SignatureError(f"the key in {where} is {len(key)} byte(s) long; use at least {MIN_KEY_BYTES} "
                             f"random bytes, e.g. the line `{MAKE_KEY}` prints")
    return key


def key_id(key: bytes) -> str:
    """A short name for a key that tells two keys apart without revealing either."""
    return hmac.new(key, b"coursetools parts key id", hashlib.sha256).hexdigest()[:16]


def _mac(key: bytes, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _files(part: Path) -> dict[str, str]:
    """Every entry under ``part`` but the signature: relative path -> sha256 (or what else it is)."""
    found: dict[str, str] = {}
    stack = [part]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = Path(entry.path).relative_to(part).as_posix()
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    if name != SIGNATURE:
                        with open(entry.path, "rb") as handle:
                            found[name] = hashlib.sha256(handle.read()).hexdigest()
                else:
                    found[name] = "link" if entry.is_symlink() else "special file"
    return dict(sorted(found.items()))


def sign(part: Path, key: bytes) -> Path:
    """Write ``part/signature.json``: every file's sha256 and an HMAC of them under ``key``."""
    body = {"format": FORMAT, "version": VERSION, "algorithm": ALGORITHM, "key_id": key_id(key),
            "files": _files(part)}
    path = part / SIGNATURE
    path.write_text(json.dumps({**body, "hmac": _mac(key, body)}, indent=1) + "\n", encoding="ascii")
    return path


def verify(part: Path, key: bytes) -> None:
    """Nothing when ``part`` is signed with ``key`` and unchanged since; else :class:`SignatureError`."""
    path = part / SIGNATURE
    if not path.is_file():
        raise SignatureError(f"{part} is not signed (it has no {SIGNATURE}): it was graded without the key, or "
                             "its signature was removed. Grade that shard again with the key")
    try:
        signed = json.loads(path.read_text(encoding="utf-8"))
        body = {name: signed[name] for name in ("format", "version", "algorithm", "key_id", "files")}
        mac = signed["hmac"]
        if body["format"] != FORMAT or not isinstance(body["files"], dict) or not isinstance(mac, str):
            raise ValueError("not a signature of a partial report")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SignatureError(f"{part}: its {SIGNATURE} cannot be read ({type(error).__name__}: {error})") from None
    if body["algorithm"] != ALGORITHM or body["version"] != VERSION:
        raise SignatureError(f"{part} is signed with {body['algorithm']!r} (format {body['version']!r}); "
                             f"this grader checks {ALGORITHM}, format {VERSION}")
    if body["key_id"] != key_id(key):
        raise SignatureError(f"{part} was signed with another key (key id {str(body['key_id'])[:16]!r}; the key "
                             f"given has id {key_id(key)!r})")
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise SignatureError(f"{part}: its {SIGNATURE} was altered (its HMAC does not match the list of files "
                             "it signs)")
    _same_files(part, body["files"])


def _same_files(part: Path, signed: dict[str, str]) -> None:
    now = _files(part)
    changed = [name for name in signed if name in now and now[name] != signed[name]]
    removed = [name for name in signed if name not in now]
    added = [name for name in now if name not in signed]
    for names, what in ((changed, "changed"), (removed, "removed"), (added, "added")):
        if names:
            shown = ", ".join(repr(name) for name in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3
                                                                   else "")
            raise SignatureError(f"{part} was altered after it was signed: {shown} {what}")
