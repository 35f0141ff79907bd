"""Course-side helpers of lesson 9, used in its notebooks.

:func:`draw_attention` draws attention scores over recall sequences: one row per
sequence, one cell per step labelled with what the step holds (``K4``), shaded by the
weight the question gave it, with a box around the step that holds the question's
letter. A learner reads at a glance which step the model looked at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coursetools.lessons.lesson09.given import LETTERS, PAIRS, STEPS, Recall


def draw_attention(scores: np.ndarray, data: Recall, indices: Sequence[int], *,
                   predicted: Sequence[int] | None = None, title: str | None = None,
                   row_names: Sequence[str] | None = None) -> None:
    """Attention weights of the question step, one row per sequence ``data[indices[r]]``.

    ``scores`` has one row per entry of ``indices`` and one column per step the question
    looked at: all 21 steps (the question included) or only the 20 pairs.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    scores = np.asarray(scores, dtype="float64")
    if scores.ndim != 2 or len(scores) != len(indices) or scores.shape[1] not in (PAIRS, STEPS):
        raise ValueError(f"scores must have shape ({len(indices)}, {STEPS} or {PAIRS}); got {scores.shape}")
    columns = scores.shape[1]
    first_pair = 1 if data.question_first else 0
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(indices) + 1.3))
    image = ax.imshow(scores, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    names = []
    for row, index in enumerate(indices):
        labels = data.labels(index)
        if columns == PAIRS:  # only the pairs were looked at
            labels = labels[first_pair:first_pair + PAIRS]
            target = int(data.where[index])
        else:
            target = int(data.where[index]) + first_pair
        for column, label in enumerate(labels):
            ax.text(column, row, label, ha="center", va="center", fontsize=9,
                    color="white" if scores[row, column] > 0.55 else "black",
                    fontweight="bold" if column == target else "normal")
        ax.add_patch(Rectangle((target - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="crimson", linewidth=2))
        letter = LETTERS[data.letters[index, data.where[index]]]
        name = f"{letter}?  answer {data.y[index]}"
        if predicted is not None:
            name += f", model {int(predicted[row])}"
        names.append(name)
    ax.set_yticks(range(len(indices)), row_names if row_names is not None else names, fontsize=9)
    if columns == STEPS:
        ticks = [str(t) for t in range(STEPS)]
        ticks[data.question_step] = "question"
    else:
        ticks = [str(t + first_pair) for t in range(PAIRS)]
    ax.set_xticks(range(columns), ticks, fontsize=8)
    ax.set_xlabel("step (each cell: what the step holds; red box: the step with the question's letter)")
    if title:
        ax.set_title(title, fontsize=11)
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label("attention weight")
    fig.tight_layout()
    plt.show()
