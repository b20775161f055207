"""LiteRT against the SavedModel: CPU latency per image and PCK@0.2 for each quantisation.

    .venv/bin/python benchmarks/litert.py [MODEL] [--data tfrecords/lspet160] [--images 900]

MODEL (default ``lspet``, the shipped model) is exported twice into a temporary folder: as the TF
Serving SavedModel (``tfpose.serving.export``) and as ``.tflite`` with ``--quantize none``,
``float16`` and ``int8`` (``tfpose.serving.litert``; int8 calibrated on the training split of
``--data``). Each is run on the same val-split crops of ``--data`` (the records' S x S images,
0..255): the SavedModel through ``predict_images_boxes`` with the crop's own box (its in-graph
resize is then the identity), LiteRT through the interpreter with as many threads as the machine has cores (TF uses
them all too). Latency: median ms of single-image calls after 5 warm-up calls, over the first
``--latency-images`` crops. PCK@0.2 of the torso over all ``--images`` crops, in crop pixels
(the letterbox is a uniform scale, so the figure equals the original-pixel one). Also reports
the largest keypoint difference to the SavedModel (px). Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def val_crops(data_dir: str, split: str, limit: int):
    """(crops N x S x S x 3 float32 0..255, keypoints N x K x 2 crop px, missing N x K)."""
    import numpy as np
    import tensorflow as tf

    from tfpose.datasets import schema
    from tfpose.datasets.shards import shard_files

    crops, joints, missing = [], [], []
    for serialized in tf.data.TFRecordDataset(shard_files(data_dir, split)).take(limit):
        ex = schema.parse_example(serialized)
        crops.append(tf.io.decode_jpeg(ex["image/encoded"], channels=3).numpy())
        joints.append(ex["person/keypoints"].numpy()[:, :2])
        missing.append(ex["person/annotated"].numpy() == 0)
    return np.stack(crops).astype(np.float32), np.stack(joints), np.stack(missing)


def median_ms(fn, crops, count: int) -> float:
    for i in range(5):
        fn(crops[i % len(crops)][None])
    times = []
    for crop in crops[:count]:
        start = time.perf_counter()
        fn(crop[None])
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default="lspet")
    parser.add_argument("--data", default="tfrecords/lspet160")
    parser.add_argument("--split", default="val")
    parser.add_argument("--images", type=int, default=900)
    parser.add_argument("--latency-images", type=int, default=100)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from tfpose.serving import export, litert
    from tfpose.core import zoo
    from tfpose.metrics.pck import pck

    source = zoo.resolve(args.model)
    cfg, _, _ = export.load_workdir(source)
    crops, gt, missing = val_crops(args.data, args.split, args.images)
    size = cfg.data.input_size
    if crops.shape[1] != size:
        raise SystemExit(f"{args.data}: crops are {crops.shape[1]} px, the model takes {size}")
    threads = os.cpu_count()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = tf.saved_model.load(str(export.export_workdir(source, tmp, "bench", 1)))
        fn = saved.signatures["predict_images_boxes"]

        def run_savedmodel(batch):
            boxes = tf.tile(tf.constant([[0.0, 0.0, size, size]]), [len(batch), 1])
            return fn(images=tf.constant(batch), boxes=boxes)["keypoints"].numpy()

        variants = {"savedmodel": run_savedmodel}
        files = {}
        for quantize in litert.QUANTIZATIONS:
            path = Path(tmp) / f"model-{quantize}.tflite"
            litert.export_tflite(source, path, quantize=quantize, calibration_data=args.data)
            predictor = litert.LiteRTPredictor(path, num_threads=threads)
            variants[f"tflite_{quantize}"] = lambda batch, p=predictor: p.infer(batch)["keypoints"]
            files[f"tflite_{quantize}"] = path.stat().st_size
        reference = None
        for name, run in variants.items():
            pred = np.concatenate([run(crops[i:i + 1]) for i in range(len(crops))])
            if reference is None:
                reference = pred
            rows[name] = {
                "ms_per_image": round(median_ms(run, crops, args.latency_images), 2),
                "pck@0.2": round(pck(pred, gt, missing)["mean"], 2),
                "max_diff_px": round(float(np.abs(pred - reference).max()), 3),
                "bytes": files.get(name),
            }
    base = rows["savedmodel"]["ms_per_image"]
    print(f"{'variant':16s} {'ms/image':>9s} {'speed-up':>9s} {'PCK@0.2':>8s} {'max diff px':>12s}")
    for name, row in rows.items():
        print(f"{name:16s} {row['ms_per_image']:9.2f} {base / row['ms_per_image']:8.2f}x "
              f"{row['pck@0.2']:8.2f} {row['max_diff_px']:12.3f}")
    print(json.dumps({"model": str(args.model), "images": len(crops), "threads": threads,
                      "machine": f"{platform.machine()} {os.cpu_count()} cores",
                      **{k: v for k, v in rows.items()}}))


if __name__ == "__main__":
    main()
