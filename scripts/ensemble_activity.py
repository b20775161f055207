"""Average activity models of one recipe (seeds) into one work dir, then score it.

    python scripts/ensemble_activity.py runs/activity/ensemble runs/activity/pairwise_mix50 \
        runs/activity/pairwise_mix50_s1 runs/activity/pairwise_mix50_s2
    python scripts/train_activity.py configs/joints_pairwise.yaml tfrecords/mpii_joints15 none \
        runs/activity/ensemble --score-only --score-noise lspet-val=... --score-noise lsp-val=...

The members must name the same classes in the same order and frame joints alike (checked);
OUT gets one ``best.keras`` (``training.activity.ensemble``: the mean of their softmaxes), the
first member's ``config.yaml`` and ``classes.json``, and an ``activity.json`` with the first
member's framing and training noise and the members' paths (scores: ``--score-only``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, members = Path(argv[0]), [Path(p) for p in argv[1:]]
    from tfpose.core.errors import DataError
    from tfpose.tasks.workdir import load_workdir_model
    from tfpose.training.activity import ACTIVITY_FILE, ensemble

    metas = [json.loads((m / ACTIVITY_FILE).read_text()) for m in members]
    classes = [json.loads((m / "classes.json").read_text()) for m in members]
    for member, meta, names in zip(members, metas, classes):
        if names != classes[0] or meta["framing"] != metas[0]["framing"]:
            raise DataError(f"{member}: classes or framing differ from {members[0]}'s")
    model = ensemble([load_workdir_model(m) for m in members])
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "best.keras")
    (out / "config.yaml").write_text((members[0] / "config.yaml").read_text())
    (out / "classes.json").write_text(json.dumps(classes[0]) + "\n")
    summary = {key: metas[0][key] for key in ("framing", "flip_test", "noise", "noise_fraction",
                                              "dataset")}
    summary["splits"] = metas[0].get("splits", ["train"])
    summary["persons"] = metas[0].get("persons")
    summary["members"] = [{"workdir": str(m), "seed": meta.get("seed"),
                           "best_epoch": meta.get("best_epoch"),
                           "command": meta.get("command")} for m, meta in zip(members, metas)]
    (out / ACTIVITY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{out}: {len(members)} members, {model.count_params():,} parameters, "
          f"{(out / 'best.keras').stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main(sys.argv[1:]))
