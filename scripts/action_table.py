"""Collects the eval JSONs of scripts/action_table.sh into issue #5's synthetic action table.

Usage: python scripts/action_table.py RUN_DIR [--split test]

Each row is one work dir RUN_DIR/NAME; its ``eval-SPLIT-gt.json`` and
``eval-SPLIT-predicted.json`` (``tfpose evaluate --joints gt|predicted``) fill the two column
pairs. The image-only baseline has no joints input: its one ``eval-SPLIT.json`` fills the GT pair
and the predicted pair reads n/a. Prints a markdown table, then how much training on predicted
joints (two-stage) changes the accuracy on predicted joints against training on GT joints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# (work dir name, model, joints it trained on); names match scripts/action_table.sh.
ROWS = [
    ("image", "Image only (baseline)", "none"),
    ("joints_cfe", "Joints only, CFE", "GT"),
    ("joints_transformer", "Joints only, Transformer", "GT"),
    ("cfe", "Image + CFE", "GT"),
    ("transformer", "Image + Transformer", "GT"),
    ("cfe_two_stage", "Image + CFE (two-stage)", "predicted"),
    ("transformer_two_stage", "Image + Transformer (two-stage)", "predicted"),
]
# (trained on GT, trained on predicted) pairs for the summary lines.
PAIRS = [("cfe", "cfe_two_stage", "CFE"), ("transformer", "transformer_two_stage", "Transformer")]


def load(path: Path, joints: str) -> dict | None:
    """The metrics of ``path`` (None when missing); checks they used the expected joints."""
    if not path.exists():
        return None
    metrics = json.loads(path.read_text())
    if metrics.get("joints") != joints:
        sys.exit(f"{path}: expected joints {joints!r}, the file says {metrics.get('joints')!r}")
    return metrics


def collect(run_dir: Path, split: str) -> dict:
    """{name: {"gt": metrics or None, "predicted": metrics or None}} for every row."""
    table = {}
    for name, _, trained in ROWS:
        folder = run_dir / name
        if trained == "none":
            same = load(folder / f"eval-{split}.json", "none")
            table[name] = {"gt": same, "predicted": same}
        else:
            table[name] = {source: load(folder / f"eval-{split}-{source}.json", source)
                           for source in ("gt", "predicted")}
    return table


def pct(metrics: dict | None, key: str) -> str:
    return "missing" if metrics is None else f"{100 * metrics[key]:.1f}"


def markdown(table: dict, split: str) -> str:
    lines = [
        f"| Model | Trained on joints | Top-1, GT joints | Balanced, GT joints "
        f"| Top-1, predicted joints | Balanced, predicted joints |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, label, trained in ROWS:
        gt, pred = table[name]["gt"], table[name]["predicted"]
        if trained == "none":
            cells = [pct(gt, "accuracy"), pct(gt, "balanced_accuracy"), "n/a", "n/a"]
        else:
            cells = [pct(gt, "accuracy"), pct(gt, "balanced_accuracy"),
                     pct(pred, "accuracy"), pct(pred, "balanced_accuracy")]
        lines.append(f"| {label} | {trained} | " + " | ".join(cells) + " |")
    n = next((m["num_examples"] for row in table.values() for m in row.values() if m), None)
    lines.append("")
    lines.append(f"Accuracy in % on the {split} split ({n} labelled persons). The image-only "
                 "model uses no joints, so its one score holds for both joint sources.")
    for gt_name, pred_name, label in PAIRS:
        on_gt, on_pred = table[gt_name]["predicted"], table[pred_name]["predicted"]
        if on_gt and on_pred:
            top1 = 100 * (on_pred["accuracy"] - on_gt["accuracy"])
            bal = 100 * (on_pred["balanced_accuracy"] - on_gt["balanced_accuracy"])
            lines.append(f"- Image + {label}, tested on predicted joints: training on predicted "
                         f"instead of GT joints changes top-1 by {top1:+.1f} points and balanced "
                         f"accuracy by {bal:+.1f} points.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    table = collect(args.run_dir, args.split)
    print(markdown(table, args.split))
    missing = [name for name, row in table.items() if not all(row.values())]
    if missing:
        print(f"\nmissing evaluations: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
