"""Tooling for the Keras course: exercise checks, the exercise builder, grading helpers.

Importing the package first in a notebook quiets TensorFlow's C++ start-up logs
(see :mod:`coursetools.quiet_env`); nothing here imports TensorFlow at import time,
so the environment is in place before the notebook's own ``import keras``. In a
Jupyter kernel it also makes a check cell run before its answer cell say so in a card
instead of a bare ``NameError`` traceback (see :mod:`coursetools.run_order`).
"""

from coursetools.quiet_env import apply_quiet_env

apply_quiet_env()

from coursetools.placeholders import not_done  # noqa: E402
from coursetools.registry import check  # noqa: E402
from coursetools.run_order import install as _install_run_order_card  # noqa: E402

_install_run_order_card()

__all__ = ["check", "not_done"]
