"""Person detector on the EfficientNet-Lite0 trunk (``model.kind: efficientnet_lite0_centernet``).

One trunk, two heads is the plan: the detector is the pose model's backbone and top-down pyramid
(``efficientnet_lite.apply_backbone`` / ``apply_pyramid``, the same layer names, so
``train.init_weights=lspet`` copies both from the shipped pose weights) ending, instead of joint
heatmaps, in CenterNet's three maps at stride 4 (``codecs/centers.py``):

    image B x S x S x 3 -> P2 B x S/4 x S/4 x C -> for each head: Conv3x3(HEAD_WIDTH) + ReLU ->
      centers    Conv1x1 -> B x S/4 x S/4 x 1 logits (bias at the 10 % prior, as CenterNet)
      box_size   Conv1x1 -> B x S/4 x S/4 x 2 (log(w / 4), log(h / 4))
      box_offset Conv1x1 -> B x S/4 x S/4 x 2 (centre within its cell)

The 3 x 3 layer is a full convolution (CenterNet's) or, with ``model.detection_head:
separable``, depthwise + pointwise: at stride 4 the three full ones cost more than the backbone.
With ``model.shared_trunk`` the network is also the pose model: its trunk, pyramid and heatmap
head are copied (``train.init_weights``) and frozen, and it answers ``heatmaps_1`` beside the
three maps, so one pass over a whole photo gives the pose model's pass 1 and the people in it.

Fully convolutional: any multiple of 32 works at inference (the person search runs on whole
photos at their own size).
"""

from __future__ import annotations

import math

import keras

from tfpose.core.errors import ConfigError
from tfpose.models import efficientnet_lite
from tfpose.models.heads import image_input

STRIDE = efficientnet_lite.STRIDE
HEAD_WIDTH = 64  # CenterNet's head_conv for light trunks
CENTER_PRIOR = 0.1  # initial centre probability: the focal loss starts near its minimum
DETECTION_HEADS = ("conv", "separable")  # model.detection_head
# model.shared_trunk also freezes the pose model's pyramid and heatmap head (their layer names).
SHARED_PREFIXES = ("head_", "heatmaps_1")


def apply_detection_head(p, name: str, outputs: int, bias: float = 0.0, kind: str = "conv"):
    """P2 ``B x H x W x C`` -> ``B x H x W x outputs`` float32 (linear); ``kind`` is the 3 x 3
    layer (``model.detection_head``; its own layer name, so weights of one never load into
    the other)."""
    if kind == "separable":
        x = keras.layers.SeparableConv2D(HEAD_WIDTH, 3, padding="same", name=f"{name}_sep")(p)
    else:
        x = keras.layers.Conv2D(HEAD_WIDTH, 3, padding="same", name=f"{name}_conv")(p)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.Conv2D(outputs, 1, dtype="float32", name=name,
                               bias_initializer=keras.initializers.Constant(bias))(x)


def build_person_detector(cfg) -> keras.Model:
    """``image`` -> {``centers``, ``box_size``, ``box_offset``} (see the module docstring),
    plus ``heatmaps_1`` B x S/4 x S/4 x K with ``model.shared_trunk`` (everything but the
    detection heads frozen)."""
    efficientnet_lite._check(cfg)
    kind = cfg.model.detection_head
    if kind not in DETECTION_HEADS:
        raise ConfigError(f"model.detection_head must be one of {', '.join(DETECTION_HEADS)}. "
                          f"Received: {kind!r}")
    image = image_input(cfg)
    p2 = efficientnet_lite.apply_pyramid(efficientnet_lite.apply_backbone(image),
                                         cfg.model.num_channels)
    prior = -math.log((1.0 - CENTER_PRIOR) / CENTER_PRIOR)
    outputs = {
        "centers": apply_detection_head(p2, "centers", 1, prior, kind),
        "box_size": apply_detection_head(p2, "box_size", 2, kind=kind),
        "box_offset": apply_detection_head(p2, "box_offset", 2, kind=kind),
    }
    if not cfg.model.shared_trunk:
        model = keras.Model({"image": image}, outputs, name="efficientnet_lite0_centernet")
        return efficientnet_lite._freeze(model, cfg.model.frozen_blocks)
    # The pose model's heatmap head on the same P2 (``efficientnet_lite.apply_head``'s layer):
    # with its trunk frozen, these are the pose model's own heatmaps.
    outputs["heatmaps_1"] = keras.layers.Conv2D(cfg.model.num_joints, 1, dtype="float32",
                                                name="heatmaps_1")(p2)
    model = keras.Model({"image": image}, outputs, name="efficientnet_lite0_centernet")
    efficientnet_lite._freeze(model, efficientnet_lite.NUM_BLOCKS)
    for layer in model.layers:
        if layer.name.startswith(SHARED_PREFIXES):
            layer.trainable = False
    return model
