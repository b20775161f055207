"""Which part of the pose noise costs an activity model most: val top-1 under each part of a
noise model alone (the others zeroed), beside clean joints and the whole model.

    python scripts/activity_noise_ablation.py runs/activity/lspet_noise.json \
        tfrecords/mpii_joints15 tfpose/pretrained/mpii-activity [WORKDIR...] [--split val]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

PARTS = ("person_swap", "swap", "gross", "sigma", "missing")


def only(noise: dict, part: str) -> dict:
    """``noise`` with every part but ``part`` set to zero."""
    kept = copy.deepcopy(noise)
    joints = len(noise["joint_names"])
    if part != "person_swap":
        kept["person_swap"] = 0.0
    for key in ("missing", "swap", "gross"):
        if key != part:
            kept[key] = [0.0] * joints
    if part != "sigma":
        kept["sigma"] = [[0.0, 0.0]] * joints
    return kept


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("noise")
    parser.add_argument("dataset")
    parser.add_argument("workdirs", nargs="+")
    parser.add_argument("--split", default="val")
    parser.add_argument("--draws", type=int, default=2)
    args = parser.parse_args(argv)
    from tfpose.tasks.workdir import load_workdir_model
    from tfpose.training import activity

    noise = json.loads(Path(args.noise).read_text())
    variants = {part: only(noise, part) for part in PARTS}
    variants["all"] = noise
    data = activity.load_split(args.dataset, args.split)
    print(f"| model | GT joints | " + " | ".join(f"{p} only" for p in PARTS) + " | all |")
    print("|---|---|" + "---|" * (len(PARTS) + 1))
    for workdir in args.workdirs:
        result = activity.score(load_workdir_model(Path(workdir)), data, variants, args.draws)
        cells = [f"{100 * result['noisy'][k]['draws']['accuracy']['mean']:.1f} %"
                 for k in (*PARTS, "all")]
        print(f"| {workdir} | {100 * result['clean']['accuracy']:.1f} % | " + " | ".join(cells)
              + " |", flush=True)
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
