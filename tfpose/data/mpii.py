"""MPII Human Pose: joint metadata and readers for the official .mat and the HRNet/mmpose JSON.

Every reader returns ``PersonRecord``s in 0-based pixels of the original image: the MATLAB
1-based coordinates are converted exactly once, here.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

NUM_JOINTS = 16
JOINT_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist",
)  # fmt: skip
# Left/right pairs swapped by a horizontal flip.
FLIP_PAIRS = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
# FLIP_INDEX[k] is the joint that k becomes after a horizontal flip.
FLIP_INDEX = tuple(
    dict([(a, b) for a, b in FLIP_PAIRS] + [(b, a) for a, b in FLIP_PAIRS]).get(k, k)
    for k in range(NUM_JOINTS)
)
# Bones drawn between joints (for skeleton pictures).
SKELETON = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15),
)  # fmt: skip


@dataclasses.dataclass
class PersonRecord:
    """One annotated person of one image. Coordinates are 0-based pixels of the original image.

    joints:    float32 [16, 2] (x, y); zeros where not annotated.
    annotated: bool [16], the joint is in the annotation's point list.
    visible:   bool [16], annotated and not marked occluded (unknown visibility counts visible).
    """

    image_name: str
    image_index: int  # 0-based index into annolist
    person_index: int  # 0-based index into annorect
    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    head_box: Optional[Tuple[float, float, float, float]]  # x1, y1, x2, y2 (0-based) or None
    head_size: Optional[float]  # 0.6 x head-box diagonal, or None without a head box
    objpos: Optional[Tuple[float, float]]  # rough person centre (0-based)
    scale: Optional[float]  # person height / 200 px
    category: str  # act.cat_name, "" when unlabelled
    activities: Tuple[str, ...]  # act.act_name split on ", "
    act_id: int  # -1 when unlabelled
    img_train: bool
    single_person: bool
    video_index: Optional[int]  # annolist.vididx, None when empty
    frame_sec: Optional[int]

    @property
    def num_annotated(self) -> int:
        return int(self.annotated.sum())
