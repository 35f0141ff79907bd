"""``python -m coursetools new-lesson NN "Title"``: everything a new lesson needs, already passing its tests.

It writes the lesson's folder (``coursetools/lessons/lessonNN/``: ``LESSON`` and three
example checks), their tests (correct variants and typical mistakes, through the
grader's round trip), a lesson notebook and a solution notebook with three example
exercises correctly marked up (a layer, a number, a model), executes both, builds
the exercise notebook and regenerates the lesson tables of README.md and START_HERE.md.
The examples are there to be replaced: they show every convention a real exercise
follows. The README's "Adding a lesson" section says what to do next.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools import schema


class ScaffoldError(RuntimeError):
    """The lesson cannot be created (it exists, or the arguments are unusable)."""


def slug_of(title: str) -> str:
    """``"Sequences and attention"`` -> ``"sequences_and_attention"``: the notebooks' name."""
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    if not slug:
        raise ScaffoldError(f"cannot make a file name from the title {title!r}; pass --slug")
    return slug


# --- What a new lesson's files say (str.format templates: {number}, {slug}, {title}) ---

_INIT_TEMPLATE = '''\
        """Lesson {number}: {title}.

        ``LESSON`` says what the lesson is; the names below are what its notebooks import
        (``from coursetools.lessons.lesson{number:02d} import ...``).
        """

        from coursetools.lessons import Lesson

        LESSON = Lesson(
            number={number},
            slug="{slug}",
            title="{title}",
            covers="what the lesson covers, in one line (README's table)",
            minutes=30,
            exercise_minutes=30,
        )

        __all__ = ["LESSON"]
'''

_CHECKS_TEMPLATE = '''\
        """Checks for lesson {number}. Each takes plain evidence and returns a success detail.

        Replace the examples (a layer, a number, a model): a check judges what the exercise
        asks (probe the answer with inputs the check chooses, compare with a reference
        computed here, never from the learner's own numbers), and names each typical
        mistake with a hint.
        """

        from __future__ import annotations

        import numpy as np

        from coursetools.expect import expect_int, expect_layer, expect_model
        from coursetools.feedback import Mistake
        from coursetools.probing import output_or_mistake
        from coursetools.registry import exercise


        @exercise("{number}.1", "Make a Dense layer of 4 units")
        def four_units(layer: object) -> str:
            layer = expect_layer(layer, "Dense", "`layer`")
            if layer.units != 4:
                raise Mistake(
                    "`layer` has the wrong number of units.",
                    expected="4 units",
                    found=f"{{layer.units}} units",
                    hint="the first argument of layers.Dense is the number of units",
                )
            return "a Dense layer of 4 units"


        @exercise("{number}.2", "Count the parameters of a Dense layer")
        def count_parameters(n_params: object) -> str:
            n_params = expect_int(n_params, "`n_params`")
            if n_params == 3 * 4:
                raise Mistake("`n_params` counts the kernel only.", expected="16", found="12",
                              hint="each unit also has a bias: add 4")
            if n_params != 3 * 4 + 4:
                raise Mistake("`n_params` is not the number of parameters.", expected="16", found=str(n_params),
                              hint="a Dense layer has inputs x units weights, plus one bias per unit")
            return "16 parameters (3 x 4 weights + 4 biases)"


        @exercise("{number}.3", "A model from 3 features to one number")
        def three_to_one(model: object) -> str:
            model = expect_model(model, "`model`")
            x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
            y = output_or_mistake(model, x, "`model`")
            if y.shape != (5, 1):
                raise Mistake("`model` gives the wrong number of outputs per sample.", expected="(5, 1) for 5 samples",
                              found=str(y.shape), hint="end with a Dense layer of 1 unit")
            return "3 features in, one number out"
'''

_TESTS_TEMPLATE = '''\
        """Lesson {number} checks: correct answers written differently pass; typical mistakes are named.

        Every assertion goes through the grader's round trip (saved, then loaded in safe mode),
        like the learner's check cell and ``grade``.
        """

        from __future__ import annotations

        import keras
        import pytest
        from keras import layers

        from check_helpers import assert_fails, assert_passes


        @pytest.mark.parametrize("layer", [layers.Dense(4), layers.Dense(units=4, activation="relu")])
        def test_{number}_1_accepts(layer):
            assert_passes("{number}.1", layer=layer)


        @pytest.mark.parametrize("layer, phrase", [
            (layers.Dense(3), "wrong number of units"),
            (layers.Conv2D(4, 3), "wrong kind of layer"),
        ])
        def test_{number}_1_names_the_mistake(layer, phrase):
            assert_fails("{number}.1", phrase, layer=layer)


        def test_{number}_2_accepts_the_count():
            assert_passes("{number}.2", n_params=3 * 4 + 4)


        @pytest.mark.parametrize("n_params, phrase", [(12, "kernel only"), (7, "not the number"), (16.0, "float")])
        def test_{number}_2_names_the_mistake(n_params, phrase):
            assert_fails("{number}.2", phrase, n_params=n_params)


        def functional():
            inputs = keras.Input(shape=(3,))
            return keras.Model(inputs, layers.Dense(1)(layers.Dense(8, activation="relu")(inputs)))


        @pytest.mark.parametrize("build", [
            lambda: keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)]),
            functional,
        ])
        def test_{number}_3_accepts(build):
            assert_passes("{number}.3", model=build())


        @pytest.mark.parametrize("build, phrase", [
            (lambda: keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)]), "wrong number of outputs"),
            (lambda: keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)]), "fails on a batch"),
            (lambda: layers.Dense(1), "not a keras model"),
        ])
        def test_{number}_3_names_the_mistake(build, phrase):
            assert_fails("{number}.3", phrase, model=build())
'''


