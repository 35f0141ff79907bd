"""Lesson 10: Branches, routing and your own training step.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson10 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson10.given import given_loop_model, skip_batches, two_regimes, zigzag
from coursetools.lessons.lesson10.tools import probe_inception_blocks

LESSON = Lesson(
    number=10,
    slug="branches_routing_training",
    title="Branches, routing and your own training step",
    covers="Inception blocks and what 1×1 reductions save, soft routing (a gated mixture of experts), hard routing "
    "with `keras.ops.cond`, what can be decided while building, `train_step` and `tf.GradientTape` loops, "
    "the complete which-API guide",
    minutes=45,
    exercise_minutes=45,
)

__all__ = ["LESSON", "given_loop_model", "probe_inception_blocks", "skip_batches", "two_regimes", "zigzag"]

