"""EfficientNet-Lite0 backbone with a light top-down heatmap head (``model.kind: efficientnet_lite0``).

Why: a pose network trained from scratch on the ~8,000 real LSPET photos learns slowly on a
2-core CPU (the 2-stack hourglass reaches PCK@0.2 ~22 after 6 CPU-hours); a backbone that
already knows edges, textures and body parts from ImageNet starts far ahead. EfficientNet-Lite0
(Tan & Le 2019, the edge variant: ReLU6, no squeeze-excitation, fixed stem and head) is small
(2,998,304 weights up to stride 32, BN statistics included; tests pin it), cheap (0.4 GFLOPs
at 224 px as published) and quantises cleanly for
LiteRT.

- backbone: ``image`` B x S x S x 3 -> stem Conv 3x3/2 (32) -> 16 MBConv blocks; features C2
  (B x S/4 x S/4 x 24), C3 (S/8, 40), C4 (S/16, 112), C5 (S/32, 320). The classifier's 1x1
  conv to 1280 and the logits are not built.
- head (top-down, as a feature pyramid): P5 = Conv1x1(C5 -> C); then for C4, C3, C2:
  P = SepConv3x3(Upsample2(P) + Conv1x1(Ci -> C)), each conv with BN + ReLU; ``heatmaps_1`` =
  Conv1x1(P2 -> K), B x S/4 x S/4 x K float32 (C = ``cfg.model.num_channels``).
- SimCC head (``model.kind: efficientnet_lite0_simcc``, ``apply_simcc_head``): the same trunk
  to P2, then ``simcc_x`` and ``simcc_y`` B x K x S*r logits over 1-D bins (``codecs/simcc.py``).

ImageNet weights: ``cfg.model.backbone_weights`` names an ``.npz`` written by
``scripts/import_imagenet_backbone.py`` (arrays keyed ``<layer name>/<weight index>``);
``tfpose train`` loads it into the backbone of a fresh run (not a resumed or ``init_weights``
one) with ``load_backbone_weights``. The builder never reads it: a trained ``.keras`` model
carries all its weights and never needs the file. Inputs are normalised
``data.normalization: signed`` (x / 127.5 - 1, the TF original's preprocessing: on LSPET photos
it gives the ImageNet classifier more confident, sports-class answers than mean/std).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tfpose.core.errors import ConfigError
from tfpose.models.heads import image_input

STRIDE = 4  # heatmaps at C2's resolution
SIMCC_HIDDEN = 256  # the SimCC head's shared Dense width (RTMPose-t/s: 256)
BN_EPSILON = 1e-3  # the TF original's, kept by the port
BN_MOMENTUM = 0.9  # short fine-tuning runs: statistics must follow the weights quickly

# EfficientNet-Lite0 stages (width and depth multipliers 1.0):
# (repeats, kernel, first stride, expand ratio, output channels).
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_FILTERS = 32
NUM_BLOCKS = sum(stage[0] for stage in STAGES)  # 16 MBConv blocks
# Index of the last block at strides 4, 8, 16, 32 (the features the head reads).
FEATURE_BLOCKS = {"c2": 2, "c3": 4, "c4": 10, "c5": 15}


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _relu6(name: str) -> keras.layers.ReLU:
    return keras.layers.ReLU(max_value=6.0, name=name)


def apply_mbconv(x, kernel: int, stride: int, expand: int, filters: int, name: str):
    """Inverted residual (MBConv, no SE): B x H x W x C_in -> B x H/s x W/s x filters."""
    inputs = x
    channels = x.shape[-1]
    if expand != 1:
        x = keras.layers.Conv2D(channels * expand, 1, use_bias=False, name=f"{name}_expand")(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = _relu6(f"{name}_expand_relu")(x)
    x = keras.layers.DepthwiseConv2D(
        kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    x = _bn(f"{name}_dw_bn")(x)
    x = _relu6(f"{name}_dw_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and channels == filters:
        x = keras.layers.Add(name=f"{name}_add")([inputs, x])
    return x


def apply_backbone(image) -> dict:
    """``image`` B x S x S x 3 -> {c2, c3, c4, c5} feature maps (see the module docstring)."""
    x = keras.layers.Conv2D(
        STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv"
    )(image)
    x = _bn("stem_bn")(x)
    x = _relu6("stem_relu")(x)
    features, block = {}, 0
    wanted = {index: key for key, index in FEATURE_BLOCKS.items()}
    for repeats, kernel, stride, expand, filters in STAGES:
        for r in range(repeats):
            x = apply_mbconv(x, kernel, stride if r == 0 else 1, expand, filters, f"block{block}")
            if block in wanted:
                features[wanted[block]] = x
            block += 1
    return features


def _conv_bn_relu(x, filters: int, name: str, separable: bool = False):
    if separable:
        x = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, 1, use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def apply_pyramid(features: dict, channels: int):
    """The head's top-down trunk: {c2..c5} -> P2, B x S/4 x S/4 x C (BN + ReLU)."""
    p = _conv_bn_relu(features["c5"], channels, "head_p5")
    for level in ("c4", "c3", "c2"):
        lateral = _conv_bn_relu(features[level], channels, f"head_{level}_lateral")
        p = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"head_{level}_up")(p)
        p = keras.layers.Add(name=f"head_{level}_merge")([p, lateral])
        p = _conv_bn_relu(p, channels, f"head_{level}_smooth", separable=True)
    return p


