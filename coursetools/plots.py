"""Pictures lessons draw again and again: training curves and rows of digits.

Lessons keep the plotting code they teach inline; what is only a picture of a
result (how the loss fell, which digits a model got right) comes from here, so
every lesson draws it the same way and a notebook cell stays one idea long.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    """``model.fit(...)``'s return value, or its ``.history`` dict."""
    return getattr(history, "history", history)


def plot_curves(
    histories: Mapping[str, Any],
    metrics: Sequence[str] = ("loss",),
    *,
    title: str | None = None,
    log_scale: bool = False,
) -> None:
    """One panel per metric, one line per run: e.g. ``{"plain": h1, "residual": h2}``.

    Validation curves (``val_<metric>``) are drawn dashed when the history has them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for (label, history), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
            values = _history_dict(history)
            epochs = np.arange(1, len(values[metric]) + 1)
            ax.plot(epochs, values[metric], "-", color=color, label=label)
            if f"val_{metric}" in values:
                ax.plot(epochs, values[f"val_{metric}"], "--", color=color, label=f"{label} (validation)")
        ax.set(title=metric, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no tick at 1.5
        if log_scale:
            ax.set_yscale("log")
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def show_digits(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, *, rows: int = 1,
                title: str | None = None) -> None:
    """A grid of 8x8 digit images (any image shape works), each with an optional title."""
    import matplotlib.pyplot as plt

    images = [np.asarray(image).reshape(np.asarray(image).shape[:2]) if np.asarray(image).ndim == 3
              else np.asarray(image) for image in images]
    images = [image.reshape(8, 8) if image.ndim == 1 and image.size == 64 else image for image in images]
    columns = max(1, -(-len(images) // rows))
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=max(1.0, float(np.max(image))))
        if titles is not None:
            ax.set_title(titles[index], fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
