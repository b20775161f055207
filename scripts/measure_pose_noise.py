"""Measure how far a pose model's joints land from the truth on held-out photos: the noise
model the activity classifier trains with (``tfpose.input.pose_noise``).

Usage: python scripts/measure_pose_noise.py MODEL JOINTS_MAT IMAGES_DIR DATASET_DIR OUT_JSON [SPLIT
[MIN_SCORE]]

Runs ``tfpose predict``'s code (whole photos, two passes, as a user's photo is predicted) on
the original photos of SPLIT (default ``val``: never the photos the pose model trained on) of
a converted LSP-format dataset, compares the 16 MPII joints with the annotation file's (LSP's
14, plus pelvis and thorax as the midpoints of the hips and of the shoulders, as the converter
makes them) in units of the true person box's side, and writes the fitted noise model to
OUT_JSON. The predictions are cached beside it (``OUT_JSON`` with ``.npz``), so a second run
only refits.

    python scripts/measure_pose_noise.py lspet ../shared/lspet/joints.mat \
        ../shared/lspet/images tfrecords/lspet256 runs/activity/lspet_noise.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def predictions(model, mat, images_dir, dataset, split, cache: Path):
    """(names, predicted N x 16 x 2, scores N x 16, true N x 16 x 2, annotated N x 16)."""
    from tfpose.datasets import readers, shards

    names = sorted({ex["image/filename"].decode() for ex in shards.iter_examples(dataset, split)})
    by_name = {r.image_name: r for r in readers.read_annotations(mat).records}
    records = [by_name[n] for n in names]
    true = np.stack([r.joints for r in records]).astype(np.float32)
    annotated = np.stack([r.annotated for r in records]).astype(bool)
    if cache.is_file():
        cached = np.load(cache)
        if list(cached["names"]) == names:
            return names, cached["keypoints"], cached["scores"], true, annotated
    from tfpose.serving.predict import predict_files

    answers = list(predict_files(model, [Path(images_dir) / n for n in names], batch_size=16))
    keypoints = np.asarray([a["keypoints"] for a in answers], np.float32)
    scores = np.asarray([a["scores"] for a in answers], np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, names=np.asarray(names), keypoints=keypoints, scores=scores)
    return names, keypoints, scores, true, annotated


def main(argv) -> int:
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    model, mat, images_dir, dataset, out = argv[:5]
    split = argv[5] if len(argv) > 5 else "val"
    # Joints scored under MIN_SCORE reach the classifier as missing; the classifier trained
    # on this model must read photos with the same bar (training.activity records it).
    min_score = float(argv[6]) if len(argv) > 6 else None
    from tfpose.input import pose_noise

    out = Path(out)
    names, keypoints, scores, true, annotated = predictions(
        model, mat, images_dir, dataset, split, out.with_suffix(".npz"))
    noise = pose_noise.measure(keypoints, scores, true, annotated,
                               min_score=pose_noise.MIN_SCORE if min_score is None else min_score)
    noise["source"] = {"model": str(model), "annotations": str(mat), "dataset": str(dataset),
                       "split": split, "photos": len(names)}
    out.write_text(json.dumps(noise, indent=2) + "\n")
    print(pose_noise.format_table(noise))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
