"""A measurement clip where two real people cross, with known joints and identities (issue 33).

    python scripts/make_crossing_clip.py OUT_DIR [--seconds 6 --fps 25 --size 640x360]
        [--joints ../shared/lspet/joints.mat --images ../shared/lspet/images]
        [--dataset tfrecords/lspet256 --split val] [--pairs 2]

Writes ``OUT/crossing.mp4`` and ``OUT/crossing.gt.jsonl``. Each of ``--pairs`` segments (hard
cuts between them) shows two LSPET ``val`` photos' athletes (never trained on by the shipped
models), each cut from its photo as the square around its joints (``core.person_box``'s box:
1.25 x their extent) and scaled to 70 % of the frame height, walking towards each other from
the frame's edges, overlapping in the middle (the second one in front) and walking on to the
other side, on a background that is a third photo stretched over the frame. Per frame the
truth is ``{"frame", "time_s", "segment", "persons": [{"id", "keypoints": 16 x [x, y] (frame
px, centres at integers), "annotated": 16 bool (annotated, inside the frame and, for the one
behind, not under the one in front)}]}``; ``id`` is who the person is (0 or 1 in the first
segment, 2 or 3 in the second, ...), so ``benchmarks/tracks.py`` counts identity switches.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

HEIGHT_SHARE = 0.7  # a person's square is this share of the frame height
MARGIN = 1.25  # the pose crops' square around the joints (core.person_box.MARGIN)


def cut_person(path: Path, joints: np.ndarray, annotated: np.ndarray, side: int):
    """(RGB side x side crop, joints in crop pixels): the square of MARGIN x the joints'
    extent about their centre, scaled to ``side`` px (PIL; pixel centres at +0.5)."""
    from PIL import Image

    xy = joints[annotated]
    centre = (xy.min(0) + xy.max(0)) / 2
    extent = MARGIN * float((xy.max(0) - xy.min(0)).max())
    x0, y0 = centre - extent / 2
    with Image.open(path) as photo:
        crop = photo.convert("RGB").transform(
            (side, side), Image.EXTENT, (x0, y0, x0 + extent, y0 + extent), Image.BILINEAR)
    scale = side / extent
    return np.asarray(crop), (joints + 0.5 - [x0, y0]) * scale - 0.5


def main(argv=None):
    from PIL import Image, ImageFilter

    from make_pose_clip import val_photos

    from tfpose.serving.video import VideoWriter

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seconds", type=float, default=6.0, help="per pair")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--joints", default="../shared/lspet/joints.mat")
    parser.add_argument("--images", default="../shared/lspet/images")
    parser.add_argument("--dataset", default="tfrecords/lspet256")
    parser.add_argument("--split", default="val")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    photos = val_photos(args.dataset, args.split, args.joints, args.images, 3 * args.pairs)
    side = int(HEIGHT_SHARE * height)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    writer = VideoWriter(args.out_dir / "crossing.mp4", args.fps, width, height)
    frames_per_pair = int(round(args.seconds * args.fps))
    index = 0
    with open(args.out_dir / "crossing.gt.jsonl", "w") as gt:
        for pair in range(args.pairs):
            first, second, scene = photos[3 * pair: 3 * pair + 3]
            with Image.open(scene[0]) as photo:  # blurred: its own athlete is no third person
                background = np.asarray(photo.convert("RGB").resize(
                    (width, height), Image.BILINEAR).filter(ImageFilter.GaussianBlur(24)))
            people = [cut_person(p, j, a, side) for p, j, a in (first, second)]
            annotated = [first[2], second[2]]
            top = (height - side) // 2
            for k in range(frames_per_pair):
                share = k / (frames_per_pair - 1)
                # Left to right and right to left, from just inside the edges.
                lefts = [int(round(share * (width - side))),
                         int(round((1 - share) * (width - side)))]
                canvas = background.copy()
                for who in (0, 1):  # the second one in front: drawn last
                    canvas[top:top + side, lefts[who]:lefts[who] + side] = people[who][0]
                persons = []
                for who in (0, 1):
                    xy = people[who][1] + [lefts[who], top]
                    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) \
                        & (xy[:, 1] <= height - 1)
                    hidden = np.zeros(16, bool)
                    if who == 0:  # behind: its joints under the front one's square are hidden
                        hidden = (xy[:, 0] >= lefts[1] - 0.5) & (xy[:, 0] < lefts[1] + side - 0.5)
                    persons.append({"id": 2 * pair + who, "keypoints": np.round(xy, 3).tolist(),
                                    "annotated": (annotated[who] & inside & ~hidden).tolist()})
                writer.write(canvas)
                gt.write(json.dumps({"frame": index, "time_s": round(index / args.fps, 6),
                                     "segment": pair, "persons": persons}) + "\n")
                index += 1
    writer.close()
    print(f"{args.out_dir / 'crossing.mp4'}: {index} frames, {args.pairs} pairs crossing")


if __name__ == "__main__":
    main()
