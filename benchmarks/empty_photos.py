"""Photos with nobody in them (issue 33: "a landscape, an empty room, noise gets ``persons:
[]``"): how many people each person detector finds there, and its top score.

    .venv/bin/python benchmarks/empty_photos.py --detector person-detector \
        [--detector runs/person-detector-l10 ...] [--noise 24] [--seed 0] \
        [--photo runs/multi-person-set/images/nobody-0001.jpg ...]

Made photos (seeded, the same on every run), in four groups:
- ``noise``: uniform RGB noise, ``--noise`` photos at sizes a user meets (square, 4:3, 16:9 and
  a 2.5:1 panorama, which the detector also reads in tiles);
- ``sensor noise``: a flat mid-grey frame under strong Gaussian noise (a dark room pushed up);
- ``flat``: black, white, grey and one colour each, and horizontal / vertical ramps;
- ``texture``: smoothed noise at three scales (foliage, gravel, clouds).
``--photo FILE`` adds real photos checked by eye to show nobody (the ``photos`` group: for the
check set, its nobody strips 0001, 0002, 0023 and 0035; the others show unannotated people).

Per detector and group: the photos where ``tfpose predict`` finds someone (the detector at
``people.MIN_SCORE``, then, where it finds no one, ``--pose``'s sure one-person answer:
``serving/whole_photo.py``; ``--no-nobody-found``: the detector alone), and the highest score
any detector box reached (the margin under the threshold). Each model runs as ``tfpose
predict`` runs it (its LiteRT twin when it has one). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

SIZES = ((384, 384), (480, 640), (360, 640), (256, 640))  # H x W: square, 4:3, 16:9, panorama


def _smooth(field: np.ndarray, cell: int) -> np.ndarray:
    """Blocky noise ``field`` (h x w x 3) scaled up by ``cell`` with bilinear weights: texture."""
    from PIL import Image

    h, w = field.shape[:2]
    image = Image.fromarray(field).resize((w * cell, h * cell), Image.BILINEAR)
    return np.asarray(image)


def made_photos(noise: int = 24, seed: int = 0) -> dict:
    """``{group: [(name, H x W x 3 uint8), ...]}``, the same for the same ``noise`` and ``seed``."""
    rng = np.random.default_rng(seed)
    groups = {"noise": [], "sensor noise": [], "flat": [], "texture": []}
    for i in range(noise):
        h, w = SIZES[i % len(SIZES)]
        groups["noise"].append((f"noise-{i:02d}", rng.integers(0, 256, (h, w, 3), np.uint8)))
    for i, (h, w) in enumerate(SIZES):
        grey = 128 + rng.normal(0, 48, (h, w, 3))
        groups["sensor noise"].append((f"sensor-{i}", np.clip(grey, 0, 255).astype(np.uint8)))
    h, w = SIZES[1]
    for name, colour in (("black", 0), ("white", 255), ("grey", 128), ("colour", (40, 90, 160))):
        groups["flat"].append((name, np.full((h, w, 3), colour, np.uint8)))
    across = np.tile(np.linspace(0, 255, w), (h, 1))
    down = np.tile(np.linspace(0, 255, h)[:, None], (1, w))
    for name, ramp in (("ramp-x", across), ("ramp-y", down)):
        groups["flat"].append((name, np.repeat(ramp[..., None], 3, 2).astype(np.uint8)))
    for cell in (4, 16, 64):
        field = rng.integers(0, 256, (-(-h // cell), -(-w // cell), 3), np.uint8)
        groups["texture"].append((f"texture-{cell}", _smooth(field, cell)[:h, :w]))
    return groups


def score(finder, photos: list) -> dict:
    """``photos`` [(name, pixels or encoded bytes)] -> the photos where ``finder`` (a
    ``people.PeoplePredictor``) finds someone, and the top box score of its detector (asked
    down to score 0.01, so the margin shows)."""
    found, top = [], 0.0
    for name, pixels in photos:
        _, scores = finder.detector([pixels], [name], min_score=0.01)[0][:2]
        top = max(top, float(np.max(scores, initial=0.0)))
        if len(finder([pixels], [name])[0]):
            found.append(name)
    return {"photos": len(photos), "with someone": found, "top score": round(top, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detector", action="append", required=True)
    parser.add_argument("--noise", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photo", action="append", type=Path, default=[])
    parser.add_argument("--pose", default="lspet")
    parser.add_argument("--nobody-found", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    from tfpose.serving import people
    from tfpose.serving.predict import make_predictor

    groups = made_photos(args.noise, args.seed)
    if args.photo:
        groups["photos"] = [(str(path), path.read_bytes()) for path in args.photo]
    results = {}
    pose = make_predictor(args.pose)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; pose {args.pose}; one-person "
          f"answer where no one is found: {args.nobody_found}\n")
    print("| detector | " + " | ".join(f"{g} ({len(p)})" for g, p in groups.items()) + " |")
    print("|---|" + "---|" * len(groups))
    for name in args.detector:
        finder = people.every_person(pose, name, nobody_found=args.nobody_found)
        results[name] = {group: score(finder, photos) for group, photos in groups.items()}
        cells = [f"{len(r['with someone'])} found, top {r['top score']:.3f}"
                 for r in results[name].values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
