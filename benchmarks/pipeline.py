"""Input pipeline throughput, examples/s on 2 CPU threads:

  (a) pipeline     the full training pipeline (``build_dataset``): hourglass targets, 256 input,
                   augmentation (affine + flip + colour jitter), zero-centring, 64x64 heatmaps;
  (b) decode_only  interleave + parse + JPEG decode of the same shards (the ceiling);
  (c) naive        a plain Python loop doing the same work with Pillow + numpy;
  (d) albumentations  the same work as a user of AlbumentationsX + OpenCV writes it, in as many
                   worker processes as (a) has threads (``albumentations_peer.py``, in its own
                   environment: ``make bench-env``; skipped when absent).

    python benchmarks/pipeline.py [--data DIR] [--input-size 256] [--seconds 10]

Without ``--data`` it writes 256 synthetic 256x256 records (4 shards) to a temporary folder.
All three read the same shards; (a) and (b) batch ``--batch-size`` examples. With stored images
smaller than ``--input-size`` (e.g. 128-px ``tfpose convert`` crops into a 256 input), (a) and
(c) also resample them up to the input (folded into their one warp), which (b) does not.
Targets: pipeline >= 5 x naive and >= 1.5 x albumentations. The last line is JSON:
``{"pipeline": ..., "decode_only": ..., "naive": ..., "albumentations": ...}``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from tfpose import config  # noqa: E402
from tfpose.datasets import schema  # noqa: E402
from tfpose.core import skeleton  # noqa: E402
from tfpose.input import pipeline  # noqa: E402
from tfpose.tasks import get_task  # noqa: E402

SIZE = 256
THREADS = 2


def write_synthetic(folder: Path, count: int = 256, shards: int = 4) -> Path:
    """Random-ish 256x256 JPEG records (smooth colour fields + blobs, so JPEGs have real size)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    writers = [
        tf.io.TFRecordWriter(str(folder / f"train-{s:05d}-of-{shards:05d}.tfrecord"))
        for s in range(shards)
    ]
    for i in range(count):
        a = rng.uniform(0, 2 * math.pi, 3)
        image = 127 + 100 * np.sin(6 * xx[..., None] * np.cos(a) + 6 * yy[..., None] * np.sin(a))
        image += rng.normal(0, 20, (SIZE, SIZE, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        joints = rng.uniform(40, SIZE - 40, (16, 2))
        keypoints = np.concatenate([joints, np.ones((16, 1))], axis=1)
        writers[i % shards].write(schema.encode_example({
            "image/encoded": buf.getvalue(), "image/filename": f"synthetic{i:05d}.jpg",
            "image/height": SIZE, "image/width": SIZE, "image/index": i, "person/index": 0,
            "person/keypoints": keypoints, "person/annotated": np.ones(16, np.int64),
            "person/visible": np.ones(16, np.int64), "person/head_size": 30.0,
            "person/crop_box": [0.0, 0.0, SIZE, SIZE], "person/center": [128.0, 128.0],
            "person/scale": 1.0, "action/label": i % 3,
        }))  # fmt: skip
    for w in writers:
        w.close()
    (folder / "manifest.json").write_text(json.dumps({
        "classes": ["a", "b", "c"], "num_records": {"train": count}, "image_size": SIZE,
        "counts": {"train": {"a": count // 3, "b": count // 3, "c": count - 2 * (count // 3)}},
    }))  # fmt: skip
    return folder


def _threads(ds):
    options = tf.data.Options()
    options.threading.private_threadpool_size = THREADS
    return ds.with_options(options)


def rate(ds, batch_size: int, seconds: float, warmup: int = 3) -> float:
    """Examples/s of an infinite batched dataset after ``warmup`` batches."""
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(it)
        n += batch_size
    return n / (time.perf_counter() - start)


def decode_only(data_dir, batch_size):
    files = pipeline.shard_files(data_dir, "train")
    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=len(files), num_parallel_calls=tf.data.AUTOTUNE
    )

    def parse_decode(serialized):
        example = pipeline.parse(serialized)
        return tf.io.decode_image(example["encoded"], channels=3, expand_animations=False)

    ds = ds.repeat().map(parse_decode, num_parallel_calls=tf.data.AUTOTUNE)
    return _threads(ds.batch(batch_size).prefetch(tf.data.AUTOTUNE))


def naive_rate(data_dir, cfg, seconds: float) -> float:
    """The same work as (a) in a Python loop: Pillow decode + affine warp, numpy jitter/heatmaps."""
    records = [r.numpy() for r in tf.data.TFRecordDataset(pipeline.shard_files(data_dir, "train"))]
    aug, rng = cfg.data.augment, np.random.default_rng(0)
    size = cfg.data.input_size  # as in (a)
    out = size // cfg.data.heatmap_stride
    grid = np.arange(out, dtype=np.float32)
    flip_index = np.array(skeleton.FLIP_INDEX)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ex = tf.train.Example.FromString(records[n % len(records)]).features.feature
        keypoints = np.array(ex["person/keypoints"].float_list.value, np.float32).reshape(16, 3)
        annotated = np.array(ex["person/annotated"].int64_list.value, np.float32)
        image = Image.open(io.BytesIO(ex["image/encoded"].bytes_list.value[0])).convert("RGB")
        # Stored -> input scale, folded into the warp as in (a): pixel centres for the image,
        # continuous coordinates for the keypoints (``pipeline.decode``'s rule).
        sx, sy = size / image.width, size / image.height
        keypoints[:, 0] *= sx
        keypoints[:, 1] *= sy
        stored_to_input = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
        angle = math.radians(rng.uniform(-aug.rotation, aug.rotation))
        s = rng.uniform(aug.scale_min, aug.scale_max)
        t = rng.uniform(-aug.translate, aug.translate, 2) * size
        f = -1.0 if aug.flip and rng.random() < 0.5 else 1.0
        c = (size - 1) / 2
        lin = np.array([[np.cos(angle) * s * f, -np.sin(angle) * s], [np.sin(angle) * s * f, np.cos(angle) * s]])
        m = np.eye(3)
        m[:2, :2], m[:2, 2] = lin, c + t - lin @ [c, c]
        inv = np.linalg.inv(m @ stored_to_input)
        image = image.transform((size, size), Image.AFFINE, inv[:2].ravel().tolist(), Image.BILINEAR)
        pixels = np.asarray(image, np.float32)
        b, k, sat = 1 + rng.uniform(-1, 1, 3) * aug.color_jitter
        pixels = pixels * b
        gray = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
        mean = gray.mean()
        pixels = (pixels - mean) * k + mean
        gray = (pixels @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        pixels = np.clip(gray + (pixels - gray) * sat, 0, 255)
        pixels = pixels - pixels.mean(axis=(0, 1), keepdims=True)
        xy = keypoints[:, :2] @ m[:2, :2].T + m[:2, 2]
        if f < 0:
            xy, annotated = xy[flip_index], annotated[flip_index]
        annotated = annotated * np.all((xy >= 0) & (xy < size), axis=1)
        heatmaps = np.zeros((out, out, 16), np.float32)
        sigma = cfg.data.heatmap_sigma
        for j in range(16):
            if annotated[j]:
                mx, my = xy[j] / cfg.data.heatmap_stride
                gx = np.exp(-((grid - mx) ** 2) / (2 * sigma**2))
                gy = np.exp(-((grid - my) ** 2) / (2 * sigma**2))
                heatmaps[..., j] = np.outer(gy, gx)
        n += 1
    return n / (time.perf_counter() - start)


def cpu_us(fn, per: int, rounds: int = 5, window: float = 0.3) -> float:
    """Best-of-``rounds`` CPU microseconds per example of ``fn()`` (robust to a busy machine)."""
    fn()
    best = math.inf
    for _ in range(rounds):
        start, calls = time.process_time(), 0
        while time.process_time() - start < window:
            fn()
            calls += 1
        best = min(best, (time.process_time() - start) / calls / per)
    return best * 1e6


def breakdown(data_dir, cfg) -> dict:
    """CPU us/example (all threads) of (b)'s decode and of (a)'s extra work, by part.

    (a) decodes like (b) and then warps every example, so ``decode / (decode + warp)`` bounds
    (a) / (b) from above, however the rest is tuned.
    """
    from tfpose.input import augment

    size, batch_size = cfg.data.input_size, cfg.data.batch_size
    shards = pipeline.shard_files(data_dir, "train")
    records = list(tf.data.TFRecordDataset(shards).take(batch_size))
    parsed = [pipeline.parse(r) for r in records]
    encoded = tf.stack([p["encoded"] for p in parsed])
    decode = tf.function(lambda e: tf.map_fn(
        lambda x: tf.io.decode_image(x, channels=3, expand_animations=False), e,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8)))  # fmt: skip
    canvases = [pipeline.decode(p, size, canvas=True) for p in parsed]
    batch = {k: tf.stack([c[k] for c in canvases]) for k in pipeline._BATCH_KEYS}
    seed = tf.constant([0, 1], tf.int64)
    matrix, flip, colour = augment.draw(seed, batch_size, size, cfg.data.augment)
    warp = tf.function(lambda b, m, f: augment.apply_affine(b, m, f, size), jit_compile=True)
    warped = warp(batch, matrix, flip)

    def rest(example):
        example = dict(example, image=augment.jitter_colours(example["image"], colour))
        example = pipeline.normalize(example, "zero_center")
        targets = pipeline.make_targets(example, get_task(cfg))["targets"]
        return example["image"], targets["heatmaps_1"]

    rest = tf.function(rest, jit_compile=True)
    full = tf.linalg.inv(tf.linalg.matmul(matrix, batch["image_matrix"]))
    v3 = tf.function(lambda: tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(batch["image"], tf.float32), transforms=tf.reshape(full, [-1, 9])[:, :8],
        output_shape=[size, size], fill_value=0.0, interpolation="BILINEAR",
        fill_mode="CONSTANT"))  # fmt: skip
    pil = [Image.open(io.BytesIO(e)).convert("RGB") for e in encoded.numpy()]
    coeffs = [full[i, :2].numpy().ravel().tolist() for i in range(batch_size)]

    def pillow():
        for image, c in zip(pil, coeffs):
            image.transform((size, size), Image.AFFINE, c, Image.BILINEAR)

    parts = {
        "decode (b)": cpu_us(lambda: decode(encoded), batch_size),
        "warp, XLA gather (a)": cpu_us(lambda: warp(batch, matrix, flip), batch_size),
        "warp, ImageProjectiveTransformV3": cpu_us(v3, batch_size),
        "warp, Pillow affine (c)": cpu_us(pillow, batch_size),
        "colour + normalise + heatmaps (a)": cpu_us(lambda: rest(warped), batch_size),
    }
    print(f"CPU us/example, stored {pil[0].size[0]} px -> input {size} px:")
    for name, value in parts.items():
        print(f"  {name:36s} {value:8.1f}")
    decode_us, warp_us = parts["decode (b)"], parts["warp, XLA gather (a)"]
    print(f"  bound on (a)/(b) from the warp alone: {decode_us / (decode_us + warp_us):.2f}; "
          f"from all of (a)'s extra work: "
          f"{decode_us / (decode_us + warp_us + parts['colour + normalise + heatmaps (a)']):.2f}")
    return parts


def albumentations_rate(data_dir, cfg, seconds: float, python: str) -> float | None:
    """(d) the AlbumentationsX + OpenCV peer (``albumentations_peer.py``) in its own
    environment, on the same records; None when that environment is absent."""
    if not Path(python).exists():
        print(f"no AlbumentationsX environment at {python} (make bench-env): peer skipped")
        return None
    import subprocess

    jpegs, keypoints, annotated = [], [], []
    for serialized in tf.data.TFRecordDataset(pipeline.shard_files(data_dir, "train")):
        ex = tf.train.Example.FromString(serialized.numpy()).features.feature
        jpegs.append(ex["image/encoded"].bytes_list.value[0])
        keypoints.append(np.array(ex["person/keypoints"].float_list.value, np.float32).reshape(16, 3)[:, :2])
        annotated.append(np.array(ex["person/annotated"].int64_list.value, np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.npz"
        np.savez(path, jpeg=np.array(jpegs, dtype=object), keypoints=np.stack(keypoints),
                 annotated=np.stack(annotated), flip_index=np.array(skeleton.FLIP_INDEX))
        done = subprocess.run(
            [python, str(Path(__file__).with_name("albumentations_peer.py")), str(path),
             "--seconds", str(seconds), "--workers", str(THREADS),
             "--batch-size", str(cfg.data.batch_size), "--input-size", str(cfg.data.input_size),
             "--heatmap-size", str(cfg.data.input_size // cfg.data.heatmap_stride),
             "--sigma", str(cfg.data.heatmap_sigma)],
            capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["albumentations"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="converted dataset folder (train shards, 256 px)")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per variant")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=SIZE, help="model input (a) and (c)")
    parser.add_argument("--albumentations-python", default=str(
        Path(__file__).resolve().parents[1] / ".bench-albumentations" / "bin" / "python"),
        help="python of the AlbumentationsX environment (make bench-env)")
    parser.add_argument("--no-jit", action="store_true",
                        help="(a) with data.jit_compile false: the batch stages as plain TF ops, "
                             "as under a strategy with collectives")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time (a)'s parts against (b)'s decode (CPU time)")  # fmt: skip
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)

    tmp = None
    if args.data:
        data_dir = Path(args.data)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="tfpose-bench-")
        data_dir = write_synthetic(Path(tmp.name))
        print(f"wrote 256 synthetic records to {data_dir}")
    cfg = config.from_dict({
        "data": {"dir": str(data_dir), "input_size": args.input_size, "batch_size": args.batch_size,
                 "heatmap_stride": 4, "shuffle_buffer": 256, "jit_compile": not args.no_jit},
        "model": {"kind": "hourglass", "num_stacks": 2},
    })  # fmt: skip
    full = _threads(pipeline.build_dataset(get_task(cfg), "train", training=True, repeat=True))
    results = {
        "pipeline": rate(full, args.batch_size, args.seconds),
        "decode_only": rate(decode_only(data_dir, args.batch_size), args.batch_size, args.seconds),
        "naive": naive_rate(data_dir, cfg, args.seconds),
    }
    peer = albumentations_rate(data_dir, cfg, args.seconds, args.albumentations_python)
    if peer is not None:
        results["albumentations"] = peer
    print(f"machine: {os.cpu_count()} CPUs visible, {THREADS} tf.data threads, TF {tf.__version__}")
    print(f"data: {data_dir}, input {args.input_size} px, batch {args.batch_size}")
    for name, value in results.items():
        print(f"  {name:12s} {value:9.1f} examples/s")
    print(f"  pipeline / decode_only = {results['pipeline'] / results['decode_only']:.2f} (target >= 0.7)")
    print(f"  pipeline / naive       = {results['pipeline'] / results['naive']:.2f} (target >= 5)")
    if peer is not None:
        print(f"  pipeline / albumentations = {results['pipeline'] / peer:.2f} (target >= 1.5)")
    if args.breakdown:
        breakdown(data_dir, cfg)
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
