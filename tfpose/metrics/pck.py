"""PCK@t of the torso, the LSP joint-localisation metric: a pure numpy scorer.

A joint is correct when ``‖pred − gt‖ ≤ threshold × torso size``. The torso size of a person is
the mean of the two shoulder-to-opposite-hip diagonals (r shoulder–l hip, l shoulder–r hip)
that are annotated; a person with neither has no torso and is left out (and counted). Joints not
annotated in the ground truth are skipped. "Mean" pools the 14 LSP joints (all MPII ids but
pelvis and thorax, which LSP does not label) over all persons, as ``pckh``'s mean does.

Shapes: ``N`` persons, ``K = 16`` MPII joints, coordinates (x, y) in one pixel frame.
"""

from __future__ import annotations

import math

import numpy as np

from tfpose.metrics.pckh import (MEAN_JOINTS, PART_ABBREVIATIONS, PARTS, _as_joints, _nanmean,
                                 _pooled, _rates, correct_counts)
from tfpose.core.errors import DataError

R_HIP, L_HIP, R_SHOULDER, L_SHOULDER = 2, 3, 12, 13
DIAGONALS = ((R_SHOULDER, L_HIP), (L_SHOULDER, R_HIP))


def torso_size(gt, missing) -> np.ndarray:
    """float64 [N]: mean length of the annotated shoulder–opposite-hip diagonals, NaN if none.

    gt: N x 16 x 2; missing: N x 16 bool (True = not annotated).
    """
    gt = np.asarray(gt, np.float64)
    missing = np.asarray(missing, bool)
    lengths, present = [], []
    for a, b in DIAGONALS:
        lengths.append(np.linalg.norm(gt[:, a] - gt[:, b], axis=-1))
        present.append(~missing[:, a] & ~missing[:, b])
    lengths, present = np.stack(lengths, 1), np.stack(present, 1)
    count = present.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (lengths * present).sum(1) / np.maximum(count, 1), np.nan)


def pck(pred, gt, missing=None, threshold: float = 0.2) -> dict:
    """Score N persons with PCK@``threshold`` of the torso.

    Returns a JSON-friendly dict, rates in percent (NaN where nothing was scored):
    ``per_joint`` [16], ``joint_count`` [16], ``parts`` {Head (head top), Shoulder, …, Ankle},
    ``mean`` (pooled over the 14 LSP joints), ``mean_unweighted`` (their rates' mean),
    ``threshold``, ``num_persons``, ``num_no_torso`` (persons left out: no diagonal).
    """
    pred, gt = _as_joints(pred, "predictions"), _as_joints(gt, "ground truth")
    if pred.shape != gt.shape:
        raise DataError(f"predictions and ground truth differ: received predictions "
                        f"{pred.shape}, ground truth {gt.shape}")  # fmt: skip
    missing = np.zeros(gt.shape[:2], bool) if missing is None else np.asarray(missing, bool)
    if missing.shape != gt.shape[:2]:
        raise DataError(f"missing must be {gt.shape[:2]}; received shape {missing.shape}")
    torso = torso_size(gt, missing)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(torso) & (torso > 0)
    scored = ~missing & usable[:, None]
    correct, count = correct_counts(pred, gt, torso, scored, threshold)
    per_joint = _rates(correct, count)
    parts = {name: _nanmean(per_joint[list(joints)]) for name, joints in PARTS}
    mean_joints = list(MEAN_JOINTS)
    return {
        "threshold": float(threshold),
        "num_persons": int(gt.shape[0]),
        "num_no_torso": int((~usable).sum()),
        "per_joint": [float(r) for r in per_joint],
        "joint_count": [int(c) for c in count],
        "parts": parts,
        "mean": _pooled(correct[mean_joints], count[mean_joints]),
        "mean_unweighted": _nanmean(per_joint[mean_joints]),
    }


def format_table(result: dict) -> str:
    """Head Sho Elb Wri Hip Knee Ank Mean, like ``pckh.format_table``."""
    header = "".join(f"{name:>8}" for name in PART_ABBREVIATIONS + ("Mean",))
    row = "".join(f"{v:8.2f}" for v in list(result["parts"].values()) + [result["mean"]])
    lines = [f"PCK@{result['threshold']:g} of the torso (%), {result['num_persons']} persons; "
             "Head = head top", header, row]  # fmt: skip
    if result["num_no_torso"]:
        lines.append(f"left out {result['num_no_torso']} persons without a torso diagonal")
    return "\n".join(lines)


def summary(result: dict) -> dict:
    """Flat ``pck@T_<part>`` metrics for one JSON line (NaN becomes null)."""
    prefix = f"pck@{result['threshold']:g}"
    out = {f"{prefix}_{name.lower()}": v for name, v in result["parts"].items()}
    out[f"{prefix}_mean"] = result["mean"]
    out[f"{prefix}_mean_unweighted"] = result["mean_unweighted"]
    out = {k: (None if math.isnan(v) else round(v, 4)) for k, v in out.items()}
    out[f"{prefix}_no_torso"] = result["num_no_torso"]
    return out
