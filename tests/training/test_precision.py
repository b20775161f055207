"""Compute options. Mixed precision: every model computes in float16 with float32 variables and
outputs, and a compiled training step runs with loss scaling. XLA: ``train.jit_compile`` trains
a pose model on the CPU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpose import config
from tfpose.training import distributed, train
from tfpose.core.errors import ConfigError

MODELS = {
    "cdrp": {"kind": "cdrp", "fc_units": 32},
    "resnet34": {"kind": "resnet34", "fc_units": 32},
    "hourglass": {"kind": "hourglass", "num_stacks": 2, "num_channels": 16, "hourglass_depth": 2},
    "classifier_image": {"kind": "classifier", "joint_embedding": "none"},
    "classifier_linear": {"kind": "classifier", "joint_embedding": "linear"},
    "classifier_conv": {"kind": "classifier", "joint_embedding": "conv"},
    "classifier_transformer": {"kind": "classifier", "joint_embedding": "transformer"},
    "joints_transformer": {"kind": "classifier", "image_branch": False,
                           "joint_embedding": "transformer"},
}  # fmt: skip
# The output layers compute in float32 on purpose; every other layer with weights in float16.
FLOAT32_PREFIXES = ("keypoints", "heatmaps_", "action")


def _cfg(model, data_dir="unused"):
    return config.from_dict({"data": {"dir": str(data_dir), "input_size": 64, "batch_size": 2},
                             "model": model})  # fmt: skip


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    assert train.resolve_precision("mixed_float16") == "mixed_float16"
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _layers(model):
    """Every layer, nested models (keras-hub backbones, embeddings) flattened."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def _inputs(model, n=2):
    rng = np.random.default_rng(0)
    data = {"image": rng.normal(size=(n, 64, 64, 3)),
            "joints": np.concatenate([rng.uniform(0, 64, (n, 16, 2)), np.ones((n, 16, 1))], -1)}
    names = [t.name for t in keras.tree.flatten(model.inputs)]
    return {k: v.astype("float32") for k, v in data.items() if k in names}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_computes_in_float16_with_float32_variables_and_outputs(mixed_float16, name):
    model = train.build_model(_cfg(MODELS[name]), num_classes=3)
    assert {keras.backend.standardize_dtype(w.dtype) for w in model.weights} == {"float32"}
    weighted = [l for l in _layers(model) if l.weights and not isinstance(l, keras.Model)]
    half = [l for l in weighted if l.compute_dtype == "float16"]
    full = [l.name for l in weighted if l.compute_dtype != "float16"]
    assert len(half) > len(weighted) // 2
    assert all(n.startswith(FLOAT32_PREFIXES) for n in full), full
    outputs = keras.tree.flatten(model(_inputs(model), training=False))
    assert {keras.backend.standardize_dtype(o.dtype) for o in outputs} == {"float32"}
    assert all(np.isfinite(keras.ops.convert_to_numpy(o)).all() for o in outputs)


def test_auto_picks_float32_on_the_cpu_and_rejects_unknown_names():
    previous = keras.config.dtype_policy()
    try:
        if tf.config.list_physical_devices("GPU"):
            assert train.resolve_precision("auto") == "mixed_float16"
        else:
            assert train.resolve_precision("auto") == "float32"
            assert keras.config.dtype_policy().name == "float32"
        with pytest.raises(ConfigError, match="float16"):
            train.resolve_precision("float16")
    finally:
        keras.config.set_dtype_policy(previous)


def test_compiled_and_custom_loop_steps_scale_the_loss(mixed_float16, tiny_dataset):
    from tfpose.input.pipeline import build_dataset
    from tfpose.tasks import get_task

    cfg = _cfg(MODELS["cdrp"], tiny_dataset)
    batch = next(iter(build_dataset(get_task(cfg), "train", training=True)))
    # Keras' fit path: compile wraps the optimiser in a LossScaleOptimizer itself.
    model = train.build_model(cfg)
    train.compile_model(model, cfg, train.make_optimizer(cfg.train, steps=1))
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def applied_plus_skipped():
        # A step with overflowing float16 gradients is skipped and halves the scale (no growth
        # before 2000 good steps), so applied + skipped counts every step taken.
        skipped = np.log2(optimizer.initial_scale / float(optimizer.dynamic_scale))
        return int(optimizer.iterations) + int(round(skipped))

    logs = model.train_on_batch(*batch, return_dict=True)
    assert np.isfinite(logs["loss"]) and applied_plus_skipped() == 1
    # The multi-worker loop, here on one replica: the same optimiser scales and unscales.
    train_step, _ = distributed.make_steps(tf.distribute.get_strategy(), model)
    batches = iter(tf.data.Dataset.from_tensors(batch).repeat())
    before = [w.numpy() for w in model.trainable_weights]
    applied = int(optimizer.iterations)
    for taken in range(2, 20):
        assert np.isfinite(float(train_step(batches)))
        assert applied_plus_skipped() == taken
        if int(optimizer.iterations) > applied:
            break
    assert int(optimizer.iterations) == applied + 1, "every step overflowed"
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


@pytest.mark.slow  # ~15 s alone; XLA is off by default on CPUs
def test_fit_with_xla_on_the_cpu(tiny_dataset):
    from tfpose.input.pipeline import build_dataset
    from tfpose.tasks import get_task

    cfg = config.from_dict({
        "data": {"dir": str(tiny_dataset), "input_size": 64, "batch_size": 2},
        "model": {"kind": "cdrp", "fc_units": 32},
        "train": {"jit_compile": True},
    })  # fmt: skip
    model = train.build_model(cfg)
    train.compile_model(model, cfg, train.make_optimizer(cfg.train, steps=2))
    assert model.jit_compile is True
    history = model.fit(build_dataset(get_task(cfg), "train", training=True), steps_per_epoch=2,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and int(model.optimizer.iterations) == 2
