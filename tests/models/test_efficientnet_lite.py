"""EfficientNet-Lite0 heatmap model and the import of its ImageNet weights."""

from __future__ import annotations

import collections
import importlib.util
import io
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tfpose.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
# Weights of the published EfficientNet-Lite0 up to stride 32 (the ImageNet checkpoint's
# backbone: convolutions + BN gamma, beta, mean, variance), what the import script writes.
BACKBONE_WEIGHTS = 2_998_304


def _script():
    spec = importlib.util.spec_from_file_location(
        "import_imagenet_backbone", ROOT / "scripts" / "import_imagenet_backbone.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cfg(size=64, channels=8):
    from tfpose import config as config_lib

    return config_lib.from_dict({
        "data": {"input_size": size, "normalization": "signed"},
        "model": {"kind": "efficientnet_lite0", "num_channels": channels},
    })


@pytest.fixture(scope="module")
def model():
    from tfpose.tasks import pose_task

    return pose_task(_cfg()).build()


def _backbone_layers(model):
    return [layer for layer in model.layers if layer.name.startswith(("stem_", "block"))
            and layer.weights]


def test_outputs_one_heatmap_stack_at_stride_4(model):
    out = model({"image": np.zeros((2, 64, 64, 3), np.float32)})
    assert list(out) == ["heatmaps_1"]
    assert tuple(out["heatmaps_1"].shape) == (2, 16, 16, 16)
    assert out["heatmaps_1"].dtype.name == "float32"


def test_backbone_matches_the_imagenet_checkpoint(model):
    total = sum(int(np.prod(w.shape)) for layer in _backbone_layers(model) for w in layer.weights)
    assert total == BACKBONE_WEIGHTS


def test_input_size_must_be_a_multiple_of_32():
    from tfpose.tasks import pose_task

    with pytest.raises(ConfigError, match="multiple of 32"):
        pose_task(_cfg(size=80)).build()


def _torch_state(model):
    """The model's backbone weights in the PyTorch port's names and layouts."""
    state = collections.OrderedDict()
    layers = {layer.name: layer.get_weights() for layer in _backbone_layers(model)}

    def bn(prefix, name):
        for key, value in zip(("weight", "bias", "running_mean", "running_var"), layers[name]):
            state[f"{prefix}.{key}"] = value

    state["_conv_stem.weight"] = layers["stem_conv"][0].transpose(3, 2, 0, 1)
    bn("_bn0", "stem_bn")
    for i in range(16):
        if f"block{i}_expand" in layers:
            state[f"_blocks.{i}._expand_conv.weight"] = layers[f"block{i}_expand"][0].transpose(3, 2, 0, 1)
            bn(f"_blocks.{i}._bn0", f"block{i}_expand_bn")
        state[f"_blocks.{i}._depthwise_conv.weight"] = layers[f"block{i}_dw"][0].transpose(2, 3, 0, 1)
        bn(f"_blocks.{i}._bn1", f"block{i}_dw_bn")
        state[f"_blocks.{i}._project_conv.weight"] = layers[f"block{i}_project"][0].transpose(3, 2, 0, 1)
        bn(f"_blocks.{i}._bn2", f"block{i}_project_bn")
    return state


def test_imported_weights_land_in_the_right_layers(model, tmp_path):
    """Torch layouts -> npz -> a fresh model: every backbone weight equals the source's."""
    from tfpose.models.efficientnet_lite import load_backbone_weights
    from tfpose.tasks import pose_task

    rng = np.random.default_rng(0)
    for layer in _backbone_layers(model):  # distinct values, so a swapped axis cannot pass
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    arrays = _script().to_keras_names(_torch_state(model))
    np.savez(tmp_path / "backbone.npz", **arrays)
    fresh = pose_task(_cfg()).build()
    assert load_backbone_weights(fresh, tmp_path / "backbone.npz") == len(_backbone_layers(model))
    for layer in _backbone_layers(model):
        for a, b in zip(layer.get_weights(), fresh.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_weights_file_for_another_network_is_refused(model, tmp_path):
    from tfpose.models.efficientnet_lite import load_backbone_weights

    np.savez(tmp_path / "other.npz", **{"conv_other/0": np.zeros((3, 3, 3, 8), np.float32)})
    with pytest.raises(ConfigError, match="'conv_other'"):
        load_backbone_weights(model, tmp_path / "other.npz")
    np.savez(tmp_path / "shape.npz", **{"stem_conv/0": np.zeros((5, 5, 3, 32), np.float32)})
    with pytest.raises(ConfigError, match=r"'stem_conv' weight 0 has shape \(5, 5, 3, 32\)"):
        load_backbone_weights(model, tmp_path / "shape.npz")
    with pytest.raises(ConfigError, match="import_imagenet_backbone"):
        load_backbone_weights(model, tmp_path / "missing.npz")


def _legacy_torch_bytes(tensors: dict) -> bytes:
    """A legacy (pre-zip) torch.save file, written without torch: fake ``torch`` globals are
    registered only while pickling, so the stream names ``torch._utils._rebuild_tensor_v2`` and
    ``torch.FloatStorage`` exactly as torch writes them."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while pickling")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = FloatStorage, utils, _rebuild_tensor_v2

    class Storage:
        def __init__(self, key, data):
            self.key, self.data = key, data

    class Tensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return _rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.data.size)
            return None

    state, storages = collections.OrderedDict(), []
    for i, (name, (flat, offset, size, stride)) in enumerate(tensors.items()):
        storage = Storage(str(i), flat.astype(np.float32))
        storages.append(storage)
        state[name] = Tensor(storage, offset, size, stride)
    state["bn.num_batches_tracked"] = Tensor(Storage("x", np.zeros(1, np.float32)), 0, (), ())
    storages.append(state["bn.num_batches_tracked"].args[0])
    out = io.BytesIO()
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, out, protocol=2)
        Pickler(out, protocol=2).dump(state)
    finally:
        for key, value in saved.items():
            sys.modules.pop(key) if value is None else sys.modules.__setitem__(key, value)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", s.data.size) + s.data.tobytes())
    return out.getvalue()


def test_the_legacy_torch_reader_rebuilds_strided_tensors():
    flat = np.arange(10, dtype=np.float32)
    stream = _legacy_torch_bytes({
        "plain": (flat, 0, (2, 3), (3, 1)),
        "offset_transposed": (flat, 1, (3, 2), (1, 3)),  # a view: offset 1, column-major
    })
    arrays = _script().read_legacy_torch(io.BytesIO(stream))
    assert list(arrays) == ["plain", "offset_transposed"]  # the scalar counter is dropped
    np.testing.assert_array_equal(arrays["plain"], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(arrays["offset_transposed"], [[1, 4], [2, 5], [3, 6]])


def test_the_legacy_torch_reader_unpickles_nothing_but_tensors():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    stream = io.BytesIO()
    for header in (1, 1001, {}):
        pickle.dump(header, stream, protocol=2)
    pickle.dump({"x": Evil()}, stream, protocol=2)
    stream.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle .*print"):
        _script().read_legacy_torch(stream)


def test_frozen_blocks_freeze_exactly_the_stem_and_the_named_blocks():
    from tfpose import config as config_lib
    from tfpose.models.efficientnet_lite import NUM_BLOCKS
    from tfpose.tasks import pose_task

    cfg = _cfg()
    frozen = pose_task(config_lib.replace(
        cfg, model=config_lib.replace(cfg.model, frozen_blocks=4))).build()
    still = {layer.name for layer in frozen.layers if layer.weights and not layer.trainable}
    expected = {layer.name for layer in frozen.layers if layer.weights
                and layer.name.startswith(("stem_", "block0_", "block1_", "block2_", "block3_"))}
    assert still == expected and "block3_project_bn" in still and "block4_dw" not in still
    free = pose_task(cfg).build()
    assert len(frozen.trainable_weights) < len(free.trainable_weights)
    assert all(layer.trainable for layer in free.layers)
    for blocks in (-1, NUM_BLOCKS + 1):
        with pytest.raises(ConfigError, match="frozen_blocks"):
            pose_task(config_lib.replace(
                cfg, model=config_lib.replace(cfg.model, frozen_blocks=blocks))).build()


@pytest.mark.slow  # two training runs of a real EfficientNet-Lite0: ~50 s on the 2-core box
def test_a_resumed_run_keeps_its_frozen_blocks(tiny_dataset, tmp_path):
    """Two processes' worth of one run (a zero time budget stops after each epoch; the rerun
    resumes): the frozen layers end with the weights they were initialised with, the rest move.
    The default run checks the freezing itself
    (``test_frozen_blocks_freeze_exactly_the_stem_and_the_named_blocks``)."""
    import keras
    from click.testing import CliRunner

    import cli
    from tfpose import config as config_lib
    from tfpose.tasks import pose_task

    config = tmp_path / "frozen.yaml"
    config.write_text("name: frozen\n")
    workdir = tmp_path / "run"
    args = ["train", str(config), "--workdir", str(workdir)] + sum((["--set", s] for s in (
        f"data.dir={tiny_dataset}", "data.input_size=64", "data.normalization=signed",
        "data.batch_size=4", "model.kind=efficientnet_lite0", "model.num_channels=8",
        "model.frozen_blocks=2", "train.epochs=2", "train.time_budget_minutes=0",
        "train.image_summary_every=0")), [])
    outputs = [CliRunner().invoke(cli.cli, args, catch_exceptions=False).output for _ in range(2)]
    assert "Resuming" in outputs[1], outputs[1]
    trained = keras.saving.load_model(workdir / "model.keras", compile=False)
    cfg = config_lib.load(workdir / "config.yaml")
    keras.utils.set_random_seed(cfg.train.seed)  # the run's own initialisation
    initial = pose_task(cfg).build()
    for name in ("stem_conv", "block1_dw", "block2_dw", "heatmaps_1"):
        same = np.array_equal(trained.get_layer(name).get_weights()[0],
                              initial.get_layer(name).get_weights()[0])
        assert same == (name in ("stem_conv", "block1_dw")), name
        assert trained.get_layer(name).trainable == (not same), name
