"""``tfpose inspect``: counts per split and class, joint coverage, drawn example records."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.skeleton import JOINT_NAMES, NUM_JOINTS
from tfpose.datasets.shards import UNLABELLED, iter_examples, read_manifest


def inspect_dataset(dataset_dir, examples: int = 0, out_dir=None, seed: int = 0) -> dict:
    """Counts per split and class, joint coverage, and ``examples`` drawn records saved as PNG.

    Returns ``{"manifest", "coverage": {joint: {"annotated", "visible"}}, "pngs": [paths],
    "shards": n}`` where coverage fractions are over all records of all splits. Every shard is
    CRC-checked first: a damaged one is a ``DataError`` naming each damaged shard and record.
    """
    from PIL import Image

    from tfpose.datasets import integrity
    from tfpose.viz.visualize import draw_skeleton

    manifest = read_manifest(dataset_dir)
    reports = integrity.verify(dataset_dir)
    damaged = [r.describe() for r in reports if not r.ok]
    if damaged:
        raise DataError("damaged shards:\n  " + "\n  ".join(damaged))
    annotated = np.zeros(NUM_JOINTS)
    visible = np.zeros(NUM_JOINTS)
    total = sum(manifest["num_records"].values())
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(total, size=min(examples, total), replace=False).tolist()) if total else set()
    pngs = []
    if chosen:
        out_dir = Path(out_dir if out_dir is not None else Path(dataset_dir) / "inspect")
        out_dir.mkdir(parents=True, exist_ok=True)
    classes = manifest["classes"]
    for i, example in enumerate(iter_examples(dataset_dir)):
        annotated += example["person/annotated"]
        visible += example["person/visible"]
        if i not in chosen:
            continue
        size = int(example["image/height"]), int(example["image/width"])
        if example["image/encoded"]:
            image = Image.open(io.BytesIO(example["image/encoded"])).convert("RGB")
        else:
            image = Image.new("RGB", (size[1], size[0]), (40, 40, 40))
        label = int(example["action/label"])
        text = classes[label] if 0 <= label < len(classes) else UNLABELLED
        keypoints = example["person/keypoints"]
        drawing = draw_skeleton(
            image,
            keypoints[:, :2],
            keypoints[:, 2] > 0,
            annotated=example["person/annotated"] > 0,
            label=f"{example['split']}: {text}",
        )
        stem = Path(example["image/filename"].decode()).stem
        path = out_dir / f"{i:05d}_{example['split']}_{stem}_p{int(example['person/index'])}.png"
        drawing.save(path)
        pngs.append(str(path))
    coverage = {
        name: {
            "annotated": float(annotated[k] / total) if total else 0.0,
            "visible": float(visible[k] / total) if total else 0.0,
        }
        for k, name in enumerate(JOINT_NAMES)
    }
    return {"manifest": manifest, "coverage": coverage, "pngs": pngs, "shards": len(reports)}


def format_inspection(report: dict) -> str:
    """The ``tfpose inspect`` text: records per split and class, then joint coverage."""
    manifest = report["manifest"]
    splits = list(manifest["num_records"])
    names = manifest["classes"] + [manifest.get("unlabelled_key", UNLABELLED)]
    width = max([len(n) for n in names] + [5])
    lines = [
        f"{manifest['arguments'].get('annotations')}: image_size {manifest['image_size']},"
        f" crop {manifest['crop']}, images {'yes' if manifest['has_images'] else 'no'}",
        f"{'class':<{width}} " + " ".join(f"{s:>7}" for s in splits),
    ]
    for name in names:
        row = [manifest["counts"][s].get(name, 0) for s in splits]
        lines.append(f"{name:<{width}} " + " ".join(f"{n:>7}" for n in row))
    lines.append(f"{'total':<{width}} " + " ".join(f"{manifest['num_records'][s]:>7}" for s in splits))
    if manifest["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in manifest["skipped"].items()))
    lines.append(f"shards: {report['shards']} read, every record's CRC intact")
    lines.append(f"{'joint':<{width}} annotated visible")
    for name, cov in report["coverage"].items():
        lines.append(f"{name:<{width}} {cov['annotated']:>9.3f} {cov['visible']:>7.3f}")
    for path in report["pngs"]:
        lines.append(f"wrote {path}")
    return "\n".join(lines)
