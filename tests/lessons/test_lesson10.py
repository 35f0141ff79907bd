"""Lesson 10 checks: correct answers written differently pass; typical mistakes are named.

Every assertion goes through the grader's round trip (models saved as .keras and loaded
in safe mode), like the learner's check cell and ``grade``. The classes of 10.3 and 10.4
are reported on in this process (``tests/lessons/conftest.py``), from their source alone,
as the class runner does: they may use only ``np``, ``keras``, ``layers`` and ``ops``, and
import anything else inside their methods.
"""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

import keras
from keras import layers, ops

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson10.checks import (
    API_ANSWERS,
    LOOP_EPOCHS,
    LOOP_LEARNING_RATE,
    LOOP_SKIP_BELOW,
    MIXTURE_MAX_MSE,
    normalise_api,
    router_training_reference,
    train_step_reference,
    training_loop_reference,
)
from coursetools.lessons.lesson10.given import given_loop_model, router_data, skip_batches, two_regimes
from coursetools.lessons.lesson10.tools import (
    INCEPTION_CASES,
    REDUCE_ABOVE,
    ROUTER_LEARNING_RATE,
    STEP_LEARNING_RATE,
    make_router_reporter,
    make_step_reporter,
    probe_inception_blocks,
)
from coursetools.placeholders import not_done

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "10_solutions_branches_routing_training.ipynb"


@pytest.fixture(autouse=True)
def source_of_classes(monkeypatch):
    """The source the class runner gets for a class, as a notebook cell would hold it.

    A class of this module comes with the classes of this module it derives from (one
    cell that defines both); a class written as text (``step_class``) with its text.
    """
    import coursetools.class_runner as runner

    sources: dict[type, str] = {}
    original = runner.cell_source_of

    def cell_source_of(cls):
        if cls in sources:
            return sources[cls]
        if cls.__module__ == __name__:
            return "\n\n".join(inspect.getsource(c) for c in reversed(cls.__mro__) if c.__module__ == __name__)
        return original(cls)

    monkeypatch.setattr(runner, "cell_source_of", cell_source_of)
    return sources


# --- 10.1 an Inception block for any input width ------------------------------------------------


def inception(*, reduce_when="above", pool_strides=1, pool_projection=True, padding="same", order=(0, 1, 2),
              relu_reduce=True, concat="layer", activation_layers=False, pool="max", use_bias=True,
              batch_norm=False, widths=(8, 16, 8)):
    """An inception_block function with one deliberate variation (or none)."""
    f1, f3, fp = widths

    def conv(x, filters, size, relu=True, pad="same"):
        if activation_layers:
            y = layers.Conv2D(filters, size, padding=pad, use_bias=use_bias)(x)
            return layers.ReLU()(y) if relu else y
        return layers.Conv2D(filters, size, padding=pad, activation="relu" if relu else None, use_bias=use_bias)(x)

    def inception_block(x):
        one = conv(x, f1, 1)
        channels = x.shape[-1]
        reduce = {"above": channels > REDUCE_ABOVE, "always": True, "never": False,
                  "at_least": channels >= REDUCE_ABOVE}[reduce_when]
        narrow = conv(x, 4, (1, 1), relu=relu_reduce) if reduce else x
        three = conv(narrow, f3, 3, pad=padding)
        if batch_norm:
            three = layers.BatchNormalization()(three)
        pool_layer = layers.MaxPooling2D if pool == "max" else layers.AveragePooling2D
        pooled = pool_layer(3, strides=pool_strides, padding="same")(x)
        if pool_projection:
            pooled = conv(pooled, fp, 1)
        branches = [one, three, pooled]
        branches = [branches[i] for i in order]
        if concat == "layer":
            return layers.Concatenate(axis=-1)(branches)
        if concat == "function":
            return layers.concatenate(branches, axis=3)
        return ops.concatenate(branches, axis=-1)

    return inception_block


@pytest.mark.parametrize("fn", [
    inception(),
    inception(concat="function"),
    inception(concat="ops"),
    inception(activation_layers=True),
], ids=["concatenate-layer", "concatenate-function-axis-3", "ops-concatenate", "relu-layers"])
def test_10_1_accepts(fn):
    assert_passes("10.1", blocks=probe_inception_blocks(fn))


def own_input(x):
    return inception()(keras.Input(shape=x.shape[1:]))


def value_if(x):
    if ops.mean(x) > 0:
        return inception()(x)
    return x


