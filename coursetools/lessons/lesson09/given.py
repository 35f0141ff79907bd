"""Lesson 9's data and given models: the recall task, and what its exercises hand over.

**The recall task.** Each sequence holds 20 steps of a (letter, digit) pair, such as
``K4``, each letter at most once, then a question step holding only a letter, ``K?``.
The answer is the digit stored with that letter. One step is 37 numbers: a one-hot
letter (26), a one-hot digit (10) and a question flag (1). The answer sits in one step
that can be anywhere among the 20: a recurrent network has to keep every pair until it
sees the question; attention lets the question look the pair up.

Everything is NumPy with fixed seeds: the lesson trains on ``recall_task(2048, seed=0)``
and validates on ``seed=1``; exercises train on their own seeds, and checks probe with
seeds no notebook uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PAIRS = 20  # (letter, digit) steps before the question
STEPS = PAIRS + 1  # a sequence's length, question included
FEATURES = len(LETTERS) + 10 + 1  # one-hot letter, one-hot digit, question flag
QUESTION_FLAG = FEATURES - 1


@dataclass(frozen=True)
class Recall:
    """A batch of recall sequences: inputs, answers, and what a picture needs to label them.

    ``x`` (n, 21, 37) float32; ``y`` (n,) the answer digits; ``where`` (n,) the step that
    holds the question's letter; ``letters`` and ``digits`` (n, 20) the pairs as numbers;
    ``question_first``: the question is step 0 (the pairs are steps 1 to 20), not step 20.
    """

    x: np.ndarray
    y: np.ndarray
    where: np.ndarray
    letters: np.ndarray
    digits: np.ndarray
    question_first: bool = False

    @property
    def question_step(self) -> int:
        return 0 if self.question_first else PAIRS

    def labels(self, index: int) -> list[str]:
        """What each step of sequence ``index`` holds, as a reader would write it: ``["K4", ..., "Q?"]``."""
        pairs = [f"{LETTERS[k]}{d}" for k, d in zip(self.letters[index], self.digits[index])]
        question = f"{LETTERS[self.letters[index, self.where[index]]]}?"
        return [question, *pairs] if self.question_first else [*pairs, question]


def recall_task(n: int, seed: int, *, question_first: bool = False) -> Recall:
    """``n`` recall sequences made from ``seed`` (the same ones on every machine).

    ``question_first=True`` puts the question step first (exercise 9.2): then the pairs
    are steps 1 to 20 and ``where`` counts among the pairs (0 to 19).
    """
    rng = np.random.default_rng(seed)
    letters = np.argsort(rng.random((n, len(LETTERS))), axis=1)[:, :PAIRS]  # 20 different letters per sequence
    digits = rng.integers(0, 10, size=(n, PAIRS))
    where = rng.integers(0, PAIRS, size=n)
    rows, steps = np.arange(n)[:, None], np.arange(PAIRS)[None, :]
    x = np.zeros((n, STEPS, FEATURES), dtype="float32")
    x[rows, steps, letters] = 1.0
    x[rows, steps, len(LETTERS) + digits] = 1.0
    x[np.arange(n), PAIRS, letters[np.arange(n), where]] = 1.0
    x[np.arange(n), PAIRS, QUESTION_FLAG] = 1.0
    if question_first:
        x = np.concatenate([x[:, PAIRS:], x[:, :PAIRS]], axis=1)
    y = digits[np.arange(n), where].astype("int64")
    return Recall(x, y, where.astype("int64"), letters.astype("int64"), digits.astype("int64"), question_first)


def show_sequence(data: Recall, index: int = 0) -> str:
    """One sequence as text: ``"N8 P0 Z0 ... H2 K4 | K?"`` (the question set apart)."""
    labels = data.labels(index)
    if data.question_first:
        return f"{labels[0]} | {' '.join(labels[1:])}"
    return f"{' '.join(labels[:-1])} | {labels[-1]}"


# --- Exercise 9.3: a trained attention model, to read ---------------------------------------

LOOKUP_TRAIN_SEED = 3  # the given model's training sequences
PICTURE_SEED = 33  # the five sequences exercise 9.3 asks about
PICTURE_COUNT = 5


def lookup_model():
    """The lesson's attention model, untrained: the question step looks the pairs up.

    query = Dense(32) of the question step (the last one); key and value = Dense(32) of
    every step; ``layers.Attention(use_scale=True)`` called on ``[query, value, key]``
    *without* asking for its scores; then Dense(64, relu) and a softmax over 10 digits.
    """
    import keras
    from keras import layers

    sequence = keras.Input(shape=(STEPS, FEATURES), name="sequence")
    question = layers.Cropping1D((PAIRS, 0), name="question_step")(sequence)
    query = layers.Dense(32, name="query")(question)
    key = layers.Dense(32, name="key")(sequence)
    value = layers.Dense(32, name="value")(sequence)
    context = layers.Attention(use_scale=True, name="attention")([query, value, key])
    hidden = layers.Dense(64, activation="relu", name="hidden")(layers.Flatten(name="flatten")(context))
    digit = layers.Dense(10, activation="softmax", name="digit")(hidden)
    return keras.Model(sequence, digit, name="lookup")


def given_lookup_model():
    """Exercise 9.3: :func:`lookup_model` trained for 2 epochs on 2048 sequences (about a second)."""
    import keras

    keras.utils.set_random_seed(LOOKUP_TRAIN_SEED)
    model = lookup_model()
    data = recall_task(2048, seed=LOOKUP_TRAIN_SEED)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(data.x, data.y, epochs=2, batch_size=32, verbose=0)
    return model


def picture_sequences() -> Recall:
    """The five sequences exercise 9.3 asks about."""
    return recall_task(PICTURE_COUNT, seed=PICTURE_SEED)


# --- Exercise 9.5: a Transformer block with a bug ---------------------------------------------

BLOCK_STEPS, BLOCK_WIDTH = 6, 8  # exercise 9.5's input: 6 steps of 8 features


def given_broken_block():
    """Exercise 9.5's block as handed over: the first residual bypasses the normalisation.

    The exercise shows this code as text (a test keeps the two equal).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(6, 8))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(inputs, inputs)
    h = layers.Add()([inputs, layers.LayerNormalization(name="ln1")(attended)])
    f = layers.Dense(16, activation="relu", name="ff1")(h)
    f = layers.Dense(8, name="ff2")(f)
    outputs = layers.LayerNormalization(name="ln2")(layers.Add()([h, f]))
    return keras.Model(inputs, outputs, name="broken_block")
