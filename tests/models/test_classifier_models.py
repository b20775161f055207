"""Action classifiers: the report's image branch, joint embeddings (LFE, CFE, Transformer)."""

from pathlib import Path

import keras
import numpy as np
import pytest

from tfpose import config
from tfpose.core.errors import ConfigError
from tfpose.models.classifier import build_classifier, build_image_branch, image_feature_size
from tfpose.models.joint_embeddings import (
    JointPreprocess, PairwiseDistances, build_joint_embedding,
)

S = 64  # test input size
C = 5  # test classes
K = 16
EMBEDDINGS = ("linear", "conv", "transformer")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MY_CONFIGS = (
    "baseline", "lfe", "cfe", "transformer", "joints_lfe", "joints_cfe", "joints_pairwise",
    "joints_transformer",
)


def make_cfg(
    embedding="conv", image_branch=True, input_size=S, l2=1e-3, num_classes=C, visibility=False
):
    return config.from_dict(
        {
            "data": {"input_size": input_size},
            "model": {
                "kind": "classifier",
                "image_branch": image_branch,
                "joint_embedding": embedding,
                "num_classes": num_classes,
                "l2": l2,
                "joint_visibility": visibility,
            },
        }
    )


def make_inputs(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    joints = rng.uniform(0, S, (batch, K, 3)).astype("float32")
    joints[..., 2] = 1.0
    joints[:, ::3, 2] = 0.0  # every third joint invisible
    image = rng.normal(size=(batch, S, S, 3)).astype("float32")
    return {"image": image, "joints": joints}


def feed_for(model, inputs):
    names = [t.name for t in keras.tree.flatten(model.inputs)]
    return {n: inputs[n] for n in names}


@pytest.mark.parametrize(
    "embedding,image_branch",
    [("none", True)] + [(e, True) for e in EMBEDDINGS] + [(e, False) for e in EMBEDDINGS],
)
def test_output_shape_inputs_and_regularisation(embedding, image_branch):
    model = build_classifier(make_cfg(embedding, image_branch))
    names = sorted(t.name for t in keras.tree.flatten(model.inputs))
    expected = (["image"] if image_branch else []) + (["joints"] if embedding != "none" else [])
    assert names == sorted(expected)
    assert model.output_names == ["action"]
    out = keras.ops.convert_to_numpy(model(feed_for(model, make_inputs()), training=False))
    assert out.shape == (4, C)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert len(model.losses) > 0  # L2 on the kernels
    # Every layer named by us, not by Keras' auto-numbering.
    assert all(not layer.name.startswith(("dense", "conv", "dropout", "batch_normalization"))
               for layer in model.layers)


def test_report_heads():
    baseline = build_classifier(make_cfg("none"))
    # The report's baseline head: 128 image features -> classes, no 256-wide layers.
    assert baseline.get_layer("action").input.shape == (None, 128)
    assert not [l for l in baseline.layers if l.name.startswith("fusion")]
    fused = build_classifier(make_cfg("conv"))
    assert fused.get_layer("fusion_concat").output.shape == (None, 256)
    assert fused.get_layer("fusion_dense1").output.shape == (None, 256)
    assert fused.get_layer("fusion_dense2").output.shape == (None, 256)
    assert fused.get_layer("image_dense").output.shape == (None, 128)


def test_image_branch_flattens_4624_features_at_224():
    assert image_feature_size(224) == 4624 == 17 * 17 * 16
    branch = build_image_branch(make_cfg(input_size=224))
    assert branch.get_layer("image_flatten").output.shape == (None, 4624)
    assert branch.get_layer("image_pool2").output.shape == (None, 17, 17, 16)
    assert branch.output.shape == (None, 128)


def test_joint_preprocess_centres_and_zeroes_invisible():
    joints = np.array([[[112.0, 0.0, 1.0], [224.0, 50.0, 0.0], [10.0, 224.0, 1.0]]], "float32")
    out = keras.ops.convert_to_numpy(JointPreprocess(224)(joints))
    np.testing.assert_allclose(
        out, [[[0.0, -112.0, 1.0], [0.0, 0.0, 0.0], [-102.0, 112.0, 1.0]]]
    )


def test_pairwise_distances_between_visible_joints_in_half_sides():
    # Preprocessed joints (x, y, visible): a 3-4-5 triangle, then a hidden joint.
    joints = np.array([[[0.0, 0.0, 1.0], [30.0, 40.0, 1.0], [-56.0, 0.0, 1.0], [0.0, 0.0, 0.0]]],
                      "float32")
    out = keras.ops.convert_to_numpy(PairwiseDistances(112)(joints))  # S/2 = 56
    # Pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
    np.testing.assert_allclose(out, [[50 / 56, 1.0, 0.0, np.hypot(86, 40) / 56, 0.0, 0.0]],
                               rtol=1e-5, atol=1e-5)
    # Coincident joints (all zeroed when hidden) must not make the gradient NaN.
    import tensorflow as tf

    coincident = tf.Variable(tf.concat([tf.zeros((1, 16, 2)), tf.ones((1, 16, 1))], -1))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(PairwiseDistances(112)(coincident))
    assert np.all(np.isfinite(tape.gradient(total, coincident).numpy()))


@pytest.mark.parametrize(
    "embedding,visibility", [(e, False) for e in EMBEDDINGS] + [("linear", True), ("conv", True)]
)
def test_invisible_joint_coordinates_do_not_change_the_output(embedding, visibility):
    cfg = make_cfg(embedding, image_branch=False, visibility=visibility)
    embed = build_joint_embedding(cfg)
    model = build_classifier(cfg)
    inputs = make_inputs()
    moved = {k: v.copy() for k, v in inputs.items()}
    invisible = moved["joints"][..., 2] == 0
    moved["joints"][invisible, :2] += 37.0
    for net in (embed, model):
        before = keras.ops.convert_to_numpy(net(feed_for(net, inputs), training=False))
        after = keras.ops.convert_to_numpy(net(feed_for(net, moved), training=False))
        np.testing.assert_array_equal(before, after)
    # ...while moving a visible joint does change it (the test can fail).
    moved["joints"][:, 1, :2] += 37.0
    after = keras.ops.convert_to_numpy(model(feed_for(model, moved), training=False))
    before = keras.ops.convert_to_numpy(model(feed_for(model, inputs), training=False))
    assert np.abs(after - before).max() > 1e-6


@pytest.mark.parametrize("embedding", ["linear", "conv"])
def test_visibility_channel_tells_a_missing_joint_from_one_at_the_centre(embedding):
    # Joint 4 exactly at the input centre, visible vs invisible: both preprocess to (0, 0), so
    # only the visible flag can tell them apart. The report's (x, y) embedding cannot...
    centred = make_inputs(batch=2)["joints"]
    centred[:, 4] = (S / 2, S / 2, 1.0)
    missing = centred.copy()
    missing[:, 4, 2] = 0.0
    for visibility, differs in ((False, False), (True, True)):
        embed = build_joint_embedding(make_cfg(embedding, image_branch=False, visibility=visibility))
        a, b = (keras.ops.convert_to_numpy(embed({"joints": j}, training=False))
                for j in (centred, missing))  # fmt: skip
        assert (np.abs(a - b).max() > 1e-6) == differs, (visibility, np.abs(a - b).max())
    # ...and with the flag the first layer reads 3 values per joint: 3K flattened (LFE),
    # 3 channels per position (CFE; kernel window x channels x filters).
    if embedding == "linear":
        assert embed.get_layer("joints_lfe_dense1").kernel.shape[0] == 3 * K
    else:
        assert embed.get_layer("joints_cfe_conv1").kernel.shape[1] == 3


def test_fused_model_masks_invisible_joints_too():
    model = build_classifier(make_cfg("transformer"))
    inputs = make_inputs()
    moved = {k: v.copy() for k, v in inputs.items()}
    moved["joints"][moved["joints"][..., 2] == 0, :2] = 999.0
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(inputs, training=False)),
        keras.ops.convert_to_numpy(model(moved, training=False)),
    )


