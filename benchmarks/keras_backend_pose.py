"""The pose models on a machine with an accelerator but no TensorFlow (any Keras 3 backend).

The GPU machines this project is lent carry JAX but not TensorFlow, and TensorFlow with its CUDA
libraries is far too large to carry there. The Keras models, losses and PCKh of tfpose need no
TensorFlow, so this script runs them on ``KERAS_BACKEND=jax`` with a small numpy input pipeline
in place of the tf.data one:

    # here (TensorFlow): the converted split's stored crops and labels -> one .npz
    python benchmarks/keras_backend_pose.py export tfrecords/pose2k runs/pose2k.npz
    # there (no TensorFlow): train the config's hourglass for a time budget, then val PCKh
    KERAS_BACKEND=jax python benchmarks/keras_backend_pose.py train runs/pose2k.npz \\
        configs/synthetic/hourglass2.yaml --epochs 200 --minutes 4 [--set KEY=VALUE ...]
    # there: train-step throughput per precision policy (random batch, no input pipeline)
    KERAS_BACKEND=jax python benchmarks/keras_backend_pose.py step configs/hourglass8.yaml \\
        --batch 32 --precisions float32,mixed_float16,mixed_bfloat16

The numpy pipeline follows ``tfpose.input`` and ``tfpose.codecs`` (same matrix and pixel
convention as ``augment.affine_matrix``, same Gaussian targets and weights as
``codecs.heatmap.encode``, the quarter-pixel decode of ``codecs.heatmap.decode``, per-image mean
subtraction) but leaves out colour
jitter; ``tests/models/test_keras_backend_pose.py`` checks it against the TensorFlow stages. Each
command ends with one JSON line. On such a machine Keras itself travels as wheels (keras, namex,
optree; its other needs are usually there) and runs with ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfpose import config as config_lib  # noqa: E402
from tfpose.core.skeleton import FLIP_INDEX  # noqa: E402
from tfpose.metrics import pckh  # noqa: E402

SPLITS = ("train", "val")


# -- export (needs TensorFlow) -------------------------------------------------------------------

def export(data_dir: str, out: str) -> dict:
    """Stored JPEG crops, their sizes, joints (stored-image pixels), flags, crop boxes and head
    sizes of the train and val splits -> ``out`` (.npz, JPEG bytes concatenated with offsets, no
    pickles)."""
    import tensorflow as tf

    from tfpose.datasets.schema import FEATURES

    keys = ("image/encoded", "image/height", "image/width", "person/keypoints",
            "person/annotated", "person/crop_box", "person/head_size")
    arrays, counts = {}, {}
    for split in SPLITS:
        files = sorted(tf.io.gfile.glob(f"{data_dir}/{split}-*.tfrecord"))
        if not files:
            raise SystemExit(f"{data_dir}: no {split}-*.tfrecord files")
        rows = {k: [] for k in keys}
        for serialized in tf.data.TFRecordDataset(files):
            ex = tf.io.parse_single_example(serialized, {k: FEATURES[k] for k in keys})
            for k in keys:
                rows[k].append(ex[k].numpy())
        blobs = rows.pop("image/encoded")
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        # Stored-image pixels (schema.py); load_split scales them to the input.
        arrays[f"{split}_keypoints"] = np.stack(rows["person/keypoints"]).reshape(-1, 16, 3)[..., :2]
        arrays[f"{split}_stored_size"] = np.stack(
            [rows["image/width"], rows["image/height"]], -1).astype(np.float32)
        arrays[f"{split}_annotated"] = np.stack(rows["person/annotated"]).astype(np.float32)
        arrays[f"{split}_crop_box"] = np.stack(rows["person/crop_box"])
        arrays[f"{split}_head_size"] = np.stack(rows["person/head_size"])
        counts[split] = len(blobs)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(out) + ".partial.npz")  # np.savez adds .npz; renamed only once complete
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return {"out": str(out), "persons": counts, "bytes": Path(out).stat().st_size}


# -- numpy twins of the tf.data stages -----------------------------------------------------------

def load_split(npz, split: str, size: int):
    """Decoded crops B x S x S x 3 uint8 (resized to ``size`` if stored otherwise) and labels."""
    from PIL import Image

    jpeg, offsets = npz[f"{split}_jpeg"], npz[f"{split}_offsets"]
    images = []
    for i in range(len(offsets) - 1):
        image = Image.open(io.BytesIO(jpeg[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        images.append(np.asarray(image))
    box = npz[f"{split}_crop_box"]
    origin, extent = box[:, None, :2], box[:, None, 2:] - box[:, None, :2]
    keypoints = npz[f"{split}_keypoints"] * size / npz[f"{split}_stored_size"][:, None]
    return {"image": np.stack(images), "keypoints": keypoints.astype(np.float32),
            "annotated": npz[f"{split}_annotated"], "crop_box": box,
            "gt": origin + keypoints * extent / size,  # pipeline.keypoints_to_original
            "head_size": npz[f"{split}_head_size"]}


def affine_matrices(size, angle_deg, scale, flip):
    """B x 3 x 3, input pixels -> output pixels, as ``augment.affine_matrix`` (no translation)."""
    c = (size - 1.0) / 2.0
    angle = np.radians(angle_deg)
    fx = np.where(flip, -1.0, 1.0)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    a, b, d, e = cos * fx, -sin, sin * fx, cos
    m = np.zeros((len(a), 3, 3))
    m[:, 0] = np.stack([a, b, c - (a + b) * c], -1)
    m[:, 1] = np.stack([d, e, c - (d + e) * c], -1)
    m[:, 2, 2] = 1.0
    return m


def warp(images, matrices):
    """Bilinear resampling B x S x S x C so input pixel p lands at ``matrix @ p``; pixel centres at
    integers, samples within half a pixel of the border repeat the edge, farther out read 0."""
    b, s = images.shape[0], images.shape[1]
    inverse = np.linalg.inv(matrices).astype(np.float32)
    ys, xs = np.meshgrid(np.arange(s, dtype=np.float32), np.arange(s, dtype=np.float32),
                         indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(s * s, np.float32)])  # 3 x P
    src = inverse[:, :2] @ grid  # B x 2 x P
    inside = np.all((src >= -0.5) & (src <= s - 0.5), axis=1)  # B x P
    src = np.clip(src, 0.0, s - 1.0)
    x0 = np.minimum(np.floor(src[:, 0]).astype(np.int64), s - 2)
    y0 = np.minimum(np.floor(src[:, 1]).astype(np.int64), s - 2)
    fx, fy = (src[:, 0] - x0)[..., None], (src[:, 1] - y0)[..., None]
    flat = images.reshape(b, s * s, -1).astype(np.float32)
    rows = np.arange(b)[:, None]

    def tap(yy, xx):
        return flat[rows, yy * s + xx]

    out = ((tap(y0, x0) * (1 - fx) + tap(y0, x0 + 1) * fx) * (1 - fy)
           + (tap(y0 + 1, x0) * (1 - fx) + tap(y0 + 1, x0 + 1) * fx) * fy)
    return (out * inside[..., None]).reshape(images.shape).astype(np.float32)


def augment(batch, rng, aug):
    """Random rotation, scale and flip of images and joints (``augment.draw``'s distributions)."""
    n, size = len(batch["image"]), batch["image"].shape[1]
    angle = (2.0 * rng.random(n) - 1.0) * aug.rotation
    scale = aug.scale_min + rng.random(n) * (aug.scale_max - aug.scale_min)
    flip = (rng.random(n) < 0.5) & bool(aug.flip)
    m = affine_matrices(size, angle, scale, flip)
    image = warp(batch["image"], m)
    xy = np.einsum("bij,bkj->bki", m[:, :2, :2], batch["keypoints"]) + m[:, None, :2, 2]
    annotated = batch["annotated"].copy()
    xy[flip] = xy[flip][:, FLIP_INDEX]
    annotated[flip] = annotated[flip][:, FLIP_INDEX]
    annotated *= np.all((xy >= 0) & (xy < size), axis=-1)  # left the frame: no loss
    return image, xy.astype(np.float32), annotated


def encode_heatmaps(keypoints, weights, side, stride, sigma):
    """B x K x 2 input px -> (B x side x side x K Gaussians, B x K weights), as
    ``codecs.heatmap.encode``."""
    mu = keypoints / float(stride)
    reach = 3.0 * sigma
    inside = np.all((mu + reach >= 0) & (mu - reach <= side - 1.0), axis=-1)
    weights = (weights != 0) * inside
    grid = np.arange(side, dtype=np.float32)
    gx = np.exp(-np.square(grid[:, None] - mu[:, None, :, 0]) / (2 * sigma**2))  # B x W x K
    gy = np.exp(-np.square(grid[:, None] - mu[:, None, :, 1]) / (2 * sigma**2))  # B x H x K
    gy = gy * weights[:, None, :]
    return (gy[:, :, None, :] * gx[:, None, :, :]).astype(np.float32), weights.astype(np.float32)


def decode_heatmaps(maps):
    """B x H x W x K -> B x K x 2 heatmap px at the maximum, shifted a quarter pixel toward the
    larger neighbour (``heatmaps.decode(subpixel="quarter")``)."""
    b, h, w, k = maps.shape
    flat = maps.transpose(0, 3, 1, 2).reshape(b, k, h * w)
    index = flat.argmax(-1)
    y, x = index // w, index % w

    def at(yy, xx):
        yy, xx = np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)
        return np.take_along_axis(flat, (yy * w + xx)[..., None], -1)[..., 0]

    dx = 0.25 * np.sign(at(y, x + 1) - at(y, x - 1)) * ((x > 0) & (x < w - 1))
    dy = 0.25 * np.sign(at(y + 1, x) - at(y - 1, x)) * ((y > 0) & (y < h - 1))
    return np.stack([x + dx, y + dy], -1).astype(np.float32)


