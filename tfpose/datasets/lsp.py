"""Leeds Sports Pose (LSP) and LSP Extended: the ``joints.mat`` reader, mapped onto MPII's 16 ids.

Both files hold one variable ``joints`` with one person per image, 14 joints in LSP order
(0 r ankle, 1 r knee, 2 r hip, 3 l hip, 4 l knee, 5 l ankle, 6 r wrist, 7 r elbow,
8 r shoulder, 9 l shoulder, 10 l elbow, 11 l wrist, 12 neck, 13 head top), in MATLAB 1-based
pixels of the image ``im%05d.jpg`` (LSPET) or ``im%04d.jpg`` (LSP), in file order from 1.
The two layouts differ in axis order *and* in what the third value means:

- LSPET, ``14 x 3 x N``: ``(x, y, visible)``; a joint with 0 was not labelled at all (its
  coordinates are 0 or negative junk), so it becomes *not annotated*.
- LSP, ``3 x 14 x N``: ``(x, y, occluded)``; every joint was labelled (occluded ones at a
  guessed place), and the flag is 1 for an *occluded* joint: annotated, not visible.

Mapping to MPII ids (``LSP_TO_MPII``): LSP 0-5 -> 0-5, 6-11 -> 10-15, neck -> 8 (upper neck),
head top -> 9. Pelvis (6) and thorax (7) are the midpoints of the hips / shoulders where both
are annotated (visible where both are visible), else not annotated. A joint whose coordinates
are not finite is not annotated (counted in ``LspFile.nonfinite_joints``).

LSP has no person centre or scale: ``objpos``/``scale`` stay None, so the converter's person
crop falls back to the annotated joints' bounding box x margin. PCKh's head size is the
neck-head-top length (None where either is missing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List

import numpy as np
import scipy.io

from tfpose.datasets import matfile, mpii
from tfpose.core import skeleton
from tfpose.core.errors import DataError

NUM_LSP_JOINTS = 14
LSP_JOINT_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
    "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top",
)  # fmt: skip
# LSP_TO_MPII[i]: the MPII id of LSP joint i.
LSP_TO_MPII = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 8, 9)
# MPII ids derived as midpoints: pelvis from the hips, thorax from the shoulders.
MIDPOINTS = {6: (2, 3), 7: (12, 13)}
LAYOUTS = {"lspet": "14 x 3 x N, (x, y, visible)", "lsp": "3 x 14 x N, (x, y, occluded)"}


@dataclasses.dataclass
class LspFile:
    """What ``read_joints_mat`` found: the layout, the records, and joints dropped as junk."""

    layout: str  # "lspet" | "lsp"
    records: List[mpii.PersonRecord]
    nonfinite_joints: int


def is_lsp_mat(path) -> bool:
    """True when the .mat holds a ``joints`` variable (LSP/LSPET) rather than MPII's RELEASE."""
    try:
        names = {name for name, _, _ in matfile.whosmat(path)}
    except DataError:  # not a readable .mat: not LSP (the MPII reader will say what is wrong)
        return False
    return "joints" in names and "RELEASE" not in names


def _layout(joints: np.ndarray, path: Path) -> str:
    if joints.ndim == 2:  # squeeze of a one-image file, or a file with one image saved 2-D
        joints = joints[..., None]
    if joints.ndim == 3 and joints.shape[:2] == (NUM_LSP_JOINTS, 3):
        return "lspet"
    if joints.ndim == 3 and joints.shape[:2] == (3, NUM_LSP_JOINTS):
        return "lsp"
    raise DataError(
        f"{path}: 'joints' must be 14 x 3 x N (LSPET) or 3 x 14 x N (LSP). Received: shape "
        f"{tuple(joints.shape)}"
    )


