"""CDRP: the report's own regression baseline (Conv-Dropout-ReLU-Pool, Table 1: PCKh 26.00).

``image`` B x S x S x 3 -> 4 x (Conv 3x3 stride 1 "same" -> Dropout -> ReLU -> MaxPool 2)
-> B x S/16 x S/16 x 128 (14 x 14 x 128 at the report's S = 224) -> flatten
-> 4 x (BatchNorm -> Dense): fc_units, fc_units, fc_units with ReLU, then 2K linear
-> ``keypoints`` B x K x 2.

The report fixes only the last conv width (128); the filters double per block from 16
(16/32/64/128) as in most small VGG-style nets. Hidden FC width is ``cfg.model.fc_units``
(the report does not give it). At S = 224 with fc_units 1024 the first FC dominates the
parameter count (25088 x 1024 = 25.7 M).
"""

from __future__ import annotations

import keras

from tfpose.core.errors import ConfigError
from tfpose.models.heads import apply_keypoints_output, image_input

CONV_FILTERS = (16, 32, 64, 128)
NUM_FC = 4  # the report: four fully connected layers, the last one the 32-vector output


def apply_cdrp_block(x, filters: int, dropout: float, name: str):
    """Conv 3x3 (stride 1, same) -> Dropout -> ReLU -> MaxPool 2: B x H x W x C -> B x H/2 x W/2 x filters."""
    x = keras.layers.Conv2D(filters, 3, strides=1, padding="same", name=f"{name}_conv")(x)
    x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def build_cdrp(cfg) -> keras.Model:
    """CDRP from ``cfg`` (model.dropout, model.fc_units, model.num_joints, data.input_size)."""
    size = cfg.data.input_size
    if size < 16:
        raise ConfigError(f"data.input_size: CDRP pools 4 times, needs >= 16, received {size}")
    if not 0.0 <= cfg.model.dropout < 1.0:
        raise ConfigError(f"model.dropout: expected a rate in [0, 1), received {cfg.model.dropout}")
    image = image_input(cfg)
    x = image
    for i, filters in enumerate(CONV_FILTERS):
        x = apply_cdrp_block(x, filters, cfg.model.dropout, name=f"block{i + 1}")
    x = keras.layers.Flatten(name="fc_flatten")(x)
    for i in range(NUM_FC - 1):
        x = keras.layers.BatchNormalization(name=f"fc{i + 1}_bn")(x)
        x = keras.layers.Dense(cfg.model.fc_units, activation="relu", name=f"fc{i + 1}")(x)
    x = keras.layers.BatchNormalization(name=f"fc{NUM_FC}_bn")(x)
    keypoints = apply_keypoints_output(x, cfg)
    return keras.Model({"image": image}, {"keypoints": keypoints}, name="cdrp")
