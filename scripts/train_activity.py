"""Train and score the joints-only activity model that ``tfpose predict --activity`` attaches.

    python scripts/train_activity.py configs/joints_pairwise.yaml tfrecords/mpii_joints15 \
        runs/activity/lspet_noise.json runs/activity/pairwise

The dataset: ``tfpose convert ../shared/mpii/annotations/mpii_train_annotations.mat
--annotations-only --top-classes 15 --out tfrecords/mpii_joints15``; the noise model:
``scripts/measure_pose_noise.py`` (``none`` trains on clean joints). Trains
(``tfpose.training.activity``), then scores val and test on clean and on noisy joints, prints
the tables and stores them under ``metrics`` in the work dir's ``activity.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("dataset")
    parser.add_argument("noise", help="noise model JSON, or 'none'")
    parser.add_argument("workdir")
    parser.add_argument("--noise-fraction", type=float, default=1.0)
    parser.add_argument("--score-noise", help="noise model to score with (default: NOISE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], help="config override a.b=value")
    args = parser.parse_args(argv)

    from tfpose import config as config_lib
    from tfpose.metrics.classification import format_report
    from tfpose.tasks.workdir import load_workdir_model
    from tfpose.training import activity

    cfg = config_lib.load(args.config, args.set)
    cfg = config_lib.replace(cfg, data=config_lib.replace(cfg.data, dir=args.dataset))
    noise = None if args.noise == "none" else json.loads(Path(args.noise).read_text())
    summary = activity.train(cfg, args.dataset, args.workdir, noise,
                             noise_fraction=args.noise_fraction, seed=args.seed)
    model = load_workdir_model(Path(args.workdir))
    # Scored on noisy joints even when trained clean: the drop is the figure to know.
    scoring_noise = (json.loads(Path(args.score_noise).read_text()) if args.score_noise
                     else noise)
    if scoring_noise is None:
        parser.error("trained on clean joints: give --score-noise to score noisy joints")
    metrics = {}
    for split in ("val", "test"):
        data = activity.load_split(args.dataset, split)
        metrics[split] = activity.score(model, data, scoring_noise)
        for kind in ("clean", "noisy"):
            print(format_report(metrics[split][kind], title=f"== {split}, {kind} joints =="))
        draws = metrics[split]["noisy_draws"]
        print(f"{split}: noisy over {activity.NOISE_DRAWS} draws: top-1 "
              f"{100 * draws['accuracy']['mean']:.2f} ± {100 * draws['accuracy']['std']:.2f} %, "
              f"balanced {100 * draws['balanced_accuracy']['mean']:.2f} ± "
              f"{100 * draws['balanced_accuracy']['std']:.2f} %")
    summary["metrics"] = metrics
    summary["command"] = "python scripts/train_activity.py " + " ".join(argv)
    path = Path(args.workdir) / activity.ACTIVITY_FILE
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({split: {"clean_top1": round(m["clean"]["accuracy"], 4),
                              "clean_balanced": round(m["clean"]["balanced_accuracy"], 4),
                              "noisy_top1": round(m["noisy_draws"]["accuracy"]["mean"], 4),
                              "noisy_balanced": round(m["noisy_draws"]["balanced_accuracy"]["mean"], 4)}
                      for split, m in metrics.items()}))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