def apply_head(features: dict, channels: int, joints: int):
    """Top-down head: {c2..c5} -> ``heatmaps_1`` B x S/4 x S/4 x K float32 (linear)."""
    p = apply_pyramid(features, channels)
    # float32 so the loss sees full-precision heatmaps under mixed precision.
    return keras.layers.Conv2D(joints, 1, dtype="float32", name="heatmaps_1")(p)


def apply_simcc_head(features: dict, channels: int, joints: int, bins: int,
                     hidden: int = SIMCC_HIDDEN):
    """SimCC head (``codecs/simcc.py``): {c2..c5} -> (``simcc_x``, ``simcc_y``), each
    B x K x ``bins`` float32 logits.

    The same trunk as ``apply_head`` to P2, then, as RTMPose: a 1x1 conv to one map per joint
    (B x S/4 x S/4 x K), each joint's map flattened (B x K x (S/4)^2: every stride-4 position
    votes for every bin), LayerNorm (RTMPose's ScaleNorm: the flattened maps' scale does not
    depend on S), a Dense of ``hidden`` units with GELU shared by all joints, and one linear
    Dense per axis to the bins. The flatten ties the model to its input size.
    """
    p = apply_pyramid(features, channels)
    maps = keras.layers.Conv2D(joints, 1, name="simcc_joint_maps")(p)
    side = maps.shape[1] * maps.shape[2]
    x = keras.layers.Permute((3, 1, 2), name="simcc_joints_first")(maps)  # B x K x S/4 x S/4
    x = keras.layers.Reshape((joints, side), name="simcc_flatten")(x)
    x = keras.layers.LayerNormalization(name="simcc_norm")(x)
    x = keras.layers.Dense(hidden, activation="gelu", name="simcc_hidden")(x)
    # float32 so the loss sees full-precision logits under mixed precision.
    simcc_x = keras.layers.Dense(bins, dtype="float32", name="simcc_x")(x)
    simcc_y = keras.layers.Dense(bins, dtype="float32", name="simcc_y")(x)
    return simcc_x, simcc_y