def _package(number: int, slug: str, title: str) -> dict[str, str]:
    folder = f"coursetools/lessons/lesson{number:02d}"
    fields = {"number": number, "slug": slug, "title": title}
    return {f"{folder}/__init__.py": _INIT_TEMPLATE.format(**fields),
            f"{folder}/checks.py": _CHECKS_TEMPLATE.format(**fields)}


def _tests(number: int) -> str:
    return _TESTS_TEMPLATE.format(number=number)


def _kernelspec() -> dict:
    return {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}


def _lesson_notebook(number: int, title: str) -> object:
    return new_notebook(metadata=_kernelspec(), cells=[
        new_markdown_cell(f"# Lesson {number} — {title}\n\n**Goal:** what a learner can do after this lesson, "
                          "in one sentence."),
        new_code_cell("import coursetools  # first: it keeps TensorFlow's start-up messages out of the notebook\n"
                      "import keras\nfrom keras import layers\n\nkeras.utils.set_random_seed(0)"),
        new_markdown_cell("## 1. The first idea\n\nShort prose, then a small example that runs."),
        new_code_cell('layer = layers.Dense(4)\nprint(type(layer).__name__, layer.units)'),
        new_markdown_cell("## Summary\n\n- What to remember, one line each."),
    ])


def _exercise(exercise_id: str, heading: str, task: str, solution: str, check: str) -> list:
    """The three cells of an exercise: the task, the answer cell (a solution region), the check cell."""
    return [
        new_markdown_cell(f"## Exercise {exercise_id} — {heading}\n\n{task}"),
        new_code_cell(f"{schema.BEGIN_SOLUTION}\n{solution}\n{schema.END_SOLUTION}",
                      metadata={schema.EXERCISE_KEY: exercise_id, "tags": [schema.ANSWER_TAG]}),
        new_code_cell(f'check("{exercise_id}", {check})',
                      metadata={schema.EXERCISE_KEY: exercise_id, "tags": [schema.CHECK_TAG, schema.CHECK_OUTPUT_TAG]}),
    ]


def _solution_notebook(number: int, title: str) -> object:
    return new_notebook(metadata=_kernelspec(), cells=[
        new_markdown_cell(f"# Lesson {number} — Exercises: {title}\n\nEach exercise has an **answer cell**, where "
                          "you write code, and a **check cell** below it: run your answer, then the check."),
        new_code_cell("from coursetools import check, not_done  # first: it also quiets TensorFlow's start-up logs\n"
                      "import keras\nfrom keras import layers\n\nkeras.utils.set_random_seed(0)"),
        *_exercise(f"{number}.1", "Make a Dense layer of 4 units", "Assign to `layer` a `Dense` layer with 4 units.",
                   "layer = layers.Dense(4)", "layer=layer"),
        *_exercise(f"{number}.2", "Count the parameters of a Dense layer",
                   "How many parameters does `layers.Dense(4)` have once it is built for 3 input features? "
                   "Assign the number (an `int`) to `n_params`.", "n_params = 3 * 4 + 4", "n_params=n_params"),
        *_exercise(f"{number}.3", "A model from 3 features to one number",
                   "Assign to `model` a model that takes 3 features per sample and returns one number.",
                   "model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])", "model=model"),
    ])


def new_lesson(root: Path, number: int, title: str, slug: str | None = None, *, execute: bool = True) -> list[Path]:
    """Create lesson ``number`` in the course at ``root``; return the files written."""
    from coursetools.build import build_all
    from coursetools.lessons import Lesson

    if not 1 <= number <= 99:
        raise ScaffoldError("a lesson number is between 1 and 99")
    title = " ".join(title.split())
    if not title or '"' in title or "\\" in title:
        raise ScaffoldError("give a title without double quotes or backslashes")
    lesson = Lesson(number, slug or slug_of(title), title, "", 0, 0)
    files = {path: textwrap.dedent(text) for path, text in _package(number, lesson.slug, title).items()}
    files[f"tests/lessons/test_lesson{number:02d}.py"] = textwrap.dedent(_tests(number))
    notebooks = {lesson.lesson_notebook: _lesson_notebook(number, title),
                 lesson.solution_notebook: _solution_notebook(number, title)}
    taken = [p for p in [*files, *notebooks, lesson.exercise_notebook] if (root / p).exists()]
    if taken or (root / f"coursetools/lessons/lesson{number:02d}").exists():
        raise ScaffoldError(f"lesson {number} exists already: {', '.join(taken) or 'its folder'}")
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    for relative, nb in notebooks.items():
        nbformat.write(nb, root / relative)
    if execute:
        from coursetools.execute import refresh

        for relative in notebooks:
            refresh(root / relative)
    built = build_all(root / "solutions", root / "exercises", write=True)
    return [root / p for p in [*files, *notebooks]] + built
