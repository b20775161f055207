"""Joints in the frame of their own square box: the activity classifier's input, computed the
same way when it trains on annotated joints and when it reads a pose model's joints on a photo.

A photo has no MPII ``objpos`` or ``scale``; what it has is the pose model's joints, and the
second pass of ``tfpose predict`` crops the square around them (``core.person_box``: the
centre of the joints' bounding box, ``MARGIN`` x its longer side). Framing the classifier's
joints by a square computed from the joints themselves makes training and inference see one
frame. Two sizes of that square (``SCALES``):

- ``box``: ``MARGIN`` x the joints' extent. Every pose fills the frame alike, so a crouching
  person and a standing one look the same size: how far the limbs reach is lost.
- ``body``: the side the person's body implies, whatever the pose (``body_side``: the median of
  what each visible limb's length says, the way MPII's ``scale`` is the person's size and not
  their pose's extent). A curled-up person stays small in the frame; on the real MPII
  annotations, +1 point of top-1 on ground-truth joints over ``box`` (the shipped
  ``mpii-activity``'s model card).

Numpy only: the serving side runs it per photo on the host (eager TensorFlow costs ~1 ms a
call), and ``serving.passes`` draws its second-pass boxes with ``square_box``.

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
SCALES = ("box", "body")
# Body segments (MPII joint ids) and ln(frame side / segment length) for each: the median over
# the 11,372 training persons of the real MPII annotations of MPII's own frame side (scale x 200
# x MARGIN) over the segment's length. Head: upper neck -> head top; then torso, shoulders,
# hips, upper arms, forearms, thighs, shins. A limb seen end-on is short, so each says a
# smaller side than the truth; the median over the visible ones lets one or two such limbs
# (or a misplaced joint) pass without moving the frame.
BODY_SEGMENTS = (
    (8, 9, 2.01), (7, 6, 1.48), (12, 13, 1.98), (2, 3, 2.50), (12, 11, 2.07), (13, 14, 2.07),
    (11, 10, 2.29), (14, 15, 2.30), (2, 1, 1.71), (3, 4, 1.72), (1, 0, 1.76), (4, 5, 1.76),
)


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


def body_side(keypoints, used) -> np.ndarray:
    """``[...]`` float32: the frame side (with ``MARGIN``) the person's body implies, the median
    over the ``BODY_SEGMENTS`` whose two joints are ``used`` of what each one's length says;
    NaN where no segment is.

    keypoints: ``[...] x K x 2+`` pixels; used: ``[...] x K`` bool.
    """
    xy = np.asarray(keypoints, np.float32)[..., :2]
    used = np.asarray(used, bool)
    says = []
    for a, b, log_ratio in BODY_SEGMENTS:
        length = np.linalg.norm(xy[..., a, :] - xy[..., b, :], axis=-1)
        seen = used[..., a] & used[..., b] & (length > 0)
        says.append(np.where(seen, log_ratio + np.log(np.where(seen, length, 1.0)), np.nan))
    says = np.stack(says, -1)
    count = np.isfinite(says).sum(-1)
    # nanmedian without its all-NaN warning: NaN sorts last, so the median of the finite ones.
    ordered = np.sort(says, -1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[..., None], -1)[..., 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[..., None], -1)[..., 0]
    return np.where(count > 0, np.exp((low + high) / 2.0), np.nan).astype(np.float32)


def frame_joints(keypoints, used, size: int = FRAME_SIZE, margin: float = MARGIN,
                 scale: str = "box") -> np.ndarray:
    """Joints -> the classifier's ``joints`` input in the frame of their square.

    keypoints: ``[...] x K x 2+`` pixels of any image (original photo pixels at inference,
    original MPII pixels in training); used: ``[...] x K`` bool (annotated joints in training,
    joints the pose model scored at least ``min_score`` at inference); scale: the square's
    side (``SCALES``): ``box``, ``margin`` x the joints' extent; ``body``, ``body_side``
    (``box`` where no segment is seen). Returns float32 ``[...] x K x 3`` = (x, y, used) with
    the square mapped onto ``0..size`` (the joints' bounding-box centre at size/2); unused
    joints, and every joint of a row with fewer than two used joints, are (0, 0, 0).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}. Received: {scale!r}")
    xy = np.asarray(keypoints, np.float32)[..., :2]
    used = np.asarray(used, bool)
    centre, side, valid = square_box(xy, used, margin)
    if scale == "body":
        body = body_side(xy, used)
        side = np.where(np.isfinite(body), body, side).astype(np.float32)
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
