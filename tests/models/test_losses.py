"""Masked keypoint L2 and heatmap MSE: values, masking, and training through compile/fit."""

import keras
import numpy as np
import pytest

from tfpose import config
from tfpose.core.errors import ConfigError
from tfpose.models.losses import HeatmapMSE, HeatmapSoftmaxCE, MaskedKeypointL2
from tfpose.tasks import pose_task

K = 16


def build_pose_model(cfg):
    """The pose model of ``cfg``, built by its task (the one place a kind picks a builder)."""
    return pose_task(cfg).build()


def losses_for(cfg):
    """The pose model's losses keyed by output name (``PoseTask.losses``)."""
    return pose_task(cfg).losses()


def make_cfg(kind, size=64, **model):
    return config.from_dict({"data": {"input_size": size}, "model": {"kind": kind, **model}})


def tiny_hourglass_cfg():
    return make_cfg("hourglass", 64, num_stacks=2, num_channels=8, hourglass_depth=1)


# Eager steps: tracing and optimising even a tiny hourglass's train graph takes ~10 s on a CPU,
# longer than the steps themselves; the loss and sample-weight plumbing are the same.
EAGER = dict(run_eagerly=True)


def test_masked_keypoint_l2_is_eq1_by_hand():
    y_true = np.zeros((2, 3, 2), "float32")
    y_pred = np.array(
        [[[1, 2], [3, 0], [9, 9]], [[0, 0], [2, 2], [5, 5]]], "float32"
    )
    mask = np.array([[1, 1, 0], [1, 1, 0]], "float32")
    loss = MaskedKeypointL2()
    np.testing.assert_allclose(
        loss.call(y_true, y_pred).numpy(), [[2.5, 4.5, 81.0], [0.0, 4.0, 25.0]]
    )
    # Eq. 1: mean of squared errors over the 8 labelled coordinates (2 x 2 joints x (x, y)).
    labelled = [1, 4, 9, 0, 0, 0, 4, 4]
    assert float(loss(y_true, y_pred, sample_weight=mask)) == pytest.approx(np.mean(labelled))
    # Without weights: the mean over every joint.
    assert float(loss(y_true, y_pred)) == pytest.approx(np.mean([2.5, 4.5, 81, 0, 4, 25]))


def test_masked_keypoint_l2_ignores_unannotated_joints():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(4, K, 2)).astype("float32")
    y_pred = rng.normal(size=(4, K, 2)).astype("float32")
    mask = (rng.random((4, K)) > 0.4).astype("float32")
    loss = MaskedKeypointL2()
    base = float(loss(y_true, y_pred, sample_weight=mask))
    moved = y_pred.copy()
    moved[mask == 0] += 1000.0
    assert float(loss(y_true, moved, sample_weight=mask)) == pytest.approx(base, rel=1e-6)
    moved[mask == 1] += 1.0
    assert float(loss(y_true, moved, sample_weight=mask)) != pytest.approx(base, rel=1e-3)


def test_heatmap_mse_per_joint_and_masked():
    y_true = np.zeros((1, 2, 2, 3), "float32")
    y_pred = np.zeros((1, 2, 2, 3), "float32")
    y_pred[0, 0, 0, 0] = 2.0  # joint 0: one pixel off by 2 -> mean over 4 pixels = 1
    y_pred[0, :, :, 2] = 3.0  # joint 2: every pixel off by 3 -> 9
    loss = HeatmapMSE()
    np.testing.assert_allclose(loss.call(y_true, y_pred).numpy(), [[1.0, 0.0, 9.0]])
    assert float(loss(y_true, y_pred, sample_weight=[[1, 1, 0]])) == pytest.approx(0.5)
    assert float(loss(y_true, y_pred)) == pytest.approx(10 / 3)


def test_heatmap_softmax_ce_by_hand_and_masked():
    y_true = np.zeros((1, 2, 2, 2), "float32")
    y_true[0, 0, 0, 0] = 1.0  # joint 0: all mass on pixel (0, 0)
    y_true[0, :, 1, 1] = 0.5  # joint 1: half on each pixel of column 1 (scale is normalised)
    logits = np.zeros((1, 2, 2, 2), "float32")
    logits[0, 0, 0, 0] = np.log(3.0)  # softmax of joint 0: 3/6 at (0, 0), 1/6 elsewhere
    loss = HeatmapSoftmaxCE()
    np.testing.assert_allclose(loss.call(y_true, logits).numpy(), [[np.log(2.0), np.log(4.0)]],
                               rtol=1e-6)
    # An unannotated joint (all-zero target, weight 0) costs nothing, whatever its logits.
    y_true[0, ..., 1] = 0.0
    assert loss.call(y_true, logits).numpy()[0, 1] == 0.0
    assert float(loss(y_true, logits, sample_weight=[[1, 0]])) == pytest.approx(np.log(2.0))


