"""What every pose builder shares: the ``image`` input and the regression output.

Regression builders (CDRP, ResNet34) end in ``apply_keypoints_output``: ``keypoints`` B x K x 2
in ``cfg.data.coord_frame`` (``codecs/regression.py``). Heatmap builders (hourglass,
EfficientNet-Lite0) end in ``heatmaps_1 .. heatmaps_N``, each B x S/4 x S/4 x K float32.
``K = cfg.model.num_joints`` (16 for MPII).
"""

from __future__ import annotations

import keras

from tfpose.codecs import regression
from tfpose.core.errors import ConfigError


def image_input(cfg) -> keras.KerasTensor:
    """The ``image`` input, float32 B x S x S x 3 with ``S = cfg.data.input_size``."""
    size = cfg.data.input_size
    if size <= 0:
        raise ConfigError(f"data.input_size: expected a positive integer, received {size}")
    return keras.Input(shape=(size, size, 3), dtype="float32", name="image")


def apply_keypoints_output(x, cfg, name: str = "keypoints"):
    """Features B x F -> ``keypoints`` B x K x 2 (float32 even under mixed precision).

    The Dense layer predicts in units of half the input side and a fixed Rescaling by
    ``regression.half_size`` maps them to the configured frame: a freshly initialised Dense
    emits values of order 1, so regressing ±112-pixel targets directly starts with a loss of
    ~4000 and makes SGD at the report's lr 5e-4 diverge. The constant is a reparameterisation of
    the last layer (no parameters), so the network is otherwise the report's.
    """
    k = cfg.model.num_joints
    scale = regression.half_size(cfg.data.input_size, cfg.data.coord_frame)
    x = keras.layers.Dense(2 * k, dtype="float32", name=f"{name}_dense")(x)
    x = keras.layers.Rescaling(scale, dtype="float32", name=f"{name}_scale")(x)
    return keras.layers.Reshape((k, 2), dtype="float32", name=name)(x)
