"""Stacked hourglass network (Newell, Yang, Deng, ECCV 2016), the report's benchmark.

Follows the authors' Torch code (``hg.lua``, one residual module per site):

- stem: ``image`` B x S x S x 3 -> Conv 7x7/2 (64) -> BN -> ReLU -> Residual(128) -> MaxPool 2
  -> Residual(128) -> Residual(C): B x S/4 x S/4 x C  (C = ``cfg.model.num_channels``).
- N stacks (``cfg.model.num_stacks``), each: hourglass of depth ``cfg.model.hourglass_depth``
  -> Residual(C) -> Conv 1x1 + BN + ReLU -> Conv 1x1 to K = ``heatmaps_i`` B x S/4 x S/4 x K
  (float32 even under mixed precision). Between stacks the next input is
  ``x + Conv1x1(features) + Conv1x1(heatmaps)`` (the remaps), so every stack refines the last.
- Residual: the paper's pre-activation bottleneck BN-ReLU-Conv1x1(C/2) -> BN-ReLU-Conv3x3(C/2)
  -> BN-ReLU-Conv1x1(C), identity skip (a 1x1 conv when the width changes).

All stacks are outputs (intermediate supervision: the same target for each, losses summed).
Parameters at C = 256, K = 16, depth 4 (tests/models/test_pose_models.py pins these): 2 stacks
6,601,888 (6,570,400 trainable); 8 stacks 25,554,688 (25,434,112 trainable), the published
~25 M.
"""

from __future__ import annotations

import keras

from tfpose.core.errors import ConfigError
from tfpose.models.heads import image_input

STRIDE = 4  # stem: conv stride 2 then max-pool 2
STEM_FILTERS = 64
STEM_RESIDUAL_FILTERS = 128
# Torch's BatchNorm default (momentum 0.1 there = 0.9 here), as in the authors' code: Keras's
# 0.99 lets the inference statistics lag far behind the weights in short runs.
BN_MOMENTUM = 0.9


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def apply_residual(x, filters: int, name: str):
    """Pre-activation bottleneck residual module: B x H x W x C_in -> B x H x W x filters."""
    mid = filters // 2
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    y = x
    for i, (width, kernel) in enumerate(((mid, 1), (mid, 3), (filters, 1)), start=1):
        y = batch_norm(f"{name}_bn{i}")(y)
        y = keras.layers.ReLU(name=f"{name}_relu{i}")(y)
        y = keras.layers.Conv2D(width, kernel, padding="same", name=f"{name}_conv{i}")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def apply_hourglass(x, depth: int, filters: int, name: str):
    """One hourglass, recursive: B x H x W x C -> B x H x W x C (H, W divisible by 2**depth).

    The upper branch keeps resolution; the lower one pools, recurses (or, at the bottom, applies
    one residual), and is upsampled (nearest) back and added.
    """
    upper = apply_residual(x, filters, name=f"{name}_up")
    lower = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    lower = apply_residual(lower, filters, name=f"{name}_low1")
    if depth > 1:
        lower = apply_hourglass(lower, depth - 1, filters, name=f"{name}_inner")
    else:
        lower = apply_residual(lower, filters, name=f"{name}_low2")
    lower = apply_residual(lower, filters, name=f"{name}_low3")
    lower = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(lower)
    return keras.layers.Add(name=f"{name}_add")([upper, lower])


def apply_conv_bn_relu(x, filters: int, name: str):
    """Conv 1x1 -> BN -> ReLU (the Torch code's ``lin``)."""
    x = keras.layers.Conv2D(filters, 1, name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def apply_stem(x, filters: int, name: str = "stem"):
    """B x S x S x 3 -> B x S/4 x S/4 x filters."""
    x = keras.layers.Conv2D(STEM_FILTERS, 7, strides=2, padding="same", name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    x = apply_residual(x, STEM_RESIDUAL_FILTERS, name=f"{name}_res1")
    x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    x = apply_residual(x, STEM_RESIDUAL_FILTERS, name=f"{name}_res2")
    return apply_residual(x, filters, name=f"{name}_res3")


def input_multiple(cfg) -> int:
    """The input sides the hourglass takes are multiples of this: the stem's stride times one
    halving per depth level."""
    return STRIDE * 2**cfg.model.hourglass_depth


def _check(cfg) -> None:
    m, size = cfg.model, cfg.data.input_size
    if cfg.data.heatmap_stride != STRIDE:
        raise ConfigError(
            f"data.heatmap_stride: the hourglass predicts at input/{STRIDE}, "
            f"received {cfg.data.heatmap_stride}"
        )
    if m.num_stacks < 1 or m.hourglass_depth < 1:
        raise ConfigError(
            f"model.num_stacks and model.hourglass_depth must be >= 1, "
            f"received {m.num_stacks} and {m.hourglass_depth}"
        )
    if m.num_channels < 2 or m.num_channels % 2:
        raise ConfigError(
            f"model.num_channels: bottlenecks halve it, needs an even number >= 2, "
            f"received {m.num_channels}"
        )
    multiple = input_multiple(cfg)
    if size % multiple:
        raise ConfigError(
            f"data.input_size: a depth-{m.hourglass_depth} hourglass needs a multiple of "
            f"{multiple}, received {size}"
        )


def build_hourglass(cfg) -> keras.Model:
    """Stacked hourglass from ``cfg``: ``image`` -> {``heatmaps_1`` ... ``heatmaps_N``}.

    Each output is B x S/4 x S/4 x K float32 (linear, no activation); the last one is the final
    prediction.
    """
    _check(cfg)
    channels, k = cfg.model.num_channels, cfg.model.num_joints
    image = image_input(cfg)
    x = apply_stem(image, channels)
    outputs = {}
    for s in range(1, cfg.model.num_stacks + 1):
        y = apply_hourglass(x, cfg.model.hourglass_depth, channels, name=f"hg{s}")
        y = apply_residual(y, channels, name=f"hg{s}_res")
        y = apply_conv_bn_relu(y, channels, name=f"hg{s}_lin")
        # float32 so the loss sees full-precision heatmaps under mixed_float16.
        heatmaps = keras.layers.Conv2D(k, 1, dtype="float32", name=f"heatmaps_{s}")(y)
        outputs[f"heatmaps_{s}"] = heatmaps
        if s < cfg.model.num_stacks:
            remap_features = keras.layers.Conv2D(channels, 1, name=f"hg{s}_remap_features")(y)
            remap_heatmaps = keras.layers.Conv2D(channels, 1, name=f"hg{s}_remap_heatmaps")(
                heatmaps
            )
            x = keras.layers.Add(name=f"hg{s}_merge")([x, remap_features, remap_heatmaps])
    return keras.Model(
        {"image": image}, outputs, name=f"hourglass{cfg.model.num_stacks}"
    )
