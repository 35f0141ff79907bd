"""Model diagrams that fail loudly: ``keras.utils.plot_model`` with a clear message.

Inside IPython, ``plot_model`` only prints a note and returns ``None`` when pydot or
Graphviz's ``dot`` program is missing, so a notebook would "pass" without its
diagram. :func:`draw_model` says in one line what is missing and how to install it,
and keeps the picture out of the working folder (no stray ``model.png``).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

INSTALL_HINT = "Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz"


def missing_graphviz() -> str | None:
    """What keeps diagrams from being drawn, or ``None`` when everything is there."""
    if importlib.util.find_spec("pydot") is None:
        return "the pydot package is not installed (pip install pydot)"
    if shutil.which("dot") is None:
        return f"Graphviz's `dot` program is not installed ({INSTALL_HINT})"
    return None


def draw_model(model: Any, **options: Any) -> Any:
    """Return the diagram of ``model`` as an IPython image (shapes shown by default)."""
    problem = missing_graphviz()
    if problem is not None:
        print(f"No diagram: {problem}.")
        return None
    import keras
    from IPython.display import Image

    options.setdefault("show_shapes", True)
    options.setdefault("dpi", 72)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.png"
        keras.utils.plot_model(model, to_file=str(path), **options)
        return Image(data=path.read_bytes())
