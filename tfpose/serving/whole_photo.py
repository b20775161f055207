"""The pose model's own one-person answer on a whole photo, inside every person
(``people.PeoplePredictor``): its two passes as ``--detector none`` runs them.

Two uses:
- **Nobody found** (on by default): where the detector finds no one, the one-person answer
  still places many blurred or cut-off people the detector misses (session 15: the shipped
  detector found no one in 297 of 905 motion-blurred held-out photos and 394 defocused ones),
  while on a photo with nobody the pose model is unsure of its limbs or the detector saw
  nothing there. Such a photo gets that answer as its one person when both agree
  (``sure_person``).
- **Alone** (off by default): a photo with one person found takes the one-person answer when
  its box agrees with the person's (``people.ALONE_IOU``).

Shapes: ``K = 16`` joints (MPII ids).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.joint_frame import MARGIN
from tfpose.serving.detector_frames import box_iou
from tfpose.serving.images import pixels_of

LIMB_JOINTS = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15)  # ankles to hips, wrists to shoulders
# A photo where the detector finds no one gets the one-person answer as its person when the
# mean score of its 12 limb joints reaches SURE_LIMBS (and the detector's min score), and the
# detector saw something there: one of its boxes scoring HINT_SCORE or more (under its min
# score) overlaps the answer's box by HINT_IOU. Measured with the shipped models on the
# held-out photos (docs/multi_person.md, session 15): of the 297 motion-blurred photos where
# the detector found no one it answers 142 (PCK@0.2 of their limbs 0.41), of 394 defocused
# 178; on 36 made photos with nobody (noise, flat, textures) none, and of 972 person-free
# strips of held-out photos 15 (14 show a person the detector missed, 1 a figure drawn on a
# car). Without the hint, 96 strips, a few of them with no one (a building, trees).
SURE_LIMBS = 0.25
HINT_SCORE = 0.08
HINT_IOU = 0.1
# Joints that count for the box of such a person (``passes.SECOND_PASS_MIN_SCORE``'s bar).
BOX_MIN_SCORE = 0.1


def answers(pose, photos: list, names: list, which: list) -> dict:
    """``{i: pose's output for photo i}`` (``keypoints`` 1 x K x 2 photo px, ``keypoint_scores``
    1 x K, ``boxes`` 1 x 4 where it gives them) for each ``i`` of ``which``: ``pose``'s own
    passes on the whole photo. Encoded photos go in one call; arrays one each."""
    encoded = [i for i in which if isinstance(photos[i], bytes)]
    out_by_photo = {}
    if encoded:
        try:
            out = pose([photos[i] for i in encoded])
        except DataError:  # pixels Pillow read and the pose model's decoder did not
            out = None
        if out is not None:
            out_by_photo.update({i: {k: v[[n]] for k, v in out.items()}
                                 for n, i in enumerate(encoded)})
    for i in which:
        if i not in out_by_photo:
            out_by_photo[i] = pose.predict_frames(pixels_of(photos[i], names[i])[None])
    return out_by_photo


def sure_person(keypoints: np.ndarray, scores: np.ndarray, hint_boxes: np.ndarray,
                hint_scores: np.ndarray, min_score: float = 0.0) -> Optional[tuple]:
    """``(box 4 (x0, y0, x1, y1), score)`` of a one-person answer (``keypoints`` K x 2,
    ``scores`` K) sure enough to be a person, else None: the mean score of its limb joints is
    at least ``SURE_LIMBS`` and ``min_score`` (it is the person's score), and a detector box
    (``hint_boxes`` N x 4, ``hint_scores`` N: those under the detector's min score) of at
    least ``HINT_SCORE`` overlaps its box by ``HINT_IOU``. The box is the margin box of its
    joints scoring ``BOX_MIN_SCORE`` (as the detector's boxes are the annotated joints')."""
    scores = np.asarray(scores, np.float32)
    score = float(scores[list(LIMB_JOINTS)].mean())
    used = scores >= BOX_MIN_SCORE
    if score < max(SURE_LIMBS, min_score) or used.sum() < 2:
        return None
    xy = np.asarray(keypoints, np.float32)[used]
    low, high = xy.min(0), xy.max(0)
    centre, half = (low + high) / 2.0, (high - low) * MARGIN / 2.0
    box = np.concatenate([centre - half, centre + half]).astype(np.float32)
    hint_boxes = np.asarray(hint_boxes, np.float32).reshape(-1, 4)
    near = box_iou(box[None], hint_boxes)[0] >= HINT_IOU
    if not (np.asarray(hint_scores)[near] >= HINT_SCORE).any():
        return None
    return box, score


def split_hints(found: list, min_score: float) -> tuple[list, list]:
    """A detector's answers down to ``HINT_SCORE`` (per photo ``(boxes N x 4, scores N, ...)``,
    best first) -> (the same answers at ``min_score``, what is under it per photo: ``(boxes,
    scores)``, the hints of ``sure_person``). The boxes at ``min_score`` are those a call at
    ``min_score`` gives: suppression keeps boxes in score order, so a lower box never removes
    a higher one."""
    answers, hints = [], []
    for boxes, scores, *rest in found:
        sure = np.asarray(scores) >= min_score
        answers.append((boxes[sure], scores[sure], *rest))
        hints.append((boxes[~sure], scores[~sure]))
    return answers, hints


def sure_people(pose, photos: list, names: list, nobody: list, hints: list,
                min_score: float = 0.0) -> dict:
    """``{i: (box 1 x 4, score 1, keypoints 1 x K x 2, scores 1 x K)}`` float32, for each photo
    ``i`` of ``nobody`` (where the detector found no one at ``min_score``) whose one-person
    answer is a ``sure_person`` given that photo's ``hints[i]`` (``split_hints``). A photo
    without a hint of ``HINT_SCORE`` cannot be one, so the pose model does not run on it (an
    empty photo or video frame costs the detector only)."""
    hinted = [i for i in nobody if (np.asarray(hints[i][1]) >= HINT_SCORE).any()]
    outs, found = answers(pose, photos, names, hinted), {}
    for i in hinted:
        keypoints, scores = outs[i]["keypoints"][0], outs[i]["keypoint_scores"][0]
        person = sure_person(keypoints, scores, *hints[i], min_score)
        if person is not None:
            found[i] = (person[0][None], np.float32([person[1]]),
                        keypoints[None].astype(np.float32), scores[None].astype(np.float32))
    return found
