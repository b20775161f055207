"""Keypoint-consistent augmentation: one random affine per example, applied to image and joints.

The report thought augmentation impossible "because joints must follow"; here they follow. Per
example one 3x3 matrix ``A`` is drawn (rotation, scale, translation and an optional horizontal
flip, all about the image centre) and used twice: the image is resampled with ``A^-1``
(``ImageProjectiveTransformV3`` maps output pixels to input pixels, bilinear, zero fill) and the
keypoints are mapped with ``A``. A flip also swaps left and right joints (``mpii.FLIP_INDEX``),
so ``l_wrist`` still names the person's left wrist.

Pixel convention: integer coordinates are pixel centres (pixel ``i`` spans ``[i-0.5, i+0.5]``),
which is what ``ImageProjectiveTransformV3`` uses, so a flip maps ``x`` to ``S - 1 - x`` exactly.

Joints that leave the frame (outside ``0 <= x, y < S`` after the transform) lose BOTH flags:
``annotated`` becomes 0 (no loss on them: the target weight is the annotated flag) and
``visible`` (``keypoints[:, 2]``) becomes 0 (the model input treats them as missing). Their
coordinates are kept as transformed.

Randomness is stateless: every draw derives from ``example["seed"]`` (int64 [2]), which the
pipeline sets per example from ``train.seed`` and the example's position, so a deterministic
pipeline reproduces the same augmentations. Pure TF ops throughout (no ``py_function``).
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfpose.config import AugmentConfig
from tfpose.data.mpii import FLIP_INDEX


def _translation(tx, ty):
    one, zero = tf.ones_like(tx), tf.zeros_like(tx)
    return tf.stack([tf.stack([one, zero, tx]), tf.stack([zero, one, ty]), tf.stack([zero, zero, one])])


def affine_matrix(size, angle_deg=0.0, scale=1.0, tx=0.0, ty=0.0, flip=False):
    """The 3x3 float32 matrix mapping input pixels to output pixels of a ``size x size`` image.

    Order (right to left): centre the image, flip x (if ``flip``), scale, rotate by ``angle_deg``
    (clockwise on screen, y points down), move back to the centre plus ``(tx, ty)`` pixels.
    Arguments may be Python numbers or scalar tensors.
    """
    c = (float(size) - 1.0) / 2.0
    angle = tf.cast(angle_deg, tf.float32) * (math.pi / 180.0)
    scale = tf.cast(scale, tf.float32)
    fx = tf.where(tf.cast(flip, tf.bool), -1.0, 1.0)
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    zero, one = tf.zeros_like(cos), tf.ones_like(cos)
    linear = tf.stack(
        [tf.stack([cos * fx, -sin, zero]), tf.stack([sin * fx, cos, zero]), tf.stack([zero, zero, one])]
    )
    tx = tf.cast(tx, tf.float32)
    ty = tf.cast(ty, tf.float32)
    return _translation(c + tx, c + ty) @ linear @ _translation(-c * one, -c * one)


def random_matrix(seed, size, cfg: AugmentConfig):
    """Draws one affine per example from ``seed`` (int [2]); returns ``(matrix 3x3, flip bool)``."""
    u = tf.random.stateless_uniform([5], seed=tf.cast(seed, tf.int64), dtype=tf.float32)
    angle = (2.0 * u[0] - 1.0) * cfg.rotation
    scale = cfg.scale_min + u[1] * (cfg.scale_max - cfg.scale_min)
    tx = (2.0 * u[2] - 1.0) * cfg.translate * size
    ty = (2.0 * u[3] - 1.0) * cfg.translate * size
    flip = tf.logical_and(tf.constant(bool(cfg.flip)), u[4] < 0.5)
    return affine_matrix(size, angle, scale, tx, ty, flip), flip


def warp_image(image, matrix, output_size=None):
    """Resamples ``image`` (H x W x C) so that input pixel p lands at ``matrix @ p``; bilinear."""
    image = tf.convert_to_tensor(image)
    if output_size is None:
        output_size = tf.shape(image)[:2]
    inverse = tf.linalg.inv(tf.cast(matrix, tf.float32))
    inverse = inverse / inverse[2, 2]
    transform = tf.reshape(inverse, [9])[:8][None, :]
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform,
        output_shape=tf.cast(output_size, tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return warped[0]


def transform_keypoints(keypoints, annotated, matrix, flip, size):
    """Maps keypoints (K x 3 = x, y, visible) with ``matrix``; swaps left/right when ``flip``.

    Returns ``(keypoints K x 3, annotated K)``; joints outside ``[0, size)`` lose both flags.
    """
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    annotated = tf.cast(annotated, tf.float32)
    xy1 = tf.concat([keypoints[:, :2], tf.ones_like(keypoints[:, :1])], axis=1)
    moved = tf.linalg.matmul(xy1, tf.cast(matrix, tf.float32), transpose_b=True)[:, :2]
    visible = keypoints[:, 2]
    flip = tf.cast(flip, tf.bool)
    order = tf.where(flip, tf.constant(FLIP_INDEX, tf.int32), tf.range(len(FLIP_INDEX), dtype=tf.int32))
    moved = tf.gather(moved, order)
    visible = tf.gather(visible, order)
    annotated = tf.gather(annotated, order)
    inside = tf.reduce_all((moved >= 0.0) & (moved < float(size)), axis=1)
    inside = tf.cast(inside, tf.float32)
    return tf.concat([moved, (visible * inside)[:, None]], axis=1), annotated * inside


def color_jitter(image, strength, seed):
    """Random brightness, contrast and saturation factors in ``[1 - s, 1 + s]`` on a 0..255 image."""
    u = tf.random.stateless_uniform([3], seed=tf.cast(seed, tf.int64), dtype=tf.float32)
    factors = 1.0 + (2.0 * u - 1.0) * strength
    luma = tf.constant([0.299, 0.587, 0.114])
    image = image * factors[0]
    mean = tf.reduce_mean(tf.reduce_sum(image * luma, axis=-1))
    image = (image - mean) * factors[1] + mean
    gray = tf.reduce_sum(image * luma, axis=-1, keepdims=True)
    image = gray + (image - gray) * factors[2]
    return tf.clip_by_value(image, 0.0, 255.0)


def apply_affine(example, matrix, flip, size):
    """Stage helper: warps ``example["image"]`` (when present) and its keypoints with one matrix."""
    example = dict(example)
    if "image" in example:
        example["image"] = warp_image(example["image"], matrix, [size, size])
    example["keypoints"], example["annotated"] = transform_keypoints(
        example["keypoints"], example["annotated"], matrix, flip, size
    )
    return example


def flip(example, size):
    """Deterministic horizontal flip with the left/right swap (``x -> size - 1 - x``)."""
    return apply_affine(example, affine_matrix(size, flip=True), True, size)


def augment(example, cfg: AugmentConfig, size):
    """Augment stage (example dict -> example dict) for one ``size x size`` example.

    Reads ``image`` (float32 S x S x 3, 0..255; optional for joints-only data), ``keypoints``
    (K x 3), ``annotated`` (K) and ``seed`` (int64 [2]); returns them transformed. A no-op when
    ``cfg.enabled`` is false.
    """
    if not cfg.enabled:
        return dict(example)
    seeds = tf.random.experimental.stateless_split(tf.cast(example["seed"], tf.int64), num=2)
    matrix, flipped = random_matrix(seeds[0], size, cfg)
    example = apply_affine(example, matrix, flipped, size)
    if "image" in example and cfg.color_jitter > 0:
        example["image"] = color_jitter(example["image"], cfg.color_jitter, seeds[1])
    return example
