"""Build the multi-person check set of issue 33: images composed from VALIDATION photos only, the
way the detector's training images are (``input/mosaic.py``, fixed seed), images without anyone
(strips of val photos beside their person), plus the 5 real MPII sample photos; with
``--side-by-side N``, N images of 2-4 whole val photos placed side by side instead (as the
issue's held-back multi-person photos were made).

Usage: python scripts/make_multi_person_set.py OUT [--images 300] [--nobody 50] [--size 384]
       [--side-by-side 0 --height 256] [--seed 0]
       [--data tfrecords/lspet256 --data tfrecords/lsp256] [--mpii ../shared/mpii/sample]

Writes ``OUT/images/*.jpg`` (JPEG quality 95) and ``OUT/persons.json``: per image its file,
``complete`` (every person in it annotated: true for the composed images; false for MPII's,
which annotate one person and show others) and its persons, each ``box`` (x0, y0, x1, y1: the
joints' box grown by ``person_box.MARGIN``), ``keypoints`` 16 x [x, y] and ``annotated`` 16 in
0-based pixels, and ``ignore`` (a pasted person mostly covered by later ones: neither to be
found nor a false find). ``benchmarks/multi_person.py`` scores models on it. The same arguments
rebuild the same set.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import numpy as np


def composed_images(data_dirs, count: int, size: int, seed: int):
    """``count`` composed images from the val splits of ``data_dirs`` (their photos chained in
    file order, grouped 1 + max_persons at a time, repeating when there are too few)."""
    import tensorflow as tf

    from tfpose import config as config_lib
    from tfpose.input import mosaic

    mosaic_cfg = config_lib.MosaicConfig()
    streams = []
    for folder in data_dirs:
        cfg = config_lib.from_dict({"data": {"dir": str(folder)}})
        records, side = mosaic.photo_records(cfg, "val")
        streams.append(records.map(lambda ex, side=side: mosaic.decode_photo(ex, side)))
    sides = {int(s.element_spec["image"].shape[0]) for s in streams}
    if len(sides) != 1:
        raise SystemExit(f"--data folders must share one stored size. Received: {sorted(sides)}")
    ds = streams[0]
    for more in streams[1:]:
        ds = ds.concatenate(more)
    ds = ds.repeat().batch(1 + mosaic_cfg.max_persons, drop_remainder=True).take(count)
    ds = ds.enumerate().map(lambda i, group: mosaic.compose(
        group, tf.stack([tf.constant(seed, tf.int64), i]), size, mosaic_cfg))
    for example in ds:
        yield {key: value.numpy() for key, value in example.items()}


def nobody_images(data_dirs, count: int, size: int, seed: int):
    """``count`` images without an annotated person: the largest strip of a val photo beside its
    person's box, stretched over the image (the detector's training backgrounds), or the
    photo's mean colour where no strip is 8 px wide. LSPET's crowds may leave a bystander in
    a strip: look at the images before reading a find there as false."""
    import tensorflow as tf

    from tfpose import config as config_lib
    from tfpose.input import mosaic

    for folder in data_dirs[:1]:
        cfg = config_lib.from_dict({"data": {"dir": str(folder)}})
        records, side = mosaic.photo_records(cfg, "val")
        photos = records.map(lambda ex: mosaic.decode_photo(ex, side))
        for i, photo in enumerate(photos.skip(1).take(count)):  # not the first composed ones
            u = tf.random.stateless_uniform([mosaic.NUM_DRAWS], seed=[seed + 1, i])
            _, picture, _ = mosaic.background(photo["image"], photo["keypoints"],
                                              photo["annotated"], photo["extent"], u, size,
                                              tf.constant(False))
            yield picture.numpy()


def val_photos(data_dirs):
    """Every val photo of ``data_dirs`` as stored (its letterbox cut away): ``(image uint8
    H x W x 3, keypoints K x 3, annotated K)`` in its pixels, in file order."""
    from tfpose import config as config_lib
    from tfpose.input import mosaic

    for folder in data_dirs:
        cfg = config_lib.from_dict({"data": {"dir": str(folder)}})
        records, side = mosaic.photo_records(cfg, "val")
        for photo in records.map(lambda ex, side=side: mosaic.decode_photo(ex, side)):
            x0, y0, x1, y1 = np.round(photo["extent"].numpy()).astype(int)
            x0, y0 = max(x0, 0), max(y0, 0)
            keypoints = photo["keypoints"].numpy() - np.array([x0, y0, 0], np.float32)
            yield photo["image"].numpy()[y0:y1, x0:x1], keypoints, photo["annotated"].numpy()


def side_by_side_images(data_dirs, count: int, height: int, seed: int):
    """``count`` images of 2-4 whole val photos placed side by side at one ``height`` (the
    issue's held-back multi-person photos were made this way): ``(image, [(keypoints K x 3,
    annotated K), ...])``, photos drawn without repeats (seeded) until they run out."""
    from PIL import Image

    photos = list(val_photos(data_dirs))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photos))
    taken = 0
    for _ in range(count):
        n = int(rng.integers(2, 5))
        if taken + n > len(order):
            return
        row, persons, x = [], [], 0.0
        for index in order[taken:taken + n]:
            image, keypoints, annotated = photos[index]
            scale = height / image.shape[0]
            width = max(1, int(round(image.shape[1] * scale)))
            row.append(np.asarray(Image.fromarray(image).resize((width, height),
                                                                Image.Resampling.LANCZOS)))
            # Pixel centres at integers: a resize by s maps x to (x + 0.5) s - 0.5.
            moved = keypoints.copy()
            moved[:, 0] = (keypoints[:, 0] + 0.5) * (width / image.shape[1]) - 0.5 + x
            moved[:, 1] = (keypoints[:, 1] + 0.5) * scale - 0.5
            persons.append((moved, annotated))
            x += width
        taken += n
        yield np.concatenate(row, axis=1), persons


def _person(box, keypoints, annotated, ignore=False) -> dict:
    return {"box": np.round(np.asarray(box, np.float64), 2).tolist(),
            "keypoints": np.round(np.asarray(keypoints, np.float64)[:, :2], 2).tolist(),
            "annotated": np.asarray(annotated).astype(int).tolist(), "ignore": bool(ignore)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", action="append", default=None)
    parser.add_argument("--nobody", type=int, default=50,
                        help="images without anyone (strips of val photos beside their person)")
    parser.add_argument("--side-by-side", type=int, default=0,
                        help="images of 2-4 whole val photos side by side (bystanders in them "
                             "are not annotated: extra skeletons there are not counted)")
    parser.add_argument("--height", type=int, default=256,
                        help="the side-by-side images' height")
    parser.add_argument("--mpii", type=Path, default=Path("../shared/mpii/sample"))
    args = parser.parse_args(argv)
    from PIL import Image

    data = args.data or ["tfrecords/lspet256", "tfrecords/lsp256"]
    folder = args.out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, ex in enumerate(composed_images(data, args.images, args.size, args.seed)):
        name = f"mosaic-{i:04d}.jpg"
        buf = io.BytesIO()
        Image.fromarray(np.clip(np.round(ex["image"]), 0, 255).astype(np.uint8)).save(
            buf, format="JPEG", quality=95)
        (folder / name).write_bytes(buf.getvalue())
        persons = [_person(ex["boxes"][j], ex["keypoints"][j], ex["annotated"][j] > 0,
                           ignore=ex["box_valid"][j] == 0)
                   for j in range(len(ex["boxes"])) if ex["annotated"][j].sum() > 0]
        entries.append({"file": f"images/{name}", "width": args.size, "height": args.size,
                        "complete": True, "source": "composed", "persons": persons})
    for i, picture in enumerate(nobody_images(data, args.nobody, args.size, args.seed)):
        name = f"nobody-{i:04d}.jpg"
        Image.fromarray(np.clip(np.round(picture), 0, 255).astype(np.uint8)).save(
            folder / name, quality=95)
        entries.append({"file": f"images/{name}", "width": args.size, "height": args.size,
                        "complete": True, "source": "nobody", "persons": []})
    from tfpose.input.mosaic import joint_boxes

    if args.side_by_side:
        for i, (image, persons) in enumerate(side_by_side_images(data, args.side_by_side,
                                                                 args.height, args.seed)):
            name = f"side-by-side-{i:04d}.jpg"
            Image.fromarray(image).save(folder / name, quality=95)
            boxes, _ = joint_boxes(np.stack([k for k, _ in persons]),
                                   np.stack([a for _, a in persons]))
            entries.append({"file": f"images/{name}", "width": image.shape[1],
                            "height": image.shape[0], "complete": False,
                            "source": "side-by-side",
                            "persons": [_person(b, k, a > 0)
                                        for b, (k, a) in zip(boxes.numpy(), persons)]})
    if (args.mpii / "mpii_sample.mat").exists():
        from tfpose.datasets import mpii

        for rec in mpii.read_annotations(args.mpii / "mpii_sample.mat"):
            source = args.mpii / "images" / rec.image_name
            if not source.exists():
                continue
            shutil.copyfile(source, folder / f"mpii-{rec.image_name}")
            width, height = Image.open(source).size
            box, _ = joint_boxes(rec.joints[None], rec.annotated[None])
            entries.append({"file": f"images/mpii-{rec.image_name}", "width": width,
                            "height": height, "complete": False, "source": "mpii",
                            "persons": [_person(box.numpy()[0], rec.joints, rec.annotated)]})
    summary = {"arguments": {"images": args.images, "nobody": args.nobody, "size": args.size,
                             "side_by_side": args.side_by_side, "height": args.height,
                             "seed": args.seed,
                             "data": data, "split": "val", "mpii": str(args.mpii)},
               "images": entries}
    (args.out / "persons.json").write_text(json.dumps(summary, indent=1))
    counts = np.bincount([sum(not p["ignore"] for p in e["persons"]) for e in entries])
    print(f"{len(entries)} images in {args.out}; images by people to find: "
          + ", ".join(f"{n}: {c}" for n, c in enumerate(counts) if c))
    return 0


if __name__ == "__main__":
    import sys

    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main())
