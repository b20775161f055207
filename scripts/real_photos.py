"""Pose models on the 5 real MPII photos of ``tests/data/mpii_sample``: drawings and PCKh.

Usage: python scripts/real_photos.py OUT_DIR MODEL [MODEL ...]

Each MODEL (a shipped name such as ``lspet``, a work dir or an export) predicts every annotated
person, framed by the converter's person box (``crops.crop_box``, from the annotation's centre
and scale), through ``tfpose predict``'s code. It writes ``OUT/<model>/<image>-p<k>.png`` (the
model's path with ``/`` as ``_``) and
prints one PCKh@0.5 row per model (head-box normaliser, like Table 1) and one JSON line.
A handful of persons is a sanity check of real-photo behaviour, not a benchmark.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "mpii_sample"


def persons(sample_dir: Path = SAMPLES, min_joints: int = 4):
    """The sample's annotated persons whose image is present: (image path, box, record)."""
    from tfpose.datasets import mpii
    from tfpose.datasets import crops

    found = []
    for rec in mpii.read_annotations(sample_dir / "mpii_sample.mat"):
        path = sample_dir / rec.image_name
        if not path.exists() or int(np.sum(rec.annotated)) < min_joints or not rec.head_size:
            continue
        box = crops.crop_box(rec, "person")
        if box is not None:
            found.append((path, np.asarray(box, np.float32), rec))
    return found


def label(model: str) -> str:
    """A model's name in the table and its drawings' folder: ``lspet``, ``runs_demo_pose``."""
    return str(model).strip("/").replace("/", "_") or "model"


def score(model: str, people, out_dir: Path) -> dict:
    """Predicts each person of ``people`` with ``model``; draws them; returns the PCKh result."""
    from tfpose.metrics import pckh
    from tfpose.serving.predict import draw, predict_files

    paths = [p for p, _, _ in people]
    boxes = np.stack([b for _, b, _ in people])
    target = out_dir / label(model)
    target.mkdir(parents=True, exist_ok=True)
    preds = []
    for k, (rec, (path, box, _)) in enumerate(zip(predict_files(model, paths, boxes=boxes),
                                                  people)):
        preds.append(rec["keypoints"])
        draw(path.read_bytes(), rec, box).save(target / f"{path.stem}-p{k}.png")
    gt = np.stack([r.joints for _, _, r in people])
    missing = ~np.stack([r.annotated for _, _, r in people])
    head = np.array([r.head_size for _, _, r in people])
    return pckh.pckh(np.asarray(preds), gt, head, missing)


def main(argv) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, models = Path(argv[0]), argv[1:]
    people = persons()
    from tfpose.metrics.pckh import PART_ABBREVIATIONS

    print(f"PCKh@0.5 (%) on {len(people)} annotated persons of the {len(set(p for p, _, _ in people))} "
          f"real MPII photos in {SAMPLES.relative_to(ROOT)} (person boxes from the annotations)")
    print(f"{'model':>24}" + "".join(f"{n:>8}" for n in PART_ABBREVIATIONS + ("Mean",)))
    summary = {}
    for model in models:
        result = score(model, people, out_dir)
        cells = list(result["parts"].values()) + [result["mean"]]
        print(f"{label(model):>24}" + "".join(f"{v:8.2f}" for v in cells))
        summary[label(model)] = round(result["mean"], 2)
    print(json.dumps({"real_photos_pckh": summary, "persons": len(people),
                      "drawings": str(out_dir)}))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