def zero_center(images):
    return images - images.mean(axis=(1, 2), keepdims=True)


# -- train ---------------------------------------------------------------------------------------

def val_pckh(model, val, cfg, batch: int) -> dict:
    """PCKh of the last stack's heatmaps on ``val``, in original pixels through the crop box."""
    images = zero_center(val["image"].astype(np.float32))
    outputs = model.predict({"image": images}, batch_size=batch, verbose=0)
    last = outputs[f"heatmaps_{cfg.model.num_stacks}"]
    xy = decode_heatmaps(np.asarray(last, np.float32)) * cfg.data.heatmap_stride
    box = val["crop_box"]
    pred = box[:, None, :2] + xy * (box[:, None, 2:] - box[:, None, :2]) / cfg.data.input_size
    return pckh.pckh(pred, val["gt"], val["head_size"], val["annotated"] == 0)


def hourglass_outputs(cfg):
    """(output names, losses by name) of the config's hourglass, as its task
    (``tfpose.tasks.pose.HeatmapPose``) gives them; not asked of the task: it imports TensorFlow."""
    from tfpose.models.losses import HeatmapMSE, HeatmapSoftmaxCE

    names = [f"heatmaps_{i + 1}" for i in range(cfg.model.num_stacks)]
    loss = HeatmapMSE if cfg.model.heatmap_loss == "mse" else HeatmapSoftmaxCE
    return names, {name: loss(name=f"{name}_{cfg.model.heatmap_loss}") for name in names}


