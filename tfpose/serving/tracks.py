"""Every person of a video as a track with a stable id (``tfpose predict CLIP``, issue 33).

Each frame's persons (``people.PeopleResult``: detector, then the pose model on each) are
matched to the tracks of the frames before, SORT-style (Bewley et al. 2016) with the joints
added, as pose trackers (PoseTrack's baselines, mmpose's ``PoseTracker``) do:

- each track predicts where its person is now: its last box moved by its velocity (an average
  of its recent centre steps), so two people crossing keep moving the way they were;
- similarity of a track and a person = the mean of the IoU of the predicted box with the
  person's box, and the object keypoint similarity (COCO's OKS, one shared ``OKS_SIGMA``) of
  the track's last joints moved the same way with the person's joints;
- one-to-one assignment maximising the total (Hungarian), a pair kept at ``MIN_SIMILARITY``;
- a person matched to no track starts one (the next id); a track unseen for more than
  ``MAX_MISSED`` frames ends; a cut (``video.is_cut``) ends every track, so ids after a cut are new.

Each track smooths its own joints (``smoothing.PoseSmoother``, causal) and is reset when it
starts. Shapes: ``N`` persons in a frame, ``T`` live tracks, ``K = 16`` joints.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from tfpose.core.skeleton import NUM_JOINTS
from tfpose.serving import smoothing
from tfpose.serving.people import box_iou

# Frames a track survives unseen (a person behind another, a missed detection): ByteTrack's
# buffer, 1.2 s at 25 frames/s. On the crossing clip (benchmarks/tracks.py) 5 frames lost a
# person hidden for longer behind the other (a new id when seen again); 30 kept every id.
MAX_MISSED = 30
MIN_SIMILARITY = 0.2  # a match needs this much of box overlap and joint agreement together
OKS_SIGMA = 0.08  # OKS falloff per joint, as a fraction of the box's scale (COCO's hips: 0.107)
VELOCITY_MOMENTUM = 0.6  # the velocity's share kept from earlier steps (the rest: the newest)
JOINT_MIN_SCORE = 0.1  # joints under this score do not count in the OKS (as pass 2's rule)


@dataclasses.dataclass
class Track:
    """One person followed through the frames."""

    track_id: int
    box: np.ndarray  # 4, the last box seen
    keypoints: np.ndarray  # K x 2, the last raw joints
    scores: np.ndarray  # K
    smoother: smoothing.PoseSmoother
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2, np.float32))
    missed: int = 0

    def predicted_box(self) -> np.ndarray:
        return self.box + np.tile(self.velocity * (1 + self.missed), 2)

    def predicted_keypoints(self) -> np.ndarray:
        return self.keypoints + self.velocity * (1 + self.missed)


def keypoint_similarity(track_points, track_scores, points, scores, boxes) -> np.ndarray:
    """OKS of every track skeleton (T x K x 2, scores T x K) with every person's (N x K x 2,
    scores N x K; ``boxes`` N x 4 their scale): T x N, over the joints both see."""
    scale = np.sqrt(np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1, None), -1))  # N
    d2 = np.sum((track_points[:, None] - points[None]) ** 2, -1)  # T x N x K
    both = (track_scores[:, None] >= JOINT_MIN_SCORE) & (scores[None] >= JOINT_MIN_SCORE)
    oks = np.exp(-d2 / (2 * (OKS_SIGMA * 2 * scale[None, :, None]) ** 2))
    return np.where(both.any(-1), (oks * both).sum(-1) / np.maximum(both.sum(-1), 1), 0.0)


class PeopleTracker:
    """Frame after frame of persons -> their track ids and smoothed joints."""

    def __init__(self, smooth: bool = True, min_cutoff: Optional[float] = None,
                 beta: Optional[float] = None, max_missed: int = MAX_MISSED):
        self.smooth, self.max_missed = smooth, max_missed
        self.min_cutoff = smoothing.MIN_CUTOFF if min_cutoff is None else min_cutoff
        self.beta = smoothing.BETA if beta is None else beta
        self.tracks: list[Track] = []
        self.next_id = 1

    def reset(self) -> None:
        """A cut: every track ends (the next persons get new ids)."""
        self.tracks = []

    def update(self, boxes, keypoints, scores, time_s: float):
        """This frame's persons (``boxes`` N x 4, ``keypoints`` N x K x 2, ``scores`` N x K,
        best first) -> ``(ids N int, keypoints N x K x 2 smoothed per track)``."""
        from scipy.optimize import linear_sum_assignment

        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        keypoints = np.asarray(keypoints, np.float32).reshape(len(boxes), NUM_JOINTS, 2)
        scores = np.asarray(scores, np.float32).reshape(len(boxes), NUM_JOINTS)
        match = {}
        if self.tracks and len(boxes):
            predicted = np.stack([t.predicted_box() for t in self.tracks])
            similarity = 0.5 * box_iou(predicted, boxes) + 0.5 * keypoint_similarity(
                np.stack([t.predicted_keypoints() for t in self.tracks]),
                np.stack([t.scores for t in self.tracks]), keypoints, scores, boxes)
            rows, cols = linear_sum_assignment(-similarity)
            match = {int(c): self.tracks[r] for r, c in zip(rows, cols)
                     if similarity[r, c] >= MIN_SIMILARITY}
        ids, smoothed = np.zeros(len(boxes), np.int64), keypoints.copy()
        for n in range(len(boxes)):
            track = match.get(n)
            if track is None:
                track = Track(self.next_id, boxes[n], keypoints[n], scores[n],
                              smoothing.PoseSmoother(self.min_cutoff, self.beta), missed=-1)
                self.next_id += 1
                self.tracks.append(track)
            else:
                step = ((boxes[n, :2] + boxes[n, 2:]) - (track.box[:2] + track.box[2:])) / 2
                step = step / (1 + track.missed)
                track.velocity = (VELOCITY_MOMENTUM * track.velocity
                                  + (1 - VELOCITY_MOMENTUM) * step).astype(np.float32)
                track.box, track.keypoints, track.scores = boxes[n], keypoints[n], scores[n]
                track.missed = -1  # seen this frame (0 after the ageing below)
            ids[n] = track.track_id
            if self.smooth:
                smoothed[n] = track.smoother(keypoints[n], time_s)
        for track in self.tracks:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids, smoothed