@pytest.mark.parametrize("embedding", ["conv", pytest.param("transformer", marks=pytest.mark.slow)])
def test_a_few_steps_lower_the_loss(embedding):
    keras.utils.set_random_seed(0)
    model = build_classifier(make_cfg(embedding, image_branch=False, l2=0.0))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    joints = make_inputs(batch=16)["joints"]
    labels = np.arange(16) % C
    history = model.fit(
        {"joints": joints}, labels, batch_size=16, epochs=15, shuffle=False, verbose=0
    )
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses


def test_image_and_joints_model_trains_one_step():
    model = build_classifier(make_cfg("conv"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(make_inputs(), np.arange(4) % C, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("embedding", ["none", *EMBEDDINGS])
def test_keras_file_round_trip(tmp_path, embedding):
    model = build_classifier(make_cfg(embedding))
    inputs = feed_for(model, make_inputs())
    path = tmp_path / f"{embedding}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(inputs, training=False)),
        keras.ops.convert_to_numpy(loaded(inputs, training=False)),
    )
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


def test_mixed_float16_keeps_action_float32():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_classifier(make_cfg("transformer"))
        assert model.get_layer("image_conv1").compute_dtype == "float16"
        assert model.get_layer("joints_transformer_block1_attention").compute_dtype == "float16"
        out = model(make_inputs(batch=2), training=False)
        assert model.output.dtype == "float32"
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(axis=1), 1.0, rtol=1e-3)
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.config.dtype_policy().name == previous.name


def test_joints_only_model_has_no_image_input():
    model = build_classifier(make_cfg("linear", image_branch=False))
    assert [t.name for t in keras.tree.flatten(model.inputs)] == ["joints"]
    assert not [l for l in model.layers if l.name.startswith("image")]


def test_num_classes_argument_overrides_config():
    model = build_classifier(make_cfg("conv", num_classes=0), num_classes=7)
    assert model.output.shape == (None, 7)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"num_classes": 0}, "number of classes"),
        ({"image_branch": False, "embedding": "none"}, "no input"),
        ({"embedding": "gnn"}, "received 'gnn'"),
        ({"input_size": 16}, "received 16"),
    ],
)
def test_bad_configs_raise_config_error(changes, match):
    with pytest.raises(ConfigError, match=match):
        build_classifier(make_cfg(**changes))


