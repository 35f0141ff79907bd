"""Which checks belong to which exercise, and the ``check()`` call of check cells.

A check is a function of plain evidence (a Keras model or layer, an array, a
number, a dict), never of a notebook's namespace. That keeps one check usable in
two places: in the learner's kernel for instant feedback, and in a separate clean
process that grades evidence exported from a submission.

One decorator declares every check, the way otter's ``test_case(hidden=...)`` does::

    @exercise("1.2", "Compute a Dense layer by hand")          # in lessonNN/checks.py
    def dense_by_hand(y_by_hand): ...

    @exercise("1.2", hidden=True, hint="ReLU is never negative")  # in lessonNN/hidden.py
    def relu_output_is_never_negative(y_by_hand): ...

A visible check has a title and says what is wrong; a hidden check runs only in the
grader's verdict process, after the visible one passed, and the learner reads only
its hint. Checks are found by lesson folder (:mod:`coursetools.lessons`): each
lesson's ``checks`` module, and its ``hidden`` module where one exists (never released).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from coursetools.feedback import CheckFailed, Mistake, passed_line
from coursetools.placeholders import is_not_done

CheckFunction = Callable[..., str]


@dataclass(frozen=True)
class Exercise:
    """One auto-graded exercise: its id, title, check and evidence names.

    ``reports`` names the evidence that is a learner's *class*: for each, the reporter
    factory (``"module:function"``) whose report the check judges instead of the class
    (see :mod:`coursetools.class_runner`).
    """

    id: str
    title: str
    check: CheckFunction
    evidence: tuple[str, ...]
    reports: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HiddenCheck:
    """An instructor-only condition of an exercise: what the learner is told, and the check."""

    exercise: str
    hint: str
    name: str  # for the instructor's log only
    check: Callable[..., object]
    evidence: tuple[str, ...]


_EXERCISES: dict[str, Exercise] = {}
_HIDDEN: dict[str, list[HiddenCheck]] = {}
_LOADED: set[str] = set()  # "checks", "hidden": which modules of every lesson are imported


def _require_own_lesson(exercise_id: str, module: str) -> None:
    """A lesson declares only its own exercises ("4.x" in lesson04), so ids never collide."""
    from coursetools.lessons import lesson_number

    number = lesson_number(module)
    if number is not None and exercise_id.partition(".")[0] != str(number):
        raise ValueError(f"{module} declares exercise {exercise_id}, which is not one of lesson {number}'s")


def exercise(exercise_id: str, title: str = "", *, hidden: bool = False, hint: str = "",
             reports: dict[str, str] | None = None) -> Callable[[CheckFunction], CheckFunction]:
    """Register ``fn`` as a check of ``exercise_id``; its parameters name the evidence it takes.

    Visible (the default): ``title`` names the exercise, one check per exercise.
    ``hidden=True``: any number per exercise, each with a ``hint``, the only thing the
    learner reads when it fails (so the feedback does not reveal what is tested).
    ``reports={"FeatureScale": "coursetools.lessons.lesson07.tools:make_layer_reporter"}``:
    that evidence is a learner's class; the check receives the report the factory's
    reporter makes on it in a fresh process, from the answer's definitions only.
    """
    if hidden and not hint.strip():
        raise ValueError("a hidden check needs a hint: it is the learner's only feedback")
    if not hidden and not title.strip():
        raise ValueError(f"exercise {exercise_id} needs a title")

    def register(fn: CheckFunction) -> CheckFunction:
        _require_own_lesson(exercise_id, fn.__module__)
        names = tuple(inspect.signature(fn).parameters)
        if hidden:
            name = f"{fn.__module__}.{fn.__qualname__}"
            _HIDDEN.setdefault(exercise_id, []).append(HiddenCheck(exercise_id, hint, name, fn, names))
        elif exercise_id in _EXERCISES:
            raise ValueError(f"exercise {exercise_id} has two checks")
        elif set(reports or {}) - set(names):
            raise ValueError(f"exercise {exercise_id}: reports name evidence its check does not take")
        else:
            _EXERCISES[exercise_id] = Exercise(exercise_id, title, fn, names, dict(reports or {}))
        return fn

    return register


def _load(kind: str) -> None:
    """Import the ``kind`` module ("checks" or "hidden") of every lesson, once; a lesson may have no hidden one."""
    if kind in _LOADED:
        return
    from coursetools.lessons import lesson_packages

    for package in lesson_packages():
        try:
            importlib.import_module(f"{package}.{kind}")
        except ModuleNotFoundError as error:
            # Hidden checks are optional, and never released: their absence is normal.
            if kind != "hidden" or error.name != f"{package}.{kind}":
                raise
    _LOADED.add(kind)


def get_exercise(exercise_id: str) -> Exercise:
    _load("checks")
    try:
        return _EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; known: {sorted(_EXERCISES)}") from None


def all_exercises() -> dict[str, Exercise]:
    _load("checks")
    return dict(_EXERCISES)


def hidden_checks() -> dict[str, list[HiddenCheck]]:
    """Every hidden check, by exercise (none in a release: the modules are not there)."""
    _load("checks")
    _load("hidden")
    return {ex: list(checks) for ex, checks in _HIDDEN.items()}


def hidden_checks_for(exercise_id: str) -> list[HiddenCheck]:
    return hidden_checks().get(exercise_id, [])


def run_check(exercise_id: str, **evidence: object) -> str:
    """Judge the evidence; return the success line or raise :class:`CheckFailed`."""
    ex = get_exercise(exercise_id)
    if set(evidence) != set(ex.evidence):
        # A course bug, not a learner mistake: the check cell and the check disagree.
        raise TypeError(
            f"check {exercise_id} takes evidence {list(ex.evidence)}, got {sorted(evidence)}"
        )
    for value in evidence.values():
        if is_not_done(value):
            raise CheckFailed(
                exercise_id,
                Mistake(
                    "not done yet.",
                    expected="your own code in the answer cell above",
                    found=f'the placeholder not_done("{exercise_id}")',
                    hint="replace the placeholder with your code, run that cell, then run this one.",
                ),
            )
    try:
        detail = ex.check(**evidence)
    except Mistake as mistake:
        raise CheckFailed(exercise_id, mistake) from None
    return passed_line(exercise_id, detail)


def run_check_as_graded(exercise_id: str, **evidence: object) -> str:
    """Judge the evidence after the grader's round trip (export, then load in safe mode).

    This is the one path to a verdict: the learner's check cell and the instructor's
    grading judge the very same values, so an answer never passes in the notebook and
    fails in ``grade`` (a NumPy scalar, a per-variable ``trainable`` flag that saving
    drops, a Lambda layer that safe mode refuses), or the other way round. A learner's
    class is reported on first, in a fresh process, as the grader does it.
    """
    from coursetools.class_runner import report_in_fresh_process
    from coursetools.evidence import as_graded

    ex = get_exercise(exercise_id)
    reported = {name: report_in_fresh_process(value, exercise_id, name, ex.reports[name]) if name in ex.reports
                else value for name, value in evidence.items()}
    return run_check(exercise_id, **as_graded(reported))


def lesson_has_class_checks(exercise_id: str) -> bool:
    """Does the lesson of ``exercise_id`` (``"10.1"`` -> lesson 10) have an exercise whose answer is a class?"""
    lesson = exercise_id.split(".")[0]
    return any(ex.reports for eid, ex in all_exercises().items() if eid.split(".")[0] == lesson)


def check(exercise_id: str, **evidence: object) -> None:
    """What a check cell calls: prints one ✅ line, or raises a short feedback card.

    In a lesson with class checks, the first check cell run starts the process the next
    class check will use, so that its TensorFlow import overlaps the learner's work (see
    :func:`coursetools.class_runner.prewarm_in_notebook`). Not earlier: a lesson
    notebook, or an exercise notebook only opened, keeps no idle process of 600 MB.
    """
    if lesson_has_class_checks(exercise_id):
        from coursetools.class_runner import prewarm_in_notebook

        prewarm_in_notebook()
    print(run_check_as_graded(exercise_id, **evidence))