def train(npz_path, config_path, overrides, epochs, minutes, eval_every, seed, limit=None) -> dict:
    import keras

    from tfpose.models.hourglass import build_hourglass

    cfg = config_lib.load(config_path, overrides)
    if cfg.model.kind != "hourglass":
        raise SystemExit(f"{config_path}: only hourglass configs (got model.kind={cfg.model.kind!r})")
    # "auto" means float32 here (tfpose's GPU rule, mixed_float16, lost on the H200: README).
    if cfg.train.precision not in ("auto", "float32"):
        keras.mixed_precision.set_global_policy(cfg.train.precision)
    keras.utils.set_random_seed(seed)
    size, stride, bs = cfg.data.input_size, cfg.data.heatmap_stride, cfg.data.batch_size
    npz = np.load(npz_path)
    tr, val = load_split(npz, "train", size), load_split(npz, "val", size)
    if limit:  # smoke runs: the first ``limit`` persons of each split
        tr, val = ({k: v[:limit] for k, v in split.items()} for split in (tr, val))
    steps = len(tr["image"]) // bs
    names = hourglass_outputs(cfg)[0]
    rng = np.random.default_rng(seed)

    class Batches(keras.utils.PyDataset):
        """One augmented batch per index; a fresh permutation every epoch."""

        def __init__(self):
            super().__init__(workers=min(12, os.cpu_count() or 1), use_multiprocessing=False)
            self.order = rng.permutation(len(tr["image"]))

        def __len__(self):
            return steps

        def __getitem__(self, i):
            pick = self.order[i * bs:(i + 1) * bs]
            item_rng = np.random.default_rng([seed, int(self.order[0]), i])
            image, xy, annotated = augment({k: tr[k][pick] for k in tr}, item_rng,
                                           cfg.data.augment)
            maps, weights = encode_heatmaps(xy, annotated, size // stride, stride,
                                            cfg.data.heatmap_sigma)
            return ({"image": zero_center(image)}, {n: maps for n in names},
                    {n: weights for n in names})

        def on_epoch_end(self):
            self.order = rng.permutation(len(tr["image"]))

    lr = cfg.train.learning_rate
    if cfg.train.lr_decay_epochs:
        # The schedule is in epochs of the config; --epochs stretches it in proportion.
        stretch = epochs / cfg.train.epochs
        bounds = [int(e * stretch * steps) for e in cfg.train.lr_decay_epochs]
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [lr * cfg.train.lr_decay_factor**i for i in range(len(bounds) + 1)])
    if cfg.train.optimizer != "adam":
        raise SystemExit(f"{config_path}: only train.optimizer: adam here")
    model = build_hourglass(cfg)
    # JAX runs a step uncompiled only eagerly (slowly); elsewhere the config decides, as in train.
    jit = True if keras.backend.backend() == "jax" else cfg.train.jit_compile
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=hourglass_outputs(cfg)[1],
                  jit_compile=jit)

    history, last, start = [], {}, time.perf_counter()
    budget = minutes * 60.0 if minutes else math.inf

    class Evaluate(keras.callbacks.Callback):
        """Val PCKh every ``eval_every`` epochs and always at the last one (planned or budget)."""

        def on_epoch_end(self, epoch, logs=None):
            done = time.perf_counter() - start >= budget
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs or done:
                result = last["pckh"] = val_pckh(self.model, val, cfg, 64)
                row = {"epoch": epoch + 1, "wall_s": round(time.perf_counter() - start, 1),
                       "loss": round(float(logs["loss"]), 5), "val_pckh": round(result["mean"], 2),
                       "val_pckh@0.1": round(result["mean@0.1"], 2)}
                history.append(row)
                print(json.dumps(row), flush=True)
            if done:
                self.model.stop_training = True

    model.fit(Batches(), epochs=epochs, verbose=0, callbacks=[Evaluate()])
    wall, final = time.perf_counter() - start, last["pckh"]  # the last epoch's evaluation
    return {"command": "train", "backend": keras.backend.backend(), "config": str(config_path),
            "overrides": list(overrides), "epochs_run": history[-1]["epoch"],
            "wall_s": round(wall, 1),
            # Over the whole wall time: compilation and evaluations included.
            "train_examples_per_s": round(history[-1]["epoch"] * steps * bs / wall, 1),
            "val_pckh": round(final["mean"], 2), "val_pckh@0.1": round(final["mean@0.1"], 2),
            "parts": {k: round(v, 2) for k, v in final["parts"].items()}, "history": history}


