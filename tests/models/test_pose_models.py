"""Pose networks: shapes, names, parameter counts, mixed precision, presets, save/load."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from tfpose import config
from tfpose.core.errors import ConfigError
from tfpose.tasks import pose_task

K = 16


# What ``tfpose.models.pose`` offered, now asked of the pose task (``tfpose/tasks/pose.py``).
def build_pose_model(cfg):
    return pose_task(cfg).build()


def is_heatmap_model(cfg) -> bool:
    return pose_task(cfg).codec == "heatmap"


def pose_output_names(cfg) -> list:
    return pose_task(cfg).output_names


# Keras' automatic names; a layer called like this was built without name=.
AUTO_NAME = re.compile(
    r"^(conv2d|dense|batch_normalization|re_lu|add|max_pooling2d|up_sampling2d|dropout|"
    r"flatten|reshape|rescaling|activation|global_average_pooling2d|functional)(_\d+)?$"
)


def make_cfg(kind, size=64, data=None, **model):
    return config.from_dict(
        {"data": {"input_size": size, **(data or {})}, "model": {"kind": kind, **model}}
    )


def tiny_hourglass_cfg(**model):
    return make_cfg("hourglass", 64, **{"num_stacks": 2, "num_channels": 16,
                                        "hourglass_depth": 2, **model})


def random_images(n=2, size=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def test_cdrp_matches_the_report_at_224():
    model = build_pose_model(make_cfg("cdrp", 224))
    assert model.get_layer("block4_pool").output.shape == (None, 14, 14, 128)
    assert [model.get_layer(f"block{i}_conv").kernel.shape for i in (1, 2, 3, 4)] == [
        (3, 3, 3, 16), (3, 3, 16, 32), (3, 3, 32, 64), (3, 3, 64, 128)
    ]
    assert model.get_layer("block1_dropout").rate == pytest.approx(0.1)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [1024, 1024, 1024, 32]
    # Every FC layer is preceded by a BatchNorm (the model is a chain: layers are in order).
    for d in dense:
        before = model.layers[model.layers.index(d) - 1]
        assert isinstance(before, keras.layers.BatchNormalization)
    assert model.output["keypoints"].shape == (None, K, 2)


def test_regression_models_predict_keypoints_in_the_coord_frame():
    x = random_images()
    for kind in ("cdrp", "resnet34"):
        model = build_pose_model(make_cfg(kind, 64))
        out = model({"image": x}, training=False)
        assert list(out) == ["keypoints"] and out["keypoints"].shape == (2, K, 2)
        assert model.get_layer("keypoints_scale").scale == pytest.approx(32.0)
    unit = build_pose_model(make_cfg("cdrp", 64, data={"coord_frame": "unit"}))
    assert unit.get_layer("keypoints_scale").scale == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="coord_frame"):
        build_pose_model(make_cfg("cdrp", 64, data={"coord_frame": "pixels"}))


def test_resnet34_backbone_is_resnet34():
    model = build_pose_model(make_cfg("resnet34", 64, fc_units=256))
    backbone = model.get_layer("backbone")
    assert backbone.stackwise_num_blocks == [3, 4, 6, 3]
    assert backbone.block_type == "basic_block"
    assert backbone.count_params() == 21_301_696  # ResNet-34 without its classifier
    assert model.get_layer("bottleneck").units == 256


def test_resnet34_loads_a_local_preset(tmp_path):
    import keras_hub

    # A tiny ResNetBackbone stands in for pretrained weights; the builder takes any preset.
    tiny = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(64, 64, 3),
    )
    tiny.save_to_preset(str(tmp_path / "preset"))
    model = build_pose_model(make_cfg("resnet34", 64, preset=str(tmp_path / "preset")))
    loaded = model.get_layer("backbone")
    assert loaded.stackwise_num_blocks == [1]
    for a, b in zip(tiny.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ConfigError, match="model.preset"):
        build_pose_model(make_cfg("resnet34", 64, preset=str(tmp_path / "missing")))


def test_hourglass_outputs_one_heatmap_per_stack():
    cfg = tiny_hourglass_cfg()
    model = build_pose_model(cfg)
    out = model({"image": random_images()}, training=False)
    assert list(out) == ["heatmaps_1", "heatmaps_2"] == pose_output_names(cfg)
    for v in out.values():
        assert v.shape == (2, 16, 16, K) and keras.backend.standardize_dtype(v.dtype) == "float32"
    # The second stack refines the first: its input merges the first stack's heatmaps.
    assert model.get_layer("hg1_remap_heatmaps").input.shape[-1] == K


@pytest.mark.slow  # builds the full-size 2- and 8-stack hourglasses (~10 s alone)
def test_hourglass_parameter_counts():
    # Newell et al.'s network at C=256, K=16, depth 4: these counts document the architecture.
    two = build_pose_model(make_cfg("hourglass", 256, num_stacks=2))
    assert two.count_params() == 6_601_888
    eight = build_pose_model(make_cfg("hourglass", 256, num_stacks=8))
    assert eight.count_params() == 25_554_688  # published: about 25 M
    trainable = sum(int(np.prod(w.shape)) for w in eight.trainable_weights)
    assert trainable == 25_434_112
    assert eight.output["heatmaps_8"].shape == (None, 64, 64, K)


def test_hourglass_rejects_inconsistent_configs():
    with pytest.raises(ConfigError, match="heatmap_stride"):
        build_pose_model(make_cfg("hourglass", 64, data={"heatmap_stride": 2}))
    with pytest.raises(ConfigError, match="multiple of 64"):
        build_pose_model(make_cfg("hourglass", 96, hourglass_depth=4))
    with pytest.raises(ConfigError, match="num_channels"):
        build_pose_model(tiny_hourglass_cfg(num_channels=15))


def test_dispatch_and_kind_errors():
    assert is_heatmap_model(make_cfg("hourglass"))
    assert not is_heatmap_model(make_cfg("cdrp"))
    with pytest.raises(ConfigError, match="received 'classifier'"):
        build_pose_model(make_cfg("classifier"))


@pytest.mark.parametrize("kind", ["cdrp", "resnet34", "hourglass"])
def test_every_layer_is_named(kind):
    model = build_pose_model(tiny_hourglass_cfg() if kind == "hourglass" else make_cfg(kind))
    assert [layer.name for layer in model.layers if AUTO_NAME.match(layer.name)] == []
    assert [t.name for t in model.inputs] == ["image"]


@pytest.mark.parametrize("kind", ["cdrp", "resnet34", "hourglass"])
def test_mixed_float16(kind, mixed_float16):
    cfg = tiny_hourglass_cfg() if kind == "hourglass" else make_cfg(kind)
    model = build_pose_model(cfg)
    inner = {"cdrp": "block2_conv", "resnet34": "bottleneck", "hourglass": "hg1_res_conv2"}[kind]
    layer = model.get_layer(inner)
    assert layer.compute_dtype == "float16"
    assert all(w.dtype == "float32" for w in model.weights)
    if kind == "resnet34":
        assert model.get_layer("backbone").compute_dtype == "float16"
    out = model({"image": random_images()}, training=False)
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in out.values())
    assert all(np.isfinite(v.numpy()).all() for v in out.values())


def test_tiny_hourglass_save_load_round_trip(tmp_path):
    from tfpose.models.losses import HeatmapMSE

    cfg = tiny_hourglass_cfg()
    model = build_pose_model(cfg)
    model.compile(optimizer="rmsprop", loss=pose_task(cfg).losses())
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "hourglass.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert all(isinstance(loss, HeatmapMSE) for loss in restored.loss.values())
    x = {"image": random_images(seed=1)}
    before, after = model(x, training=False), restored(x, training=False)
    assert list(after) == ["heatmaps_1", "heatmaps_2"]
    for name in before:
        np.testing.assert_array_equal(before[name].numpy(), after[name].numpy())


CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    "name, kind, size, optimizer, lr",
    [("cdrp", "cdrp", 224, "sgd", 5e-4), ("resnet34", "resnet34", 224, "sgd", 5e-4),
     ("hourglass8", "hourglass", 256, "rmsprop", 2.5e-4),
     ("hourglass2", "hourglass", 256, "rmsprop", 2.5e-4)],
)
def test_report_configs_load_and_round_trip(name, kind, size, optimizer, lr, tmp_path):
    cfg = config.load(CONFIGS / f"{name}.yaml")
    assert (cfg.model.kind, cfg.data.input_size) == (kind, size)
    assert (cfg.train.optimizer, cfg.train.learning_rate) == (optimizer, lr)
    if kind != "hourglass":
        assert cfg.train.nesterov and cfg.train.momentum == 0.9 and cfg.data.batch_size == 128
        assert cfg.model.preset is None  # no download unless asked
    else:
        assert cfg.model.num_stacks == int(name[-1]) and cfg.data.heatmap_stride == 4
    config.dump(cfg, tmp_path / "resolved.yaml")
    assert config.load(tmp_path / "resolved.yaml") == cfg
