"""Converter throughput: parallel ``tfpose convert`` against a single-process loop.

    .venv/bin/python benchmarks/convert.py --images 200 --workers 2

Writes ``--images`` synthetic 1280x720 JPEGs (noise + shapes, one person record each, person
crops of 150-600 px), then times (a) ``convert.convert`` with ``--workers`` processes and
(b) ``convert --workers 1`` and (c) one process looping over the same decode + crop + resize + JPEG-encode (``crop_image``,
no TFRecord writing). Prints both rates, their ratio, and a final JSON line. Expect close to
2x on 2 idle cores; on a shared machine the ratio drops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_images(folder: Path, count: int, seed: int = 0):
    from PIL import Image, ImageDraw

    from tfpose.datasets import mpii

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(count):
        base = rng.integers(0, 255, (45, 80, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((1280, 720), Image.BILINEAR)
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.integers(0, 1280), rng.integers(0, 720)
            draw.ellipse([x, y, x + rng.integers(20, 200), y + rng.integers(20, 200)],
                         fill=tuple(int(c) for c in rng.integers(0, 255, 3)))  # fmt: skip
        noise = rng.normal(0, 12, (720, 1280, 3))
        image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
        name = f"{i:06d}.jpg"
        image.save(folder / name, quality=90)
        scale = rng.uniform(0.6, 2.4)  # person crop side 150-600 px at margin 1.25
        center = (rng.uniform(200, 1080), rng.uniform(150, 570))
        joints = (np.asarray(center) + rng.normal(0, 40 * scale, (16, 2))).astype(np.float32)
        records.append(mpii.PersonRecord(
            image_name=name, image_index=i, person_index=0, joints=joints,
            annotated=np.ones(16, bool), visible=np.ones(16, bool), head_box=None,
            head_size=None, objpos=center, scale=scale, category="sports",
            activities=("curling",), act_id=1, img_train=True, single_person=True,
            video_index=None, frame_sec=None,
        ))  # fmt: skip
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=256)
    args = parser.parse_args()

    from tfpose.datasets import convert
    from tfpose.datasets import crops

    tmp = Path(tempfile.mkdtemp(prefix="tfpose_bench_"))
    try:
        records = make_images(tmp / "images", args.images)
        import tensorflow  # noqa: F401 - imported before timing, as in any real run

        start = time.perf_counter()
        convert.convert(tmp / "none.mat", tmp / "out", tmp / "images", records=records,
                          split="train", workers=args.workers, image_size=args.image_size,
                          progress=False)  # fmt: skip
        parallel = args.images / (time.perf_counter() - start)

        start = time.perf_counter()
        convert.convert(tmp / "none.mat", tmp / "out1", tmp / "images", records=records,
                          split="train", workers=1, image_size=args.image_size,
                          progress=False)  # fmt: skip
        in_process = args.images / (time.perf_counter() - start)

        start = time.perf_counter()
        for record in records:
            box = crops.crop_box(record, "person", 1.25)
            task = (str(tmp / "images" / record.image_name), [box], args.image_size, 90)
            status, _ = crops.crop_image(task)
            assert status == "ok", status
        single = args.images / (time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = parallel / single
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"parallel convert ({args.workers} workers): {parallel:.1f} images/s")
    print(f"convert --workers 1 (in-process, writes records too): {in_process:.1f} images/s")
    print(f"single-process decode+crop+resize+encode loop: {single:.1f} images/s")
    print(f"ratio: {ratio:.2f}x  ({machine}, load average {os.getloadavg()[0]:.1f})")
    print(json.dumps({"benchmark": "convert", "images": args.images, "workers": args.workers,
                      "image_size": args.image_size, "parallel_images_per_s": round(parallel, 2),
                      "single_images_per_s": round(single, 2),
                      "convert_workers1_images_per_s": round(in_process, 2), "ratio": round(ratio, 3),
                      "machine": machine, "load_average": round(os.getloadavg()[0], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
