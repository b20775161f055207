"""Score a pose model the way the held-back LSPET photos are scored: whole photos, no box.

Usage: python scripts/score_whole_photos.py MODEL JOINTS_MAT IMAGES_DIR DATASET_DIR [SPLIT] [PASSES]

Runs ``tfpose predict``'s code (``predict_files``, no box: each photo framed as the model's
training data) on the original photos of SPLIT (default ``val``) of a converted dataset, and
(PASSES, default 2: ``tfpose predict --passes``) scores the JSON keypoints against the annotation file in original pixels with PCK@0.2 and
PCKh@0.5 — independent of the records' stored crops. Prints both tables and one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(argv) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    model, mat, images_dir, dataset = argv[:4]
    split = argv[4] if len(argv) > 4 else "val"
    passes = int(argv[5]) if len(argv) > 5 else 2
    from tfpose.datasets import readers
    from tfpose.datasets import shards
    from tfpose.metrics import pck, pckh
    from tfpose.serving.predict import predict_files

    names = sorted({ex["image/filename"].decode() for ex in shards.iter_examples(dataset, split)})
    by_name = {r.image_name: r for r in readers.read_annotations(mat).records}
    records = [by_name[n] for n in names]
    paths = [Path(images_dir) / n for n in names]
    preds = np.asarray([rec["keypoints"] for rec in predict_files(model, paths, batch_size=16, passes=passes)])
    gt = np.stack([r.joints for r in records])
    missing = ~np.stack([r.annotated for r in records])
    head = np.array([r.head_size if r.head_size else np.nan for r in records])
    torso = pck.pck(preds, gt, missing)
    head_result = pckh.pckh(preds, gt, head, missing)
    print(f"{model} on {len(paths)} whole photos of {dataset} [{split}] (no box, {passes} passes)")
    print(pck.format_table(torso))
    print(pckh.format_table(head_result, normalizer="neck to head top length"))
    print(json.dumps({"model": model, "photos": len(paths), "split": split, "passes": passes,
                      **pck.summary(torso), "pckh@0.5_mean": round(head_result["mean"], 4)}))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