def to_mpii(xy: np.ndarray, annotated: np.ndarray, visible: np.ndarray):
    """One person's 14 LSP joints -> MPII's 16.

    xy [14, 2] 0-based px, annotated / visible bool [14] -> (joints float32 [16, 2] with zeros
    where not annotated, annotated bool [16], visible bool [16]).
    """
    joints = np.zeros([skeleton.NUM_JOINTS, 2], np.float32)
    ann = np.zeros(skeleton.NUM_JOINTS, bool)
    vis = np.zeros(skeleton.NUM_JOINTS, bool)
    ids = list(LSP_TO_MPII)
    joints[ids] = np.where(annotated[:, None], xy, 0.0)
    ann[ids] = annotated
    vis[ids] = visible & annotated
    for target, (a, b) in MIDPOINTS.items():
        if ann[a] and ann[b]:
            joints[target] = (joints[a] + joints[b]) / 2
            ann[target] = True
            vis[target] = vis[a] and vis[b]
    return joints, ann, vis


def read_joints_mat(path, name_digits: int | None = None) -> LspFile:
    """Read an LSP or LSPET ``joints.mat``: one ``PersonRecord`` per image, 0-based pixels.

    ``name_digits``: zero-padding of the image number in ``im<number>.jpg`` (default 5 for
    the LSPET layout, 4 for LSP). Raises ``DataError`` naming the file for anything but a
    numeric 14 x 3 x N / 3 x 14 x N array.
    """
    path = Path(path)
    mat = matfile.loadmat(path)
    if "joints" not in mat:
        raise DataError(f"{path}: no variable 'joints' (an LSP/LSPET joints.mat has one)")
    joints = mat["joints"]
    if not isinstance(joints, np.ndarray) or joints.dtype.kind not in "fiub":
        raise DataError(f"{path}: 'joints' must be a numeric array. Received: "
                        f"{getattr(joints, 'dtype', type(joints).__name__)}")  # fmt: skip
    layout = _layout(joints, path)
    joints = np.asarray(joints, np.float64)
    if joints.ndim == 2:
        joints = joints[..., None]
    people = joints.transpose(2, 0, 1) if layout == "lspet" else joints.transpose(2, 1, 0)
    digits = name_digits or (5 if layout == "lspet" else 4)
    records, nonfinite = [], 0
    for i, person in enumerate(people):  # person [14, 3]
        xy, flag = person[:, :2] - 1.0, person[:, 2]  # MATLAB 1-based -> 0-based, once
        finite = np.isfinite(xy).all(1) & np.isfinite(flag)
        if layout == "lspet":
            annotated = finite & (flag > 0.5)
            visible = annotated
        else:
            annotated = finite
            visible = finite & (flag < 0.5)
        # A junk coordinate counts only where the file claims a label (an LSPET 0 flag has none).
        claimed = np.ones(NUM_LSP_JOINTS, bool) if layout == "lsp" else ~(flag <= 0.5)
        nonfinite += int((~finite & claimed).sum())
        xy = np.where(finite[:, None], xy, 0.0)
        mapped, ann, vis = to_mpii(xy.astype(np.float32), annotated, visible)
        head_size = None
        if ann[8] and ann[9]:
            head_size = float(np.linalg.norm(mapped[9] - mapped[8]))
        records.append(mpii.PersonRecord(
            image_name=f"im{i + 1:0{digits}d}.jpg", image_index=i, person_index=0,
            joints=mapped, annotated=ann, visible=vis, head_box=None,
            head_size=head_size if head_size else None, objpos=None, scale=None,
            category="", activities=(), act_id=-1, img_train=True, single_person=True,
            video_index=None, frame_sec=None,
        ))  # fmt: skip
    return LspFile(layout, records, nonfinite)


def write_joints_mat(path, xy: np.ndarray, flags: np.ndarray, layout: str = "lspet") -> None:
    """Writes a ``joints.mat`` (tests, fixtures): xy [N, 14, 2] 1-based px, flags [N, 14]."""
    xy, flags = np.asarray(xy, np.float64), np.asarray(flags, np.float64)
    people = np.concatenate([xy, flags[..., None]], axis=-1)  # N x 14 x 3
    if layout == "lspet":
        array = people.transpose(1, 2, 0)
    elif layout == "lsp":
        array = people.transpose(2, 1, 0)
    else:
        raise DataError(f"layout must be one of {sorted(LAYOUTS)}. Received: layout={layout!r}")
    scipy.io.savemat(str(path), {"joints": array})
