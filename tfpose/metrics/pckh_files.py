"""Readers of the MPII evaluation files for ``metrics/pckh.py``: the official ground truth
``gt_valid.mat`` and published or our own predictions (.h5, .mat, .npy).

Arrays are returned as stored: the official files hold MATLAB 1-based pixels (see ``pckh``).
Shapes: ``N`` persons, ``K = 16`` MPII joints. Errors are DataErrors that name the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Union

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.skeleton import NUM_JOINTS
from tfpose.metrics.pckh import head_size_from_boxes


@dataclasses.dataclass
class GroundTruth:
    """The validation ground truth of ``gt_valid.mat``, person axis first, as stored (1-based).

    joints:     float64 N x 16 x 2
    missing:    bool N x 16
    head_boxes: float64 N x 2 x 2 ``[[x1, y1], [x2, y2]]``
    head_size:  float64 [N], 0.6 × head-box diagonal
    """

    joints: np.ndarray
    missing: np.ndarray
    head_boxes: np.ndarray
    head_size: np.ndarray

    def __len__(self) -> int:
        return int(self.joints.shape[0])


def load_gt(path: Union[str, Path]) -> GroundTruth:
    """Read ``gt_valid.mat``: ``pos_gt_src`` 16x2xN, ``jnt_missing`` 16xN, ``headboxes_src`` 2x2xN."""
    data = _read_arrays(path)
    for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
        if key not in data:
            raise DataError(f"{path}: no '{key}' (ground truth needs pos_gt_src, jnt_missing, "
                            f"headboxes_src); found {sorted(data)}")
    pos, missing, boxes = data["pos_gt_src"], data["jnt_missing"], data["headboxes_src"]
    if pos.ndim != 3 or pos.shape[:2] != (NUM_JOINTS, 2):
        raise DataError(f"{path}: pos_gt_src must be {NUM_JOINTS} x 2 x N; received {pos.shape}")
    n = pos.shape[2]
    if missing.shape != (NUM_JOINTS, n):
        raise DataError(f"{path}: jnt_missing must be {NUM_JOINTS} x {n}; received {missing.shape}")
    if boxes.shape != (2, 2, n):
        raise DataError(f"{path}: headboxes_src must be 2 x 2 x {n}; received {boxes.shape}")
    head_boxes = np.transpose(boxes, (2, 0, 1)).astype(np.float64)
    return GroundTruth(
        joints=np.transpose(pos, (2, 0, 1)).astype(np.float64),
        missing=missing.T.astype(bool),
        head_boxes=head_boxes,
        head_size=head_size_from_boxes(head_boxes),
    )


def load_predictions(
    path: Union[str, Path], num_persons: Optional[int] = None, key: Optional[str] = None
) -> np.ndarray:
    """Read predicted joints from .h5 / .mat (key ``preds``) or .npy, as stored (pixels).

    Accepted layouts: N x 16 x 2 (also N x 16 x 3, the score column dropped), MATLAB's
    2 x 16 x N, and ``pos_pred_src``'s 16 x 2 x N (a ``gt_valid.mat`` has its Tompson
    predictions under that key, read when there is no ``preds``). When a shape fits several
    layouts (N = 2), N x 16 x 2 wins unless ``num_persons`` decides. Returns float64 N x 16 x 2.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise DataError(f"{path}: not a numeric .npy array ({err})") from err
        source = str(path)
    else:
        data = _read_arrays(path)
        keys = [key] if key else ["preds", "pos_pred_src"]
        found = next((k for k in keys if k in data), None)
        if found is None:
            raise DataError(f"{path}: no prediction array {' or '.join(map(repr, keys))}; "
                            f"found {sorted(data)}")
        array, source = data[found], f"{path}:{found}"
    return _to_nk2(np.asarray(array), source, num_persons)


def _to_nk2(array: np.ndarray, source: str, num_persons: Optional[int]) -> np.ndarray:
    k = NUM_JOINTS
    candidates = []
    if array.ndim == 3:
        if array.shape[1] == k and array.shape[2] in (2, 3):
            candidates.append(array[:, :, :2])
        if array.shape[:2] == (2, k):
            candidates.append(np.transpose(array, (2, 1, 0)))
        if array.shape[:2] == (k, 2):
            candidates.append(np.transpose(array, (2, 0, 1)))
    if num_persons is not None:
        candidates = [c for c in candidates if c.shape[0] == num_persons]
    if not candidates:
        expect = f"N = {num_persons}" if num_persons is not None else "N persons"
        raise DataError(
            f"{source}: predictions must be N x {k} x 2, 2 x {k} x N or {k} x 2 x N "
            f"({expect}); received shape {array.shape}"
        )
    if not np.issubdtype(candidates[0].dtype, np.number):
        raise DataError(f"{source}: predictions must be numeric; received {array.dtype}")
    return candidates[0].astype(np.float64)


def _read_arrays(path: Union[str, Path]) -> dict:
    """Top-level arrays of a .mat (v5 via scipy, v7.3 via h5py) or .h5 file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        import scipy.io

        try:
            data = scipy.io.loadmat(str(path))
            return {k: v for k, v in data.items() if not k.startswith("__")}
        except NotImplementedError:
            pass  # MATLAB v7.3 is HDF5: read below (dimensions come reversed, see _to_nk2)
        except Exception as err:  # scipy raises several types for a corrupt file
            raise DataError(f"{path}: cannot read as a MATLAB file ({err})") from err
    elif suffix not in (".h5", ".hdf5"):
        raise DataError(f"{path}: unsupported file type '{suffix}'; use .h5, .mat or .npy")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except OSError as err:
        raise DataError(f"{path}: cannot read as HDF5 ({err})") from err