def load_backbone_weights(model: keras.Model, path: str | Path) -> int:
    """Copies ImageNet backbone weights from an ``.npz`` into ``model``; returns layers set.

    Every layer named in the file must exist with the same weight shapes: a file for another
    architecture is an error naming the layer, never a silent partial load.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"model.backbone_weights: {path} does not exist; write it with "
            "`python scripts/import_imagenet_backbone.py` (or set it to null)"
        )
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    by_layer: dict[str, dict[int, np.ndarray]] = {}
    for key, value in arrays.items():
        layer, _, index = key.rpartition("/")
        by_layer.setdefault(layer, {})[int(index)] = value
    for layer_name, weights in by_layer.items():
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise ConfigError(
                f"model.backbone_weights: {path} has weights for layer {layer_name!r}, which "
                f"{model.name} does not have"
            ) from None
        current = layer.get_weights()
        new = [weights.get(i) for i in range(len(current))]
        for i, (old, value) in enumerate(zip(current, new)):
            if value is None or value.shape != old.shape:
                got = None if value is None else value.shape
                raise ConfigError(
                    f"model.backbone_weights: {path}: layer {layer_name!r} weight {i} has "
                    f"shape {got}, the model expects {old.shape}"
                )
        layer.set_weights(new)
    return len(by_layer)


def input_multiple(cfg) -> int:
    """The input sides the network takes are multiples of this: its stride-32 features."""
    return 32


def _check(cfg) -> None:
    if cfg.data.heatmap_stride != STRIDE:
        raise ConfigError(
            f"data.heatmap_stride: efficientnet_lite0 predicts at input/{STRIDE}, "
            f"received {cfg.data.heatmap_stride}"
        )
    if cfg.data.input_size % input_multiple(cfg):
        raise ConfigError(
            f"data.input_size: efficientnet_lite0 needs a multiple of {input_multiple(cfg)} "
            "(stride 32 features), "
            f"received {cfg.data.input_size}"
        )
    if cfg.model.num_channels < 1:
        raise ConfigError(f"model.num_channels: expected >= 1, received {cfg.model.num_channels}")
    if not 0 <= cfg.model.frozen_blocks <= NUM_BLOCKS:
        raise ConfigError(f"model.frozen_blocks: expected 0 to {NUM_BLOCKS}, "
                          f"received {cfg.model.frozen_blocks}")


def frozen_layer_names(model: keras.Model, blocks: int) -> list[str]:
    """The backbone layers ``model.frozen_blocks = blocks`` freezes: the stem (when blocks > 0)
    and every layer of blocks 0 .. blocks - 1, by their ``stem_`` / ``block{i}_`` names."""
    if blocks <= 0:
        return []
    prefixes = ("stem_",) + tuple(f"block{i}_" for i in range(blocks))
    return [layer.name for layer in model.layers if layer.name.startswith(prefixes)]


def build_efficientnet_lite0(cfg) -> keras.Model:
    """EfficientNet-Lite0 heatmap model: ``image`` -> {``heatmaps_1``: B x S/4 x S/4 x K}."""
    _check(cfg)
    image = image_input(cfg)
    features = apply_backbone(image)
    heatmaps = apply_head(features, cfg.model.num_channels, cfg.model.num_joints)
    model = keras.Model({"image": image}, {"heatmaps_1": heatmaps}, name="efficientnet_lite0")
    return _freeze(model, cfg.model.frozen_blocks)


def build_efficientnet_lite0_simcc(cfg, split_ratio: int) -> keras.Model:
    """EfficientNet-Lite0 SimCC model (``model.kind: efficientnet_lite0_simcc``): ``image`` ->
    {``simcc_x``, ``simcc_y``: B x K x S * ``split_ratio``}; the heatmap model's layers and
    names up to P2, so ``frozen_blocks`` and ``load_backbone_weights`` work alike."""
    _check(cfg)
    image = image_input(cfg)
    features = apply_backbone(image)
    simcc_x, simcc_y = apply_simcc_head(features, cfg.model.num_channels, cfg.model.num_joints,
                                        cfg.data.input_size * split_ratio)
    model = keras.Model({"image": image}, {"simcc_x": simcc_x, "simcc_y": simcc_y},
                        name="efficientnet_lite0_simcc")
    return _freeze(model, cfg.model.frozen_blocks)


def _freeze(model: keras.Model, blocks: int) -> keras.Model:
    # A frozen BatchNorm also runs in inference mode (Keras 3): its statistics stay ImageNet's.
    for name in frozen_layer_names(model, blocks):
        model.get_layer(name).trainable = False
    return model
