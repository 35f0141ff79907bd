"""The evidence format: how the values a check judges travel from a kernel to a clean process.

Keras objects travel as ``.keras`` files loaded in safe mode, arrays as ``.npy``,
the rest as JSON, described by one manifest entry per value. The check cell judges
what comes back from this round trip (:func:`as_graded`), and so does the grader's
verdict process, so both always agree.

Every rule of the format lives here, once, because its two ends must agree on each:

* **the entries** and their limits (kinds, file names, depth, lengths, text fields);
* **the writer** (:func:`make_exporter`, :func:`make_problem_entry`,
  :func:`make_manifest_writer`), which the grader's capture cell calls in the
  learner's kernel (:mod:`coursetools.grading.capture`). Each factory looks up every
  function, type and limit it will use *when it is called*, before any learner code
  runs, and the functions it returns look up nothing global afterwards (a test
  checks their bytecode), so a learner who later patches ``keras.saving.save_model``,
  ``numpy.save``, ``json.dumps``, ``builtins`` or this module cannot change what is
  written;
* **the rules** an entry read back must obey (:func:`validate_entry`,
  :func:`validate_manifest`): a manifest is written inside the learner's kernel, so
  it is untrusted input, checked by the grader when it collects a capture folder
  (:mod:`coursetools.grading.manifest`) and again by the verdict process;
* **the reader** (:func:`load_evidence`), safe mode and ``allow_pickle=False`` only.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from coursetools.expect import Unexportable, describe, nature
from coursetools.placeholders import NotDone

# --- The entries ---------------------------------------------------------------------------
#
# A manifest entry describes one value. Leaves: ``keras`` (a ``.keras`` file), ``array``
# (a ``.npy`` file), ``json`` (a plain value), ``not_done``, ``unexportable``. A list,
# tuple or dict that holds anything but plain values is a ``tree`` whose items are
# entries themselves, their files named ``<name>.<i>.npy``, ``<name>.<i>.keras``, ...
# NumPy scalars become plain numbers. When the capture gets no value at all, it writes
# ``missing_name`` (the answer's variable is not defined) or ``capture_error`` (getting
# or saving the value raised), which the grader turns into the learner's message.

MANIFEST = "manifest.json"  # {"exercise": id, "evidence": {name: entry}} in each capture folder
KERAS, ARRAY = "keras", "array"
JSON, NOT_DONE, UNEXPORTABLE, TREE = "json", "not_done", "unexportable", "tree"
MISSING_NAME, CAPTURE_ERROR = "missing_name", "capture_error"
FILE_SUFFIXES = {KERAS: ".keras", ARRAY: ".npy"}  # a file entry's file is exactly <name><suffix>
PROBLEM_KINDS = (MISSING_NAME, CAPTURE_ERROR)  # the capture could not get a value at all
GET, SAVE = "get", "save"  # the stage of a capture_error: evaluating the evidence, or saving it
TREE_TYPES = ("list", "tuple", "dict")

MAX_JSON_CHARS = 200_000  # a plain value larger than this is not an answer worth shipping
MAX_TREE_DEPTH = 4  # a list of lists of arrays is an answer; deeper nesting is not
MAX_TREE_ITEMS = 256  # items in one exported list, tuple or dict
MAX_KEY_CHARS = 100
# The writer writes a list or dict of plain values as one JSON value only while its
# containers sit no deeper than MAX_TREE_DEPTH (deeper ones make the value not plain).
MAX_JSON_NESTING = MAX_TREE_DEPTH + 1
MAX_TEXT = {"description": 300, "exercise": 20, "name": 100, "error": 100, "message": 300}  # text fields
MAX_MANIFEST_BYTES = 1_000_000
MAX_EVIDENCE_BYTES = 500 * 1024 * 1024

Entry = dict[str, Any]
Export = Callable[[object, "str | Path", str], Entry]


class ManifestError(ValueError):
    """The manifest or an evidence file breaks a rule: nothing from it is loaded."""


# --- Writing, in the kernel: everything bound when the factory is called ----------------------


def make_exporter() -> Export:
    """Return ``export(value, folder, name) -> manifest entry``, every function it uses bound now.

    Binding matters for grading: the grader calls this in a cell it runs before any
    learner code, so a learner who later patches ``keras.saving.save_model``,
    ``numpy.save``, ``json.dumps`` or this module cannot change what gets written.
    The entries are what :func:`load_evidence` reads back.
    """
    bound = _bound_now()
    unexportable = _unexportable_entry(bound)
    is_plain, fits = _shape_rules(bound)
    write_keras = _keras_writer(bound, unexportable)
    is_array, write_array = _array_writer(bound, unexportable)
    plain_scalar = _numpy_scalar_reader(bound, unexportable)
    write_tree = _tree_writer(bound, unexportable)
    write_json = _json_writer(bound, unexportable)

    def export(value: Any, folder: str | Path, name: str, depth: int = 0) -> Entry:
        if depth == 0 and not fits(value, 0):
            return unexportable(value, " nested too deeply or too long to grade")
        if bound.isinstance(value, bound.NotDone):
            return {"kind": bound.NOT_DONE, "exercise": bound.str(value.exercise_id)[:bound.MAX_TEXT["exercise"]]}
        if bound.isinstance(value, bound.Layer):
            return write_keras(value, folder, name)
        if bound.isinstance(value, bound.generic):  # a NumPy scalar: np.sum(...), np.prod(...), an array element
            value, refused = plain_scalar(value)
            if refused is not None:
                return refused
        if is_array(value):
            return write_array(value, folder, name)
        if bound.isinstance(value, (bound.list, bound.tuple, bound.dict)) and not is_plain(value, depth):
            return write_tree(value, folder, name, depth, export)
        return write_json(value)

    return export


def make_problem_entry() -> Callable[[str, str, BaseException], Entry]:
    """Return ``problem(name, stage, error) -> entry`` for a capture that got no value, bound now.

    ``stage`` is :data:`GET` (evaluating the evidence expression raised ``error``: a
    ``NameError`` means the answer's variable is missing) or :data:`SAVE` (writing it raised).
    """
    bound = _bound_now()

    def problem(name: str, stage: str, error: BaseException) -> Entry:
        if stage == bound.GET and bound.isinstance(error, bound.NameError):
            missing = bound.getattr(error, "name", None) or name
            return {"kind": bound.MISSING_NAME, "name": bound.str(missing)[:bound.MAX_TEXT["name"]]}
        return {"kind": bound.CAPTURE_ERROR, "stage": stage,
                "error": bound.type(error).__name__[:bound.MAX_TEXT["error"]],
                "message": bound.str(error)[:bound.MAX_TEXT["message"]]}

    return problem


def make_manifest_writer() -> Callable[[str, str, dict[str, Entry]], None]:
    """Return ``write_manifest(folder, exercise_id, entries)``, bound now: the folder's :data:`MANIFEST`."""
    bound = _bound_now()

    def write_manifest(folder: str, exercise_id: str, entries: dict[str, Entry]) -> None:
        with bound.open(bound.join(folder, bound.MANIFEST), "w", encoding="utf-8") as handle:
            handle.write(bound.dumps({"exercise": exercise_id, "evidence": entries}))

    return write_manifest


def export_evidence(value: object, folder: Path, name: str) -> Entry:
    """Write ``value`` under ``folder`` and return the manifest entry that loads it."""
    folder.mkdir(parents=True, exist_ok=True)
    return make_exporter()(value, folder, name)


def _bound_now() -> SimpleNamespace:
    """Every function, type, kind and limit the writer uses, looked up at this moment.

    A ``SimpleNamespace`` is a built-in type: nothing can be patched on its class, so
    ``bound.save_model`` is the function found now, whatever the learner changes later.
    """
    import builtins
    import os

    import keras

    return SimpleNamespace(
        save_model=keras.saving.save_model, Layer=keras.layers.Layer,
        ndarray=np.ndarray, generic=np.generic, asarray=np.asarray, np_save=np.save,
        dumps=json.dumps, loads=json.loads, join=os.path.join, open=builtins.open,
        catch_warnings=warnings.catch_warnings, simplefilter=warnings.simplefilter,
        describe=describe, nature=nature, NotDone=NotDone,
        isinstance=builtins.isinstance, hasattr=builtins.hasattr, getattr=builtins.getattr,
        type=builtins.type, str=builtins.str, len=builtins.len, all=builtins.all, enumerate=builtins.enumerate,
        list=builtins.list, tuple=builtins.tuple, dict=builtins.dict,
        BaseException=builtins.BaseException, OSError=builtins.OSError, NameError=builtins.NameError,
        plain_scalars=(builtins.bool, builtins.int, builtins.float, builtins.str, builtins.type(None)),
        MANIFEST=MANIFEST, KERAS=KERAS, ARRAY=ARRAY, JSON=JSON, NOT_DONE=NOT_DONE, UNEXPORTABLE=UNEXPORTABLE,
        TREE=TREE, MISSING_NAME=MISSING_NAME, CAPTURE_ERROR=CAPTURE_ERROR, GET=GET,
        FILE_SUFFIXES=dict(FILE_SUFFIXES), MAX_TEXT=dict(MAX_TEXT), MAX_JSON_CHARS=MAX_JSON_CHARS,
        MAX_TREE_DEPTH=MAX_TREE_DEPTH, MAX_TREE_ITEMS=MAX_TREE_ITEMS, MAX_KEY_CHARS=MAX_KEY_CHARS,
    )


def _unexportable_entry(bound: SimpleNamespace) -> Callable[..., Entry]:
    """``unexportable(value, why="")``: what a value that cannot travel was, so its hint survives."""
    limit = bound.MAX_TEXT["description"]

    def described(value: Any) -> str:
        try:
            return bound.str(bound.describe(value))[:limit]
        except bound.BaseException:
            return "a value that could not be described"

    def unexportable(value: Any, why: str = "") -> Entry:
        try:
            kind = bound.nature(value)
        except bound.BaseException:
            kind = "other"
        return {"kind": bound.UNEXPORTABLE, "description": (described(value) + why)[:limit], "nature": kind}

    return unexportable


def _shape_rules(bound: SimpleNamespace) -> tuple[Callable[[Any, int], bool], Callable[[Any, int], bool]]:
    """``is_plain`` (one JSON value) and ``fits`` (no deeper or longer than the grader reads)."""
    containers = (bound.list, bound.tuple, bound.dict)

    def is_plain(value: Any, depth: int) -> bool:
        """Only JSON scalars, lists and string-keyed dicts (a tuple is not plain: it stays a tuple)."""
        if bound.isinstance(value, bound.plain_scalars):
            return True
        if depth > bound.MAX_TREE_DEPTH:
            return False
        if bound.type(value) is bound.list:
            return bound.all(is_plain(item, depth + 1) for item in value)
        if bound.type(value) is bound.dict:
            return bound.all(bound.isinstance(k, bound.str) and is_plain(v, depth + 1) for k, v in value.items())
        return False

    def fits(value: Any, depth: int) -> bool:
        """Containers no deeper and no longer than the grader reads (checked before writing anything)."""
        if not bound.isinstance(value, containers) or is_plain(value, depth):
            return True  # plain values travel as one JSON value, limited by its length
        if depth >= bound.MAX_TREE_DEPTH or bound.len(value) > bound.MAX_TREE_ITEMS:
            return False
        items = value.values() if bound.isinstance(value, bound.dict) else value
        return bound.all(fits(item, depth + 1) for item in items)

    return is_plain, fits


def _keras_writer(bound: SimpleNamespace, unexportable: Callable[..., Entry]) -> Callable[[Any, Any, str], Entry]:
    """``write_keras(layer_or_model, folder, name)``: a ``.keras`` file, or why it cannot be one."""
    suffix = bound.FILE_SUFFIXES[bound.KERAS]

    def write_keras(value: Any, folder: str | Path, name: str) -> Entry:
        try:
            with bound.catch_warnings():
                bound.simplefilter("ignore")  # an unbuilt layer is legitimate evidence: its check says so
                bound.save_model(value, bound.join(folder, name + suffix))
        except bound.OSError:  # the disk, not the value: nothing to say about the answer
            raise
        except bound.BaseException as error:  # a Lambda layer, an unserialisable custom class
            return unexportable(value, f" that cannot be saved ({bound.type(error).__name__})")
        return {"kind": bound.KERAS, "file": name + suffix}

    return write_keras


def _array_writer(bound: SimpleNamespace, unexportable: Callable[..., Entry]) -> tuple[Callable[[Any], bool], Callable[[Any, Any, str], Entry]]:
    """``is_array(value)`` (a NumPy array or an eager tensor) and ``write_array``: a ``.npy`` file."""
    suffix = bound.FILE_SUFFIXES[bound.ARRAY]

    def is_array(value: Any) -> bool:
        if bound.isinstance(value, bound.ndarray):
            return True
        return (bound.hasattr(value, "numpy") and bound.hasattr(value, "shape") and bound.hasattr(value, "dtype")
                and bound.type(value).__name__ != "KerasTensor")

    def write_array(value: Any, folder: str | Path, name: str) -> Entry:
        try:
            bound.np_save(bound.join(folder, name + suffix), bound.asarray(value), allow_pickle=False)
        except bound.OSError:
            raise
        except bound.BaseException:
            return unexportable(value)
        return {"kind": bound.ARRAY, "file": name + suffix}

    return is_array, write_array


def _numpy_scalar_reader(bound: SimpleNamespace, unexportable: Callable[..., Entry]) -> Callable[[Any], tuple[Any, Entry | None]]:
    """``plain_scalar(numpy_scalar) -> (plain value, None)``, or ``(None, entry)`` when it has no plain form."""

    def plain_scalar(value: Any) -> tuple[Any, Entry | None]:
        try:
            plain = value.item()
        except bound.BaseException:
            return None, unexportable(value)
        if not bound.isinstance(plain, bound.plain_scalars):  # complex, datetime, bytes
            return None, unexportable(plain)
        return plain, None

    return plain_scalar


def _tree_writer(bound: SimpleNamespace, unexportable: Callable[..., Entry]) -> Callable[..., Entry]:
    """``write_tree(container, folder, name, depth, export)``: each item an entry of its own."""

    def write_tree(value: Any, folder: str | Path, name: str, depth: int, export: Export) -> Entry:
        if bound.isinstance(value, bound.dict):
            keys = bound.list(value)
            if not bound.all(bound.isinstance(k, bound.str) and bound.len(k) <= bound.MAX_KEY_CHARS for k in keys):
                return unexportable(value, " whose keys are not all short strings")
            items = [value[k] for k in keys]
            kind = "dict"
        else:
            keys, items = None, bound.list(value)
            kind = "tuple" if bound.isinstance(value, bound.tuple) else "list"
        entries = [export(item, folder, f"{name}.{i}", depth + 1) for i, item in bound.enumerate(items)]
        entry = {"kind": bound.TREE, "type": kind, "items": entries}
        if keys is not None:
            entry["keys"] = keys
        return entry

    return write_tree


def _json_writer(bound: SimpleNamespace, unexportable: Callable[..., Entry]) -> Callable[[Any], Entry]:
    """``write_json(value)``: a plain value held in the manifest itself, or why it cannot be."""

    def write_json(value: Any) -> Entry:
        try:
            encoded = bound.dumps(value, allow_nan=True)
        except bound.BaseException:
            return unexportable(value)
        if bound.len(encoded) > bound.MAX_JSON_CHARS:
            return unexportable(value, " too large to grade")
        return {"kind": bound.JSON, "value": bound.loads(encoded)}

    return write_json


# --- The rules an entry read back must obey ----------------------------------------------------


def validate_manifest(manifest: Any, exercise: str, names: tuple[str, ...]) -> dict[str, Entry]:
    """Entries for exactly the evidence names of ``exercise``; anything else is refused."""
    if not isinstance(manifest, dict) or manifest.get("exercise") != exercise:
        raise ManifestError(f"the manifest is not the one of exercise {exercise}")
    evidence = manifest.get("evidence")
    if not isinstance(evidence, dict) or set(evidence) != set(names):
        raise ManifestError(f"the manifest does not list exactly the evidence {list(names)}")
    return {name: validate_entry(name, evidence[name]) for name in names}


def validate_entry(name: str, entry: Any, depth: int = 0) -> Entry:
    """A clean copy of one manifest entry, or :class:`ManifestError`.

    Known kinds only; file names exactly ``<name>.keras`` / ``<name>.npy`` (no paths, no
    ``..``); text fields strings, cut to the writer's limits; plain JSON values and trees
    nested no deeper than the writer ever writes. Items of a ``tree`` are entries
    themselves, named ``<name>.<i>``.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
        raise ManifestError(f"entry {name!r} is not a manifest entry")
    kind = entry["kind"]
    if kind in FILE_SUFFIXES:
        expected = name + FILE_SUFFIXES[kind]
        if entry.get("file") != expected:
            raise ManifestError(f"entry {name!r} names file {_text(entry.get('file'), '?', 80)!r}, not {expected!r}")
        return {"kind": kind, "file": expected}
    if kind == JSON:
        return _validate_json(name, entry, depth)
    if kind == TREE:
        return _validate_tree(name, entry, depth)
    if kind in _TEXT_ENTRIES:
        return _TEXT_ENTRIES[kind](name, entry)
    raise ManifestError(f"entry {name!r} has unknown kind {kind[:40]!r}")


def _validate_json(name: str, entry: Entry, depth: int) -> Entry:
    if "value" not in entry:
        raise ManifestError(f"entry {name!r} has no value")
    if _nesting(entry["value"]) > MAX_JSON_NESTING - depth:
        raise ManifestError(f"entry {name!r} holds a value nested too deeply")
    return {"kind": JSON, "value": entry["value"]}


def _validate_tree(name: str, entry: Entry, depth: int) -> Entry:
    items, kind = entry.get("items"), entry.get("type")
    if depth >= MAX_TREE_DEPTH or kind not in TREE_TYPES or not isinstance(items, list) or len(items) > MAX_TREE_ITEMS:
        raise ManifestError(f"entry {name!r} is not a list, tuple or dict the grader reads")
    clean: Entry = {"kind": TREE, "type": kind,
                    "items": [validate_entry(f"{name}.{i}", item, depth + 1) for i, item in enumerate(items)]}
    if any(item["kind"] in PROBLEM_KINDS for item in clean["items"]):
        raise ManifestError(f"entry {name!r} holds an item that is not evidence")
    if kind == "dict":
        keys = entry.get("keys")
        if (not isinstance(keys, list) or len(keys) != len(items)
                or not all(isinstance(k, str) and len(k) <= MAX_KEY_CHARS for k in keys) or len(set(keys)) != len(keys)):
            raise ManifestError(f"entry {name!r} has keys the grader does not read")
        clean["keys"] = list(keys)
    return clean


def _text(value: Any, default: str, limit: int) -> str:
    """A text field of the manifest, cut to ``limit``; anything but a string is ``default``."""
    return value[:limit] if isinstance(value, str) else default


def _nesting(value: Any) -> int:
    """How many lists/dicts deep a parsed JSON value goes, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _not_done(name: str, entry: Entry) -> Entry:
    return {"kind": NOT_DONE, "exercise": _text(entry.get("exercise"), "", MAX_TEXT["exercise"])}


def _unexportable(name: str, entry: Entry) -> Entry:
    found = entry.get("nature")
    return {"kind": UNEXPORTABLE, "description": _text(entry.get("description"), "a value", MAX_TEXT["description"]),
            "nature": found if isinstance(found, str) and found in Unexportable.NATURES else "other"}


def _missing_name(name: str, entry: Entry) -> Entry:
    return {"kind": MISSING_NAME, "name": _text(entry.get("name"), name, MAX_TEXT["name"])}


def _capture_error(name: str, entry: Entry) -> Entry:
    clean = {"kind": CAPTURE_ERROR, "error": _text(entry.get("error"), "Exception", MAX_TEXT["error"]),
             "message": _text(entry.get("message"), "", MAX_TEXT["message"])}
    if entry.get("stage") in (GET, SAVE):
        clean["stage"] = entry["stage"]
    return clean


_TEXT_ENTRIES: dict[str, Callable[[str, Entry], Entry]] = {
    NOT_DONE: _not_done, UNEXPORTABLE: _unexportable, MISSING_NAME: _missing_name, CAPTURE_ERROR: _capture_error,
}


def entry_files(entry: Entry) -> list[str]:
    """Every file a (validated) manifest entry refers to, nested entries included."""
    if entry.get("kind") == TREE:
        return [name for item in entry["items"] for name in entry_files(item)]
    return [entry["file"]] if "file" in entry else []


# --- Reading ---------------------------------------------------------------------------------

_UNKNOWN_CLASS = re.compile(r"Could not locate class '([^']{1,80})'")


def load_evidence(entry: Entry, folder: Path) -> object:
    """Inverse of :func:`export_evidence`; Keras files load in safe mode, arrays without pickle."""
    kind = entry["kind"]
    if kind == NOT_DONE:
        return NotDone(entry["exercise"])
    if kind == KERAS:
        return _load_keras(folder / entry["file"])
    if kind == ARRAY:
        return np.load(folder / entry["file"], allow_pickle=False)
    if kind == JSON:
        return entry["value"]
    if kind == UNEXPORTABLE:
        return Unexportable(entry["description"], entry.get("nature", "other"))
    if kind == TREE:
        items = [load_evidence(item, folder) for item in entry["items"]]
        if entry["type"] == "dict":
            return dict(zip(entry["keys"], items))
        return tuple(items) if entry["type"] == "tuple" else items
    raise ValueError(f"unknown evidence kind {kind!r}")


def _load_keras(path: Path) -> object:
    """The model or layer in ``path``, or what stopped Keras from rebuilding it, said for the learner.

    Only an error that names a ``Lambda`` layer is blamed on one; a class Keras cannot
    locate is the learner's own; anything else quotes Keras, since a model can save and
    still fail to load (Keras 3.15: a layer called directly and inside a nested model).
    """
    import keras

    try:
        loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # custom classes, lambdas, models Keras cannot rebuild
        text = " ".join(str(error).split())
        quoted = f"{type(error).__name__}: {text[:160]}"
        own_class = _UNKNOWN_CLASS.search(text)
        if own_class:
            return Unexportable(
                f"an object of your own class {own_class.group(1)!r} (subclassed), which the grader "
                "cannot rebuild without running your code",
                "subclassed",
            )
        if "Lambda" in text:
            return Unexportable(
                f"a model with a Lambda layer, which safe mode refuses to rebuild ({quoted}); use built-in "
                "layers or keras.ops on the tensors instead of a Lambda", "unloadable",
            )
        return Unexportable(
            f"a saved model that Keras cannot load back ({quoted}); it saved, but Keras does not rebuild it. "
            "Build it from built-in layers with the functional or Sequential API, each layer called in one "
            "graph (not both directly and through a nested model that contains it)", "unloadable",
        )
    object.__setattr__(loaded, COMPILE_SETTINGS, _compile_config(path))  # past Keras' attribute tracking
    return loaded


COMPILE_SETTINGS = "_coursetools_compile_config"


def _compile_config(path: Path) -> dict[str, Any] | None:
    """How the model was compiled (optimizer, loss, ...), as Keras wrote it into the ``.keras`` file.

    Loading with ``compile=False`` (no optimizer objects are rebuilt in the clean process)
    drops it from the model; the file is a zip whose ``config.json`` says it in plain JSON.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    settings = config.get("compile_config") if isinstance(config, dict) else None
    return settings if isinstance(settings, dict) and settings else None


def compile_settings(model: object) -> dict[str, Any] | None:
    """The compile settings a model's ``.keras`` file carried (None: never compiled, or not loaded from a file)."""
    return getattr(model, COMPILE_SETTINGS, None)


def as_graded(evidence: dict[str, object]) -> dict[str, object]:
    """The evidence exactly as the grader's clean process will see it: exported, then loaded.

    The check cell judges this, not the live objects, so a learner's notebook and the
    instructor's grading always agree on the verdict.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="evidence-") as folder:
        export = make_exporter()
        return {name: load_evidence(export(value, folder, name), Path(folder)) for name, value in evidence.items()}
