"""PCK@0.2 of the torso on hand-made persons (``tfpose.metrics.pck``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfpose.core.errors import DataError
from tfpose.metrics import pck

R_HIP, L_HIP, R_SHO, L_SHO = 2, 3, 12, 13


def person(torso_diagonal=100.0):
    """16 joints on a line, the two diagonals both ``torso_diagonal`` long."""
    gt = np.zeros((16, 2))
    gt[:, 0] = np.arange(16) * 3.0
    gt[R_SHO], gt[L_HIP] = (0, 0), (0, torso_diagonal)
    gt[L_SHO], gt[R_HIP] = (50, 0), (50, torso_diagonal)
    return gt


def test_torso_is_the_mean_of_the_annotated_diagonals():
    gt = np.stack([person(100.0), person(100.0), person(100.0)])
    gt[1, L_HIP] = (0, 60)  # diagonals 60 and 100 -> 80
    missing = np.zeros((3, 16), bool)
    missing[2, [R_SHO, L_SHO]] = True  # no shoulder at all: neither diagonal
    size = pck.torso_size(gt, missing)
    assert size[0] == pytest.approx(100.0) and size[1] == pytest.approx(80.0)
    assert math.isnan(size[2])
    missing[1, R_HIP] = True  # only r shoulder - l hip (60) is left
    assert pck.torso_size(gt, missing)[1] == pytest.approx(60.0)


def test_threshold_is_a_fifth_of_the_torso_and_inclusive():
    gt = person(100.0)[None]
    pred = gt.copy()
    pred[0, 0] += (20.0, 0.0)  # exactly 0.2 x 100: correct
    pred[0, 1] += (0.0, 20.5)  # just beyond: wrong
    result = pck.pck(pred, gt)
    assert result["per_joint"][0] == 100.0 and result["per_joint"][1] == 0.0
    # 14 LSP joints scored (pelvis 6 and thorax 7 are not in the mean), one of them wrong.
    assert result["mean"] == pytest.approx(100.0 * 13 / 14)
    assert result["num_no_torso"] == 0


def test_person_without_a_torso_is_left_out_and_counted():
    gt = np.stack([person(100.0), person(100.0)])
    pred = gt + 30.0  # every joint of both persons 42 px off
    pred[0] = gt[0]  # person 0 exact
    missing = np.zeros((2, 16), bool)
    missing[1, [R_HIP, L_HIP]] = True  # person 1: no hips, no diagonal
    result = pck.pck(pred, gt, missing)
    assert result["num_no_torso"] == 1 and result["num_persons"] == 2
    assert result["mean"] == 100.0  # only person 0 counts, and it is exact
    assert result["joint_count"][0] == 1
    summary = pck.summary(result)
    assert summary["pck@0.2_mean"] == 100.0 and summary["pck@0.2_no_torso"] == 1
    assert "left out 1 persons" in pck.format_table(result)


def test_unannotated_joints_are_not_scored_and_shapes_are_checked():
    gt = person()[None]
    pred = gt.copy()
    pred[0, 5] += 1000.0
    missing = np.zeros((1, 16), bool)
    missing[0, 5] = True
    result = pck.pck(pred, gt, missing)
    assert result["mean"] == 100.0 and math.isnan(result["per_joint"][5])
    with pytest.raises(DataError, match="N x 16 x 2"):
        pck.pck(pred[:, :15], gt[:, :15])
    with pytest.raises(DataError, match="differ"):
        pck.pck(np.concatenate([pred, pred]), gt)
