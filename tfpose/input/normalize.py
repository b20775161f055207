"""Image normalisations (``data.normalization``) on raw 0..255 images ``... x S x S x 3``.

``zero_center``: the report's per-image, per-channel mean subtracted, no scaling;
``imagenet``: ``(x / 255 - mean) / std`` for pretrained backbones; ``signed``: ``x / 127.5 - 1``
(TF's own ImageNet checkpoints, EfficientNet-Lite's); ``unit``: ``x / 255``; ``none``: raw
0..255 (for models that normalise in-graph, the two-stage model). One implementation for the
pipeline, the two-stage graph's ``NormalizeImage`` layer and the export.
"""

from __future__ import annotations

import tensorflow as tf

from tfpose.core.errors import ConfigError

NORMALIZATIONS = ("zero_center", "imagenet", "signed", "unit", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check(method: str) -> None:
    """ConfigError unless ``method`` is one of ``NORMALIZATIONS``."""
    if method not in NORMALIZATIONS:
        raise ConfigError(f"data.normalization: unknown {method!r}; expected one of {NORMALIZATIONS}")


def normalize_images(images, method: str):
    """Raw images ``... x S x S x 3`` (any dtype) -> float32 model inputs (see the module doc)."""
    check(method)
    image = tf.cast(images, tf.float32)
    if method == "zero_center":
        image = image - tf.reduce_mean(image, axis=[-3, -2], keepdims=True)
    elif method == "imagenet":
        image = (image / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)
    elif method == "signed":
        image = image / 127.5 - 1.0
    elif method == "unit":
        image = image / 255.0
    return image
