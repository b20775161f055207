"""The SimCC kind (``efficientnet_lite0_simcc``): its KL loss, model, task and decoding layer."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.codecs import simcc
from tfpose.core import geometry
from tfpose.core.errors import ConfigError
from tfpose.models.losses import SimCCKLDivergence
from tfpose.tasks import SimCCPose, get_task

SIZE = 64
BINS = SIZE * simcc.SPLIT_RATIO


def _cfg(**data):
    return config_lib.from_dict({
        "data": {"input_size": SIZE, "normalization": "signed", **data},
        "model": {"kind": "efficientnet_lite0_simcc", "num_channels": 8},
    })


def _targets(keypoints, weights=None):
    keypoints = np.asarray(keypoints, np.float32)
    weights = np.ones(keypoints.shape[:-1]) if weights is None else weights
    return simcc.encode(keypoints, weights, SIZE)


@pytest.fixture(scope="module")
def model():
    return get_task(_cfg()).build()


def test_the_kind_is_a_pose_kind_and_not_a_heatmap_kind():
    assert "efficientnet_lite0_simcc" in config_lib.POSE_KINDS
    assert "efficientnet_lite0_simcc" not in config_lib.HEATMAP_KINDS
    task = get_task(_cfg())
    assert isinstance(task, SimCCPose) and task.is_pose and task.codec == "simcc"
    assert task.output_names == ["simcc_x", "simcc_y"]


def test_kl_loss_is_zero_at_the_target_and_larger_elsewhere():
    rng = np.random.default_rng(0)
    x, _, weights = _targets(rng.uniform(5, SIZE - 5, (2, 16, 2)))
    loss = SimCCKLDivergence()
    exact = float(loss(x, tf.math.log(tf.maximum(x, 1e-30)), sample_weight=weights))
    assert exact == pytest.approx(0.0, abs=1e-4)
    shifted = tf.roll(tf.math.log(tf.maximum(x, 1e-30)), 3, axis=-1)  # 1.5 px off
    assert float(loss(x, shifted, sample_weight=weights)) > 0.1
    flat = float(loss(x, tf.zeros_like(x), sample_weight=weights))
    assert flat > float(loss(x, shifted, sample_weight=weights))
    # Per joint: B x K, before the reduction.
    assert loss.call(x, tf.zeros_like(x)).shape == (2, 16)


def test_kl_loss_ignores_zero_weight_joints():
    keypoints = np.array([[[20.0, 20.0], [40.0, 10.0]]], np.float32)
    x, _, weights = _targets(keypoints, np.array([[1, 0]]))
    assert weights.numpy().tolist() == [[1.0, 0.0]]
    good = tf.math.log(tf.maximum(x, 1e-30)).numpy()
    rng = np.random.default_rng(1)
    bad = good.copy()
    bad[0, 1] = rng.normal(0, 10, BINS)  # whatever the unlabelled joint predicts
    loss = SimCCKLDivergence()
    assert float(loss(x, good, sample_weight=weights)) == pytest.approx(0.0, abs=1e-4)
    assert float(loss(x, bad, sample_weight=weights)) == pytest.approx(0.0, abs=1e-4)
    bad[0, 0] = rng.normal(0, 10, BINS)  # ... but the labelled one counts
    assert float(loss(x, bad, sample_weight=weights)) > 1.0


def test_model_builds_at_64_px_with_float32_logits_per_axis(model):
    out = model({"image": np.zeros((2, SIZE, SIZE, 3), np.float32)})
    assert sorted(out) == ["simcc_x", "simcc_y"]
    for value in out.values():
        assert tuple(value.shape) == (2, 16, BINS) and value.dtype.name == "float32"
    keypoints, scores = get_task(_cfg()).decode_outputs(out)
    assert keypoints.shape == (2, 16, 2) and scores.shape == (2, 16)
    assert np.all(keypoints.numpy() >= 0) and np.all(keypoints.numpy() <= SIZE)


def test_the_heatmap_models_trunk_names_so_backbone_weights_and_freezing_apply(model, tmp_path):
    from tfpose.models.efficientnet_lite import frozen_layer_names, load_backbone_weights

    heatmap_cfg = config_lib.replace(_cfg(), model=config_lib.replace(
        _cfg().model, kind="efficientnet_lite0"))
    heatmap = get_task(heatmap_cfg).build()
    # An ImageNet-style .npz: the backbone layers' weights, taken from the heatmap model.
    backbone = [layer for layer in heatmap.layers
                if layer.name.startswith(("stem_", "block")) and layer.weights]
    np.savez(tmp_path / "backbone.npz", **{f"{layer.name}/{i}": w for layer in backbone
                                           for i, w in enumerate(layer.get_weights())})
    assert load_backbone_weights(model, tmp_path / "backbone.npz") == len(backbone)
    np.testing.assert_array_equal(model.get_layer("block5_dw").get_weights()[0],
                                  heatmap.get_layer("block5_dw").get_weights()[0])
    frozen_cfg = config_lib.replace(_cfg(), model=config_lib.replace(_cfg().model,
                                                                     frozen_blocks=2))
    frozen = get_task(frozen_cfg).build()
    names = set(frozen_layer_names(frozen, 2))
    assert names and all(n.startswith(("stem_", "block0_", "block1_")) for n in names)
    assert all(not frozen.get_layer(n).trainable for n in names)
    assert frozen.get_layer("simcc_hidden").trainable and frozen.get_layer("block2_dw").trainable


def test_other_input_sizes_are_refused(model):
    task = get_task(_cfg())
    with pytest.raises(ConfigError, match="takes only its input_size"):
        task.network_at_size(model, 32)
    assert task.network_at_size(model, SIZE) is model
    with pytest.raises(ConfigError, match="simcc_sigma"):
        get_task(_cfg(simcc_sigma=0.0))


def test_targets_follow_the_configured_sigma():
    task = get_task(_cfg(simcc_sigma=3.0))
    example = {"keypoints": tf.constant([[[20.0, 30.0, 1.0]] * 16]),
               "annotated": tf.ones((1, 16))}
    targets, weights = task.make_targets(example)
    assert sorted(targets) == sorted(weights) == ["simcc_x", "simcc_y"]
    peak = float(tf.reduce_max(targets["simcc_x"]))
    assert peak == pytest.approx(simcc.peak_probability(3.0), rel=1e-4)
    assert int(tf.argmax(targets["simcc_y"][0, 0])) == 60


def test_flip_test_of_a_mirror_consistent_prediction_keeps_its_keypoints():
    """The mirrored image's prediction is the plain one seen in a mirror (joints swapped, x to
    S - 1 - x): mirror_flipped must give back the plain keypoints, not shifted by a bin."""
    rng = np.random.default_rng(2)
    keypoints = rng.uniform(4, SIZE - 4, (2, 16, 2)).astype(np.float32)
    mirrored = geometry.mirror_keypoints(keypoints, SIZE).numpy()
    task = get_task(_cfg())

    def logits(points):
        x, y, _ = _targets(points)
        return {"simcc_x": tf.math.log(tf.maximum(x, 1e-30)),
                "simcc_y": tf.math.log(tf.maximum(y, 1e-30))}

    plain, plain_scores = task.decode_outputs(logits(keypoints))
    averaged, scores = task.mirror_flipped(logits(keypoints), logits(mirrored))
    np.testing.assert_allclose(averaged.numpy(), keypoints, atol=0.02)
    np.testing.assert_allclose(averaged.numpy(), plain.numpy(), atol=0.02)
    np.testing.assert_allclose(scores.numpy(), plain_scores.numpy(), atol=0.02)
    # A flip that disagrees (the unflipped prediction again, joints not swapped) moves them.
    wrong, _ = task.mirror_flipped(logits(keypoints), logits(keypoints))
    assert np.abs(wrong.numpy() - keypoints).max() > 1.0


def test_flip_test_on_the_model_runs(model):
    task = get_task(_cfg())
    images = np.random.default_rng(3).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    keypoints, scores = task.predict_keypoints(model, images, flip_test=True)
    assert keypoints.shape == (2, 16, 2) and np.all(np.isfinite(keypoints.numpy()))
    assert np.all((scores.numpy() >= 0) & (scores.numpy() <= 1))


def test_decode_keypoints_layer_decodes_simcc_outputs_and_round_trips_its_config():
    from tfpose.models.decode import DecodeKeypoints

    task = get_task(_cfg())
    keypoints = np.full((1, 16, 2), 21.6, np.float32)
    x, y, _ = _targets(keypoints)
    outputs = {"simcc_x": tf.math.log(tf.maximum(x, 1e-30)),
               "simcc_y": tf.math.log(tf.maximum(y, 1e-30))}
    layer = DecodeKeypoints(**task.decode_args(), score_threshold=0.5)
    joints = layer(outputs)
    assert joints.shape == (1, 16, 3)
    np.testing.assert_allclose(joints.numpy()[..., :2], keypoints, atol=0.01)
    np.testing.assert_array_equal(joints.numpy()[..., 2], 1.0)
    assert layer.compute_output_shape({"simcc_x": (None, 16, BINS),
                                       "simcc_y": (None, 16, BINS)}) == (None, 16, 3)
    again = DecodeKeypoints.from_config(layer.get_config())
    assert again.codec == "simcc" and again.simcc_sigma == task.cfg.data.simcc_sigma


def test_the_configs_sigma_default_is_the_codecs():
    from tfpose import config as config_lib
    from tfpose.codecs import simcc as simcc_codec

    assert config_lib.DataConfig().simcc_sigma == simcc_codec.SIGMA
