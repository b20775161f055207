"""Export latency: the SavedModel on JPEG bytes against the Keras model on decoded tensors.

    .venv/bin/python benchmarks/export.py [--config configs/hourglass2.yaml] [--repeats 3]

Builds the model of ``--config`` (untrained weights: latency does not depend on them), writes it
as a work dir, exports it with ``tfpose.serving.export``, reloads the SavedModel and times, at batch 1
and 32 (the 5 MPII sample images, 1280x720 and 854x480 JPEGs, cycled):

  (a) export   ``serving_default`` on JPEG bytes: decode + crop/resize + normalise + model +
               heatmap decoding + map back to original pixels, all in the graph;
  (b) keras    the Keras model in a ``tf.function`` on the already decoded, resized and
               normalised S x S tensors (what a client doing its own preprocessing would run).

The in-graph preprocessing overhead is ``(a - b) / b`` (target <= 15 % at batch 32). Median of
``--repeats`` timed calls after one warm-up call. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "tests" / "data" / "mpii_sample").glob("*.jpg"))


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: first-call graph optimisation and allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "hourglass2.yaml"))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from tfpose import config as config_lib
    from tfpose.serving import export
    from tfpose.tasks import get_task
    from tfpose.training.train import build_model

    cfg = config_lib.load(args.config)
    if not get_task(cfg).is_pose:
        raise SystemExit("benchmark a pose model config (classifiers need classes.json)")
    size = cfg.data.input_size
    encoded = [p.read_bytes() for p in SAMPLES]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "workdir"
        workdir.mkdir()
        config_lib.dump(cfg, workdir / "config.yaml")
        model = build_model(cfg)
        model.save(str(workdir / "model.keras"))
        start = time.perf_counter()
        path = export.export_workdir(workdir, Path(tmp) / "serving", cfg.name, 1)
        export_seconds = time.perf_counter() - start
        serving = tf.saved_model.load(str(path)).signatures["serving_default"]

        keras_fn = tf.function(lambda x: model({"image": x} if isinstance(model.input, dict)
                                               else x, training=False), autograph=False)
        for batch in [int(b) for b in args.batches.split(",")]:
            images = tf.constant([encoded[i % len(encoded)] for i in range(batch)])
            crops, _ = export.crop_batch(images, None, size, encoded=True)
            tensors = export.normalize_images(crops, cfg.data.normalization)
            t_export = timed(lambda: serving(images=images)["keypoints"].numpy(), args.repeats)
            t_keras = timed(lambda: tf.nest.map_structure(lambda t: t.numpy(), keras_fn(tensors)),
                            args.repeats)
            results[batch] = {"export_ms": 1000 * t_export, "keras_ms": 1000 * t_keras,
                              "overhead_pct": 100 * (t_export - t_keras) / t_keras,
                              "export_images_per_s": batch / t_export}

    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs".strip()
    print(f"{cfg.name} ({cfg.model.kind}, {size}x{size}, {model.count_params() / 1e6:.1f} M "
          f"parameters); export took {export_seconds:.1f} s; {machine}; TF {tf.__version__}")
    print(f"{'batch':>5} {'export ms':>10} {'keras ms':>10} {'overhead':>9} {'img/s':>7}")
    for batch, r in results.items():
        print(f"{batch:>5} {r['export_ms']:>10.1f} {r['keras_ms']:>10.1f} "
              f"{r['overhead_pct']:>8.1f}% {r['export_images_per_s']:>7.1f}")
    print(json.dumps({"benchmark": "export", "config": cfg.name, "input_size": size,
                      "repeats": args.repeats, "machine": machine, "tf": tf.__version__,
                      "export_seconds": round(export_seconds, 1),
                      "results": {str(b): {k: round(v, 2) for k, v in r.items()}
                                  for b, r in results.items()}}))
    return results


if __name__ == "__main__":
    main()
