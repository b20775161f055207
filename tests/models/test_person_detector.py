"""The person detector (``model.kind: efficientnet_lite0_centernet``): outputs, the pose trunk's
layer names, a saved model that loads, any input size, and training through ``tfpose train``."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.tasks import get_task

SIZE = 64


def _cfg(kind="efficientnet_lite0_centernet", **data):
    return config_lib.from_dict({
        "data": {"input_size": SIZE, "normalization": "signed", "batch_size": 2, **data},
        "model": {"kind": kind, "num_channels": 8},
    })


@pytest.fixture(scope="module")
def task_and_model():
    task = get_task(_cfg())
    return task, task.build()


def test_three_maps_at_stride_4(task_and_model):
    task, model = task_and_model
    out = model({"image": np.zeros((2, SIZE, SIZE, 3), np.float32)})
    assert sorted(out) == ["box_offset", "box_size", "centers"]
    assert tuple(out["centers"].shape) == (2, 16, 16, 1)
    assert tuple(out["box_size"].shape) == tuple(out["box_offset"].shape) == (2, 16, 16, 2)
    # A fresh head answers the 10 % prior everywhere: no confident person on a blank image.
    scores = tf.sigmoid(out["centers"]).numpy()
    assert np.all(scores < 0.2)
    boxes, best = task.decode_outputs(out, max_people=5)
    assert tuple(boxes.shape) == (2, 5, 4) and tuple(best.shape) == (2, 5)


def test_trunk_and_pyramid_are_the_pose_models_layers(task_and_model):
    """One trunk, two heads: every backbone and pyramid layer has the heatmap pose model's name
    and weight shapes, so ``train.init_weights`` copies them from a pose model."""
    _, model = task_and_model
    pose = get_task(_cfg("efficientnet_lite0")).build()
    shapes = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in pose.layers}
    shared = [layer.name for layer in model.layers
              if layer.weights and shapes.get(layer.name) == [tuple(w.shape) for w in layer.weights]]
    own = [layer.name for layer in model.layers if layer.weights and layer.name not in shared]
    assert "stem_conv" in shared and "block15_project" in shared and "head_c2_smooth" in shared
    assert sorted(own) == sorted(["centers_conv", "centers", "box_size_conv", "box_size",
                                  "box_offset_conv", "box_offset"])


def test_saved_model_loads_and_runs_at_another_size(task_and_model, tmp_path):
    from tfpose.models import register_custom_objects

    task, model = task_and_model
    task.compile(model, keras.optimizers.Adam(1e-3))
    model.save(tmp_path / "m.keras")
    register_custom_objects()
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    image = np.random.default_rng(0).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    for name, value in loaded({"image": image}).items():
        np.testing.assert_allclose(value.numpy(), model({"image": image})[name].numpy(), atol=1e-5)
    bigger = task.network_at_size(loaded, 96)
    assert tuple(bigger({"image": np.zeros((1, 96, 96, 3), np.float32)})["centers"].shape) == (
        1, 24, 24, 1)


def test_losses_are_zero_only_at_the_targets(task_and_model):
    task, _ = task_and_model
    boxes = tf.constant([[[8.0, 8.0, 40.0, 56.0]]])
    targets, weights = task.make_targets({"boxes": boxes, "box_valid": tf.ones([1, 1])})
    losses = task.losses()
    heat = targets["centers"]
    sure = tf.where(heat >= 1.0, 30.0, -30.0)  # logits: certain at the centre, nowhere else
    assert float(losses["centers"](heat, sure, weights["centers"])) < 1e-3
    assert float(losses["centers"](heat, -sure, weights["centers"])) > 1.0
    for name in ("box_size", "box_offset"):
        assert float(losses[name](targets[name], targets[name], weights[name])) == 0.0
        assert float(losses[name](targets[name], targets[name] + 0.5, weights[name])) == (
            pytest.approx(1.0))  # 0.5 on each of the two channels, at the one centre cell


@pytest.mark.slow
def test_tfpose_train_writes_the_curve_and_the_best_model(tmp_path):
    """Two one-step epochs through the trainer on a tiny converted dataset; the work dir holds
    the per-epoch curve and a best model."""
    from conftest import write_tiny_dataset
    from tfpose.training.train import train

    data = write_tiny_dataset(tmp_path / "data", num_train=10, num_val=5)
    cfg = config_lib.from_dict({
        "data": {"dir": str(data), "input_size": SIZE, "normalization": "signed",
                 "batch_size": 2, "mosaic": {"max_persons": 2},
                 "augment": {"blur": 0.5, "noise": 0.5, "jpeg": 0.5}},  # the detector's too
        "model": {"kind": "efficientnet_lite0_centernet", "num_channels": 8},
        "train": {"epochs": 2, "steps_per_epoch": 1, "image_summary_every": 0},
    })
    result = train(cfg, tmp_path / "run", verbose=0)
    assert result["steps"] == 2 and np.isfinite(result["history"]["val_loss"]).all()
    assert (tmp_path / "run" / "best.keras").exists()
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["val_loss"]) == 2


def test_a_shared_trunk_is_the_pose_model_with_three_heads_that_alone_train():
    """``model.shared_trunk``: the pose model's layers (same names, so ``init_weights`` copies
    them), its ``heatmaps_1`` answered beside the three maps and decoded as the pose task
    decodes it; every layer but the detection heads frozen. ``detection_head: separable``."""
    cfg = config_lib.from_dict({
        "data": {"input_size": SIZE, "normalization": "signed"},
        "model": {"kind": "efficientnet_lite0_centernet", "num_channels": 8,
                  "shared_trunk": True, "detection_head": "separable",
                  "heatmap_decode": "dark"}})
    task = get_task(cfg)
    model = task.build()
    pose_cfg = config_lib.from_dict({"data": {"input_size": SIZE},
                                     "model": {"kind": "efficientnet_lite0", "num_channels": 8,
                                               "heatmap_decode": "dark"}})
    pose_task = get_task(pose_cfg)
    pose = pose_task.build()
    for layer in pose.layers:  # the pose model, weights and all, inside the detector
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    trainable = sorted({layer.name for layer in model.layers if layer.trainable_weights})
    assert trainable == sorted(f"{head}{suffix}" for head in ("centers", "box_size", "box_offset")
                               for suffix in ("", "_sep"))
    images = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    out = model({"image": images}, training=False)
    assert task.output_names == ["centers", "box_size", "box_offset", "heatmaps_1"]
    for ours, theirs in zip(task.decode_pose(out),
                            pose_task.decode_outputs(pose({"image": images}, training=False))):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_int8_calibration_sees_the_composed_images_the_detector_trained_and_validates_on(
        tmp_path):
    """A detector's int8 LiteRT twin is calibrated on the composed training images (several
    people on a photo's background), in order, not on the one-person records; the validation
    batches are the same composition of the val photos, normalised."""
    from conftest import write_tiny_dataset
    from tfpose.input import mosaic
    from tfpose.input.normalize import normalize_images
    from tfpose.serving.litert import _calibration_crops

    data = write_tiny_dataset(tmp_path / "data", num_train=10, num_val=5)
    cfg = _cfg(dir=str(data), mosaic={"max_persons": 2, "whole_photo": 0.0})
    composed = [image.numpy() for image in mosaic.composed_images(cfg, "train").take(3)]
    calibration = [inputs[0] for inputs in _calibration_crops(cfg, None, 3, detector=True)]
    assert [c.shape for c in calibration] == [(1, SIZE, SIZE, 3)] * 3
    for image, expected in zip(calibration, composed):
        np.testing.assert_array_equal(image[0], expected)
    # Two or three photos in each picture (a background strip and 1-2 pastes): not a record.
    records = [inputs[0][0] for inputs in _calibration_crops(cfg, None, 3)]
    assert not any(np.allclose(c[0], r, atol=1.0) for c in calibration for r in records)

    task = get_task(cfg)
    inputs, _, _ = next(iter(mosaic.build_dataset(task, "val", training=False)))
    val = [image.numpy() for image in mosaic.composed_images(cfg, "val", seed=cfg.train.seed)
           .take(cfg.data.batch_size)]
    np.testing.assert_allclose(inputs["image"].numpy(),
                               normalize_images(tf.constant(np.stack(val)), "signed").numpy(),
                               atol=1e-5)
