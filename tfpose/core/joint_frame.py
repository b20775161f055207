"""Joints in the frame of their own square box: the activity classifier's input, computed the
same way when it trains on annotated joints and when it reads a pose model's joints on a photo.

A photo has no MPII ``objpos`` or ``scale``; what it has is the pose model's joints, and the
second pass of ``tfpose predict`` crops the square around them (``core.person_box``: the
centre of the joints' bounding box, ``MARGIN`` x its longer side). Framing the classifier's
joints by that same square, computed from the joints themselves, makes training and inference
see one frame. Numpy only: the serving side runs it per photo on the host (eager TensorFlow
costs ~1 ms a call), and ``serving.passes`` draws its second-pass boxes with ``square_box``.

Shapes: ``[...]`` any leading axes (``N`` persons), ``K = 16`` joints.
"""

from __future__ import annotations

import numpy as np

from tfpose.core import skeleton

# Box side = MARGIN x the longer side of the joints' bounding box: the joints span head top to
# ankles, so 1.25 leaves room for hands, feet and hair (MPII's person scale x 200 is ~1.1-1.3 x
# the joint extent). Defined here, without TensorFlow; ``core.person_box`` crops with it too.
MARGIN = 1.25
# The joint classifiers' input frame (their ``data.input_size``): coordinates in 0..224.
FRAME_SIZE = 224


def square_box(keypoints, used, margin: float = MARGIN):
    """The square around the ``used`` joints: numpy twin of ``person_box.square_box``.

    keypoints: ``[...] x K x 2+`` (x, y first), any pixels; used: ``[...] x K`` bool.
    Returns ``(centre [...] x 2, side [...], valid [...] bool)`` float32: the centre of the
    used joints' bounding box, ``margin`` x its longer side, and whether at least two joints
    were used (an invalid row: centre 0, side 0).
    """
    xy = np.asarray(keypoints, np.float32)[..., :2]
    used = np.asarray(used, bool)
    valid = used.sum(-1) >= 2
    big = np.float32(3.0e38)
    low = np.where(valid[..., None], np.where(used[..., None], xy, big).min(-2), 0.0)
    high = np.where(valid[..., None], np.where(used[..., None], xy, -big).max(-2), 0.0)
    low, high = low.astype(np.float32), high.astype(np.float32)
    centre = (low + high) / np.float32(2.0)
    side = (high - low).max(-1) * np.float32(margin)
    return centre, side.astype(np.float32), valid


def frame_joints(keypoints, used, size: int = FRAME_SIZE, margin: float = MARGIN) -> np.ndarray:
    """Joints -> the classifier's ``joints`` input in the frame of their square box.

    keypoints: ``[...] x K x 2+`` pixels of any image (original photo pixels at inference,
    original MPII pixels in training); used: ``[...] x K`` bool (annotated joints in training,
    joints the pose model scored at least ``min_score`` at inference). Returns float32
    ``[...] x K x 3`` = (x, y, used) with the box mapped onto ``0..size`` (its centre at
    size/2, the longer side of the joints' extent spanning size/margin); unused joints, and
    every joint of a row with fewer than two used joints, are (0, 0, 0).
    """
    xy = np.asarray(keypoints, np.float32)[..., :2]
    used = np.asarray(used, bool)
    centre, side, valid = square_box(xy, used, margin)
    side = np.where(valid & (side > 0), side, 1.0).astype(np.float32)
    framed = (xy - centre[..., None, :]) * (size / side)[..., None, None] + size / 2.0
    keep = used & valid[..., None]
    return np.concatenate([np.where(keep[..., None], framed, 0.0), keep[..., None]],
                          -1).astype(np.float32)


def mirror_framed(joints, size: int = FRAME_SIZE) -> np.ndarray:
    """The mirror image of framed joints ``[...] x K x 3``: x -> size - x about the box centre,
    left and right joints swapped (``skeleton.FLIP_INDEX``); unused joints stay zeros."""
    joints = np.asarray(joints, np.float32)
    mirrored = joints[..., list(skeleton.FLIP_INDEX), :].copy()
    used = mirrored[..., 2] > 0.5
    mirrored[..., 0] = np.where(used, size - mirrored[..., 0], 0.0)
    return mirrored