def test_transformer_heads_must_divide_width():
    cfg = config.from_dict(
        {"data": {"input_size": S},
         "model": {"joint_embedding": "transformer", "num_classes": C, "transformer_heads": 3}}
    )
    with pytest.raises(ConfigError, match="transformer_heads=3"):
        build_classifier(cfg)


@pytest.mark.parametrize("name", MY_CONFIGS)
def test_classifier_configs_load_and_build(name):
    cfg = config.load(CONFIGS / f"{name}.yaml")
    assert cfg.model.kind == "classifier"
    assert cfg.data.input_size == 224 and cfg.data.normalization == "zero_center"
    assert config.from_dict(config.to_dict(cfg)) == cfg  # round trip
    model = build_classifier(cfg, num_classes=15)
    assert model.output.shape == (None, 15)
    assert ("image" in [t.name for t in keras.tree.flatten(model.inputs)]) == cfg.model.image_branch


def test_configs_carry_the_report_hyperparameters():
    base, lfe, cfe = (config.load(CONFIGS / f"{n}.yaml") for n in ("baseline", "lfe", "cfe"))
    assert (base.train.learning_rate, base.model.l2, base.train.epochs) == (1e-4, 5e-3, 50)
    assert (lfe.train.learning_rate, lfe.model.l2, lfe.train.epochs) == (2e-4, 1e-3, 36)
    assert (cfe.train.learning_rate, cfe.train.lr_decay_epochs, cfe.train.lr_decay_factor) == (
        1e-3, (10,), 0.1)
    for cfg in (base, lfe, cfe):
        assert cfg.data.batch_size == 128 and cfg.train.optimizer == "adam"
    for n in ("joints_lfe", "joints_cfe", "joints_transformer"):
        cfg = config.load(CONFIGS / f"{n}.yaml")
        # Tuned on the real annotations' val split (see the configs' comments): top-1 first.
        assert cfg.data.dir == "tfrecords/mpii_joints15" and not cfg.data.class_weights
        assert cfg.data.augment.flip and cfg.data.augment.rotation == 0.0
        assert not cfg.model.image_branch
        assert cfg.model.joint_visibility == (cfg.model.joint_embedding != "transformer")
