"""The pose-noise model: measured rates come back from predictions built with known errors,
and injected noise follows the rates it is given."""

import numpy as np

from tfpose.core import joint_frame, skeleton
from tfpose.input import pose_noise

K = skeleton.NUM_JOINTS


def _people(n, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 100, (1, K, 2)).astype(np.float32)
    return np.repeat(base, n, 0) + rng.normal(0, 2, (n, K, 2)).astype(np.float32)


def test_measure_finds_jitter_gross_errors_and_low_scores():
    n = 400
    true = _people(n)
    annotated = np.ones((n, K), bool)
    _, side, _ = joint_frame.square_box(true, annotated)
    rng = np.random.default_rng(1)
    pred = true + rng.normal(0, 0.02, (n, K, 2)).astype(np.float32) * side[:, None, None]
    pred[: n // 4, 9] += 0.5 * side[: n // 4, None]  # head top gross in a quarter
    scores = np.ones((n, K), np.float32)
    scores[: n // 10, 0] = 0.0  # r_ankle missed in a tenth
    noise = pose_noise.measure(pred, scores, true, annotated)
    assert abs(noise["gross"][9] - 0.25) < 0.02 and noise["gross"][3] < 0.01
    assert abs(noise["missing"][0] - 0.1) < 0.01
    assert np.allclose(noise["sigma"][3], 0.02, atol=0.004)
    assert noise["person_swap"] == 0.0
    assert "head_top" in pose_noise.format_table(noise)


def test_measure_undoes_a_person_seen_with_sides_exchanged():
    n = 50
    true = _people(n, seed=2)
    annotated = np.ones((n, K), bool)
    pred = true.copy()
    pred[:10] = true[:10][:, list(skeleton.FLIP_INDEX)]
    noise = pose_noise.measure(pred, np.ones((n, K)), true, annotated)
    assert noise["person_swap"] == 10 / n
    assert max(noise["swap"]) == 0.0 and max(noise["gross"]) == 0.0


def test_perturb_follows_the_rates_and_keeps_unannotated_joints_unused():
    n = 2000
    true = _people(n, seed=3)
    annotated = np.ones((n, K), bool)
    annotated[:, 5] = False
    noise = {"joint_names": list(skeleton.JOINT_NAMES), "person_swap": 0.0,
             "missing": [0.2] * K, "swap": [0.0] * K, "gross": [0.0] * K,
             "sigma": [[0.0, 0.0]] * K, "gross_quantiles": [0.3] * len(pose_noise.QUANTILES)}
    noise["gross"][9] = 0.5
    out, used = pose_noise.perturb(true, annotated, noise, np.random.default_rng(0))
    assert not used[:, 5].any() and abs(used[:, 0].mean() - 0.8) < 0.03
    moved = np.linalg.norm(out - true, axis=-1) > 1e-3
    assert abs(moved[used[:, 9], 9].mean() - 0.5) < 0.04
    assert not moved[used[:, 3], 3].any()


def test_replay_moves_each_person_by_one_measured_pattern_scaled_to_its_box():
    n = 50
    true = _people(n, seed=4)
    annotated = np.ones((n, K), bool)
    errors = np.zeros((2, K, 2), np.float32)
    errors[1, 3] = (0.5, 0.0)  # person 1 of the measured set: l_hip half a box side right
    measured = np.ones((2, K), bool)
    missed = np.zeros((2, K), bool)
    missed[1, 0] = True  # and its r_ankle scored too low
    out, used = pose_noise.replay(true, annotated, errors, measured, missed,
                                  np.random.default_rng(0))
    _, side, _ = joint_frame.square_box(true, annotated)
    moved = ~np.isclose(out[:, 3, 0], true[:, 3, 0])
    assert 0 < moved.sum() < n
    np.testing.assert_allclose(out[moved, 3, 0] - true[moved, 3, 0], 0.5 * side[moved], rtol=1e-4)
    assert (~used[:, 0] == moved).all() and used[:, 1:].all()
