"""PCKh: synthetic unit checks, the readers, the Keras metric, the CLI, and the reproduction of
the published table on the real validation files (skipped without ../shared)."""

import json

import h5py
import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from mpii_shared import SHARED_MPII
from tfpose.core.errors import DataError
from tfpose.metrics import pckh as P
from tfpose.metrics import pckh_files as F

EVAL = SHARED_MPII / "eval"
K = 16


def _poses(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(50, 400, size=(n, K, 2))


# -- the pure function -------------------------------------------------------------------------


def test_perfect_prediction_scores_100_everywhere():
    gt = _poses()
    result = P.pckh(gt.copy(), gt, head_size=np.full(3, 10.0))
    assert result["per_joint"] == [100.0] * K
    assert all(v == 100.0 for v in result["parts"].values())
    assert result["mean"] == result["mean_unweighted"] == result["mean@0.1"] == 100.0
    assert result["normalizer"] == P.NORMALIZER_HEAD_SIZE
    assert result["joint_count"] == [3] * K


@pytest.mark.parametrize("offset, correct", [(4.99, True), (5.0, True), (5.01, False)])
def test_threshold_is_inclusive_at_half_head_size(offset, correct):
    gt = _poses(n=1)
    pred = gt + np.array([0.0, offset])  # every joint moved down by `offset`; head size 10
    result = P.pckh(pred, gt, head_size=[10.0])
    assert result["mean"] == (100.0 if correct else 0.0)
    assert result["mean@0.1"] == 0.0  # 0.1 x 10 = 1 px


def test_missing_joints_are_skipped_and_mean_pools_by_joint_count():
    gt = _poses(n=2)
    pred = gt.copy()
    missing = np.zeros((2, K), bool)
    missing[1, :] = True
    missing[1, 0] = False  # person 1: only the right ankle is annotated...
    pred[1, 0] += 100.0  # ...and it is wrong
    pred[1, 5] += 100.0  # a wrong prediction of a missing joint does not count
    result = P.pckh(pred, gt, head_size=[10.0, 10.0], missing=missing)
    assert result["joint_count"][0] == 2 and result["joint_count"][5] == 1
    assert result["per_joint"][0] == 50.0 and result["per_joint"][5] == 100.0
    assert result["parts"]["Ankle"] == 75.0  # pair = mean of the two joints' rates
    assert result["mean"] == pytest.approx(100 * 14 / 15)  # pooled: 14 of 15 joints correct
    assert result["mean_unweighted"] == pytest.approx((13 * 100 + 50) / 14)
    assert result["mean_parts"] == pytest.approx((6 * 100 + 75) / 7)


def test_pelvis_and_thorax_are_outside_the_mean_and_head_variants():
    gt = _poses(n=1)
    pred = gt.copy()
    pred[0, [P.PELVIS, P.THORAX, P.UPPER_NECK]] += 50.0
    top = P.pckh(pred, gt, head_size=[10.0])
    assert top["parts"]["Head"] == 100.0
    assert top["mean"] == pytest.approx(100 * 13 / 14)  # only the neck counts against
    matlab = P.pckh(pred, gt, head_size=[10.0], head="neck_top")
    assert matlab["parts"]["Head"] == 50.0
    assert matlab["mean"] == top["mean"]
    with pytest.raises(DataError, match="head="):
        P.pckh(pred, gt, head_size=[10.0], head="nose")


def test_fallback_normaliser_is_three_quarters_of_the_neck_to_head_top_length():
    gt = _poses(n=2)
    gt[:, P.HEAD_TOP] = gt[:, P.UPPER_NECK] + [0.0, -20.0]  # head length 20 -> normaliser 15
    missing = np.zeros((2, K), bool)
    missing[1, P.UPPER_NECK] = True  # person 1 has no normaliser: skipped
    np.testing.assert_allclose(P.head_size_from_joints(gt)[0], 15.0)
    for offset, expected in ((7.4, 100.0), (7.6, 0.0)):  # threshold 0.5 x 15 = 7.5
        pred = gt + [offset, 0.0]
        result = P.pckh(pred, gt, missing=missing)
        assert result["normalizer"] == P.NORMALIZER_HEAD_LENGTH
        assert result["num_skipped_persons"] == 1
        assert result["joint_count"] == [1] * K
        assert result["mean"] == expected
    assert "upper-neck-to-head-top" in P.format_table(result)


def test_head_size_from_boxes_accepts_both_box_layouts():
    corners = np.array([[[10.0, 20.0], [13.0, 24.0]], [[0.0, 0.0], [6.0, 8.0]]])
    np.testing.assert_allclose(P.head_size_from_boxes(corners), [3.0, 6.0])  # 0.6 x 5, 0.6 x 10
    np.testing.assert_allclose(P.head_size_from_boxes(corners.reshape(2, 4)), [3.0, 6.0])
    with pytest.raises(DataError, match="received shape"):
        P.head_size_from_boxes(np.zeros((2, 3)))


def test_shape_errors_say_what_was_received():
    gt = _poses(n=2)
    with pytest.raises(DataError, match=r"\(1, 16, 2\)"):
        P.pckh(gt[:1], gt, head_size=[1.0, 1.0])
    with pytest.raises(DataError, match="N x 16 x 2"):
        P.pckh(gt[:, :14], gt[:, :14])


def test_format_table_and_summary():
    gt = _poses()
    result = P.pckh(gt, gt, head_size=np.full(3, 10.0))
    table = P.format_table(result).splitlines()
    assert table[1].split() == ["Head", "Sho", "Elb", "Wri", "Hip", "Knee", "Ank", "Mean"]
    assert table[2].split() == ["100.00"] * 8
    assert "PCKh@0.1" in table[3]
    line = json.loads(json.dumps(P.summary(result)))
    assert line["mean"] == 100.0 and line["ankle"] == 100.0 and line["head_variant"] == "top"


# -- readers -----------------------------------------------------------------------------------


def _write_gt(path, gt_1based, missing, boxes):
    scipy.io.savemat(
        path,
        {
            "pos_gt_src": np.transpose(gt_1based, (1, 2, 0)),
            "jnt_missing": missing.T.astype(np.uint8),
            "headboxes_src": np.transpose(boxes, (1, 2, 0)),
        },
    )


@pytest.fixture
def tiny_eval(tmp_path):
    """A 3-person gt_valid.mat (1-based) and its 1-based 'perfect' predictions."""
    gt = _poses(n=3, seed=1) + 1.0
    missing = np.zeros((3, K), bool)
    missing[2, 4] = True
    boxes = np.array([[[0.0, 0.0], [30.0, 40.0]]] * 3)  # head size 30
    path = tmp_path / "gt_valid.mat"
    _write_gt(path, gt, missing, boxes)
    return path, gt, missing


def test_load_gt_moves_the_person_axis_first(tiny_eval):
    path, gt, missing = tiny_eval
    loaded = F.load_gt(path)
    assert len(loaded) == 3
    np.testing.assert_allclose(loaded.joints, gt)
    np.testing.assert_array_equal(loaded.missing, missing)
    np.testing.assert_allclose(loaded.head_size, [30.0] * 3)


def test_load_gt_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, {"pos_gt_src": np.zeros((16, 2, 3))})
    with pytest.raises(DataError, match=r"bad\.mat.*jnt_missing"):
        F.load_gt(path)
    scipy.io.savemat(path, {"pos_gt_src": np.zeros((14, 2, 3)), "jnt_missing": np.zeros((14, 3)),
                            "headboxes_src": np.zeros((2, 2, 3))})
    with pytest.raises(DataError, match=r"bad\.mat.*pos_gt_src"):
        F.load_gt(path)


