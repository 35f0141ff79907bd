"""Checks for lesson 4 (skip connections). Each takes plain evidence and returns a success detail.

Blocks are judged by what they compute: the check gives the learner's layers its
own fixed weights (matched by shape), runs the model on random feature maps and on
real digits, and compares with the block the exercise describes, computed here
with ``keras.ops`` from the same weights. When they differ, a few typical wrong
blocks are computed as well, so the message can name the mistake. References are
never taken from the learner's answer: the given models are rebuilt from
:mod:`coursetools.data`.
"""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np

from coursetools.data import load_digits_split
from coursetools.lessons.lesson04.given import DEEP_PLAIN_LAYERS, given_residual_model
from coursetools.expect import describe, expect_int, expect_model
from coursetools.feedback import Mistake
from coursetools.lessons.lesson04.tools import BLOCK_CASES, glorot_uniform, layer_gradients
from coursetools.probing import (
    activation_of,
    dense_layers,
    first_line,
    output_or_mistake,
    same_values,
    to_numpy,
    unnested,
)
from coursetools.registry import exercise

# --- Helpers -------------------------------------------------------------------------------


def _kind(layer) -> str:
    return type(layer).__name__


def _operation_kinds(model) -> list[str]:
    """Class names of everything the graph runs: layers, ops such as ``x + y`` (``Add``), nested models' too."""
    import keras

    kinds = []
    for op in getattr(model, "operations", model.layers):
        kinds += _operation_kinds(op) if isinstance(op, keras.Model) else [_kind(op)]
    return kinds


def _has_merge(model, kinds: tuple[str, ...]) -> bool:
    return any(kind in kinds for kind in _operation_kinds(model))


def _shapes(tensors) -> list[tuple]:
    return [tuple(t.shape) for t in tensors]


def _model_from(value: object, what: str, input_shape: tuple, hint: str) -> tuple:
    """``(model, output shape)`` for a one-input, one-output model taking samples of ``input_shape``.

    The model comes back :func:`~coursetools.probing.unnested`: the graph that runs, nested models'
    layers called directly, so a check that reads its layers sees those of nested models too.
    """
    model = unnested(expect_model(value, what))
    _one_input(model, input_shape, what, hint)
    return model, _one_output(model, what)


def _one_input(model, shape: tuple, what: str, hint: str) -> None:
    shapes = _shapes(model.inputs)
    if len(shapes) != 1:
        raise Mistake(f"{what} has {len(shapes)} inputs.", expected=f"one input of shape {(None, *shape)}",
                      found=f"inputs of shapes {shapes}", hint="pass exactly one keras.Input as inputs=...")
    if shapes[0] != (None, *shape):
        raise Mistake(f"{what} has the wrong input shape.", expected=f"{(None, *shape)}", found=f"{shapes[0]}",
                      hint=hint)


def _one_output(model, what: str) -> tuple:
    shapes = _shapes(model.outputs)
    if len(shapes) != 1:
        raise Mistake(f"{what} has {len(shapes)} outputs.", expected="one output tensor",
                      found=f"outputs of shapes {shapes}", hint="pass a single tensor as outputs=...")
    return shapes[0]


def _ops_relu(x):
    import keras

    return keras.ops.relu(x)


def _conv(x, kernel: np.ndarray, bias: np.ndarray, strides: int = 1, padding: str = "same"):
    import keras

    return keras.ops.conv(x, kernel, strides=strides, padding=padding) + bias


@functools.lru_cache(maxsize=1)
def _test_images() -> np.ndarray:
    """The test digits as 8x8 images (read once: 4.1 probes nine blocks)."""
    return load_digits_split(flat=False)[1][0]


