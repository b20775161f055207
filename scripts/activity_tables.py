"""The model card's tables of an activity model, from its ``activity.json`` (nothing typed by
hand): top-1 and balanced accuracy on clean and noisy joints, per class, the most frequent
confusions and the noise model it trained with.

    python scripts/activity_tables.py tfpose/pretrained/mpii-activity [SPLIT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# A confusion is listed when this share of a class's persons goes to one other class.
CONFUSION_SHARE = 0.15


def accuracy_table(metrics: dict) -> str:
    """One row per split and joints (GT, then each noise model: mean ± sd over the draws)."""
    lines = ["| split | persons | joints | top-1 | balanced |", "|---|---|---|---|---|"]
    for split, m in metrics.items():
        clean = m["clean"]
        lines.append(f"| {split} | {clean['num_examples']} | ground truth | "
                     f"{100 * clean['accuracy']:.1f} % | {100 * clean['balanced_accuracy']:.1f} % |")
        for name, noisy in m["noisy"].items():
            a, b = noisy["draws"]["accuracy"], noisy["draws"]["balanced_accuracy"]
            lines.append(f"| {split} | {clean['num_examples']} | {name} noise | "
                         f"{100 * a['mean']:.1f} ± {100 * a['std']:.1f} % | "
                         f"{100 * b['mean']:.1f} ± {100 * b['std']:.1f} % |")
    return "\n".join(lines)


def per_class_table(m: dict) -> str:
    """Recall per class on GT joints (and precision), then under each noise model."""
    names = list(m["noisy"])
    lines = ["| class | persons | recall, GT | precision, GT | "
             + " | ".join(f"recall, {n} noise" for n in names) + " |",
             "|---|---|---|---|" + "---|" * len(names)]

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f} %"

    for c, clean in enumerate(m["clean"]["per_class"]):
        noisy = [pct(m["noisy"][n]["report"]["per_class"][c]["accuracy"]) for n in names]
        lines.append(f"| {clean['name']} | {clean['support']} | {pct(clean['accuracy'])} | "
                     f"{pct(clean['precision'])} | " + " | ".join(noisy) + " |")
    return "\n".join(lines)


def confusions(report: dict, share: float = CONFUSION_SHARE) -> str:
    """Lines "true -> predicted: share of true's persons", largest first."""
    cm = np.asarray(report["confusion_matrix"], np.float64)
    names = report["class_names"]
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    found = [(rows[i, j], names[i], names[j]) for i in range(len(names))
             for j in range(len(names)) if i != j and rows[i, j] >= share]
    return "\n".join(f"- {true} → {pred}: {100 * v:.0f} % of its persons"
                     for v, true, pred in sorted(found, reverse=True))


def main(argv) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    split = argv[1] if len(argv) > 1 else "test"
    meta = json.loads((folder / "activity.json").read_text())
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tfpose.input.pose_noise import format_table

    m = meta["metrics"][split]
    print(accuracy_table(meta["metrics"]), end="\n\n")
    print(f"Per class ({split}; under noise: mean recall over the draws):\n")
    print(per_class_table(m), end="\n\n")
    print(f"Confusions on GT joints ({split}, >= {100 * CONFUSION_SHARE:.0f} % of a class):\n")
    print(confusions(m["clean"]), end="\n\n")
    for name, noisy in m["noisy"].items():
        print(f"Confusions under {name} noise ({split}, pooled over the draws):\n")
        print(confusions(noisy["report"]), end="\n\n")
    for name, noise in (meta.get("noise") or {}).items():
        print(f"Noise model {name} (trained with):\n")
        print(format_table(noise), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