# -- step throughput -----------------------------------------------------------------------------

def step(config_path, overrides, batch, precisions, steps, warmup) -> dict:
    """Train-step examples/s of the config's hourglass on one random batch, per precision."""
    import keras

    from tfpose.models.hourglass import build_hourglass

    cfg = config_lib.load(config_path, overrides)
    size, k = cfg.data.input_size, cfg.model.num_joints
    side = size // cfg.data.heatmap_stride
    rng = np.random.default_rng(0)
    x = {"image": rng.normal(size=(batch, size, size, 3)).astype(np.float32)}
    y = {n: rng.uniform(size=(batch, side, side, k)).astype(np.float32)
         for n in hourglass_outputs(cfg)[0]}
    result = {"command": "step", "backend": keras.backend.backend(), "config": str(config_path),
              "batch": batch, "input_size": size}
    for policy in precisions:
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        model = build_hourglass(cfg)
        model.compile(optimizer=keras.optimizers.Adam(2.5e-4), loss=hourglass_outputs(cfg)[1],
                      jit_compile=True)
        t0 = time.perf_counter()
        for _ in range(warmup):
            model.train_on_batch(x, y)
        t1 = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, y)
        loss = float(np.ravel(loss)[0])  # returns only once the device has finished the steps
        t2 = time.perf_counter()
        result[policy] = {"examples_per_s": round(steps * batch / (t2 - t1), 1),
                          "step_ms": round(1000 * (t2 - t1) / steps, 2),
                          "warmup_s": round(t1 - t0, 1), "params": model.count_params(),
                          "final_loss": loss}
        print(json.dumps({policy: result[policy]}), flush=True)
    keras.mixed_precision.set_global_policy("float32")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export")
    p.add_argument("data_dir")
    p.add_argument("out")
    p = sub.add_parser("train")
    p.add_argument("npz")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--epochs", type=int, default=None, help="default: the config's")
    p.add_argument("--minutes", type=float, default=None, help="stop after this much wall time")
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="first N persons per split (smoke)")
    p = sub.add_parser("step")
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--precisions", default="float32,mixed_float16,mixed_bfloat16")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "export":
        result = export(args.data_dir, args.out)
    elif args.command == "train":
        epochs = args.epochs or config_lib.load(args.config, args.overrides).train.epochs
        result = train(args.npz, args.config, args.overrides, epochs, args.minutes,
                       args.eval_every, args.seed, args.limit)
    else:
        result = step(args.config, args.overrides, args.batch, args.precisions.split(","),
                      args.steps, args.warmup)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
