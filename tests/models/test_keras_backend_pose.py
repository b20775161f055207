"""``benchmarks/keras_backend_pose.py``: its numpy input stages are the tf.data ones, its export
round-trips the records, and it trains and scores a tiny hourglass (on whatever Keras backend
runs the tests)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfpose import config as config_lib  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "keras_backend_pose.py"
SIZE = 64


@pytest.fixture(scope="module")
def kb():
    spec = importlib.util.spec_from_file_location("keras_backend_pose", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_stages_match_the_tensorflow_stages(kb):
    from tfpose.input import augment
    from tfpose.codecs import heatmap as heatmaps

    rng = np.random.default_rng(0)
    angle, scale = rng.uniform(-30, 30, 4), rng.uniform(0.7, 1.3, 4)
    flip = np.array([False, True, False, True])
    matrices = kb.affine_matrices(float(SIZE), angle, scale, flip)
    expected = augment.affine_matrix(SIZE, angle.astype(np.float32), scale.astype(np.float32),
                                     0.0, 0.0, flip).numpy()
    np.testing.assert_allclose(matrices, expected, atol=1e-4)

    images = rng.uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(kb.warp(images, matrices),
                               augment.warp_image(images, expected.astype(np.float32)).numpy(),
                               atol=0.05)

    keypoints = rng.uniform(-10, SIZE + 10, (4, 16, 2)).astype(np.float32)
    weights = (rng.random((4, 16)) > 0.2).astype(np.float32)
    maps, kept = kb.encode_heatmaps(keypoints, weights, SIZE // 4, 4, 1.5)
    tf_maps, tf_kept = heatmaps.encode(keypoints, weights, SIZE // 4, 4, 1.5)
    np.testing.assert_allclose(maps, tf_maps.numpy(), atol=1e-6)
    np.testing.assert_array_equal(kept, tf_kept.numpy())
    np.testing.assert_allclose(kb.decode_heatmaps(maps), heatmaps.decode(tf_maps)[0].numpy())


def test_export_round_trips_what_the_inference_pipeline_reads(kb, tiny_dataset, tmp_path):
    from tfpose.input.pipeline import build_inference_dataset
    from tfpose.tasks import get_task

    out = tmp_path / "tiny.npz"
    summary = kb.export(str(tiny_dataset), str(out))
    assert summary["persons"] == {"train": 8, "val": 4} and out.exists()
    assert not list(tmp_path.glob("*.partial*")), "the temporary file is renamed, not left"

    cfg = config_lib.from_dict({"data": {"dir": str(tiny_dataset), "input_size": 32,
                                         "batch_size": 4}})
    val = kb.load_split(np.load(out), "val", 32)  # stored 64 px, resized to the 32 px input
    inputs, meta = next(iter(build_inference_dataset(get_task(cfg), "val")))
    np.testing.assert_allclose(val["keypoints"], meta["keypoints"].numpy()[..., :2], atol=1e-4)
    np.testing.assert_allclose(val["gt"], meta["keypoints_original"].numpy()[..., :2], atol=1e-3)
    np.testing.assert_array_equal(val["annotated"], meta["annotated"].numpy())
    np.testing.assert_allclose(val["head_size"], meta["head_size"].numpy())
    assert val["image"].shape == (4, 32, 32, 3) and val["image"].dtype == np.uint8


@pytest.mark.slow  # ~35 s alone: the JAX-path training loop end to end
def test_train_runs_a_tiny_hourglass_and_reports_pckh(kb, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "tiny.npz"
    kb.export(str(tiny_dataset), str(out))
    cfg = config_lib.from_dict({
        "data": {"dir": str(tiny_dataset), "input_size": SIZE, "batch_size": 4,
                 "heatmap_sigma": 2.0},
        "model": {"kind": "hourglass", "num_stacks": 2, "num_channels": 8, "hourglass_depth": 1},
        "train": {"epochs": 2, "optimizer": "adam", "learning_rate": 1e-3,
                  "lr_decay_epochs": [1]},
    })
    config_path = tmp_path / "tiny.yaml"
    config_lib.dump(cfg, config_path)

    result = kb.train(str(out), str(config_path), [], epochs=2, minutes=None, eval_every=1, seed=0)

    assert result["epochs_run"] == 2 and [row["epoch"] for row in result["history"]] == [1, 2]
    assert 0.0 <= result["val_pckh"] <= 100.0 and set(result["parts"]) >= {"Head", "Ankle"}
    assert result["val_pckh"] == result["history"][-1]["val_pckh"]  # the final evaluation
    assert result["history"][1]["loss"] < result["history"][0]["loss"]
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == result["history"]