def returns_model(x):
    return keras.Model(x, inception()(x))


@pytest.mark.parametrize("fn, phrase", [
    (inception(reduce_when="always"), "reduces a thin input"),
    (inception(reduce_when="at_least"), "4 channels is not more than 4"),
    (inception(reduce_when="never"), "no 1×1 reduction before the 3×3"),
    (inception(pool_projection=False), "passes the pooled input straight through"),
    (inception(pool_strides=None), "strides=1"),
    (inception(padding="valid"), 'padding="same" on the 3×3'),
    (inception(order=(2, 0, 1)), "joins the branches in another order"),
    (inception(order=(0, 2, 1)), "the order 1x1, pool, 3x3"),
    (inception(relu_reduce=False), "the 1×1 reduction has no ReLU"),
    (inception(pool="average"), "pools differently"),
    (inception(batch_norm=True), "layers the block does not call for"),
    (inception(widths=(8, 8, 16)), "does not have the convolutions of the block"),
    (inception(use_bias=False), "has no bias"),
    (own_input, "not connected"),
    (value_if, "a tensor's values do not exist yet"),
    (returns_model, "not the output tensor of the block"),
], ids=["always-reduces", "reduces-at-4", "never-reduces", "pool-passes-through", "pool-strides", "valid-padding",
        "order-pool-first", "order-pool-second", "no-relu-on-reduce", "average-pool", "batch-norm", "branch-widths",
        "no-bias", "own-input", "if-on-value", "returns-model"])
def test_10_1_names_the_mistake(fn, phrase):
    assert_fails("10.1", phrase, blocks=probe_inception_blocks(fn))


def test_10_1_wrong_kinds_of_answer():
    assert_fails("10.1", "is not a function", blocks=probe_inception_blocks(layers.Dense(3)))
    assert_fails("10.1", "not done yet", blocks=probe_inception_blocks(not_done("10.1")))


def test_10_1_cases_lie_on_both_sides_of_the_reduction_threshold():
    widths = [shape[-1] for _, shape in INCEPTION_CASES]
    assert REDUCE_ABOVE in widths and REDUCE_ABOVE + 1 in widths and min(widths) == 1
    assert any(shape[0] != shape[1] for _, shape in INCEPTION_CASES), "a non-square image"


# --- 10.2 a gated mixture of two experts ----------------------------------------------------------