def test_softmax_ce_decodes_through_the_softmax_at_the_target_peak():
    """Logits = log of the training Gaussian: same keypoint as the MSE decode, scores ~1."""
    from tfpose.codecs import heatmap as heatmaps
    from tfpose.models.decode import keypoints_from_outputs

    keypoints = np.array([[[20.0, 36.0], [44.0, 8.0]]], "float32")  # input px, stride 4
    target, _ = heatmaps.encode(keypoints, np.ones((1, 2)), 16, 4, 2.0)
    logits = np.log(np.maximum(target.numpy(), 1e-30)) + 7.0  # any offset: softmax ignores it
    args = dict(codec="heatmap", input_size=64, coord_frame="centered", heatmap_stride=4)
    xy_ce, score_ce = keypoints_from_outputs([logits], heatmap_loss="softmax_ce",
                                             heatmap_sigma=2.0, **args)
    xy_mse, _ = keypoints_from_outputs([target], **args)
    np.testing.assert_allclose(xy_ce.numpy(), xy_mse.numpy(), atol=1e-4)
    np.testing.assert_allclose(xy_ce.numpy(), keypoints, atol=1.0)
    np.testing.assert_allclose(score_ce.numpy(), 1.0, atol=0.02)


def test_losses_for_picks_the_configured_heatmap_loss():
    cfg = make_cfg("hourglass", num_stacks=2, heatmap_loss="softmax_ce")
    assert all(isinstance(v, HeatmapSoftmaxCE) for v in losses_for(cfg).values())
    with pytest.raises(ConfigError, match="heatmap_loss"):
        losses_for(make_cfg("hourglass", heatmap_loss="l1"))


def test_losses_for_keys_match_model_outputs():
    hg = make_cfg("hourglass", num_stacks=3)
    losses = losses_for(hg)
    assert list(losses) == ["heatmaps_1", "heatmaps_2", "heatmaps_3"]
    assert all(isinstance(v, HeatmapMSE) for v in losses.values())
    assert len({id(v) for v in losses.values()}) == 3
    assert list(losses_for(make_cfg("cdrp"))) == ["keypoints"]
    assert isinstance(losses_for(make_cfg("resnet34"))["keypoints"], MaskedKeypointL2)


def heatmap_batch(n=2, seed=0):
    rng = np.random.default_rng(seed)
    x = {"image": rng.normal(size=(n, 64, 64, 3)).astype("float32"),
         "joints": np.zeros((n, K, 3), "float32")}  # the pipeline's extra input is tolerated
    target = np.zeros((n, 16, 16, K), "float32")
    ys, xs = rng.integers(2, 14, size=(2, n, K))
    for b in range(n):
        target[b, ys[b], xs[b], np.arange(K)] = 1.0
    mask = (rng.random((n, K)) > 0.3).astype("float32")
    y = {"heatmaps_1": target, "heatmaps_2": target}
    w = {"heatmaps_1": mask, "heatmaps_2": mask}
    return x, y, w


def test_multi_output_loss_is_the_sum_of_masked_stack_losses():
    cfg = tiny_hourglass_cfg()
    model = build_pose_model(cfg)
    model.compile(optimizer="rmsprop", loss=losses_for(cfg), **EAGER)
    x, y, w = heatmap_batch()
    pred = model({"image": x["image"]}, training=False)
    expected = sum(
        float(HeatmapMSE()(y[k], pred[k], sample_weight=w[k])) for k in ("heatmaps_1", "heatmaps_2")
    )
    got = model.evaluate(x, y, sample_weight=w, batch_size=2, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(expected, rel=1e-4)


def test_a_few_steps_lower_the_hourglass_loss():
    keras.utils.set_random_seed(0)
    cfg = tiny_hourglass_cfg()
    model = build_pose_model(cfg)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2), loss=losses_for(cfg), **EAGER)
    x, y, w = heatmap_batch()
    history = model.fit(x, y, sample_weight=w, batch_size=2, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_a_few_steps_lower_the_cdrp_loss():
    keras.utils.set_random_seed(0)
    cfg = make_cfg("cdrp", 64, fc_units=64)
    model = build_pose_model(cfg)
    # The report's optimiser (Adam on 4 examples with batch-4 BatchNorm wanders instead).
    optimizer = keras.optimizers.SGD(5e-4, momentum=0.9, nesterov=True)
    model.compile(optimizer=optimizer, loss=losses_for(cfg), jit_compile=False)
    rng = np.random.default_rng(0)
    x = {"image": rng.normal(size=(4, 64, 64, 3)).astype("float32")}
    y = {"keypoints": rng.uniform(-32, 32, size=(4, K, 2)).astype("float32")}
    w = {"keypoints": (rng.random((4, K)) > 0.3).astype("float32")}
    history = model.fit(x, y, sample_weight=w, batch_size=4, epochs=10, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.2 * losses[0], losses
