"""The training pipeline a user of AlbumentationsX + OpenCV would write: the peer of
benchmarks/pipeline.py's (a), run in its own environment (AlbumentationsX 2.5 imports PyTorch;
neither belongs in tfpose's), importing nothing of tfpose or TensorFlow:

    ALBUMENTATIONS_PY benchmarks/albumentations_peer.py RECORDS.npz --seconds 10 \
        [--workers 2] [--batch-size 32] [--input-size 256] [--heatmap-size 64]

RECORDS.npz (written by benchmarks/pipeline.py from the same shards): ``jpeg`` (object array
of bytes), ``keypoints`` N x 16 x 2 stored px, ``annotated`` N x 16, ``flip_index`` 16.

Per example, in ``--workers`` processes (as many as the tf.data pipeline has threads): OpenCV
JPEG decode; resize to the input; ``A.Affine`` (rotation +-30 deg, scale 0.75-1.25,
translation +-5 %) and ``A.HorizontalFlip`` (p 0.5) moving the 16 keypoints through
``KeypointParams``, left/right ids swapped after a flip by its ``label_mapping``;
``A.ColorJitter`` (0.2); per-image mean subtraction; 16 Gaussian heatmaps (sigma 2) at
``--heatmap-size``. The parent stacks batches of ``--batch-size``. Prints one JSON line:
``{"albumentations": examples/s}`` after a warm-up of 3 batches.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import numpy as np

_STATE = {}


def _init(path, input_size, heatmap_size, sigma):
    import albumentations as A
    import cv2

    cv2.setNumThreads(1)  # one core per worker process, as each tf.data thread has
    data = np.load(path, allow_pickle=True)
    flip = {int(i): int(j) for i, j in enumerate(data["flip_index"])}
    _STATE.update(
        jpeg=data["jpeg"], keypoints=data["keypoints"], annotated=data["annotated"],
        size=input_size, out=heatmap_size, sigma=sigma, cv2=cv2,
        grid=np.arange(heatmap_size, dtype=np.float32),
        transform=A.Compose(
            [A.Affine(rotate=(-30, 30), scale=(0.75, 1.25), translate_percent=(-0.05, 0.05), p=1.0),
             A.HorizontalFlip(p=0.5),
             A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.0, p=1.0)],
            keypoint_params=A.KeypointParams(
                coord_format="xy", label_fields=["joint"], remove_invisible=False,
                label_mapping={"HorizontalFlip": {"joint": flip}})))


def _example(index):
    s = _STATE
    cv2, size, out = s["cv2"], s["size"], s["out"]
    i = index % len(s["jpeg"])
    image = cv2.imdecode(np.frombuffer(s["jpeg"][i], np.uint8), cv2.IMREAD_COLOR)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    keypoints = s["keypoints"][i] * [size / width, size / height]
    if (height, width) != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    result = s["transform"](image=image, keypoints=keypoints, joint=list(range(16)))
    labels = np.asarray(result["joint"], int)  # after a flip: each point's swapped id
    xy = np.zeros((16, 2), np.float32)
    xy[labels] = result["keypoints"][:, :2]
    annotated = np.zeros(16, np.float32)
    annotated[labels] = s["annotated"][i]
    annotated = annotated * np.all((xy >= 0) & (xy < size), axis=1)
    pixels = result["image"].astype(np.float32)
    pixels -= pixels.mean(axis=(0, 1), keepdims=True)
    centre = xy / (size / out)
    gx = np.exp(-((s["grid"][None, :] - centre[:, :1]) ** 2) / (2 * s["sigma"] ** 2))
    gy = np.exp(-((s["grid"][None, :] - centre[:, 1:]) ** 2) / (2 * s["sigma"] ** 2))
    heatmaps = (gy[:, :, None] * gx[:, None, :]) * annotated[:, None, None]
    return pixels, heatmaps.transpose(1, 2, 0).astype(np.float32), annotated.astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--heatmap-size", type=int, default=64)
    parser.add_argument("--sigma", type=float, default=2.0)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers, _init, (args.records, args.input_size, args.heatmap_size,
                                            args.sigma)) as pool:
        stream = pool.imap(_example, range(10**9), chunksize=8)

        def batch():
            items = [next(stream) for _ in range(args.batch_size)]
            return [np.stack(parts) for parts in zip(*items)]

        for _ in range(3):
            batch()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            batch()
            n += args.batch_size
        rate = n / (time.perf_counter() - start)
        pool.terminate()
    print(json.dumps({"albumentations": round(rate, 1), "workers": args.workers,
                      "batch_size": args.batch_size}))


if __name__ == "__main__":
    main()
