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
    lines = ["| split | persons | top-1, GT joints | balanced, GT joints | top-1, noisy joints "
             "| balanced, noisy joints |", "|---|---|---|---|---|---|"]
    for split, m in metrics.items():
        draws = m["noisy_draws"]
        lines.append(
            f"| {split} | {m['clean']['num_examples']} | {100 * m['clean']['accuracy']:.1f} % | "
            f"{100 * m['clean']['balanced_accuracy']:.1f} % | "
            f"{100 * draws['accuracy']['mean']:.1f} ± {100 * draws['accuracy']['std']:.1f} % | "
            f"{100 * draws['balanced_accuracy']['mean']:.1f} ± "
            f"{100 * draws['balanced_accuracy']['std']:.1f} % |")
    return "\n".join(lines)


def per_class_table(m: dict) -> str:
    lines = ["| class | persons | recall, GT joints | precision, GT joints | recall, noisy joints |",
             "|---|---|---|---|---|"]
    for clean, noisy in zip(m["clean"]["per_class"], m["noisy"]["per_class"]):
        recall = "–" if clean["accuracy"] is None else f"{100 * clean['accuracy']:.1f} %"
        noisy_recall = "–" if noisy["accuracy"] is None else f"{100 * noisy['accuracy']:.1f} %"
        lines.append(f"| {clean['name']} | {clean['support']} | {recall} | "
                     f"{100 * clean['precision']:.1f} % | {noisy_recall} |")
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
    print(f"Per class ({split}; noisy: mean recall over the draws):\n")
    print(per_class_table(m), end="\n\n")
    print(f"Confusions on GT joints ({split}, >= {100 * CONFUSION_SHARE:.0f} % of a class):\n")
    print(confusions(m["clean"]), end="\n\n")
    print(f"Confusions on noisy joints ({split}, pooled over the draws):\n")
    print(confusions(m["noisy"]), end="\n\n")
    if meta.get("noise"):
        print("Noise model:\n")
        print(format_table(meta["noise"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
