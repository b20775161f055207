"""Two passes over a whole photo, as top-down pose tools work: pass 1 finds the person on the
whole photo; pass 2 crops the square around pass 1's confident joints
(``core.person_box.square_box``, the box the person-centred training crops fill the input with)
and predicts again inside it, so a person who is a fraction of the photo is seen at the
network's full resolution. One implementation for every model source: ``run_passes`` drives a
source's own one-pass call (whole images, then boxes).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.joint_frame import square_box

# Pass 2 boxes the joints whose pass-1 score (heatmap maximum, ~1 at a training target's peak)
# reaches this; with fewer than two such joints the image keeps its pass-1 answer. A low bar
# that drops only joints the model barely sees; not tuned (the margin was: README probe table).
SECOND_PASS_MIN_SCORE = 0.1
# A box under this many original pixels is no person to zoom into (joints piled on one spot).
SECOND_PASS_MIN_SIDE = 16.0
# Pass 2's box is grown on each side by this fraction of the side pass 1 framed the photo with
# (its ``input_boxes``): pass 1 sees the whole photo at the network's input, so its joints are
# uncertain by about a heatmap cell (stride 4 at 192 px: 1/48 of that side), and an extremity
# it placed a cell short fell outside pass 2's box. In 20 % of LSPET whole photos a true joint
# lay outside it; growing by 0.5 / 1 / 1.5 / 2 / 3 cells gave 61.42 / 62.15 / 62.54 / 61.85 /
# 61.97 against 60.66 (LSPET val, 900 photos), and 83.86 / 84.36 / 84.14 / 83.21 / 82.79
# against 84.00 on LSP val (100 photos); one cell, the unit of the error, is the rule.
SECOND_PASS_PAD = 1.0 / 48.0


# A person whose body lies across the photo (a quarter turn or more from upright, by the line
# from the hips' midpoint to the shoulders', from pass 1's joints scoring at least this) is
# turned upright for pass 2 by quarter turns (exact: no resampling): the pose model trained
# on people within ±40° of upright, as MediaPipe turns its crop by the body's angle.
UPRIGHT_MIN_SCORE = 0.2
SHOULDERS, HIPS = (12, 13), (2, 3)  # MPII ids


def quarter_turns(keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Counter-clockwise quarter turns (0, 1 or 3) that stand each person up: B x K x 2 joints
    and B x K scores -> int B. 1: the head points right (45-135° from up); 3: left; 0: upright,
    upside down (left as it is: LSPET's gymnasts trained the model on those), or the shoulders
    and hips not all scoring ``UPRIGHT_MIN_SCORE``."""
    keypoints, scores = np.asarray(keypoints, np.float64), np.asarray(scores)
    up = (keypoints[:, SHOULDERS].mean(1) - keypoints[:, HIPS].mean(1))
    angle = np.degrees(np.arctan2(up[:, 0], -up[:, 1]))  # 0: head up, 90: head right
    sure = (scores[:, SHOULDERS + HIPS] >= UPRIGHT_MIN_SCORE).all(1)
    turns = np.where((angle > 45) & (angle <= 135), 1, np.where((angle < -45) & (angle >= -135),
                                                                  3, 0))
    return np.where(sure, turns, 0).astype(np.int64)


def turn_crops(crops: np.ndarray, turns) -> np.ndarray:
    """Crops B x S x S x C, each turned counter-clockwise ``turns[b]`` quarter turns."""
    return np.stack([np.rot90(crop, int(k)) for crop, k in zip(crops, turns)]) if len(crops) \
        else crops


def unturn_points(points: np.ndarray, turns, size: int) -> np.ndarray:
    """Points B x K x 2 (x, y) found in turned ``size`` x ``size`` crops -> the same points in
    the crops as they were (pixel centres at integers: a quarter turn maps column x, row y of
    the turned crop to column ``size - 1 - y``, row ``x`` of the original)."""
    points = np.asarray(points, np.float32).copy()
    last = np.float32(size - 1)
    for b, k in enumerate(turns):
        for _ in range(int(k) % 4):
            x, y = points[b, :, 0].copy(), points[b, :, 1].copy()
            points[b, :, 0], points[b, :, 1] = last - y, x
    return points


def _upright_if_surer(one_pass, images, boxes: np.ndarray, answer: dict, turns) -> dict:
    """``answer`` (pass 2 as the boxes are), with each person that ``turns`` would turn
    predicted again turned upright, that answer kept where its mean joint score is higher: the
    turn is judged from pass 1's joints, which are least sure for the people it is for."""
    which = np.flatnonzero(turns)
    if not len(which):
        return answer
    subset = images[which] if isinstance(images, np.ndarray) else [images[i] for i in which]
    turned = one_pass(subset, boxes[which], turns=turns[which])
    answer["keypoints"], answer["keypoint_scores"] = (answer["keypoints"].copy(),
                                                      answer["keypoint_scores"].copy())
    keep_surer(answer["keypoints"], answer["keypoint_scores"], which, turned["keypoints"],
               turned["keypoint_scores"])
    return answer