def _feature_maps(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Probe inputs for a block: random feature maps (with negative values) and real digits as channels."""
    height, width, channels = shape
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, size=(6, height, width, channels))
    x_test = _test_images()
    digits = np.stack(
        [np.stack([x_test[(6 * i + c) % len(x_test)] for c in range(channels)], axis=-1) for i in range(6)]
    )[:, :height, :width, :]
    return np.concatenate([noise, digits]).astype("float32")


def _same_maps(found: np.ndarray, expected: np.ndarray) -> bool:
    return same_values(found, expected, atol=1e-4, rtol=1e-4)


# --- Residual blocks: structure, fixed weights, reference and typical wrong blocks -----------

_PROJECTION_KINDS = ("Conv2D", "Dense")


def _weighted(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _kernel_size(layer) -> tuple:
    return tuple(layer.kernel.shape[:2]) if _kind(layer) == "Conv2D" else ()


def _block_parts(model, what: str) -> tuple[list, object | None]:
    """``(3x3 convolutions, projection or None)``; a Mistake for any other layer with weights."""
    convs, projections, others = [], [], []
    for layer in _weighted(model):
        if _kind(layer) == "Conv2D" and _kernel_size(layer) == (3, 3):
            convs.append(layer)
        elif _kind(layer) == "Dense" or _kind(layer) == "Conv2D" and _kernel_size(layer) == (1, 1):
            projections.append(layer)
        else:
            others.append(layer)
    if others:
        found = ", ".join(
            f"{_kind(layer)}{' ' + 'x'.join(map(str, _kernel_size(layer))) if _kernel_size(layer) else ''}"
            for layer in others
        )
        raise Mistake(
            f"{what} has layers the block does not call for.",
            expected="two 3×3 Conv2D layers, plus one 1×1 Conv2D on the shortcut when it must be projected",
            found=found,
            hint="keep the block to exactly the layers the exercise lists (no BatchNormalization here)",
        )
    if len(projections) > 1:
        raise Mistake(
            f"{what} has {len(projections)} projection layers.",
            expected="at most one 1×1 Conv2D, on the shortcut",
            found=", ".join(layer.name for layer in projections),
        )
    if len(convs) == 3 and not projections:
        raise Mistake(
            f"{what} projects the shortcut with a 3×3 convolution.",
            expected="a 1×1 Conv2D on the shortcut: a projection only changes the number of channels, it looks at "
            "no neighbours",
            found="three 3×3 Conv2D layers",
            hint="use kernel size 1 for the shortcut's Conv2D",
        )
    if len(convs) != 2:
        raise Mistake(
            f"{what} has {len(convs)} 3×3 convolution(s) in its branch.",
            expected="exactly two Conv2D(filters, 3, padding=\"same\") layers, one after the other",
            found=f"{len(convs)} 3×3 Conv2D layer(s)",
        )
    return convs, (projections[0] if projections else None)


def _set(layer, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Give ``layer`` this kernel (reshaped for a Dense projection) and bias; return the bias it really uses."""
    shape = tuple(layer.kernel.shape)
    weights = [kernel.reshape(shape)]
    if getattr(layer, "bias", None) is not None:
        weights.append(bias)
        layer.set_weights(weights)
        return bias
    layer.set_weights(weights)
    return np.zeros_like(bias)  # use_bias=False: the reference adds no bias either


def _block_variants(x, k1, b1, k2, b2, projection, strides: tuple[int, int]) -> dict[str, np.ndarray]:
    """The block the exercise asks for (``"right"``) and typical wrong ones, from the same weights.

    ``strides`` are those of the branch's two convolutions; the projection strides by their product.
    """
    first = _conv(x, k1, b1, strides[0])
    second = _conv(_ops_relu(first), k2, b2, strides[1])
    shortcut = x if projection is None else _conv(x, projection[0], projection[1], strides[0] * strides[1])
    variants = {
        "right": _ops_relu(second + shortcut),
        "no_final_relu": second + shortcut,
        "relu_before_add": _ops_relu(second) + shortcut,
        "relu_on_second": _ops_relu(_ops_relu(second) + shortcut),
        "no_inner_relu": _ops_relu(_conv(first, k2, b2, strides[1]) + shortcut),
    }
    if projection is not None:
        variants["relu_on_shortcut"] = _ops_relu(second + _ops_relu(shortcut))
    if strides[0] > 1 and strides[1] == 1:
        late = _conv(_ops_relu(_conv(x, k1, b1)), k2, b2, strides[0])
        variants["stride_on_second"] = _ops_relu(late + shortcut)
    return {name: to_numpy(value) for name, value in variants.items()}


_VARIANT_MESSAGES: dict[str, tuple[str, str]] = {
    "no_final_relu": ("the sum of branch and shortcut is not passed through ReLU.",
                      'apply layers.Activation("relu") to the output of the Add'),
    "relu_before_add": ("ReLU is applied to the branch before the Add instead of after it.",
                        "leave the second Conv2D without activation; put the ReLU after the Add"),
    "relu_on_second": ("the second convolution has a ReLU of its own.",
                       "leave the second Conv2D without activation: the only ReLU after it comes after the Add"),
    "no_inner_relu": ("the first convolution has no ReLU.", 'give the first Conv2D activation="relu"'),
    "relu_on_shortcut": ("the shortcut goes through a ReLU before the Add.",
                         "the projection is a plain 1×1 Conv2D, with no activation"),
    "stride_on_second": ("the stride moved to the second convolution.",
                         "keep strides=2 on the first Conv2D of the branch, as given"),
}


def _judge_block(model, shape: tuple[int, int, int], filters: int, strides: tuple[int, int], what: str,
                 seed: int) -> None:
    """The model computes relu(conv(relu(conv(x))) + shortcut(x)), for some mapping of its layers."""
    channels = shape[-1]
    convs, projection = _block_parts(model, what)
    rng = np.random.default_rng(seed)
    k1 = glorot_uniform(rng, (3, 3, channels, filters))
    k2 = glorot_uniform(rng, (3, 3, filters, filters))
    kp = glorot_uniform(rng, (1, 1, channels, filters))
    b1, b2, bp = (rng.normal(0.0, 0.3, size=filters).astype("float32") for _ in range(3))
    x = _feature_maps(shape, seed)
    wanted = [(3, 3, channels, filters), (3, 3, filters, filters)]
    tried: list[dict[str, np.ndarray]] = []
    for first, second in itertools.permutations(convs):
        if [tuple(first.kernel.shape), tuple(second.kernel.shape)] != wanted:
            continue
        used_b1, used_b2 = _set(first, k1, b1), _set(second, k2, b2)
        used_projection = None
        if projection is not None:
            if int(np.prod(projection.kernel.shape)) != channels * filters:
                break
            used_projection = (kp, _set(projection, kp, bp))
        found = output_or_mistake(model, x, what)
        variants = _block_variants(x, k1, used_b1, k2, used_b2, used_projection, strides)
        if _same_maps(found, variants["right"]):
            return
        tried.append({name: value for name, value in variants.items() if _same_maps(found, value)})
    if not tried:
        shapes = [tuple(conv.kernel.shape) for conv in convs]
        raise Mistake(
            f"{what}'s convolutions do not have the sizes the block needs.",
            expected=f"kernels {wanted[0]} then {wanted[1]} (3×3, {channels} -> {filters} then {filters} -> {filters} channels)",
            found=f"kernels {shapes}",
            hint="the first Conv2D maps the input's channels to `filters`, the second keeps `filters`",
        )
    for matches in tried:
        for name in matches:
            problem, hint = _VARIANT_MESSAGES[name]
            raise Mistake(f"in {what}, {problem}", expected="relu(conv2(relu(conv1(x))) + shortcut(x))",
                          found="the same layers, combined differently", hint=hint)
    raise Mistake(
        f"{what} does not compute a residual block.",
        expected="relu(conv2(relu(conv1(x))) + shortcut(x)): the branch's output added to the shortcut, then ReLU",
        found="a different function of the input, with the same layers",
        hint="call the first Conv2D on x, the second on its output, add the shortcut, then apply ReLU",
    )


_SHAPES_IN_ERROR = re.compile(r"Received shapes \(([\d, ]*)\) and \(([\d, ]*)\)")


def _failure_hint(message: str) -> str:
    """What to change when building the block raised ``message``."""
    shapes = _SHAPES_IN_ERROR.search(message)
    if shapes:
        a, b = ([int(n) for n in group.split(",") if n.strip()] for group in shapes.groups())
        if a[:-1] != b[:-1]:
            return 'the branch changed the image size: give both Conv2D layers padding="same"'
        return ("the branch has `filters` channels but x has another number: project the shortcut with "
                "layers.Conv2D(filters, 1)(x) when x.shape[-1] != filters")
    if " returned " in message:
        return "end the function with return and the block's output tensor (the result of the last layer call)"
    if "not connected" in message:
        return "build the block on the tensor x the function receives; do not create a keras.Input inside it"
    if "merge layer should be called on a list" in message:
        return "give Add a list: layers.Add()([shortcut, y])"
    return "call residual_block(keras.Input(shape=(8, 8, 1)), 8) yourself to see the full error"


# --- 4.1 -------------------------------------------------------------------------------------


@exercise("4.1", "A residual block for any input width")
def residual_block_function(blocks: object) -> str:
    names = [name for name, _, _ in BLOCK_CASES]
    if not isinstance(blocks, dict) or list(blocks) != names:
        raise Mistake(
            "`residual_block` is not a function.",
            expected="a function: def residual_block(x, filters): ... return the block's output tensor",
            found=describe(blocks),
            hint="define it with def; the check cell calls it on inputs of several widths",
        )
    for name, shape, filters in BLOCK_CASES:
        channels = shape[-1]
        case = f"an input with {channels} channel{'s' * (channels != 1)} and filters={filters}"
        what = f"the block built for {case}"
        value = blocks[name]
        if isinstance(value, str):
            raise Mistake(f"`residual_block` fails for {case}.", expected=f"a tensor of shape {(None, *shape[:2], filters)}",
                          found=value, hint=_failure_hint(value))
        model = expect_model(value, what)
        out = _one_output(model, what)
        if out[1:3] != shape[:2]:
            raise Mistake(f"`residual_block` changes the image size, for {case}.",
                          expected=f"output of shape {(None, *shape[:2], filters)}: the same height and width as x",
                          found=f"{out}", hint='give both Conv2D layers padding="same"')
        if out[-1] != filters:
            raise Mistake(f"`residual_block` returns {out[-1]} channels for {case}.",
                          expected=f"{filters} channels: the block's output has `filters` channels", found=f"{out}",
                          hint="use `filters` for both convolutions (and for the projection)")
        if not _has_merge(model, ("Add",)):
            raise Mistake(f"`residual_block` has no skip connection, for {case}.",
                          expected="the shortcut added to the branch's output: layers.Add()([shortcut, y])",
                          found=f"no Add in the graph: {[_kind(op) for op in model.layers[1:]]}",
                          hint="keep a reference to x before the convolutions and add it back at the end")
        convs, projection = _block_parts(model, what)
        if channels == filters and projection is not None:
            raise Mistake(
                f"`residual_block` projects the shortcut although the widths already match ({case}).",
                expected="the identity shortcut: x itself, added unchanged, when x already has `filters` channels",
                found=f"a {_kind(projection)} layer {projection.name!r} on the shortcut",
                hint="project only when x.shape[-1] != filters; otherwise add x as it is",
            )
        if channels != filters and projection is None:
            raise Mistake(
                f"`residual_block` has no projection for {case}.",
                expected=f"a 1×1 Conv2D({filters}, 1) on the shortcut, mapping {channels} channel(s) to {filters}",
                found="the input added unchanged: Add silently repeats a single channel across all "
                f"{filters} (broadcasting), so no error was raised" if channels == 1 else "no projection layer",
                hint="test the width: if x.shape[-1] != filters: shortcut = layers.Conv2D(filters, 1)(x)",
            )
        _judge_block(model, shape, filters, (1, 1), f"`residual_block` ({case})", seed=41)
    tried = ", ".join(name.replace("->", "→") for name in names)
    return (f"identity shortcut when the widths match, 1×1 projection when not, on {len(names)} inputs "
            f"(channels → filters): {tried}")


# --- 4.2 -------------------------------------------------------------------------------------


FIX_INPUT, FIX_OUTPUT = (8, 8, 4), (None, 2, 2, 16)  # exercise 4.2: the branch halves the image twice


@exercise("4.2", "Repair a block that downsamples twice")
def fix_strided_block(fixed_block: object) -> str:
    what = "`fixed_block`"
    model, out = _model_from(fixed_block, what, FIX_INPUT, f"keep inputs = keras.Input(shape={FIX_INPUT}) as given")
    if not _has_merge(model, ("Add",)):
        raise Mistake(
            f"{what} has no skip connection left.",
            expected="the Add of the given code, with a shortcut that now matches the branch",
            found=f"no Add in the graph: {[_kind(op) for op in model.layers[1:]]}",
            hint="keep the Add; change only what goes into it from the shortcut side",
        )
    if out in ((None, 4, 4, 16), (None, 8, 8, 16)):
        raise Mistake(
            f"{what} no longer shrinks the image to 2×2.",
            expected=f"{FIX_OUTPUT}: both Conv2D layers of the given branch have strides=2, and each halves height "
            "and width",
            found=f"{out}",
            hint="keep the branch as given (strides=2 on both Conv2D layers); fix the shortcut instead",
        )
    if out != FIX_OUTPUT:
        raise Mistake(f"{what} has the wrong output shape.", expected=f"{FIX_OUTPUT}", found=f"{out}",
                      hint="keep the given branch and make the shortcut match it")
    pooling = [layer for layer in model.layers if "Pooling" in _kind(layer)]
    if pooling:
        raise Mistake(
            f"{what} pools on the shortcut.",
            expected="one 1×1 Conv2D(16, 1, strides=4) on the shortcut: it keeps one pixel in four along each axis "
            "and maps 4 channels to 16, all in one layer",
            found=f"a {_kind(pooling[0])} layer",
            hint="replace the pooling by strides on the shortcut's 1×1 Conv2D: as many as the branch's strides "
            "multiplied",
        )
    _judge_block(model, FIX_INPUT, 16, (2, 2), what, seed=42)
    return ("the shortcut is one 1×1 convolution with strides=4: 8×8 -> 2×2 and 4 -> 16 channels, like the "
            "branch's two strided convolutions")


# --- 4.3 -------------------------------------------------------------------------------------

_HEAD_WIDTHS = {
    8: "only the 8 pooled features of the deep path: the raw pixels are not joined",
    64: "only the 64 raw pixels: the deep path is not joined",
    512: "the deep path's feature maps flattened (8 × 8 × 8 = 512), and no raw pixels",
    576: "the deep path's feature maps flattened (8 × 8 × 8 = 512) instead of pooled to 8, joined with the 64 pixels",
    520: "the deep path's feature maps flattened (512) instead of the raw pixels, joined with the 8 pooled features",
}


def _wide_deep_outputs(x, kernel, bias, head_kernel, head_bias, *, pool: str = "average",
                       padding: str = "same") -> list[np.ndarray]:
    """Softmax outputs of the wide & deep spec, for both orders of the join."""
    wide = x.reshape(len(x), -1).astype("float64")
    maps = to_numpy(_ops_relu(_conv(x, kernel, bias, padding=padding)))
    deep = maps.mean(axis=(1, 2)) if pool == "average" else maps.max(axis=(1, 2))
    outputs = []
    for joined in (np.concatenate([wide, deep], axis=1), np.concatenate([deep, wide], axis=1)):
        logits = joined @ head_kernel + head_bias
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        outputs.append(exp / exp.sum(axis=1, keepdims=True))
    return outputs


def _wide_deep_layers(model, what: str) -> tuple[object, object]:
    """``(the Conv2D, the Dense head)`` of a wide & deep model; a Mistake for anything else the spec lacks."""
    dense = dense_layers(model)
    convs = [layer for layer in _weighted(model) if _kind(layer) == "Conv2D"]
    width = int(dense[-1].kernel.shape[0]) if dense else None
    if not _has_merge(model, ("Concatenate",)):
        raise Mistake(
            f"{what} has no Concatenate.",
            expected="the 64 raw pixels (flattened) and the deep path's 8 pooled features joined side by side: 72 numbers",
            found=f"a head that receives {width} numbers" if width else describe(model),
            hint="layers.Concatenate()([wide, deep]) where wide = layers.Flatten()(inputs)",
        )
    if [tuple(conv.kernel.shape) for conv in convs] != [(3, 3, 1, 8)]:
        raise Mistake(
            f"{what}'s deep path does not have the layers of the spec.",
            expected="one Conv2D(8, 3) on the image: kernel (3, 3, 1, 8)",
            found=f"Conv2D kernels {[tuple(conv.kernel.shape) for conv in convs]}",
        )
    if len(dense) != 1:
        raise Mistake(f"{what} has {len(dense)} Dense layers.",
                      expected="one: the Dense(10) head on the 72 joined numbers, and no Dense on either path",
                      found=f"Dense kernels {[tuple(layer.kernel.shape) for layer in dense]}",
                      hint="the deep path is Conv2D -> GlobalAveragePooling2D, the wide path Flatten; the only Dense "
                      "is the head")
    if width != 72:
        raise Mistake(
            f"{what} joins the wrong tensors.",
            expected="the head receives 72 numbers: 64 raw pixels + 8 pooled features",
            found=f"a head that receives {width} numbers: {_HEAD_WIDTHS.get(width, 'not the 72 asked for')}",
            hint="wide = layers.Flatten()(inputs); deep = layers.GlobalAveragePooling2D()(conv output); join those two",
        )
    return convs[0], dense[0]


def _wide_deep_mistake(model, found: np.ndarray, weights: tuple, conv, head, what: str) -> Mistake | None:
    """None when ``found`` is the spec's output; else the Mistake that names what differs."""
    def matches(**variant) -> bool:
        return any(_same_maps(found, expected) for expected in _wide_deep_outputs(*weights, **variant))

    if matches():
        return None
    for pool in ("average", "max"):
        if matches(pool=pool, padding="valid"):
            return Mistake(f"{what}'s Conv2D does not pad the image.",
                           expected='Conv2D(8, 3, padding="same", activation="relu"): 8×8 feature maps, as the spec asks',
                           found='padding="valid" (the default): 6×6 maps, the border pixels never at the centre of a '
                           "3×3 window", hint='pass padding="same" to the Conv2D')
    if matches(pool="max"):
        return Mistake(f"{what} pools the feature maps with their maximum.",
                       expected="the average of each feature map: GlobalAveragePooling2D", found="GlobalMaxPooling2D",
                       hint="use layers.GlobalAveragePooling2D()")
    activations = [activation_of(conv), activation_of(head)]
    if activations != ["relu", "softmax"] and not _has_merge(model, ("Activation", "ReLU", "Softmax")):
        return Mistake(f"{what} has the right layers but the wrong activations.",
                       expected="relu on the Conv2D, softmax on the head", found=f"activations {activations}",
                       hint='give the Conv2D activation="relu" and the head activation="softmax"')
    return Mistake(
        f"{what} has the right layers but computes something else.",
        expected="head(concatenate(flatten(image), average_pool(relu(conv(image))))) with a softmax head",
        found=f"activations {activations} (Conv2D, head), and an output that differs from that",
        hint="the wide side is the image itself, flattened; the deep side is Conv2D -> GlobalAveragePooling2D",
    )


@exercise("4.3", "A wide and deep model on images")
def wide_and_deep(wide_deep: object) -> str:
    what = "`wide_deep`"
    model, out = _model_from(wide_deep, what, (8, 8, 1), "use keras.Input(shape=(8, 8, 1)): the digits as images")
    if out != (None, 10):
        raise Mistake(f"{what} has the wrong output shape.", expected="(None, 10): one probability per digit",
                      found=f"{out}", hint='end with layers.Dense(10, activation="softmax") on the joined vector')
    conv, head = _wide_deep_layers(model, what)
    rng = np.random.default_rng(43)
    kernel, head_kernel = glorot_uniform(rng, (3, 3, 1, 8)), glorot_uniform(rng, (72, 10))
    bias, head_bias = (rng.normal(0.0, 0.3, size=n).astype("float32") for n in (8, 10))
    bias, head_bias = _set(conv, kernel, bias), _set(head, head_kernel, head_bias)
    x = np.concatenate([rng.uniform(0.0, 1.0, size=(16, 8, 8, 1)),
                        load_digits_split(flat=False)[1][0][:16, :, :, None]]).astype("float32")
    found = output_or_mistake(model, x, what)
    mistake = _wide_deep_mistake(model, found, (x, kernel, bias, head_kernel, head_bias), conv, head, what)
    if mistake is not None:
        raise mistake
    return "flattened pixels and pooled convolution features joined by Concatenate, then a softmax head"


# --- 4.4 -------------------------------------------------------------------------------------


def _as_shape(value: object) -> tuple | None:
    """A shape written as a tuple or list of ints (and None), else None."""
    if isinstance(value, (list, tuple)) and all(
        item is None or isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        return tuple(value)
    return None


def _conv_code(layer) -> str:
    """A Conv2D as the exercise's code writes it: ``Conv2D(16, 3, strides=2, padding="same", activation="relu")``."""
    config = layer.get_config()
    parts = [str(config["filters"]), str(config["kernel_size"][0])]
    if tuple(config["strides"]) != (1, 1):
        parts.append(f"strides={config['strides'][0]}")
    if config["padding"] == "same":
        parts.append('padding="same"')
    if config["activation"] != "linear":
        parts.append(f'activation="{config["activation"]}"')
    if not config["use_bias"]:
        parts.append("use_bias=False")
    return f"Conv2D({', '.join(parts)})"


def _conv_slips(layer, channels: set[int]) -> dict[int, str]:
    """Differences from the true total that miscounting this one Conv2D gives, with what each slip was."""
    kh, kw, cin, filters = (int(n) for n in layer.kernel.shape)
    bias = filters if layer.bias is not None else 0
    code, own = _conv_code(layer), layer.count_params()
    slips = {
        -own: f"the layer {code} is missing from the count",
        own: f"the layer {code} was counted twice",
    }
    if bias:
        slips[-bias] = f"the bias of {code} is missing ({filters} numbers, one per filter)"
    else:
        slips[filters] = f"{code} was given a bias, but it has use_bias=False: it has none"
    for other in sorted(channels - {cin}):
        slips[kh * kw * (other - cin) * filters] = (
            f"{code} was counted with {other} input channels; it receives {cin} input channels, so its kernel is "
            f"{kh} × {kw} × {cin} × {filters}")
    size = 3 if kh == 1 else 1
    slips[(size * size - kh * kw) * cin * filters] = (
        f"{code} was counted as a {size}×{size} convolution; its kernel is {kh}×{kw}")
    return slips


def _wrong_counts(model) -> dict[int, str]:
    """Totals that typical counting slips give for ``model``, with what each slip was.

    Slips of the whole model first (every bias, the BatchNormalization statistics...), then
    slips of one layer, each naming that layer as the exercise's code writes it.
    """
    total = model.count_params()
    convs = [layer for layer in model.layers if _kind(layer) == "Conv2D"]
    norms = [layer for layer in model.layers if _kind(layer) == "BatchNormalization"]
    biases = sum(int(np.prod(layer.bias.shape)) for layer in convs if layer.bias is not None)
    norm_all = sum(layer.count_params() for layer in norms)
    norm_frozen = sum(int(np.prod(w.shape)) for layer in norms for w in layer.non_trainable_weights)
    projection = sum(layer.count_params() for layer in convs if _kernel_size(layer) == (1, 1))
    flat_kernels = sum(
        int(np.prod(layer.kernel.shape[:2])) * int(layer.kernel.shape[-1]) + (0 if layer.bias is None else int(layer.bias.shape[0]))
        for layer in convs
    ) + norm_all
    slips = {
        total - norm_frozen: "BatchNormalization's moving mean and variance are missing: they are weights too "
        "(non-trainable), and the total counts them",
        total - norm_all: "the BatchNormalization layer is missing from the count (4 numbers per channel)",
        total - projection: "the 1×1 projection on the shortcut is missing from the count",
        total - biases: "the biases are missing (one per filter, for every Conv2D that has use_bias=True)",
        flat_kernels: "each 3×3 kernel was counted once per filter, not once per input channel and filter",
    }
    channels = {int(layer.kernel.shape[2]) for layer in convs} | {int(layer.kernel.shape[3]) for layer in convs}
    for layer in convs:
        for difference, slip in _conv_slips(layer, channels).items():
            slips.setdefault(total + difference, slip)
    slips.pop(total, None)
    return slips


def _shape_mistake(output_shape: object, truth: tuple) -> Mistake | None:
    """None when ``output_shape`` is the model's output shape, written as the statement asks; else what differs."""
    shape = _as_shape(output_shape)
    if shape is None:
        return Mistake("`output_shape` is not a shape.", expected=f"a tuple such as {(None, 8, 8, 1)}",
                       found=describe(output_shape),
                       hint="write the shape with Python brackets and commas, None for the batch axis")
    if shape == truth:
        return None
    if shape == truth[1:]:
        return Mistake("`output_shape` leaves out the batch axis.", expected=f"{truth}: as model.output.shape shows it",
                       found=f"{output_shape!r}", hint="the statement asks for the batch axis too, written None, first")
    sample = shape[1:] if len(shape) == len(truth) else shape
    if sample == truth[1:]:
        return Mistake("`output_shape` gives the batch axis a size.", expected=f"{truth}", found=f"{output_shape!r}",
                       hint="the batch axis of a symbolic shape is None: the model accepts batches of any size")
    if sample == (8, 8, 16):
        problem = "the strided block halves height and width"
    elif sample == (2, 2, 16):
        problem = "the image is halved once: the shortcut's strides=2 makes it match the branch, it does not halve again"
    elif len(sample) == 3 and sample[:2] == truth[1:3]:
        problem = "the number of channels is that of the last block's filters"
    elif len(sample) == 2:
        problem = "a feature map keeps three axes per sample: height, width and channels"
    else:
        problem = "height and width after the strided block, and the last block's filters"
    return Mistake("`output_shape` is not the model's output shape.", expected="the shape model.output.shape shows",
                   found=f"{output_shape!r}", hint=problem)


@exercise("4.4", "Predict, then run: shape and parameters of a residual model")
def predict_thenoutput_or_mistake(output_shape: object, total_params: object) -> str:
    model = given_residual_model()
    mistake = _shape_mistake(output_shape, tuple(model.outputs[0].shape))
    if mistake is not None:
        raise mistake
    count = expect_int(total_params, "`total_params`")
    if count != model.count_params():
        slip = _wrong_counts(model).get(count)
        raise Mistake(
            "`total_params` is not the model's parameter count.",
            expected="the 'Total params' of summary(): every weight of every layer",
            found=f"{count}: {slip}" if slip else f"{count}",
            hint="recount that part" if slip else "Conv2D: kh × kw × input channels × filters + filters; "
            "BatchNormalization: 4 per channel; Add and Activation: 0",
        )
    return "output shape and parameter count match what Keras reports"


# --- 4.5 -------------------------------------------------------------------------------------

MIN_GRADIENT = 2e-4  # the plain network's layers get 1e-5 to 1e-4; residual blocks of up to 12 layers, 1e-3 and more
MAX_GRADIENT = 100.0  # typical layer of a network whose activations double at every Add: 200 and more


BLOCK_SIZES = (2, 6)  # Dense layers per residual block, as exercise 4.5 asks


def _block_lengths(model) -> list[int]:
    """How many Dense layers each merge (Add, ``x + y``, ...) of ``model``'s graph jumps over, in graph order.

    Runs the graph on counters instead of tensors: a counter is the number of Dense layers
    on the longest path since the last merge, a merge resets it, and records the difference
    between its inputs' counters: the length of the branch its skip goes around.
    """
    import keras

    lengths: list[int] = []

    def operation_fn(operation):
        def count(*args, **kwargs):
            counters = [value for value in keras.tree.flatten((args, kwargs)) if isinstance(value, int)
                        and not isinstance(value, bool)]
            if len(counters) > 1:
                lengths.append(max(counters) - min(counters))
                return 0
            return (counters[0] if counters else 0) + (_kind(operation) == "Dense")

        return count

    model._run_through_graph([0] * len(model.inputs), operation_fn=operation_fn)
    return lengths


def _require_short_blocks(model, what: str) -> list[int]:
    """Every hidden layer after the first sits in a residual block of 2 to 6 Dense layers; returns the blocks' sizes."""
    lengths = _block_lengths(model)
    low, high = BLOCK_SIZES
    wrong = [length for length in lengths if not low <= length <= high]
    if wrong:
        raise Mistake(
            f"in {what}, a residual block holds {wrong[0]} Dense layer{'s' * (wrong[0] != 1)}.",
            expected=f"blocks of {low} to {high} Dense layers, as the exercise asks: a skip every few layers",
            found=f"blocks of {', '.join(map(str, lengths))} Dense layers, in the order of the graph",
            hint="group the 24 layers after the first one into short blocks, e.g. 6 blocks of 4 or 4 blocks of 6",
        )
    outside = DEEP_PLAIN_LAYERS - 1 - sum(lengths)
    if outside > 0:
        raise Mistake(
            f"{outside} of the {DEEP_PLAIN_LAYERS - 1} hidden layers after the first are in no residual block.",
            expected=f"every hidden layer after the first inside a block of {low} to {high} layers whose input is added "
            "to its output",
            found=f"blocks of {', '.join(map(str, lengths))} Dense layers: {sum(lengths)} layers in blocks",
            hint="put the remaining layers into a block of their own, or spread them over the other blocks",
        )
    return lengths


@exercise("4.5", "Make a deep network train with skip connections")
def deep_residual_trains(deep_residual: object) -> str:
    what = "`deep_residual`"
    model, out = _model_from(deep_residual, what, (64,), "use keras.Input(shape=(64,)), as in the given network")
    if out != (None, 10):
        raise Mistake(f"{what} has the wrong output shape.", expected="(None, 10)", found=f"{out}",
                      hint='keep the head: layers.Dense(10, activation="softmax")')
    dense = dense_layers(model)
    hidden = [layer for layer in dense if layer.units == 32]
    if len(hidden) != DEEP_PLAIN_LAYERS:
        raise Mistake(
            f"{what} does not keep the depth of the given network.",
            expected=f"{DEEP_PLAIN_LAYERS} hidden Dense(32) layers, as in `plain`: the point is to make the deep "
            "network train, not to make it shallower",
            found=f"{len(hidden)} Dense(32) layers",
        )
    x = load_digits_split()[1][0][:32]
    probabilities = output_or_mistake(model, x, what)
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4):
        raise Mistake(f"{what} does not output probabilities.", expected="10 numbers per sample that sum to 1",
                      found="values that do not sum to 1", hint='keep the head\'s activation="softmax"')
    if not _has_merge(model, ("Add", "Concatenate", "Average")):
        raise Mistake(
            f"{what} has no skip connection.",
            expected="blocks of a few Dense layers whose input is added to their output with layers.Add",
            found=f"a chain of {len(dense)} Dense layers",
            hint="keep the block's input in a variable, run the block's layers, then layers.Add()([kept, x])",
        )
    try:
        gradients = layer_gradients(model)
    except Exception as error:  # a model the probe cannot differentiate (it should not happen with Dense layers)
        raise Mistake(f"{what} cannot be differentiated by the check.", found=first_line(error)) from None
    position = {id(layer): index + 1 for index, layer in enumerate(dense)}
    weakest = min(hidden, key=lambda layer: gradients[position[id(layer)] - 1])
    smallest = gradients[position[id(weakest)] - 1]
    if smallest < MIN_GRADIENT:
        raise Mistake(
            f"in {what}, Dense layer {position[id(weakest)]} (of {len(dense)}, counting from the input) still gets "
            "almost no gradient.",
            expected=f"every hidden layer gets a gradient of at least {MIN_GRADIENT:g} at a fresh start",
            found=f"about {smallest:.0e} for that layer: as little as in the plain network",
            hint="every hidden layer must sit in a short residual block (2 to 6 layers), from the first block to "
            "the last; a single long skip leaves the layers it jumps over starved",
        )
    typical = float(np.median([gradients[position[id(layer)] - 1] for layer in hidden]))
    if typical > MAX_GRADIENT:
        raise Mistake(
            f"in {what}, the gradients explode.",
            expected=f"gradients between {MIN_GRADIENT:g} and {MAX_GRADIENT:g} at a fresh start",
            found=f"a typical hidden layer gets about {typical:.0e}: the signal grows at every Add",
            hint="put 2 or more layers in each block, and leave the block's last Dense without ReLU: apply ReLU "
            "after the Add",
        )
    lengths = _require_short_blocks(model, what)
    return (f"residual blocks of {', '.join(map(str, lengths))} Dense layers; every one of the {DEEP_PLAIN_LAYERS} "
            "hidden layers receives a usable gradient")
