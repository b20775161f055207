"""Pose-model dispatch and the regression output shared by CDRP and ResNet34.

``build_pose_model(cfg)`` picks the builder from ``cfg.model.kind``:

- ``cdrp``, ``resnet34`` (regression): ``image`` B x S x S x 3 -> ``keypoints`` B x K x 2 in
  ``cfg.data.coord_frame`` (``centered``: pixels - S/2; ``unit``: (pixels - S/2) / (S/2)).
- ``hourglass`` (heatmaps): ``image`` -> ``heatmaps_1`` ... ``heatmaps_N``, each
  B x S/4 x S/4 x K float32; the last is the final prediction.
- ``efficientnet_lite0`` (heatmaps, ImageNet backbone): ``image`` -> ``heatmaps_1`` alone.

``K = cfg.model.num_joints`` (16 for MPII).
"""

from __future__ import annotations

import keras

from tfpose.errors import ConfigError

from tfpose.config import COORD_FRAMES, HEATMAP_KINDS, POSE_KINDS, REGRESSION_KINDS  # noqa: F401


def is_heatmap_model(cfg) -> bool:
    """True when ``cfg.model.kind`` predicts heatmaps (one output per stack), False for regression."""
    kind = cfg.model.kind
    if kind in HEATMAP_KINDS:
        return True
    if kind in REGRESSION_KINDS:
        return False
    raise ConfigError(
        f"model.kind: not a pose model, received {kind!r}; expected one of {', '.join(POSE_KINDS)}"
    )


def pose_output_names(cfg) -> list[str]:
    """Names of the pose model's outputs, in order (the last one is the final prediction)."""
    if is_heatmap_model(cfg):
        stacks = cfg.model.num_stacks if cfg.model.kind == "hourglass" else 1
        return [f"heatmaps_{i + 1}" for i in range(stacks)]
    return ["keypoints"]


def build_pose_model(cfg) -> keras.Model:
    """Builds the pose network named by ``cfg.model.kind`` (see the module docstring)."""
    kind = cfg.model.kind
    is_heatmap_model(cfg)  # validates the kind
    # Imported here: the builders import this module for the shared regression output.
    if kind == "cdrp":
        from tfpose.models.cdrp import build_cdrp

        return build_cdrp(cfg)
    if kind == "resnet34":
        from tfpose.models.resnet import build_resnet34

        return build_resnet34(cfg)
    if kind == "efficientnet_lite0":
        from tfpose.models.efficientnet_lite import build_efficientnet_lite0

        return build_efficientnet_lite0(cfg)
    from tfpose.models.hourglass import build_hourglass

    return build_hourglass(cfg)


def image_input(cfg) -> keras.KerasTensor:
    """The ``image`` input, float32 B x S x S x 3 with ``S = cfg.data.input_size``."""
    size = cfg.data.input_size
    if size <= 0:
        raise ConfigError(f"data.input_size: expected a positive integer, received {size}")
    return keras.Input(shape=(size, size, 3), dtype="float32", name="image")


def coord_scale(cfg) -> float:
    """Output multiplier for the regression head: S/2 for ``centered``, 1 for ``unit``."""
    frame = cfg.data.coord_frame
    if frame not in COORD_FRAMES:
        raise ConfigError(
            f"data.coord_frame: received {frame!r}; expected one of {', '.join(COORD_FRAMES)}"
        )
    return cfg.data.input_size / 2.0 if frame == "centered" else 1.0


def apply_keypoints_output(x, cfg, name: str = "keypoints"):
    """Features B x F -> ``keypoints`` B x K x 2 (float32 even under mixed precision).

    The Dense layer predicts unit-scale coordinates and a fixed Rescaling by S/2 maps them to
    the ``centered`` frame: a freshly initialised Dense emits values of order 1, so regressing
    ±112-pixel targets directly starts with a loss of ~4000 and makes SGD at the report's
    lr 5e-4 diverge. The constant is a reparameterisation of the last layer (no parameters),
    so the network is otherwise the report's.
    """
    k = cfg.model.num_joints
    x = keras.layers.Dense(2 * k, dtype="float32", name=f"{name}_dense")(x)
    x = keras.layers.Rescaling(coord_scale(cfg), dtype="float32", name=f"{name}_scale")(x)
    return keras.layers.Reshape((k, 2), dtype="float32", name=name)(x)
