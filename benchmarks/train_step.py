"""Training-step throughput of a pose model in examples/s, with and without XLA (jit_compile).

    python benchmarks/train_step.py [--config configs/hourglass2.yaml] [--set KEY=VALUE ...]
                                    [--batch 4] [--steps 5] [--warmup 2] [--modes graph,xla]
    # the bare step against tfpose train on the real-photo recipe (issue 25: >= 0.85x)
    python benchmarks/train_step.py --config configs/lspet_effnet_crops.yaml --batch 16 \
        --steps 40 --modes graph,fit,train

Each mode builds and compiles the model exactly as ``tfpose train`` does (``train.build_model``,
``train.compile_model``; ``jit_compile`` off / on), then times ``train_on_batch`` on one fixed
random batch held in memory, so the number is the model's step alone (no input pipeline). The
first ``--warmup`` steps (tracing, and XLA compilation) are timed separately as ``warmup_s``.
The last line is JSON: ``{"config": ..., "input_size": ..., "batch": ..., "graph": {...},
"xla": {...}}`` with ``examples_per_s`` per mode.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpose import config as config_lib  # noqa: E402
from tfpose.tasks import pose_task  # noqa: E402
from tfpose.training import train  # noqa: E402


def random_batch(cfg, batch: int):
    """``(inputs, targets, weights)`` shaped like the pipeline's, random values."""
    rng = np.random.default_rng(0)
    size, k = cfg.data.input_size, cfg.model.num_joints
    inputs = {"image": tf.constant(rng.normal(size=(batch, size, size, 3)), tf.float32)}
    task = pose_task(cfg)
    if task.codec == "heatmap":
        side = size // cfg.data.heatmap_stride
        maps = tf.constant(rng.uniform(size=(batch, side, side, k)), tf.float32)
        names = task.output_names
        targets = {name: maps for name in names}
    else:
        names = ["keypoints"]
        targets = {"keypoints": tf.constant(rng.normal(size=(batch, k, 2)), tf.float32)}
    weights = {name: tf.ones((batch, k)) for name in names}
    return inputs, targets, weights


def measure(cfg, batch: int, steps: int, warmup: int, jit: bool) -> dict:
    keras.utils.set_random_seed(0)
    cfg = config_lib.replace(cfg, train=config_lib.replace(cfg.train, jit_compile=jit))
    model = train.build_model(cfg)
    train.compile_model(model, cfg, train.make_optimizer(cfg.train, steps=1000))
    data = random_batch(cfg, batch)
    start = time.perf_counter()
    for _ in range(warmup):
        model.train_on_batch(*data)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(*data)
    seconds = time.perf_counter() - start
    return {"jit_compile": bool(model.jit_compile), "examples_per_s": batch * steps / seconds,
            "step_s": seconds / steps, "warmup_s": warm, "final_loss": float(np.ravel(loss)[0])}


def measure_fit(cfg, batch: int, steps: int) -> dict:
    """``Model.fit`` on the same in-memory batch repeated (no input pipeline, no callbacks):
    between the bare step and ``tfpose train``, it splits the gap into fit's own cost and what
    the input pipeline and the callbacks add."""
    keras.utils.set_random_seed(0)
    model = train.build_model(cfg)
    train.compile_model(model, cfg, train.make_optimizer(cfg.train, steps=1000))
    data = tf.data.Dataset.from_tensors(random_batch(cfg, batch)).repeat()
    ends = []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
    # One fit of two epochs: the first traces; the second is timed (a second fit call would
    # build its function again).
    model.fit(data, steps_per_epoch=steps, epochs=2, verbose=0, callbacks=[clock])
    seconds = ends[1] - ends[0]
    return {"examples_per_s": batch * steps / seconds, "step_s": seconds / steps}


def measure_train(cfg, batch: int, steps: int) -> dict:
    """``tfpose train`` itself on ``cfg``'s dataset: two epochs of ``steps`` batches (one
    validation batch, no images) in a fresh work dir; the second epoch's wall time from
    ``log.csv`` (input pipeline, step, metrics, checkpoints and validation: all a user waits
    for), so start-up and tracing are left out as for the bare step."""
    import csv
    import tempfile

    cfg = config_lib.replace(
        cfg, data=config_lib.replace(cfg.data, batch_size=batch),
        train=config_lib.replace(cfg.train, epochs=2, steps_per_epoch=steps, validation_steps=1,
                                 image_summary_every=0, time_budget_minutes=None,
                                 init_weights=None))
    with tempfile.TemporaryDirectory() as workdir:
        train.train(cfg, workdir, verbose=0)
        with open(Path(workdir) / "log.csv") as log:
            rows = list(csv.DictReader(log))
    seconds = float(rows[1]["wall_s"]) - float(rows[0]["wall_s"])
    return {"examples_per_s": batch * steps / seconds, "step_s": seconds / steps,
            "data_dir": cfg.data.dir}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/hourglass2.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="Override a config field, e.g. --set data.input_size=128")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", default="graph,xla",
                        help="comma list of graph, xla (the bare step), fit (Model.fit on the "
                             "batch repeated) and train (tfpose train on the config's dataset: "
                             "--modes graph,fit,train compares them)")
    args = parser.parse_args(argv)

    cfg = config_lib.load(args.config, args.overrides)
    train.resolve_precision(cfg.train.precision)
    result = {"config": args.config, "overrides": args.overrides, "kind": cfg.model.kind,
              "input_size": cfg.data.input_size, "batch": args.batch, "steps": args.steps,
              "precision": keras.config.dtype_policy().name, "cpus": os.cpu_count(),
              "gpus": len(tf.config.list_physical_devices("GPU"))}  # fmt: skip
    for mode in args.modes.split(","):
        if mode == "train":
            result[mode] = measure_train(cfg, args.batch, args.steps)
        elif mode == "fit":
            result[mode] = measure_fit(cfg, args.batch, args.steps)
        else:
            result[mode] = measure(cfg, args.batch, args.steps, args.warmup, jit=(mode == "xla"))
    if "graph" in result and "train" in result:
        result["train_over_bare_step"] = (result["train"]["examples_per_s"]
                                          / result["graph"]["examples_per_s"])
    if "graph" in result and "xla" in result:
        result["xla_speedup"] = result["xla"]["examples_per_s"] / result["graph"]["examples_per_s"]
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
