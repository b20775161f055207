"""Score an activity model under replayed real pose errors (``pose_noise.replay``): each
person's joints carry the whole error pattern of one held-out photo's prediction, the check on
the independent parts the model trained and was scored with.

    python scripts/activity_replay_noise.py tfpose/pretrained/mpii-activity tfrecords/mpii_joints15 \
        lspet-val=runs/activity/lspet_noise.npz,../shared/lspet/joints.mat \
        lsp-val=runs/activity/lsp_noise.npz,../shared/lsp/joints.mat [--split test]

The ``.npz`` files are ``scripts/measure_pose_noise.py``'s cached predictions (names,
keypoints, scores) and the ``.mat`` their annotations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def measured_errors(cache, annotations, min_score):
    """(errors M x K x 2, measured M x K, missed M x K) of cached predictions."""
    from tfpose.datasets import readers
    from tfpose.input import pose_noise

    cached = np.load(cache)
    by_name = {r.image_name: r for r in readers.read_annotations(annotations).records}
    records = [by_name[str(n)] for n in cached["names"]]
    true = np.stack([r.joints for r in records])
    annotated = np.stack([r.annotated for r in records]).astype(bool)
    errors, valid = pose_noise.relative_errors(cached["keypoints"], true, annotated)
    scored = cached["scores"] >= min_score
    return errors, valid & scored, valid & ~scored


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("dataset")
    parser.add_argument("sources", nargs="+", metavar="NAME=NPZ,MAT")
    parser.add_argument("--split", default="test")
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    from tfpose.input import pose_noise
    from tfpose.metrics.classification import classification_report
    from tfpose.serving.activity import ActivityModel
    from tfpose.training import activity

    model = ActivityModel.load(args.workdir)
    data = activity.load_split(args.dataset, args.split)
    labelled = data["labels"] >= 0
    kp, ann, labels = (data["keypoints"][labelled], data["annotated"][labelled],
                       data["labels"][labelled])
    print(f"| {args.workdir} ({args.split}) | replayed persons | top-1 | balanced |")
    print("|---|---|---|---|")
    for source in args.sources:
        name, paths = source.split("=", 1)
        cache, annotations = paths.split(",")
        errors, measured, missed = measured_errors(cache, annotations, model.min_score)
        top1, balanced = [], []
        for draw in range(args.draws):
            rng = np.random.default_rng(activity.EVAL_SEED + draw)
            noisy, used = pose_noise.replay(kp, ann, errors, measured, missed, rng)
            framed = activity.framed_inputs(noisy, used, None, None, scale=model.scale)
            report = classification_report(
                labels, activity.predict_probabilities(model.model, framed), data["classes"])
            top1.append(report["accuracy"])
            balanced.append(report["balanced_accuracy"])
        print(f"| {name} errors replayed | {len(errors)} | {100 * np.mean(top1):.1f} ± "
              f"{100 * np.std(top1):.1f} % | {100 * np.mean(balanced):.1f} ± "
              f"{100 * np.std(balanced):.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