def test_all_prediction_layouts_and_formats_give_the_same_result(tmp_path, tiny_eval):
    gt_path, gt, missing = tiny_eval
    preds = gt + np.random.default_rng(2).normal(0, 12, gt.shape)
    files = {
        "nk2.npy": preds,
        "matlab.npy": preds.T,  # 2 x 16 x N
        "pos_pred_src.npy": np.transpose(preds, (1, 2, 0)),  # 16 x 2 x N
        "scores.npy": np.concatenate([preds, np.ones((3, K, 1))], axis=-1),  # N x 16 x 3
        "matlab.mat": preds.T,
        "nk2.mat": preds.astype(np.float32),
    }
    for name, array in files.items():
        if name.endswith(".npy"):
            np.save(tmp_path / name, array)
        else:
            scipy.io.savemat(tmp_path / name, {"preds": array})
    with h5py.File(tmp_path / "matlab.h5", "w") as f:
        f["preds"] = preds.T
    ref = F.load_gt(gt_path)
    expected = P.pckh(preds, ref.joints, ref.head_size, ref.missing)
    assert 0 < expected["mean"] < 100  # the noise makes some joints wrong
    for name in list(files) + ["matlab.h5"]:
        loaded = F.load_predictions(tmp_path / name, num_persons=3)
        np.testing.assert_allclose(loaded, preds, rtol=1e-6, err_msg=name)
        result = P.pckh(loaded, ref.joints, ref.head_size, ref.missing)
        assert result["per_joint"] == pytest.approx(expected["per_joint"]), name


