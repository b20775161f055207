"""The 16 MPII joints every tfpose model predicts: names, left/right pairs, bones.

Other datasets (LSP, LSPET) are mapped onto these ids by their readers; models, metrics and
drawings all index joints this way (``K = NUM_JOINTS``).
"""

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
