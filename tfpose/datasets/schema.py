"""The TFRecord schema: one ``tf.train.Example`` per person, keys namespaced by what they describe.

Written by the converter (``datasets/convert.py``), read by the pipeline (``input/stages.py``).
Stored coordinates are 0-based pixels of the *stored* image (the person crop resized to
``image/height`` x ``image/width``); ``person/crop_box`` maps them back to the original image:

    original = crop_box[:2] + stored * (crop_box[2:] - crop_box[:2]) / [width, height]

``person/head_size`` is in original-image pixels (-1 when the annotation has no head box).
Annotations-only datasets (``--annotations-only``) have an empty ``image/encoded`` but the same
keypoint frame, so joint models see identical inputs with or without images.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NUM_JOINTS = 16

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/format": tf.io.FixedLenFeature([], tf.string, default_value="jpeg"),
    "image/filename": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),  # stored image size
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/original_height": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/original_width": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/index": tf.io.FixedLenFeature([], tf.int64),  # 0-based annolist index
    "person/index": tf.io.FixedLenFeature([], tf.int64),  # 0-based annorect index
    "person/keypoints": tf.io.FixedLenFeature([NUM_JOINTS * 3], tf.float32),  # (x, y, visible)
    "person/annotated": tf.io.FixedLenFeature([NUM_JOINTS], tf.int64),
    "person/visible": tf.io.FixedLenFeature([NUM_JOINTS], tf.int64),
    "person/head_size": tf.io.FixedLenFeature([], tf.float32, default_value=-1.0),
    "person/crop_box": tf.io.FixedLenFeature([4], tf.float32),  # x0, y0, x1, y1 original px
    "person/center": tf.io.FixedLenFeature([2], tf.float32),  # objpos, original px
    "person/scale": tf.io.FixedLenFeature([], tf.float32),
    "action/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "action/name": tf.io.FixedLenFeature([], tf.string, default_value=""),  # category
    "action/activity": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "video/index": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def encode_example(fields: dict) -> bytes:
    """Serialises a dict keyed like ``FEATURES`` (numpy arrays, numbers, bytes or str)."""
    feature = {}
    for key, spec in FEATURES.items():
        if key not in fields:
            if spec.default_value is None:
                raise KeyError(f"record is missing required field {key!r}")
            continue
        value = fields[key]
        if spec.dtype == tf.string:
            value = value.encode() if isinstance(value, str) else bytes(value)
            feature[key] = _bytes([value])
        else:
            flat = [value] if not spec.shape else np.asarray(value).reshape(-1).tolist()
            if spec.dtype == tf.int64:
                feature[key] = _ints([int(v) for v in flat])
            else:
                feature[key] = _floats([float(v) for v in flat])
            if spec.shape and len(flat) != spec.shape[0]:
                raise ValueError(f"field {key!r}: expected {spec.shape[0]} values, got {len(flat)}")
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(serialized: tf.Tensor) -> dict:
    """Decoder stage: one serialised Example -> dict of tensors (no image decode, no resize).

    Returns ``keypoints`` float32 [16, 3] = (x, y, visible), and the
    remaining schema fields under their own keys.
    """
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    parsed["person/keypoints"] = tf.reshape(parsed["person/keypoints"], [NUM_JOINTS, 3])
    return parsed
