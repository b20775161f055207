"""Action classifiers: the report's image branch, joint embeddings and fusion head.

Three families, chosen by ``cfg.model.image_branch`` and ``cfg.model.joint_embedding``:

- image-only baseline (``image_branch: true``, ``joint_embedding: none``): the report's
  baseline, image -> 4624 features -> Dense 128 -> Dense C. The report states this head
  ("flatten layer and 2 fully connected layers ... from 4624 to 128, finally to 15"), so the
  baseline has no 256-wide fusion layers.
- image + joints (``joint_embedding``: linear | conv | pairwise | transformer): concat(image 128,
  joints 128) = 256 -> Dense 256 -> Dense 256 -> Dense C, as in the report.
- joints-only (``image_branch: false``): joints 128 -> Dense 256 -> Dense 256 -> Dense C, for
  datasets converted with ``--annotations-only``.

Image branch (report, Fig. 6): two blocks Conv(k4, valid, stride 1) -> BatchNorm -> Dropout ->
MaxPool -> ReLU with 32 then 16 filters, flatten, Dense 128. The report flattens 4624 = 17 x 17
x 16 features at S = 224; non-overlapping pools of 4 then 3 give exactly that:
224 -conv4-> 221 -pool4-> 55 -conv4-> 52 -pool3-> 17  (at S = 64: 61 -> 15 -> 12 -> 4).

The output ``action`` is the B x C softmax in float32 even under a mixed precision policy, so
the loss and the exported probabilities never round through float16. Kernels of every Dense,
Conv and attention layer carry the report's L2 weight decay ``cfg.model.l2``.
"""

from __future__ import annotations

import keras

from tfpose.core.errors import ConfigError
from tfpose.models.joint_embeddings import (
    EMBED_DIM,
    EMBEDDINGS,
    apply_joint_embedding,
    joints_input,
    kernel_regularizer,
)

IMAGE_FILTERS = (32, 16)
IMAGE_KERNEL = 4
IMAGE_POOLS = (4, 3)  # 224 -> 17 x 17 x 16 = 4624 flattened features, as in the report
FUSION_UNITS = (256, 256)


def image_feature_size(input_size: int) -> int:
    """Flattened image-branch features for an S x S input (4624 at S = 224)."""
    side = input_size
    for pool in IMAGE_POOLS:
        side = (side - IMAGE_KERNEL + 1) // pool
    return side * side * IMAGE_FILTERS[-1]


def apply_image_branch(image, *, dropout: float = 0.1, l2: float = 0.0, name: str = "image"):
    """B x S x S x 3 normalised image -> B x 128 image features (the report's extractor)."""
    x = image
    for i, (filters, pool) in enumerate(zip(IMAGE_FILTERS, IMAGE_POOLS), start=1):
        x = keras.layers.Conv2D(
            filters,
            IMAGE_KERNEL,
            strides=1,
            padding="valid",
            kernel_regularizer=kernel_regularizer(l2),
            name=f"{name}_conv{i}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
        x = keras.layers.MaxPooling2D(pool, name=f"{name}_pool{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    return keras.layers.Dense(
        EMBED_DIM,
        activation="relu",
        kernel_regularizer=kernel_regularizer(l2),
        name=f"{name}_dense",
    )(x)


def image_input(cfg) -> keras.KerasTensor:
    """The ``image`` model input: float32 B x S x S x 3, normalised."""
    s = cfg.data.input_size
    return keras.Input((s, s, 3), dtype="float32", name="image")


def build_image_branch(cfg) -> keras.Model:
    """``image`` -> B x 128, as a standalone model (tests, inspection)."""
    _check_input_size(cfg.data.input_size)
    image = image_input(cfg)
    features = apply_image_branch(image, dropout=cfg.model.dropout, l2=cfg.model.l2)
    return keras.Model(image, features, name="image_branch")


def apply_classifier_head(features, num_classes: int, *, hidden=FUSION_UNITS, l2: float = 0.0):
    """B x F features -> ``action`` B x C float32 softmax through Dense(hidden...) with ReLU."""
    x = features
    for i, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(
            units,
            activation="relu",
            kernel_regularizer=kernel_regularizer(l2),
            name=f"fusion_dense{i}",
        )(x)
    return keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=kernel_regularizer(l2),
        dtype="float32",
        name="action",
    )(x)


def build_classifier(cfg, num_classes: int | None = None) -> keras.Model:
    """The action classifier that ``cfg.model`` describes.

    Inputs (only those used): ``image`` float32 B x S x S x 3 (normalised) and ``joints``
    float32 B x K x 3 (x, y, visible in input pixels 0..S). Output: ``action`` float32 B x C.
    ``num_classes`` overrides ``cfg.model.num_classes`` (0 there means "from the manifest",
    which the caller must then pass).
    """
    m = cfg.model
    num_classes = num_classes or m.num_classes
    if not num_classes or num_classes < 2:
        raise ConfigError(
            "classifier: number of classes unknown or < 2; pass num_classes or set "
            f"model.num_classes (received num_classes={num_classes!r})"
        )
    if m.joint_embedding not in ("none", *EMBEDDINGS):
        raise ConfigError(
            f"model.joint_embedding: expected none or one of {', '.join(EMBEDDINGS)}; "
            f"received {m.joint_embedding!r}"
        )
    use_joints = m.joint_embedding != "none"
    if not m.image_branch and not use_joints:
        raise ConfigError(
            "classifier: model.image_branch is false and model.joint_embedding is 'none'; "
            "the model would have no input"
        )

    inputs, features = {}, []
    if m.image_branch:
        _check_input_size(cfg.data.input_size)
        inputs["image"] = image_input(cfg)
        features.append(apply_image_branch(inputs["image"], dropout=m.dropout, l2=m.l2))
    if use_joints:
        inputs["joints"] = joints_input(cfg)
        features.append(apply_joint_embedding(inputs["joints"], cfg))

    if len(features) == 2:
        x = keras.layers.Concatenate(name="fusion_concat")(features)  # B x 256
        hidden = FUSION_UNITS
    elif m.image_branch:
        x, hidden = features[0], ()  # the report's baseline: 128 -> C
    else:
        x, hidden = features[0], FUSION_UNITS
    outputs = apply_classifier_head(x, num_classes, hidden=hidden, l2=m.l2)

    parts = (["image"] if m.image_branch else []) + ([m.joint_embedding] if use_joints else [])
    return keras.Model(inputs, outputs, name="classifier_" + "_".join(parts))


def _check_input_size(input_size: int) -> None:
    if image_feature_size(input_size) <= 0:
        raise ConfigError(
            f"data.input_size: the image branch (two 4x4 convs, pools {IMAGE_POOLS}) needs at "
            f"least 18 pixels; received {input_size}"
        )
