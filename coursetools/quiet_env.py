"""Environment that keeps TensorFlow's start-up chatter out of notebook outputs.

TensorFlow 2.21 prints absl and oneDNN lines on the C++ side when it loads.
ipykernel forwards that low-level stderr into the notebook, where nbval's strict
comparison sees it as an extra output. Both variables must be set before
TensorFlow's shared library is loaded, i.e. before the first ``import keras``.

``TF_ENABLE_ONEDNN_OPTS=0`` also removes oneDNN's reordered floating-point sums,
which makes printed numbers agree more closely between CPUs.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

QUIET_TF_ENV: dict[str, str] = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


def apply_quiet_env(environ: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Set the quiet defaults in ``environ`` (``os.environ`` by default) unless already set."""
    target = os.environ if environ is None else environ
    for key, value in QUIET_TF_ENV.items():
        target.setdefault(key, value)
    return target
