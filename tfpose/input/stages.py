"""The per-example and per-batch stages of the input pipeline (``input/pipeline.py``).

Each stage is a function ``example dict -> example dict`` (``parse`` takes the serialised
record) that gives the same result eagerly and inside ``Dataset.map``; the example dict is
described in ``pipeline.py``. ``augment`` and ``normalize`` accept one example or a batch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfpose.config import Config
from tfpose.core.errors import DataError
from tfpose.datasets import schema
from tfpose.input import augment as augment_lib
from tfpose.input.normalize import check as check_normalization, normalize_images


def parse(serialized) -> dict:
    """Parse stage: one serialised ``tf.train.Example`` -> example dict (stored-image pixels)."""
    rec = schema.parse_example(serialized)
    annotated = tf.cast(rec["person/annotated"] > 0, tf.float32)
    keypoints = rec["person/keypoints"]
    visible = tf.cast(keypoints[:, 2] > 0, tf.float32) * annotated
    return {
        "encoded": rec["image/encoded"],
        "stored_size": tf.cast(tf.stack([rec["image/height"], rec["image/width"]]), tf.float32),
        "keypoints": tf.concat([keypoints[:, :2], visible[:, None]], axis=1),
        "annotated": annotated,
        "label": tf.cast(rec["action/label"], tf.int32),
        "crop_box": rec["person/crop_box"],
        "head_size": rec["person/head_size"],
        "filename": rec["image/filename"],
        "image_index": rec["image/index"],
        "person_index": rec["person/index"],
    }


def decode(example: dict, input_size: int, decode_image: bool = True, canvas: bool = False,
           canvas_size: int | None = None) -> dict:
    """Decode stage: JPEG -> float32 ``S x S x 3`` (0..255), resized when the stored size differs.

    Keypoints are scaled by the same resize. An empty ``encoded`` (annotations-only dataset)
    gives a zero image; ``decode_image=False`` drops the image altogether (joints-only models).
    ``canvas=True`` (for ``augment``) leaves the resampling to the augmentation's warp: a uint8
    ``C x C x 3`` canvas holding the stored image (zero-padded; resized with antialiasing and
    rounded only when larger than C) plus ``image_matrix`` and ``image_extent`` (see the module
    docstring). ``canvas_size`` C defaults to S; records stored larger than the input (e.g. 256
    px for a 160 px model) keep their pixels when C is their size, so a zoomed-in person crop
    resamples the stored image once instead of upsampling an already shrunk one.
    """
    example = dict(example)
    encoded = example.pop("encoded")
    size = float(input_size)
    scale = tf.stack([size / example["stored_size"][1], size / example["stored_size"][0]])
    keypoints = example["keypoints"]
    example["keypoints"] = tf.concat([keypoints[:, :2] * scale, keypoints[:, 2:]], axis=1)
    if not decode_image:
        return example
    if canvas:
        return _decode_canvas(example, encoded, input_size, canvas_size or input_size)

    def from_bytes():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        shape = tf.shape(image)
        same = tf.logical_and(tf.equal(shape[0], input_size), tf.equal(shape[1], input_size))
        return tf.cond(
            same,
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(image, [input_size, input_size], antialias=True),
        )

    image = tf.cond(
        tf.strings.length(encoded) > 0,
        from_bytes,
        lambda: tf.zeros([input_size, input_size, 3], tf.float32),
    )
    example["image"] = tf.ensure_shape(image, [input_size, input_size, 3])
    return example


def _decode_canvas(example: dict, encoded, input_size: int, canvas_size: int) -> dict:
    """``decode(..., canvas=True)`` with the image: see there."""
    size = canvas_size
    full = tf.constant([float(size), float(size)])

    def from_bytes():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        fits = tf.logical_and(height <= size, width <= size)

        def pad():
            return tf.pad(image, [[0, size - height], [0, size - width], [0, 0]])

        def shrink():
            resized = tf.image.resize(image, [size, size], antialias=True)
            return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)

        exact = tf.logical_and(tf.equal(height, size), tf.equal(width, size))
        padded = tf.cond(exact, lambda: image, lambda: tf.cond(fits, pad, shrink))
        extent = tf.where(fits, tf.cast(tf.stack([height, width]), tf.float32), full)
        # Canvas pixel centre i -> input (i + 0.5) * S / n - 0.5: the half-pixel-centre mapping of
        # ``tf.image.resize`` that ``decode`` applies (n: the image's extent in the canvas).
        scale = float(input_size) / extent
        offset = 0.5 * scale - 0.5
        matrix = tf.stack([
            tf.stack([scale[1], 0.0, offset[1]]),
            tf.stack([0.0, scale[0], offset[0]]),
            tf.constant([0.0, 0.0, 1.0]),
        ])  # fmt: skip
        return tf.ensure_shape(padded, [size, size, 3]), matrix, extent

    def empty():
        matrix = tf.linalg.diag(tf.constant([input_size / size, input_size / size, 1.0]))
        return tf.zeros([size, size, 3], tf.uint8), matrix, full

    image, matrix, extent = tf.cond(tf.strings.length(encoded) > 0, from_bytes, empty)
    example["image"] = tf.ensure_shape(image, [size, size, 3])
    example["image_matrix"] = tf.ensure_shape(matrix, [3, 3])
    example["image_extent"] = tf.ensure_shape(extent, [2])
    return example


def augment(example: dict, cfg: Config) -> dict:
    """Augment stage: one random affine (+ flip, colour jitter) per example of one example or a
    batch; resamples a ``decode(..., canvas=True)`` canvas to the input. See ``augment.py``."""
    return augment_lib.augment(example, cfg.data.augment, cfg.data.input_size)


def normalize(example: dict, method: str) -> dict:
    """Normalise stage on ``... x S x S x 3`` images (``input/normalize.py``)."""
    check_normalization(method)
    example = dict(example)
    if "image" in example:
        example["image"] = normalize_images(example["image"], method)
    return example


def model_inputs(example: dict) -> dict:
    """The model's named inputs: ``image`` (when decoded) and ``joints`` = keypoints K x 3."""
    inputs = {"joints": example["keypoints"]}
    if "image" in example:
        inputs["image"] = example["image"]
    return inputs


def to_model_tuple(example: dict):
    """example -> ``(inputs, targets, sample_weights)`` for ``Model.fit``."""
    return model_inputs(example), example["targets"], example["weights"]


def class_weights(manifest: dict, split: str = "train") -> np.ndarray:
    """float32 [C]: ``n / (C * n_c)`` from the manifest's per-class counts (mean weight ~1).

    A class absent from ``split`` gets weight 0 rather than infinity.
    """
    classes = manifest.get("classes")
    counts = manifest.get("counts", {}).get(split)
    if not classes or counts is None:
        raise DataError(f"manifest has no 'classes' or no counts for split {split!r}")
    n = np.array([float(counts.get(c, 0)) for c in classes], np.float64)
    weights = np.where(n > 0, n.sum() / (len(classes) * np.maximum(n, 1.0)), 0.0)
    return weights.astype(np.float32)
