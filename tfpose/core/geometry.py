"""Coordinate frames shared by the converter, the input pipeline, the models and serving.

A crop box ``(x0, y0, x1, y1)`` in original-image pixels is stored as an ``S x S`` image, and
coordinates scale with the image as continuous coordinates (``x * S / W``), the rule of
``datasets/schema.py``; so going back needs only the box and ``S``. Keypoints are 0-based pixel
indices (pixel centres at integers), so a horizontal mirror of an ``S``-pixel image maps ``x`` to
``S - 1 - x`` (``tf.reverse``'s convention) and swaps left and right joints.

Every function here takes numpy arrays or TF tensors (``...`` = any leading dimensions).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from tfpose.core.skeleton import FLIP_INDEX


def _arrays(*values):
    """Lists and tuples as numpy arrays; tensors and arrays as they are."""
    return tuple(v if hasattr(v, "shape") else np.asarray(v, np.float64) for v in values)


def letterbox_box(width: float, height: float) -> Tuple[float, float, float, float]:
    """The square ``(x0, y0, x1, y1)`` of side max(W, H) around the image centre: the whole
    image, aspect kept, the shorter side padded equally on both sides (with zeros)."""
    side = float(max(width, height))
    x0, y0 = (float(width) - side) / 2, (float(height) - side) / 2
    return (x0, y0, x0 + side, y0 + side)


def to_original(keypoints, crop_box, size):
    """Stored / input pixels -> original-image pixels: ``x0 + x * (x1 - x0) / S`` per axis.

    keypoints: ``... x K x 2`` (extra trailing columns such as visibility are passed through);
    crop_box: ``... x 4`` (x0, y0, x1, y1) with the same leading dimensions.
    """
    keypoints, crop_box = _arrays(keypoints, crop_box)
    origin = crop_box[..., None, :2]
    extent = crop_box[..., None, 2:] - crop_box[..., None, :2]
    xy = origin + keypoints[..., :2] * extent / float(size)
    if keypoints.shape[-1] == 2:
        return xy
    if isinstance(xy, np.ndarray):
        return np.concatenate([xy, keypoints[..., 2:]], axis=-1)
    import tensorflow as tf  # tensors only: numpy callers (the LiteRT path) run without it

    return tf.concat([xy, tf.cast(keypoints[..., 2:], xy.dtype)], axis=-1)


def to_crop(keypoints, crop_box, size):
    """Inverse of ``to_original``: original pixels -> pixels of the ``S x S`` crop (``... x K x 2``)."""
    keypoints, crop_box = _arrays(keypoints, crop_box)
    origin = crop_box[..., None, :2]
    extent = crop_box[..., None, 2:] - crop_box[..., None, :2]
    return (keypoints[..., :2] - origin) * float(size) / extent


def side_order(flip):
    """Joint order B x K (int32 TF tensor) of a batch whose examples ``flip`` (B bool) are
    mirrored: ``FLIP_INDEX`` (left and right swapped) where flipped, the identity elsewhere.
    ``tf.gather(values, order, batch_dims=1)`` puts each joint's values where they belong."""
    import tensorflow as tf

    flip = tf.convert_to_tensor(flip, tf.bool)
    swapped = tf.constant(FLIP_INDEX, tf.int32)[None]
    return tf.where(flip[:, None], swapped, tf.range(len(FLIP_INDEX), dtype=tf.int32)[None])


def mirror_keypoints(keypoints, size, visible_only: bool = False):
    """Keypoints ``... x K x C`` (x, y[, visible]) as seen in a mirror of an ``S``-wide image:
    left and right joints swapped (``FLIP_INDEX``) and x -> S - 1 - x; with ``visible_only``,
    joints whose third column is 0 keep their coordinates (hidden joints stay zeros). TF tensor."""
    import tensorflow as tf

    keypoints = tf.gather(tf.convert_to_tensor(keypoints, tf.float32), list(FLIP_INDEX), axis=-2)
    x = keypoints[..., 0]
    mirrored = float(size) - 1.0 - x
    if visible_only:
        mirrored = tf.where(keypoints[..., 2] > 0, mirrored, x)
    return tf.concat([mirrored[..., None], keypoints[..., 1:]], axis=-1)


def mirror_heatmaps(heatmaps, stride: int = 1):
    """Heatmaps ``... x H x W x K`` of a mirrored input as seen in the original: reversed along
    W, channels swapped, and shifted right by ``(stride - 1) / stride`` of a heatmap pixel.

    Why the shift: input x mirrors to ``S - 1 - x`` but heatmap column u (input ``stride * u``)
    reverses to ``W - 1 - u``, which is input ``S - stride - x``: reversing alone puts every peak
    ``stride - 1`` input pixels to the left. The shift is a linear interpolation of neighbouring
    columns (column -1 counts as zeros).
    """
    import tensorflow as tf

    maps = tf.gather(tf.reverse(heatmaps, axis=[-2]), list(FLIP_INDEX), axis=-1)
    shift = (stride - 1) / stride
    if shift == 0:
        return maps
    rank = len(maps.shape)
    # Column j of the result = (1 - shift) * column j + shift * column j - 1.
    pad = [[0, 0]] * (rank - 2) + [[1, 0], [0, 0]]
    left = tf.pad(maps, pad)[..., :-1, :]
    return (1.0 - shift) * maps + shift * left
