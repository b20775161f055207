"""The square person box around a set of joints: what the person-centred training crops fill
the input with, and what ``predict``'s second pass crops around the first pass's joints.

One definition for both, so the second pass sees the person framed as in training
(``serving.passes.second_pass_boxes`` repeats it in numpy on the host, for video's per-frame
boxes; ``tests/serving/test_predict.py`` checks that the two agree).
"""

from __future__ import annotations

import tensorflow as tf

from tfpose.core.joint_frame import MARGIN  # one margin for the crops and the joints' frame


def square_box(keypoints, weights, margin: float = MARGIN):
    """Square boxes around the joints with positive ``weights``.

    keypoints: ``[B x] K x 2+`` (x, y first), weights: ``[B x] K`` (annotated flags or scores
    above a threshold). Returns ``(centre [B x] 2, side [B], valid [B] bool)``: the centre of the
    joints' bounding box, ``margin`` x its larger side, and whether at least two joints counted
    (an invalid row gives centre 0, side 0).
    """
    xy = tf.cast(keypoints, tf.float32)[..., :2]
    used = tf.cast(weights, tf.float32) > 0
    count = tf.reduce_sum(tf.cast(used, tf.int32), axis=-1)
    big = tf.constant(3.0e38)
    low = tf.reduce_min(tf.where(used[..., None], xy, big), axis=-2)
    high = tf.reduce_max(tf.where(used[..., None], xy, -big), axis=-2)
    valid = count >= 2
    low = tf.where(valid[..., None], low, 0.0)
    high = tf.where(valid[..., None], high, 0.0)
    centre = (low + high) / 2.0
    side = tf.reduce_max(high - low, axis=-1) * margin
    return centre, side, valid


def corners(centre, side):
    """``(x0, y0, x1, y1)`` ``[B x] 4`` of squares given by ``centre`` ``[B x] 2`` and ``side``."""
    half = tf.cast(side, tf.float32)[..., None] / 2.0
    centre = tf.cast(centre, tf.float32)
    return tf.concat([centre - half, centre + half], axis=-1)