def mixture(*, gate_activation="softmax", combine="dot", epochs=5, names=("expert_0", "expert_1", "gate"),
            swap=False, separate_softmax=False, expert_activation=None, seed=0, learning_rate=0.1):
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(1,))
    e0 = layers.Dense(1, activation=expert_activation, name=names[0])(x)
    e1 = layers.Dense(1, activation=expert_activation, name=names[1])(x)
    if separate_softmax:
        gate = layers.Softmax()(layers.Dense(2, name=names[2])(x))
    else:
        gate = layers.Dense(2, activation=gate_activation, name=names[2])(x)
    experts = layers.Concatenate()([e1, e0] if swap else [e0, e1])
    if combine == "dot":
        out = layers.Dot(axes=1)([gate, experts])
    elif combine == "ops":
        out = ops.sum(layers.Multiply()([gate, experts]), axis=1, keepdims=True)
    elif combine == "multiply":
        out = layers.Multiply()([gate, experts])
    else:
        out = layers.Add()([e0, e1])
    model = keras.Model(x, out)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    if epochs:
        model.fit(*two_regimes(), epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.mark.parametrize("kwargs", [
    {}, {"combine": "ops"}, {"swap": True}, {"separate_softmax": True}, {"seed": 1}, {"seed": 2},
], ids=["dot", "multiply-and-ops-sum", "experts-swapped", "softmax-layer", "seed-1", "seed-2"])
def test_10_2_accepts(kwargs):
    assert_passes("10.2", mixture=mixture(**kwargs))


@pytest.mark.parametrize("kwargs, phrase", [
    ({"gate_activation": "sigmoid", "epochs": 0}, "sigmoid"),
    ({"gate_activation": None, "epochs": 0}, "has no softmax"),
    ({"combine": "multiply", "epochs": 0}, "not yet added up"),
    ({"combine": "add", "epochs": 0}, "adds the two experts"),
    ({"epochs": 0}, "has not been trained"),
    ({"epochs": 1, "learning_rate": 0.001}, "does not fit the data yet"),
    ({"names": ("a", "b", "gate"), "epochs": 0}, "no layer named 'expert_0'"),
    ({"expert_activation": "relu", "epochs": 0}, "not the gate-weighted sum"),
], ids=["sigmoid-gate", "linear-gate", "multiply-without-sum", "add-without-gate", "untrained", "undertrained",
        "unnamed-experts", "relu-experts"])
def test_10_2_names_the_mistake(kwargs, phrase):
    assert_fails("10.2", phrase, mixture=mixture(**kwargs))


def test_10_2_the_gate_must_specialise():
    """A mixture fitted well but whose gate trusts one expert everywhere is named (weights set by hand)."""
    model = mixture(epochs=0)
    model.get_layer("expert_0").set_weights([np.array([[-1.0]]), np.array([-1.0])])
    model.get_layer("expert_1").set_weights([np.array([[2.0]]), np.array([-1.0])])
    model.get_layer("gate").set_weights([np.array([[-30.0, 30.0]]), np.array([0.0, 0.0])])
    assert_passes("10.2", mixture=model)
    model.get_layer("gate").set_weights([np.array([[-0.5, 0.5]]), np.array([0.0, 0.0])])
    failure = assert_fails("10.2", "does not", mixture=model)
    assert "fit the data" in failure.message() or "pick one expert" in failure.message()


def test_10_2_wrong_kinds_of_answer():
    assert_fails("10.2", "not a keras model", mixture=layers.Dense(1))
    assert_fails("10.2", "not done yet", mixture=not_done("10.2"))
    x = keras.Input(shape=(2,))
    assert_fails("10.2", "wrong input", mixture=keras.Model(x, layers.Dense(1)(x)))
    assert MIXTURE_MAX_MSE < 0.1


# --- 10.3 hard routing that trains under fit ----------------------------------------------------


class Router(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.small = layers.Dense(1)
        self.hidden = layers.Dense(16, activation="relu")
        self.big = layers.Dense(1)

    def call(self, x):
        return ops.cond(ops.mean(x) > 0, lambda: self.small(x), lambda: self.big(self.hidden(x)))


class BuiltNamedRouter(keras.Model):
    def __init__(self, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold
        self.small = layers.Dense(1, name="small")
        self.hidden = layers.Dense(16, activation="relu", name="hidden")
        self.big = layers.Dense(1, name="big")

    def build(self, input_shape):
        self.small.build(input_shape)
        self.hidden.build(input_shape)
        self.big.build((None, 16))

    def call(self, x):
        def through_small():
            return self.small(x)

        def through_big():
            return self.big(self.hidden(x))

        return ops.cond(ops.greater(ops.mean(x), self.threshold), through_small, through_big)


class SequentialBranchRouter(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.small = layers.Dense(1)
        self.big = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(1)])

    def call(self, x):
        return ops.cond(ops.mean(x) > 0, lambda: self.small(x), lambda: self.big(x))


class IfRouter(Router):
    def call(self, x):
        if ops.mean(x) > 0:
            return self.small(x)
        return self.big(self.hidden(x))


class SwappedRouter(Router):
    def call(self, x):
        return ops.cond(ops.mean(x) > 0, lambda: self.big(self.hidden(x)), lambda: self.small(x))


class PerExampleRouter(Router):
    def call(self, x):
        positive = ops.mean(x, axis=1, keepdims=True) > 0
        return ops.where(positive, self.small(x), self.big(self.hidden(x)))


class NoReluRouter(Router):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(16)


class SmallOnlyRouter(Router):
    def call(self, x):
        self.big(self.hidden(x))
        return self.small(x)


class WrongSizesRouter(Router):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")


class EagerRouter(IfRouter):
    """A Python if that survives fit by forcing eager execution: the report sees run_eagerly."""

    @property
    def run_eagerly(self):
        return True

    @run_eagerly.setter
    def run_eagerly(self, value):
        pass


class BrokenRouter(Router):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        raise RuntimeError("not finished")


class LayerRouter(layers.Layer):
    def call(self, x):
        return x


@pytest.mark.parametrize("cls", [Router, BuiltNamedRouter, SequentialBranchRouter],
                         ids=["lambdas", "build-and-named-functions", "sequential-branch"])
def test_10_3_accepts(cls):
    assert_passes("10.3", Router=cls)


@pytest.mark.parametrize("cls, phrase", [
    (IfRouter, "as a Python `bool` is not allowed"),
    (SwappedRouter, "the branches are swapped"),
    (PerExampleRouter, "decides for each sample"),
    (NoReluRouter, "the hidden layer has no ReLU"),
    (SmallOnlyRouter, "nothing is routed"),
    (WrongSizesRouter, "does not have the three Dense layers"),
    (EagerRouter, "trains eagerly"),
    (BrokenRouter, "not finished"),
    (LayerRouter, "not a subclass of keras.Model"),
], ids=["python-if", "swapped", "per-example", "no-relu", "no-routing", "wrong-sizes", "eager", "raises",
        "layer-class"])
def test_10_3_names_the_mistake(cls, phrase):
    assert_fails("10.3", phrase, Router=cls)


def test_10_3_wrong_kinds_of_answer():
    assert_fails("10.3", "not done yet", Router=not_done("10.3"))
    router = Router()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first eager call builds one branch, and Keras says so
        router(np.ones((2, 4), "float32"))
        router(-np.ones((2, 4), "float32"))
    assert_fails("10.3", "not a class", Router=router)


def test_10_3_the_reference_is_what_keras_fit_does_to_the_right_router():
    """The NumPy SGD reference against Keras itself, with the report's own weights and data."""
    report = make_router_reporter()(Router)
    weights, losses = router_training_reference()
    assert np.allclose(report["history"], losses, atol=1e-5)
    for found, expected in zip(report["trained"], weights):
        assert np.allclose(found, expected, atol=1e-5)
    assert losses[-1] < losses[0]
    x, _ = router_data()
    means = x.reshape(8, 32, 4).mean(axis=(1, 2))
    assert (np.abs(means) > 0.5).all(), "every batch is clearly on one side of zero"
    assert ROUTER_LEARNING_RATE > 0


# --- 10.4 a train_step that trains and reports the gradient norm --------------------------------


class GradNormModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_norm = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.grad_norm.update_state(ops.sqrt(sum(ops.sum(g * g) for g in gradients)))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            elif metric.name != "grad_norm":
                metric.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}


class GlobalNormModel(keras.Model):
    """tf.linalg.global_norm, apply_gradients, and a tracker with another attribute name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm_tracker = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.norm_tracker.update_state(tf.linalg.global_norm(gradients))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            elif metric is not self.norm_tracker:
                metric.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}


def step_class(*, loss_metric=True, apply=True, norm="global", old_style=False, accuracy=True,
               tracker="attribute", twice=False, uses_tf_without_import=False):
    """A GradNormModel with one deliberate variation, written out as source (the runner reads a class's source)."""
    tf_import = "" if uses_tf_without_import else "        import tensorflow as tf\n"
    init_tracker = {"attribute": '        self.grad_norm = keras.metrics.Mean(name="grad_norm")\n',
                    "hidden": '        object.__setattr__(self, "hidden_norm", keras.metrics.Mean(name="grad_norm"))\n',
                    "none": ""}[tracker]
    norms = {"global": "ops.sqrt(sum(ops.sum(g * g) for g in gradients))",
             "kernel": "ops.sqrt(ops.sum(gradients[0] * gradients[0]))",
             "summed": "sum(ops.sqrt(ops.sum(g * g)) for g in gradients)"}
    if old_style:
        body = (
            "        with tf.GradientTape() as tape:\n"
            "            y_pred = self(x, training=True)\n"
            "            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)\n"
            "        gradients = tape.gradient(loss, self.trainable_variables)\n"
            "        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))\n"
            f"        self.grad_norm.update_state({norms['global']})\n"
            "        self.compiled_metrics.update_state(y, y_pred)\n"
            "        return {m.name: m.result() for m in self.metrics}\n"
        )
    else:
        result = {"attribute": "", "hidden": "        logs['grad_norm'] = self.hidden_norm.result()\n",
                  "none": f"        logs['grad_norm'] = {norms[norm]}\n"}[tracker]
        update = {"attribute": f"        self.grad_norm.update_state({norms[norm]})\n",
                  "hidden": f"        self.hidden_norm.update_state({norms[norm]})\n", "none": ""}[tracker]
        body = (
            "        with tf.GradientTape() as tape:\n"
            "            y_pred = self(x, training=True)\n"
            "            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)\n"
            "        gradients = tape.gradient(loss, self.trainable_variables)\n"
            + ("        self.optimizer.apply(gradients, self.trainable_variables)\n" if apply else "")
            + ("        self.optimizer.apply(gradients, self.trainable_variables)\n" if twice else "")
            + update
            + "        for metric in self.metrics:\n"
            "            if metric.name == 'loss':\n"
            + ("                metric.update_state(loss)\n" if loss_metric else "                pass\n")
            + "            elif metric.name != 'grad_norm':\n"
            + ("                metric.update_state(y, y_pred)\n" if accuracy else "                pass\n")
            + "        logs = {m.name: m.result() for m in self.metrics}\n"
            + result
            + "        return logs\n"
        )
    source = (
        "class GradNormModel(keras.Model):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        + init_tracker
        + "\n    def train_step(self, data):\n"
        + tf_import
        + "        x, y = data\n"
        + body
    )
    namespace = {"__name__": "__answer__", "keras": keras, "layers": layers, "ops": ops, "np": np}
    exec(compile(source, "<test class>", "exec"), namespace)
    return namespace["GradNormModel"], source




@pytest.mark.parametrize("cls", [GradNormModel, GlobalNormModel], ids=["mean-tracker", "global-norm-apply-gradients"])
def test_10_4_accepts(cls):
    assert_passes("10.4", GradNormModel=cls)


@pytest.mark.parametrize("kwargs, phrase", [
    ({"loss_metric": False}, "reports a loss of 0"),
    ({"apply": False}, "does not change the weights"),
    ({"twice": True}, "not as one step of SGD"),
    ({"old_style": True}, "old tf.keras code"),
    ({"accuracy": False}, "does not report the compiled metrics"),
    ({"norm": "kernel"}, "the kernel's gradient only"),
    ({"norm": "summed"}, "then take one square root"),
    ({"tracker": "none"}, "each epoch's last batch"),
    ({"tracker": "hidden"}, "the tracker is never reset"),
    ({"uses_tf_without_import": True}, "keep `import tensorflow as tf` in the answer cell"),
], ids=["no-loss-metric", "no-apply", "applies-twice", "old-style", "no-accuracy", "kernel-norm", "summed-norms",
        "last-batch-norm", "never-reset", "no-tf-import"])
def test_10_4_names_the_mistake(source_of_classes, kwargs, phrase):
    cls, source = step_class(**kwargs)
    source_of_classes[cls] = source
    assert_fails("10.4", phrase, GradNormModel=cls)


def test_10_4_a_class_written_as_text_passes_when_right(source_of_classes):
    cls, source = step_class()
    source_of_classes[cls] = source
    assert_passes("10.4", GradNormModel=cls)


class NoOverride(keras.Model):
    pass


class KeywordsOnly(GradNormModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)


class NoNorm(keras.Model):
    def train_step(self, data):
        return super().train_step(data)


@pytest.mark.parametrize("cls, phrase", [
    (NoOverride, "does not override train_step"),
    (KeywordsOnly, "pass *args and **kwargs on"),
    (NoNorm, "does not report the gradient norm"),
], ids=["no-override", "keywords-only-init", "no-grad-norm"])
def test_10_4_names_other_mistakes(cls, phrase):
    assert_fails("10.4", phrase, GradNormModel=cls)


def test_10_3_and_10_4_a_class_without_its_source_is_named(monkeypatch):
    """A class whose cell cannot be found is not reported on: the check says so, in the kernel and in grade."""
    import coursetools.class_runner as runner

    monkeypatch.setattr(runner, "cell_source_of", lambda cls: None)
    monkeypatch.delenv("COURSETOOLS_REPORT_IN_PROCESS")  # the path a notebook's check cell takes
    assert_fails("10.3", "a class the check could not run", Router=Router)
    assert_fails("10.4", "define the class in the answer cell itself", GradNormModel=GradNormModel)


def test_10_4_wrong_kinds_of_answer():
    assert_fails("10.4", "not done yet", GradNormModel=not_done("10.4"))
    assert_fails("10.4", "not a subclass of keras.Model", GradNormModel=LayerRouter)


def test_10_4_the_reference_is_what_keras_fit_does():
    report = make_step_reporter()(GradNormModel)
    reference = train_step_reference()
    for key in ("loss", "accuracy", "grad_norm"):
        assert np.allclose(report["history"][key], reference[key], atol=1e-5), key
    assert report["callback_keys"][-1] == ["accuracy", "grad_norm", "loss"]
    assert STEP_LEARNING_RATE == 0.1


# --- 10.5 your own training loop --------------------------------------------------------------------


def run_loop(*, skip="below", optimizer_every=None, last_loss=False, order=None, epochs=LOOP_EPOCHS,
             apply_gradients=False, losses_as_array=False):
    """The exercise's loop, run by Keras, with one deliberate variation (or none)."""
    import tensorflow as tf

    model = given_loop_model()
    batches = skip_batches()
    optimizer = keras.optimizers.Adam(learning_rate=LOOP_LEARNING_RATE)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    epoch_losses = []
    for _ in range(epochs):
        if optimizer_every == "epoch":
            optimizer = keras.optimizers.Adam(learning_rate=LOOP_LEARNING_RATE)
        losses = []
        for index in order or range(len(batches)):
            x, y = batches[index]
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            losses.append(float(loss))
            hard = float(loss) >= LOOP_SKIP_BELOW
            if skip == "never" or (skip == "below" and hard) or (skip == "above" and not hard):
                if optimizer_every == "step":
                    optimizer = keras.optimizers.Adam(learning_rate=LOOP_LEARNING_RATE)
                gradients = tape.gradient(loss, model.trainable_variables)
                if apply_gradients:
                    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
                else:
                    optimizer.apply(gradients, model.trainable_variables)
        epoch_losses.append(losses[-1] if last_loss else float(np.mean(losses)))
    return model, (np.array(epoch_losses) if losses_as_array else epoch_losses)


def with_weights(weights):
    model = given_loop_model()
    model.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return model


@pytest.mark.parametrize("kwargs", [{}, {"apply_gradients": True, "losses_as_array": True}],
                         ids=["apply", "apply-gradients-array"])
def test_10_5_accepts(kwargs):
    model, losses = run_loop(**kwargs)
    assert_passes("10.5", model=model, epoch_losses=losses)


def test_10_5_names_the_mistakes_of_real_loops():
    model, losses = run_loop(optimizer_every="step")
    assert_fails("10.5", "a new optimizer was made for every step", model=model, epoch_losses=losses)
    model, losses = run_loop(skip="never")
    assert_fails("10.5", "it updated on every batch", model=model, epoch_losses=losses)
    model, losses = run_loop(last_loss=True)
    assert_fails("10.5", "each epoch's last batch loss", model=model, epoch_losses=losses)
    model, losses = run_loop(order=list(range(15, -1, -1)))
    assert_fails("10.5", "keep the given order of the batches", model=model, epoch_losses=losses)
    model, losses = run_loop(skip="above")
    assert_fails("10.5", "was not trained", model=model, epoch_losses=losses)


@pytest.mark.parametrize("variant, phrase", [
    ({"optimizer": "every_epoch"}, "a new optimizer was made for every epoch"),
], ids=["optimizer-every-epoch"])
def test_10_5_names_the_mistakes_of_computed_loops(variant, phrase):
    reference = training_loop_reference(**variant)
    assert_fails("10.5", phrase, model=with_weights(reference["weights"]), epoch_losses=reference["epoch_losses"])


def test_10_5_names_wrong_losses_and_wrong_models():
    reference = training_loop_reference()
    model = with_weights(reference["weights"])
    assert_passes("10.5", model=model, epoch_losses=reference["epoch_losses"])
    assert_fails("10.5", "not the epochs' mean losses", model=model,
                 epoch_losses=[16 * v for v in reference["epoch_losses"]])
    assert_fails("10.5", f"has {LOOP_EPOCHS + 1} numbers", model=model,
                 epoch_losses=reference["epoch_losses"] + [0.5])
    assert_fails("10.5", "not a list of numbers", model=model, epoch_losses="1.9, 1.1")
    x = keras.Input(shape=(64,))
    assert_fails("10.5", "is not the given model", model=keras.Model(x, layers.Dense(10)(x)),
                 epoch_losses=reference["epoch_losses"])
    assert_fails("10.5", "not done yet", model=given_loop_model(), epoch_losses=not_done("10.5"))


def test_10_5_skipping_is_far_from_the_threshold_and_happens():
    """No batch of the right run is within 0.01 of the threshold, so float32 and NumPy agree on every skip."""
    reference = training_loop_reference()
    assert 0 < reference["updates"] < 16 * LOOP_EPOCHS
    weights = [np.asarray(w, dtype="float64") for w in reference["weights"]]
    assert all(np.isfinite(w).all() for w in weights)


# --- 10.6 which API when ----------------------------------------------------------------------------

RIGHT = {"a": "sequential", "b": "functional", "c": "functional", "d": "functional", "e": "functional",
         "f": "functional", "g": "functional", "h": "functional", "i": "functional", "j": "ops.cond",
         "k": "subclass", "l": "ops.cond", "m": "run_eagerly", "n": "train_step", "o": "loop"}


@pytest.mark.parametrize("choices", [
    RIGHT,
    {**RIGHT, "e": "sequential"},
    {k: v.upper() for k, v in RIGHT.items()},
    {**RIGHT, "j": "keras.ops.cond in call()", "l": "ops.while_loop", "m": "compile(run_eagerly=True)",
     "n": "override train_step", "o": "a custom tf.GradientTape loop", "k": "subclass keras.Model",
     "b": "the functional API", "a": "keras.Sequential"},
    {**RIGHT, "j": "a subclass with ops.cond", "m": "subclass, run eagerly"},
], ids=["exact", "sequential-extractor", "upper-case", "phrases", "subclass-with-refinement"])
def test_10_6_accepts(choices):
    assert_passes("10.6", choices=choices)


@pytest.mark.parametrize("choices, phrase", [
    ({**RIGHT, "a": "functional"}, "a (functional): it works, but a straight stack"),
    ({**RIGHT, "j": "subclass"}, "raises OperatorNotAllowedInGraphError"),
    ({**RIGHT, "j": "run_eagerly"}, "the question asks for the default fit"),
    ({**RIGHT, "l": "subclass"}, "a Python while on a tensor's value fails under fit"),
    ({**RIGHT, "k": "ops.cond"}, "a Python int argument needs only a Python loop"),
    ({**RIGHT, "g": "subclass"}, "the routing is in the gate's values"),
    ({**RIGHT, "f": "subclass"}, "a shape known while building"),
    ({**RIGHT, "h": "subclass"}, "attention is a layer Keras ships"),
    ({**RIGHT, "n": "loop"}, "rewrite the callbacks"),
    ({**RIGHT, "o": "train_step"}, "fit still needs a data set"),
    ({**RIGHT, "m": "functional"}, "print shows symbolic tensors"),
    ({**RIGHT, "i": "subclass", "c": "sequential"}, "2 of 15 choices"),
    ({k: v for k, v in RIGHT.items() if k != "o"}, "missing ['o']"),
    ({**RIGHT, "p": "functional"}, "unknown keys ['p']"),
    ({**RIGHT, "b": "graph"}, "not one of the choices"),
    ({**RIGHT, "b": "functional or sequential"}, "not one of the choices"),
    ({**RIGHT, "c": 2}, "not one of the choices"),
    (list(RIGHT.values()), "not a dict"),
    (None, "None"),
], ids=["a-functional", "j-python-if", "j-eager", "l-python-while", "k-while-loop", "g-subclass", "f-subclass",
        "h-subclass", "n-loop", "o-train-step", "m-functional", "two-wrong", "missing", "extra", "unknown-word",
        "two-words", "number", "list", "none"])
def test_10_6_names_the_mistake(choices, phrase):
    assert_fails("10.6", phrase, choices=choices)


def test_10_6_placeholder_says_not_done():
    assert_fails("10.6", "not done yet", choices=not_done("10.6"))


def test_10_6_every_reason_names_its_lesson_and_every_answer_is_a_choice():
    for key, (accepted, why, why_not) in API_ANSWERS.items():
        assert re.search(r"\(lessons? [\d, and]+\)$", why), key
        assert all(normalise_api(answer) == answer for answer in accepted), key
        assert all(re.search(r"\(lessons? [\d, and]+\)$", reason) for reason in why_not.values()), key


# --- The exercise statements say what the checks judge -------------------------------------------


def test_the_statements_give_the_numbers_the_checks_use():
    nb = nbformat.read(SOLUTION, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert f"Adam(learning_rate={LOOP_LEARNING_RATE})" in text
    assert f"**{LOOP_EPOCHS} epochs**" in text
    assert f"{LOOP_SKIP_BELOW}**, the optimizer" in text.replace("\n  ", " ")
    assert f"SGD(learning_rate={STEP_LEARNING_RATE})" in text
    assert f"{REDUCE_ABOVE} channels or fewer" in text
    assert f"below {MIXTURE_MAX_MSE}" in text
    for letter in API_ANSWERS:
        assert f"* **{letter}.**" in text
