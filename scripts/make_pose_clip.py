"""Measurement clips with known joints, made from real photos: a pan/zoom/rotate clip and a cut clip.

    python scripts/make_pose_clip.py OUT_DIR [--seconds 10 --fps 25 --size 640x480]
        [--joints ../shared/lspet/joints.mat --images ../shared/lspet/images]
        [--dataset tfrecords/lspet160 --split val] [--photos 5] [--skip 0]

Writes, from LSPET photos of the ``val`` split (never trained on by the shipped ``lspet``):

* ``OUT/pan.mp4``: one photo, moved by a smooth affine map per frame (the view pans around the
  person by a quarter of their size, zooms between 0.45 and 0.85 of the frame height, rotates
  +-15 degrees; slow sines), ``--seconds`` at ``--fps``, ``--size`` (H.264).
* ``OUT/cuts.mp4``: ``--photos`` photos in turn, each for an equal share of the time with its
  own gentle motion, hard cuts between them (tracking must find the new person).
* ``OUT/NAME.gt.jsonl`` beside each: per frame ``{"frame", "time_s", "photo", "segment",
  "keypoints": 16 x [x, y] (frame pixels, 0-based, centres at integers), "annotated": 16 bool
  (annotated in the photo and inside the frame)}``.

The photo is resampled by PIL's bilinear affine transform in continuous coordinates, and the
joints go through the same map, so the ground truth is exact up to the annotation itself.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LSP_JOINTS = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15]  # the 14 LSP joints, MPII order


def val_photos(dataset: str, split: str, joints: str, images: str, count: int,
               min_side: int = 200) -> list:
    """``count`` photos of ``split`` with all 14 LSP joints annotated and a short side of at
    least ``min_side`` px, the largest persons first: [(path, joints 16 x 2, annotated 16)]."""
    from PIL import Image

    from tfpose.datasets import readers, shards

    names = sorted({ex["image/filename"].decode() for ex in shards.iter_examples(dataset, split)})
    by_name = {r.image_name: r for r in readers.read_annotations(joints).records}
    chosen = []
    for name in names:
        rec = by_name.get(name)
        if rec is None or not np.asarray(rec.annotated)[LSP_JOINTS].all():
            continue
        path = Path(images) / name
        with Image.open(path) as image:
            width, height = image.size
        if min(width, height) < min_side:
            continue
        xy = np.asarray(rec.joints, np.float64)[LSP_JOINTS]
        extent = float((xy.max(0) - xy.min(0)).max())
        chosen.append((extent / max(width, height), path, np.asarray(rec.joints, np.float64),
                       np.asarray(rec.annotated, bool)))
    chosen.sort(key=lambda c: -c[0])
    return [c[1:] for c in chosen[:count]]


def affine(centre, scale: float, angle: float, out_centre) -> tuple:
    """Forward map (A 2 x 2, b 2) of photo index coords to frame index coords: the photo point
    ``centre`` lands on ``out_centre``, scaled by ``scale``, rotated by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    a = scale * np.array([[c, -s], [s, c]])
    return a, np.asarray(out_centre, np.float64) - a @ np.asarray(centre, np.float64)


def render(photo, a, b, size) -> np.ndarray:
    """The frame: PIL samples input (continuous coords, pixel centres at +0.5) at
    ``inv(A) (out_c - 0.5 - b) + 0.5`` for each output point ``out_c``."""
    from PIL import Image

    inv = np.linalg.inv(a)
    offset = -inv @ (b + 0.5) + 0.5
    data = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
    return np.asarray(photo.transform(size, Image.AFFINE, data, resample=Image.BILINEAR))


def person_frame(joints, annotated):
    """(centre 2, extent): the joints' box centre and 1.25 x its larger side."""
    xy = joints[annotated]
    low, high = xy.min(0), xy.max(0)
    return (low + high) / 2.0, max(1.25 * float((high - low).max()), 40.0)


def motion(t: float, period: float, size, extent: float, strength: float = 1.0) -> tuple:
    """(pan offset in person units 2, scale so the person spans a fraction of the frame
    height, angle) at ``t`` seconds: slow sines, one zoom cycle per ``period``."""
    w, h = size
    phase = 2.0 * math.pi * t / period
    pan = strength * np.array([0.25 * math.sin(phase), 0.15 * math.sin(2.0 * phase + 1.0)])
    fraction = 0.65 + strength * 0.2 * math.sin(phase + 0.5)
    angle = strength * math.radians(15.0) * math.sin(1.5 * phase)
    return pan, fraction * h / extent, angle


def write_clip(path: Path, segments, seconds: float, fps: int, size, strength: float) -> int:
    """Frames of ``segments`` (photos shown one after another, equal time) and their truth."""
    from PIL import Image

    from tfpose.serving.video import VideoWriter

    total = int(round(seconds * fps))
    per = int(math.ceil(total / len(segments)))
    writer = VideoWriter(path, fps, *size)
    gt_path = path.with_suffix(".gt.jsonl")
    with open(gt_path, "w") as gt:
        for index in range(total):
            seg = min(index // per, len(segments) - 1)
            photo_path, joints, annotated = segments[seg]
            with Image.open(photo_path) as photo:
                photo = photo.convert("RGB")
            centre, extent = person_frame(joints, annotated)
            t = index / fps
            pan, scale, angle = motion(t - seg * per / fps, seconds / len(segments) * 2.0
                                       if len(segments) > 1 else seconds, size, extent, strength)
            a, b = affine(centre + pan * extent, scale, angle, (size[0] / 2.0, size[1] / 2.0))
            writer.write(render(photo, a, b, size))
            xy = joints @ a.T + b
            inside = (xy[:, 0] >= 0) & (xy[:, 0] <= size[0] - 1) & (xy[:, 1] >= 0) \
                & (xy[:, 1] <= size[1] - 1)
            gt.write(json.dumps({"frame": index, "time_s": round(t, 6), "photo": photo_path.name,
                                 "segment": seg, "keypoints": np.round(xy, 3).tolist(),
                                 "annotated": (annotated & inside).tolist()}) + "\n")
    writer.close()
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--photos", type=int, default=5, help="Photos of the cut clip.")
    parser.add_argument("--skip", type=int, default=0,
                        help="Skip the first N usable photos (another set: tuning clips).")
    parser.add_argument("--joints", default=str(ROOT.parent / "shared" / "lspet" / "joints.mat"))
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "lspet" / "images"))
    parser.add_argument("--dataset", default=str(ROOT / "tfrecords" / "lspet160"))
    parser.add_argument("--split", default="val")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    photos = val_photos(args.dataset, args.split, args.joints, args.images,
                        args.skip + args.photos + 1)[args.skip:]
    if len(photos) < args.photos + 1:
        raise SystemExit(f"only {len(photos)} usable {args.split} photos")
    pan = write_clip(out / "pan.mp4", photos[:1], args.seconds, args.fps, size, 1.0)
    cuts = write_clip(out / "cuts.mp4", photos[1:], args.seconds, args.fps, size, 0.5)
    print(json.dumps({"pan": {"frames": pan, "photo": photos[0][0].name},
                      "cuts": {"frames": cuts, "photos": [p[0].name for p in photos[1:]]},
                      "size": list(size), "fps": args.fps, "split": args.split}))


if __name__ == "__main__":
    main()