def keep_surer(keypoints: np.ndarray, scores: np.ndarray, rows: np.ndarray,
               other_keypoints: np.ndarray, other_scores: np.ndarray) -> None:
    """In place: ``keypoints[rows]`` / ``scores[rows]`` (B x K x 2, B x K) take the other answer
    (len(rows) x K x 2, len(rows) x K) where its mean joint score is higher."""
    better = other_scores.mean(-1) > scores[rows].mean(-1)
    keypoints[rows[better]], scores[rows[better]] = other_keypoints[better], other_scores[better]


def check_passes(passes: int) -> int:
    if passes not in (1, 2):
        raise DataError(f"passes must be 1 or 2. Received: {passes!r}")
    return passes


def second_pass_boxes(keypoints: np.ndarray, scores: np.ndarray,
                      min_score: float = SECOND_PASS_MIN_SCORE, pad=0.0):
    """Pass 2's square boxes around pass 1's confident joints.

    keypoints: B x K x 2 original px; scores: B x K; ``pad``: original px added on each side
    (a number or B). Returns ``(boxes B x 4 float32 (x0, y0, x1, y1), valid B bool)``; an
    invalid row (fewer than two joints reach ``min_score``, or a box, before ``pad``, under
    ``SECOND_PASS_MIN_SIDE``) has no box.

    The square of ``core.person_box.square_box`` and ``corners`` (the training crops' box), in
    numpy (``core.joint_frame.square_box``, which also frames the activity classifier's
    joints): a tracked video frame asks for one box per frame, and TensorFlow's eager ops cost
    1.3 ms a call, ~5 % of a frame (numpy: 0.3 ms; ``tests/serving/test_predict.py`` checks
    that both agree).
    """
    centre, side, valid = square_box(keypoints, np.asarray(scores) >= min_score)
    half = side[..., None] / np.float32(2.0) + np.asarray(pad, np.float32)[..., None]
    boxes = np.concatenate([centre - half, centre + half], -1).astype(np.float32)
    return boxes, valid & (side >= SECOND_PASS_MIN_SIDE)


def run_passes(one_pass, encoded, boxes: Optional[np.ndarray], passes: int,
               turns: Optional[np.ndarray] = None, upright: bool = False) -> dict:
    """``one_pass(encoded, boxes)`` once, or (whole images of a pose model, ``passes=2``) twice:
    the second time on ``second_pass_boxes`` of the first answer, grown by ``SECOND_PASS_PAD``
    of the side each photo was framed with (a pass's ``input_boxes``; an export written before
    that output grows nothing); an image without a valid box keeps its first answer.
    ``encoded``: a list of encoded images or an array of decoded ones. ``upright`` (a source
    whose ``one_pass`` takes ``turns``): pass 2 turns each person upright
    (``quarter_turns``); ``turns`` (with ``boxes``): the turns of that one pass."""
    if turns is not None:
        outputs = one_pass(encoded, boxes, turns=turns)
        outputs.pop("input_boxes", None)
        return outputs
    outputs = one_pass(encoded, boxes)
    framed = outputs.pop("input_boxes", None)
    if boxes is not None or passes == 1 or "keypoints" not in outputs or "class_probs" in outputs:
        return outputs
    pad = 0.0
    if framed is not None:
        pad = SECOND_PASS_PAD * (framed[:, 2:] - framed[:, :2]).max(-1)
    refined_boxes, valid = second_pass_boxes(outputs["keypoints"], outputs["keypoint_scores"],
                                             pad=pad)
    if not valid.any():
        return outputs
    chosen = np.flatnonzero(valid)
    subset = (encoded[chosen] if isinstance(encoded, np.ndarray)
              else [encoded[i] for i in chosen])
    refined = one_pass(subset, refined_boxes[chosen])
    refined.pop("input_boxes", None)
    if upright:
        refined = _upright_if_surer(one_pass, subset, refined_boxes[chosen], refined, quarter_turns(
            outputs["keypoints"][chosen], outputs["keypoint_scores"][chosen]))
    for key in ("keypoints", "keypoint_scores"):
        outputs[key] = outputs[key].copy()
        outputs[key][chosen] = refined[key]
    outputs["boxes"] = np.where(valid[:, None], refined_boxes, np.nan).astype(np.float32)
    return outputs
