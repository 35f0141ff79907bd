"""Tooling for the Keras course: exercise checks, the exercise builder, grading helpers.

Importing the package first in a notebook quiets TensorFlow's C++ start-up logs
(see :mod:`coursetools.quiet_env`); nothing here imports TensorFlow at import time,
so the environment is in place before the notebook's own ``import keras``.
"""

from coursetools.quiet_env import apply_quiet_env

apply_quiet_env()

from coursetools.placeholders import not_done  # noqa: E402
from coursetools.registry import check  # noqa: E402

__all__ = ["check", "not_done"]
