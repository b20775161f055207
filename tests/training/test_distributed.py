"""Distributed training: two MultiWorkerMirroredStrategy workers on localhost (the custom loop),
trained in sync and resumed after both are killed; MirroredStrategy over two logical CPUs (the fit
path); and the custom loop's loss semantics."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh process: TF_CONFIG and logical devices must be set before TensorFlow starts.
WORKER = """
import json, sys
from tfpose import config
from tfpose.training.train import train
summary = train(config.from_dict(json.loads(sys.argv[1])), sys.argv[2])
print("SUMMARY " + json.dumps(summary), flush=True)
"""
MIRRORED = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfpose.training.train import make_strategy
print("REPLICAS", make_strategy("mirrored").num_replicas_in_sync)
""" + WORKER


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _cfg(data_dir, strategy, **train):
    # Full-batch steps (8 records, global batch 8, no augmentation or dropout): every step sees
    # the same data, so the loss falls whatever the shuffle order. lr 1e-2: at Adam's default
    # the 4 steps' fall was within the per-replica BatchNorm noise (1 run in ~20 rose).
    return {
        "data": {"dir": str(data_dir), "input_size": 64, "batch_size": 8, "shuffle_buffer": 8,
                 "augment": {"enabled": False}},
        "model": {"kind": "cdrp", "fc_units": 32, "dropout": 0.0},
        "train": {"epochs": 2, "steps_per_epoch": 2, "validation_steps": 1, "precision": "float32",
                  "strategy": strategy, "checkpoint_every_steps": 0, "image_summary_every": 0,
                  "learning_rate": 1e-2,
                  **train},
    }  # fmt: skip


def _env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)


def _summary(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("SUMMARY ")]
    assert lines, output[-4000:]
    return json.loads(lines[-1][len("SUMMARY "):])


def _start_workers(cfg: dict, workdir: Path) -> list:
    ports = [_free_port(), _free_port()]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(cfg), str(workdir)], cwd=ROOT,
            env=_env(TF_CONFIG=json.dumps(tf_config)), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    return procs


def _finish(procs: list) -> list[dict]:
    """Waits for the workers; their summaries, chief first."""
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()  # no-op for a finished process
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-4000:]
    return [_summary(out) for out in outputs]


def test_two_workers_train_in_sync(tiny_dataset, tmp_path):
    workdir = tmp_path / "run"
    chief, other = _finish(_start_workers(_cfg(tiny_dataset, "multi_worker"), workdir))

    assert (chief["chief"], other["chief"]) == (True, False)
    assert chief["steps"] == other["steps"] == 4
    # Identical replicas (trainable weights, optimiser and BatchNorm statistics alike) ...
    assert chief["weights_digest"] == other["weights_digest"]
    # ... that learnt: the global loss, the same number on both workers, went down.
    assert chief["history"]["loss"] == other["history"]["loss"]
    assert chief["history"]["loss"][-1] < chief["history"]["loss"][0]
    # Only the chief wrote the work dir, in the fit path's layout.
    assert json.loads((workdir / "state" / "latest.json").read_text())["step"] == 4
    assert (workdir / "model.keras").exists() and (workdir / "history.json").exists()
    rows = (workdir / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,learning_rate,loss,val_loss" and len(rows) == 3
    assert list((workdir / "tb").glob("train/events.out.tfevents.*"))


@pytest.mark.slow  # ~40 s alone; single-process resume stays in the default run (test_resume.py)
def test_killed_workers_resume_from_the_chiefs_state(tiny_dataset, tmp_path):
    workdir = tmp_path / "run"
    cfg = _cfg(tiny_dataset, "multi_worker", epochs=3, steps_per_epoch=4, checkpoint_every_steps=1)
    procs = _start_workers(cfg, workdir)
    latest = workdir / "state" / "latest.json"
    deadline = time.monotonic() + 240
    while not latest.exists() and all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "no resume state written in time"
        time.sleep(0.01)
    for p in procs:
        p.kill()
        p.communicate()
    killed_at = json.loads(latest.read_text())["step"]
    assert 0 < killed_at < 12

    chief, other = _finish(_start_workers(cfg, workdir))
    assert chief["resumed_from"] == other["resumed_from"] == killed_at
    assert chief["steps"] == other["steps"] == 12
    assert chief["weights_digest"] == other["weights_digest"]


def test_mirrored_over_two_logical_cpus_through_fit(tiny_dataset, tmp_path):
    cfg = json.dumps(_cfg(tiny_dataset, "mirrored", epochs=1))
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, cfg, str(tmp_path / "run")], cwd=ROOT, env=_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    assert "REPLICAS 2" in result.stdout
    assert _summary(result.stdout)["steps"] == 2
    assert (tmp_path / "run" / "model.keras").exists()


@pytest.mark.parametrize("kind", ["hourglass", "classifier"])
def test_custom_loop_loss_is_the_compiled_loss(tiny_dataset, kind):
    """One replica: the loop's loss equals the compiled Keras losses with their reductions
    (mean over annotated joints for pose, over the batch for classifiers) summed over outputs."""
    import keras
    import tensorflow as tf

    from tfpose import config
    from tfpose.training import distributed, train
    from tfpose.input.pipeline import build_dataset
    from tfpose.tasks import get_task

    cfg = config.from_dict({
        "data": {"dir": str(tiny_dataset), "input_size": 64, "batch_size": 4},
        "model": {"kind": kind, "num_stacks": 2, "num_channels": 8, "hourglass_depth": 1,
                  "image_branch": False, "joint_embedding": "linear"},
    })  # fmt: skip
    model = train.build_model(cfg, num_classes=2)
    train.compile_model(model, cfg, keras.optimizers.SGD(0.0))
    inputs, targets, weights = next(iter(build_dataset(get_task(cfg), "train", training=False)))
    weights = {k: w * np.arange(w.shape[0], dtype="float32").reshape((-1,) + (1,) * (w.ndim - 1))
               for k, w in weights.items()}  # uneven weights, one example weighted 0

    outputs = model(inputs, training=False)
    if not isinstance(outputs, dict):
        outputs = {"action": outputs}
    expected = sum(float(fn(targets[k], outputs[k], sample_weight=weights[k]))
                   for k, fn in model.loss.items())
    strategy = tf.distribute.get_strategy()
    _, val_step = distributed.make_steps(strategy, model)
    batches = iter(tf.data.Dataset.from_tensors((inputs, targets, weights)).repeat())
    assert float(val_step(batches)) == pytest.approx(expected, rel=1e-5)
    assert len(model.loss) == (2 if kind == "hourglass" else 1)