def test_ambiguous_two_person_shape_prefers_n_16_2(tmp_path):
    preds = _poses(n=2)
    np.save(tmp_path / "p.npy", preds)
    np.testing.assert_array_equal(F.load_predictions(tmp_path / "p.npy"), preds)


def test_prediction_errors_name_the_file(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 14, 2)))
    with pytest.raises(DataError, match=r"wrong\.npy.*\(3, 14, 2\)"):
        F.load_predictions(tmp_path / "wrong.npy")
    np.save(tmp_path / "n.npy", np.zeros((3, 16, 2)))
    with pytest.raises(DataError, match=r"N = 4"):
        F.load_predictions(tmp_path / "n.npy", num_persons=4)
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f["joints"] = np.zeros((3, 16, 2))
    with pytest.raises(DataError, match=r"nokey\.h5.*'preds'.*found \['joints'\]"):
        F.load_predictions(tmp_path / "nokey.h5")
    (tmp_path / "p.txt").write_text("1 2")
    with pytest.raises(DataError, match="unsupported"):
        F.load_predictions(tmp_path / "p.txt")
    with pytest.raises(FileNotFoundError):
        F.load_predictions(tmp_path / "absent.h5")


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_scores_a_file_and_ends_with_json(tmp_path, tiny_eval):
    from cli import cli

    gt_path, gt, _ = tiny_eval
    np.save(tmp_path / "zero_based.npy", gt - 1.0)
    runner = CliRunner()
    args = ["eval-pckh", "--gt", str(gt_path), "--preds", str(tmp_path / "zero_based.npy")]
    shifted = runner.invoke(cli, args + ["--threshold", "0.01"])
    assert shifted.exit_code == 0, shifted.output
    assert json.loads(shifted.output.splitlines()[-1])["mean"] == 0.0  # off by one pixel
    fixed = runner.invoke(cli, args + ["--threshold", "0.01", "--zero-based"])
    lines = fixed.output.splitlines()
    assert lines[1].split()[-1] == "Mean" and lines[2].split() == ["100.00"] * 8
    assert json.loads(lines[-1])["mean"] == 100.0
    only_json = runner.invoke(cli, args + ["--json"])
    assert len(only_json.output.splitlines()) == 1


