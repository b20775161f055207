"""``benchmarks/conditions.py``'s scoring: a truncated person keeps its torso, joints out of the
frame are not scored, a missing prediction is a miss, and the visibility rule counts right."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "conditions.py"


@pytest.fixture(scope="module")
def bench():
    """The script's functions (run as a module, not as __main__: nothing is predicted)."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT), run_name="everyday_conditions"))


def person():
    """float [1, 16, 3]: shoulders and hips make a torso of 50 px (both diagonals)."""
    joints = np.zeros((1, 16, 3))
    joints[0, :, 2] = 1
    joints[0, [6, 7], 2] = 0  # LSP has no pelvis or thorax
    joints[0, 12, :2], joints[0, 13, :2] = (0, 0), (30, 0)  # r, l shoulder
    joints[0, 2, :2], joints[0, 3, :2] = (0, 40), (30, 40)  # r, l hip: diagonals of 50
    for k in (0, 1, 4, 5, 8, 9, 10, 11, 14, 15):
        joints[0, k, :2] = (15, 10 * k)
    return joints


def test_a_cut_off_hip_still_sets_the_torso_but_is_not_scored(bench):
    joints = person()
    annotated = joints[..., 2] > 0
    truncated = joints.copy()
    truncated[0, [0, 1, 2, 3, 4, 5], 2] = 0  # the frame cut the hips and legs off
    pred = joints[..., :2] + [9.0, 0]  # 9 px off: within 0.2 x 50 = 10
    pred[0, 13] += [2.0, 0]  # 11 px off: a miss
    hits, scored = bench.joint_hits(pred, truncated, annotated)
    assert scored[0].tolist() == [k not in (0, 1, 2, 3, 4, 5, 6, 7) for k in range(16)]
    assert hits[0, 12] and not hits[0, 13] and not hits[0, 2]
    pck, count = bench.pooled_pck(hits, scored, bench.LIMB_JOINTS)
    assert count == 6 and pck == pytest.approx(100 * 5 / 6)


def test_nobody_found_scores_misses_and_no_torso_scores_nothing(bench):
    joints = np.concatenate([person(), person()])
    annotated = joints[..., 2] > 0
    annotated[1, [2, 3]] = False  # the second person has no hip: no diagonal
    pred = np.full((2, 16, 2), np.nan)
    hits, scored = bench.joint_hits(pred, joints, annotated)
    assert not hits.any() and scored[0].sum() == 14 and not scored[1].any()


def test_visibility_rule_precision_and_recall(bench):
    scores = np.array([0.05, 0.1, 0.3, 0.6, 0.08, 0.9])
    out = np.array([True, True, True, False, False, False])
    inside = ~out
    misplaced = np.array([False, False, False, False, True, False])
    (row,) = bench.visibility_rule(scores, out, inside, misplaced, [0.2])
    # flagged: 0.05, 0.1 (out) and 0.08 (in, misplaced)
    assert row["flagged"] == 3 and row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(2 / 3) and row["precision_unusable"] == 1.0
