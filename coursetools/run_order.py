"""A check cell run before its answer cell: a card saying "run the answer cell above first".

A check cell is exactly ``check("4.1", model=model, ...)``. Run before its answer cell
(or after a kernel restart), Python raises ``NameError: name 'model' is not defined``
while evaluating the arguments, before ``check`` itself runs, so no check can explain
it: a newcomer got a bare traceback instead of the course's card.

:func:`install` gives IPython a handler for ``NameError`` that looks at where the error
was raised. Only when that is the top level of a cell that is a single ``check(...)``
call and the missing name is one of the names its arguments use, the learner reads a
card in the look of :class:`coursetools.feedback.CheckFailed` in place of the traceback;
every other ``NameError`` gets IPython's usual traceback. Either way IPython still
records the error, so the cell counts as failed (JupyterLab's "Run All" stops there,
nbval and the grader see an error): only what the learner reads changes.
"""

from __future__ import annotations

import ast
import linecache
import re
import sys
from types import TracebackType
from typing import Any

from coursetools.feedback import CheckFailed, Mistake

_UNDEFINED = re.compile(r"name '([^']+)' is not defined")


def check_call_names(source: str) -> tuple[str, set[str]] | None:
    """``(exercise id, names its arguments use)`` when ``source`` is a single ``check("id", ...)`` call."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
            and len(call.args) == 1 and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)):
        return None
    names = {node.id for keyword in call.keywords for node in ast.walk(keyword.value) if isinstance(node, ast.Name)}
    return call.args[0].value, names


def missing_name(error: BaseException) -> str | None:
    """The name a ``NameError`` is about (its ``name`` attribute, else its message)."""
    name = getattr(error, "name", None)
    if isinstance(name, str):
        return name
    match = _UNDEFINED.search(str(error))
    return match.group(1) if match else None


def card_for(exercise_id: str, name: str) -> CheckFailed:
    """The card a check cell shows when its answer cell has not run in this kernel."""
    return CheckFailed(exercise_id, Mistake(
        "run the answer cell above first.",
        expected=f"`{name}`, made by running the answer cell above",
        found=f"no `{name}` yet: that cell has not run since the kernel started, or names it otherwise",
        hint="run the cells above this one (Run → Run All Above Selected Cell), then this one again",
    ))


def card_for_error(error: BaseException, tb: TracebackType | None) -> CheckFailed | None:
    """The card for a ``NameError`` raised at the top level of a check cell by one of its argument names, else None."""
    if not isinstance(error, NameError) or tb is None:
        return None
    while tb.tb_next is not None:  # where it was raised: the cell itself, not code the cell called
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if code.co_name != "<module>":
        return None
    found = check_call_names("".join(linecache.getlines(code.co_filename)))
    name = missing_name(error)
    if found is None or name is None or name not in found[1]:
        return None
    return card_for(found[0], name)


def _handler(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
             tb_offset: int | None = None) -> None:
    """IPython's custom exception handler: the card for a check run too early, else the usual traceback."""
    card = card_for_error(value, tb)
    if card is not None:
        value._render_traceback_ = card.lines  # what IPython shows in place of the traceback
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)


def install() -> bool:
    """Give the running IPython kernel the handler, if this is one; is it installed?

    Called when ``coursetools`` is imported, which every notebook does first. Outside
    IPython (the grader's verdict process, scripts, tests) nothing happens, and IPython
    is never imported for it.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((NameError,), _handler)
    return True