def test_cli_bad_input_is_one_line_exit_2(tmp_path, tiny_eval, capsys):
    from cli import main

    np.save(tmp_path / "bad.npy", np.zeros((5, 16, 2)))
    with pytest.raises(SystemExit) as exit_info:
        main(["eval-pckh", "--gt", str(tiny_eval[0]), "--preds", str(tmp_path / "bad.npy")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "bad.npy" in err and "\n" not in err


# -- Keras metric ------------------------------------------------------------------------------


def _batch(seed=3, b=6, noise=8.0):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(-100, 100, (b, K, 2)).astype("float32")
    y_pred = (y_true + rng.normal(0, noise, (b, K, 2))).astype("float32")
    weight = (rng.uniform(size=(b, K)) > 0.2).astype("float32")
    head_size = rng.uniform(10, 30, b).astype("float32")
    return y_true, y_pred, weight, head_size


def test_keras_metric_matches_numpy_over_batches_with_head_size():
    y_true, y_pred, weight, head_size = _batch()
    metric = P.PCKh()
    metric.update_state(y_true[:4], y_pred[:4], sample_weight=weight[:4], head_size=head_size[:4])
    metric.update_state(y_true[4:], y_pred[4:], sample_weight=weight[4:], head_size=head_size[4:])
    expected = P.pckh(y_pred, y_true, head_size, missing=weight == 0)
    assert 0 < expected["mean"] < 100
    assert 100 * float(metric.result()) == pytest.approx(expected["mean"], abs=1e-4)
    np.testing.assert_allclose(
        100 * np.asarray(metric.per_joint()), np.nan_to_num(expected["per_joint"]), atol=1e-4
    )
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_keras_metric_in_model_evaluate_uses_the_head_length_fallback():
    import keras

    y_true, y_pred, weight, _ = _batch(seed=4, b=8, noise=25.0)
    model = keras.Sequential([keras.Input((K, 2)), keras.layers.Identity()])
    # Keras passes sample weights (the joint mask) only to `weighted_metrics`.
    model.compile(loss="mse", weighted_metrics=[P.PCKh(normalizer="head_length")])
    scores = model.evaluate(y_pred, y_true, sample_weight=weight, batch_size=3, verbose=0,
                            return_dict=True)
    expected = P.pckh(y_pred, y_true, missing=weight == 0)  # numpy fallback normaliser
    assert expected["normalizer"] == P.NORMALIZER_HEAD_LENGTH
    assert expected["num_skipped_persons"] > 0 and 20 < expected["mean"] < 80
    assert 100 * scores["pckh"] == pytest.approx(expected["mean"], abs=1e-3)


def test_keras_metric_constant_normaliser_visibility_channel_and_config():
    import keras

    y_true, y_pred, weight, _ = _batch(seed=5)
    metric = P.PCKh(normalizer=20.0, threshold=0.3)
    metric.update_state(np.concatenate([y_true, weight[..., None]], axis=-1), y_pred)
    expected = P.pckh(y_pred, y_true, np.full(6, 20.0), weight == 0, threshold=0.3)
    assert 100 * float(metric.result()) == pytest.approx(expected["mean"], abs=1e-4)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(clone, P.PCKh) and clone.get_config() == metric.get_config()
    with pytest.raises(ValueError, match="normalizer"):
        P.PCKh(normalizer="head_box")


# -- the published numbers on the real validation files ----------------------------------------

# README table (Head Sho Elb Wri Hip Knee Ank, pooled Mean, unweighted Mean over 14 joints).
PUBLISHED = {
    "preds/tompson.h5": (95.60, 92.71, 83.36, 76.74, 81.93, 73.36, 65.45, 82.34, 81.46),
    "preds/newell.h5": (95.94, 95.19, 89.14, 84.17, 86.97, 83.20, 80.37, 88.43, 87.98),
    "preds/bearpaw-hg_s2_b1.mat": (95.80, 94.57, 88.12, 83.31, 86.24, 80.88, 77.44, 87.30, 86.76),
    "preds/bearpaw-hg_s8_b1.mat": (96.79, 95.19, 90.08, 85.32, 87.48, 84.26, 80.73, 89.09, 88.64),
    "gt_valid.mat": (95.60, 92.71, 83.36, 76.74, 81.93, 73.36, 65.45, 82.34, 81.46),  # Tompson
    # Not in the README: measured here; 1 stack sits below 2 and 8 stacks on every part.
    "preds/bearpaw-hg_s1_b1.mat": (95.12, 93.61, 85.53, 79.56, 84.51, 78.28, 73.38, 85.08, 84.46),
}


@pytest.fixture(scope="module")
def official_gt():
    if not (EVAL / "gt_valid.mat").is_file():
        pytest.skip("../shared/mpii/eval is not available")
    return F.load_gt(EVAL / "gt_valid.mat")


def _score(gt, name, **kwargs):
    preds = F.load_predictions(EVAL / name, num_persons=len(gt))
    return P.pckh(preds, gt.joints, gt.head_size, gt.missing, **kwargs)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_reproduces_the_published_table(official_gt, name):
    result = _score(official_gt, name)
    got = list(result["parts"].values()) + [result["mean"], result["mean_unweighted"]]
    np.testing.assert_allclose(got, PUBLISHED[name], atol=0.01 + 1e-9)
    # The MATLAB table's Head (neck and top) makes the 7-part mean the 14-joint mean.
    matlab = _score(official_gt, name, head="neck_top")
    assert matlab["mean_parts"] == pytest.approx(result["mean_unweighted"])


def test_one_stack_hourglass_is_consistent_with_two_and_eight(official_gt):
    one, two, eight = (_score(official_gt, f"preds/bearpaw-hg_s{s}_b1.mat") for s in (1, 2, 8))
    for part in one["parts"]:
        assert one["parts"][part] <= two["parts"][part] <= eight["parts"][part], part
    assert _score(official_gt, "preds/tompson.h5")["mean"] < one["mean"] < two["mean"]
    assert 0 < one["mean@0.1"] < one["mean"]


def test_fallback_normaliser_tracks_the_official_one_on_real_data(official_gt):
    gt = official_gt
    length = P.head_size_from_joints(gt.joints, gt.missing, factor=1.0)
    assert np.nanmedian(length / gt.head_size) == pytest.approx(1 / P.HEAD_LENGTH_FACTOR, abs=0.01)
    preds = F.load_predictions(EVAL / "preds/newell.h5")
    official = P.pckh(preds, gt.joints, gt.head_size, gt.missing)
    fallback = P.pckh(preds, gt.joints, None, gt.missing)
    assert fallback["num_skipped_persons"] == 26  # neck or head top not annotated
    assert abs(fallback["mean"] - official["mean"]) < 0.5


def test_cli_on_the_official_files(official_gt):
    from cli import cli

    result = CliRunner().invoke(
        cli,
        ["eval-pckh", "--gt", str(EVAL / "gt_valid.mat"), "--preds", str(EVAL / "preds/newell.h5")],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split() == [
        "95.94", "95.19", "89.14", "84.17", "86.97", "83.20", "80.37", "88.43"
    ]
    assert json.loads(result.output.splitlines()[-1])["mean"] == pytest.approx(88.43, abs=0.01)
