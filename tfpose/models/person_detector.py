"""Person detector on the EfficientNet-Lite0 trunk (``model.kind: efficientnet_lite0_centernet``).

One trunk, two heads is the plan: the detector is the pose model's backbone and top-down pyramid
(``efficientnet_lite.apply_backbone`` / ``apply_pyramid``, the same layer names, so
``train.init_weights=lspet`` copies both from the shipped pose weights) ending, instead of joint
heatmaps, in CenterNet's three maps at stride 4 (``codecs/centers.py``):

    image B x S x S x 3 -> P2 B x S/4 x S/4 x C -> for each head: Conv3x3(HEAD_WIDTH) + ReLU ->
      centers    Conv1x1 -> B x S/4 x S/4 x 1 logits (bias at the 10 % prior, as CenterNet)
      box_size   Conv1x1 -> B x S/4 x S/4 x 2 (log(w / 4), log(h / 4))
      box_offset Conv1x1 -> B x S/4 x S/4 x 2 (centre within its cell)

Fully convolutional: any multiple of 32 works at inference (the person search runs on whole
photos at their own size).
"""

from __future__ import annotations

import math

import keras

from tfpose.models import efficientnet_lite
from tfpose.models.heads import image_input

STRIDE = efficientnet_lite.STRIDE
HEAD_WIDTH = 64  # CenterNet's head_conv for light trunks
CENTER_PRIOR = 0.1  # initial centre probability: the focal loss starts near its minimum


def apply_detection_head(p, name: str, outputs: int, bias: float = 0.0):
    """P2 ``B x H x W x C`` -> ``B x H x W x outputs`` float32 (linear)."""
    x = keras.layers.Conv2D(HEAD_WIDTH, 3, padding="same", name=f"{name}_conv")(p)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.Conv2D(outputs, 1, dtype="float32", name=name,
                               bias_initializer=keras.initializers.Constant(bias))(x)


def build_person_detector(cfg) -> keras.Model:
    """``image`` -> {``centers``, ``box_size``, ``box_offset``} (see the module docstring)."""
    efficientnet_lite._check(cfg)
    image = image_input(cfg)
    p2 = efficientnet_lite.apply_pyramid(efficientnet_lite.apply_backbone(image),
                                         cfg.model.num_channels)
    prior = -math.log((1.0 - CENTER_PRIOR) / CENTER_PRIOR)
    outputs = {
        "centers": apply_detection_head(p2, "centers", 1, prior),
        "box_size": apply_detection_head(p2, "box_size", 2),
        "box_offset": apply_detection_head(p2, "box_offset", 2),
    }
    model = keras.Model({"image": image}, outputs, name="efficientnet_lite0_centernet")
    return efficientnet_lite._freeze(model, cfg.model.frozen_blocks)
