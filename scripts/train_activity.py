"""Train and score the joints-only activity model that ``tfpose predict --activity`` attaches.

    python scripts/train_activity.py configs/joints_pairwise.yaml tfrecords/mpii_joints15 \
        lspet-val=runs/activity/lspet_noise.json runs/activity/pairwise \
        --score-noise lspet-val=runs/activity/lspet_noise.json \
        --score-noise lsp-val=runs/activity/lsp_noise.json

The dataset: ``tfpose convert ../shared/mpii/annotations/mpii_train_annotations.mat
--annotations-only --top-classes 15 --out tfrecords/mpii_joints15``; the noise models:
``scripts/measure_pose_noise.py`` (NOISE ``none`` trains on clean joints). Trains
(``tfpose.training.activity``; ``--score-only`` skips it), then scores val and test on clean
joints and on joints jittered by each ``--score-noise`` model, prints the tables and stores
them under ``metrics`` in the work dir's ``activity.json``.
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
    parser.add_argument("noise", help="noise model(s) to train with: NAME=PATH[,NAME=PATH], "
                        "or 'none'")
    parser.add_argument("workdir")
    parser.add_argument("--noise-fraction", type=float, default=1.0,
                        help="share of each epoch's persons whose joints are noised")
    parser.add_argument("--score-noise", action="append", default=[], metavar="NAME=PATH",
                        help="a noise model to score with (repeatable; default: NOISE)")
    parser.add_argument("--score-only", action="store_true", help="score WORKDIR, no training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", default="box", choices=("box", "body"),
                        help="the joints' frame (core.joint_frame.SCALES)")
    parser.add_argument("--splits", default="train",
                        help="splits to train on, comma-separated; with val in them the last "
                        "epoch is kept (the shipped model: train,val,test), and the val and "
                        "test scores printed are on persons it trained on")
    parser.add_argument("--set", action="append", default=[], help="config override a.b=value")
    args = parser.parse_args(argv)

    from tfpose import config as config_lib
    from tfpose.metrics.classification import format_report
    from tfpose.tasks.workdir import load_workdir_model
    from tfpose.training import activity

    training = {} if args.noise == "none" else dict(i.split("=", 1) for i in args.noise.split(","))
    noise = {name: json.loads(Path(path).read_text()) for name, path in training.items()}
    scoring = dict(item.split("=", 1) for item in args.score_noise) or training
    if not scoring:
        parser.error("trained on clean joints: give --score-noise NAME=PATH to score noisy joints")
    noises = {name: json.loads(Path(path).read_text()) for name, path in scoring.items()}
    path = Path(args.workdir) / activity.ACTIVITY_FILE
    if args.score_only:
        summary = json.loads(path.read_text())
    else:
        cfg = config_lib.load(args.config, args.set)
        cfg = config_lib.replace(cfg, data=config_lib.replace(cfg.data, dir=args.dataset))
        summary = activity.train(cfg, args.dataset, args.workdir, noise,
                                 noise_fraction=args.noise_fraction, seed=args.seed,
                                 scale=args.scale, splits=tuple(args.splits.split(",")))
        summary["command"] = "python scripts/train_activity.py " + " ".join(argv)
    model = load_workdir_model(Path(args.workdir))
    metrics, brief = {}, {}
    for split in ("val", "test"):
        data = activity.load_split(args.dataset, split)
        metrics[split] = m = activity.score(model, data, noises,
                                            scale=summary["framing"].get("scale", "box"))
        print(format_report(m["clean"], title=f"== {split}, clean joints =="))
        brief[split] = {"clean": [round(m["clean"]["accuracy"], 4),
                                  round(m["clean"]["balanced_accuracy"], 4)]}
        for name, noisy in m["noisy"].items():
            print(format_report(noisy["report"], title=f"== {split}, {name} noise (pooled) =="))
            draws = noisy["draws"]
            brief[split][name] = [round(draws["accuracy"]["mean"], 4),
                                  round(draws["balanced_accuracy"]["mean"], 4)]
            print(f"{split}, {name} noise over {activity.NOISE_DRAWS} draws: top-1 "
                  f"{100 * draws['accuracy']['mean']:.2f} ± {100 * draws['accuracy']['std']:.2f}"
                  f" %, balanced {100 * draws['balanced_accuracy']['mean']:.2f} ± "
                  f"{100 * draws['balanced_accuracy']['std']:.2f} %")
    summary["metrics"] = metrics
    summary["scored_with"] = {name: str(p) for name, p in scoring.items()}
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({"workdir": args.workdir, "top1_balanced": brief}))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
