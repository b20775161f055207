"""ResNet-34 keypoint regression (DeepPose-style; the report's Table 1: PCKh 34.37).

``image`` B x S x S x 3 -> keras-hub ``ResNetBackbone`` (basic blocks [3, 4, 6, 3],
64/128/256/512 filters, post-activation v1; 21.28 M parameters) -> B x S/32 x S/32 x 512
-> global average pooling -> bottleneck Dense(fc_units, ReLU) -> Dropout -> ``keypoints``
B x K x 2.

``cfg.model.preset`` (a keras-hub preset name such as ``"resnet_vd_34_imagenet"`` -- needs the
network -- or a local preset folder) loads pretrained weights with
``ResNetBackbone.from_preset``; the default ``None`` builds the same architecture randomly
initialised without touching the network. keras-hub ships no plain ResNet-34 ImageNet preset;
a local folder exported from elsewhere works as long as it is a ResNetBackbone preset.
"""

from __future__ import annotations

import keras

from tfpose.core.errors import ConfigError
from tfpose.models.heads import apply_keypoints_output, image_input

RESNET34_ARGS = dict(
    input_conv_filters=[64],
    input_conv_kernel_sizes=[7],
    stackwise_num_filters=[64, 128, 256, 512],
    stackwise_num_blocks=[3, 4, 6, 3],
    stackwise_num_strides=[1, 2, 2, 2],
    block_type="basic_block",
    use_pre_activation=False,
)


def build_resnet34_backbone(cfg) -> keras.Model:
    """The ResNet-34 feature extractor: B x S x S x 3 -> B x S/32 x S/32 x 512."""
    import keras_hub  # heavy import kept local: only this model needs it

    size = cfg.data.input_size
    if cfg.model.preset:
        try:
            backbone = keras_hub.models.ResNetBackbone.from_preset(
                cfg.model.preset, image_shape=(size, size, 3), name="backbone"
            )
        except Exception as err:  # keras-hub raises several types for a bad preset
            raise ConfigError(
                f"model.preset: cannot load ResNetBackbone preset {cfg.model.preset!r}: {err}"
            ) from err
    else:
        backbone = keras_hub.models.ResNetBackbone(
            image_shape=(size, size, 3), name="backbone", **RESNET34_ARGS
        )
    return backbone


def build_resnet34(cfg) -> keras.Model:
    """ResNet-34 regression from ``cfg`` (model.preset, fc_units, dropout, num_joints)."""
    size = cfg.data.input_size
    if size < 32:
        raise ConfigError(f"data.input_size: ResNet-34 downsamples by 32, received {size}")
    image = image_input(cfg)
    features = build_resnet34_backbone(cfg)(image)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    x = keras.layers.Dense(cfg.model.fc_units, activation="relu", name="bottleneck")(x)
    x = keras.layers.Dropout(cfg.model.dropout, name="bottleneck_dropout")(x)
    keypoints = apply_keypoints_output(x, cfg)
    return keras.Model({"image": image}, {"keypoints": keypoints}, name="resnet34")
