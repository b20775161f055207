"""Shared fixtures: a tiny converted dataset written with the real TFRecord schema.

``tiny_dataset`` is a folder laid out like a ``tfpose convert`` output (``manifest.json``,
``train-00000-of-00001.tfrecord``, ``val-00000-of-00001.tfrecord``) holding 64 x 64 JPEG person
crops with all 16 joints annotated and an action label from two classes. Each joint is drawn as
a bright dot, so a pose model has something to learn. Heavy imports stay inside the helpers so
test modules that never use the fixture do not pay for TensorFlow.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

TINY_SIZE = 64
TINY_CLASSES = ["walking", "running"]


def _jpeg(rng, joints, size):
    from PIL import Image

    image = rng.uniform(0, 60, (size, size, 3)).astype(np.uint8)
    for x, y in joints:
        image[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_tiny_dataset(folder, num_train: int = 8, num_val: int = 4, size: int = TINY_SIZE,
                       seed: int = 0) -> Path:
    """Writes a one-shard-per-split converted dataset into ``folder``; returns it.

    Record ``i`` has label ``i % 2``, 16 annotated joints uniform in [6, size - 6) px (joint
    ``i % 16`` marked occluded), a 2x crop box and head size 20 (original px).
    """
    import tensorflow as tf

    from tfpose.datasets import schema

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts, index = {}, 0
    for split, n in (("train", num_train), ("val", num_val)):
        labels = [i % len(TINY_CLASSES) for i in range(n)]
        counts[split] = {c: labels.count(i) for i, c in enumerate(TINY_CLASSES)}
        with tf.io.TFRecordWriter(str(folder / f"{split}-00000-of-00001.tfrecord")) as writer:
            for label in labels:
                joints = rng.uniform(6, size - 6, (16, 2)).astype(np.float32)
                visible = np.ones(16, np.int64)
                visible[index % 16] = 0
                writer.write(schema.encode_example({
                    "image/encoded": _jpeg(rng, joints, size),
                    "image/filename": f"img{index:03d}.jpg",
                    "image/height": size, "image/width": size,
                    "image/index": index, "person/index": 0,
                    "person/keypoints": np.concatenate([joints, visible[:, None]], axis=1),
                    "person/annotated": np.ones(16, np.int64), "person/visible": visible,
                    "person/head_size": 20.0,
                    "person/crop_box": [0.0, 0.0, 2.0 * size, 2.0 * size],
                    "person/center": [float(size), float(size)], "person/scale": 0.6,
                    "action/label": label, "action/name": TINY_CLASSES[label],
                }))  # fmt: skip
                index += 1
    manifest = {"classes": TINY_CLASSES, "counts": counts, "image_size": size,
                "num_records": {"train": num_train, "val": num_val}}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A tiny converted dataset (8 train + 4 val records, 64 x 64 images, 2 classes)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny_dataset"))
