"""Scoring a joints-only activity model (``tasks.activity.ActivityModel``, e.g. the shipped
``mpii-activity``) on a converted dataset's annotated joints, as it reads joints on a photo.

Such a model frames joints by their own square (``core.joint_frame``), not by the records'
MPII crop, so ``tfpose evaluate`` routes it here instead of through the records' input
pipeline: each record's joints go back to original pixels (``load_split``, which the activity
training reads too) and reach the model as a pose result would hand them over, every
annotated joint with score 1 (the model's own framing, minimum score and flip test apply).
Labels are matched to the model's classes by name; records of classes it does not know are
left out and counted.

Shapes: ``N`` records, ``K = 16`` joints, ``C`` classes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tfpose.core import geometry
from tfpose.core.errors import DataError
from tfpose.datasets import labels as labels_lib
from tfpose.metrics import classification


def load_split(dataset_dir, split: str) -> dict:
    """One split of an annotations-only dataset in original pixels.

    Returns ``keypoints`` N x K x 2 float32 (original image px), ``annotated`` N x K bool,
    ``labels`` N int64 (-1 unlabelled), ``classes`` (the manifest's names, label order) and
    ``images`` N names.
    """
    import tensorflow as tf

    from tfpose.datasets import schema, shards

    manifest = shards.read_manifest(dataset_dir)
    # Parsed in batches: one eager parse per record takes minutes for 11 k records.
    fields = ("person/keypoints", "person/annotated", "person/crop_box", "image/width",
              "image/height", "action/label", "image/filename")
    spec = {key: schema.FEATURES[key] for key in fields}
    parts = [{k: v.numpy() for k, v in tf.io.parse_example(batch, spec).items()}
             for batch in tf.data.TFRecordDataset(shards.shard_paths(dataset_dir, split))
             .batch(4096)]
    if not parts:
        raise DataError(f"{dataset_dir}: split {split!r} has no records")
    ex = {k: np.concatenate([part[k] for part in parts]) for k in fields}
    sizes = set(ex["image/width"].tolist()) | set(ex["image/height"].tolist())
    if len(sizes) != 1:
        raise DataError(f"{dataset_dir}: expected one square stored size; found {sorted(sizes)}")
    box = ex["person/crop_box"]
    stored = ex["person/keypoints"].reshape(len(box), -1, 3)[..., :2]
    keypoints = geometry.to_original(stored, box, sizes.pop())
    return {"keypoints": np.asarray(keypoints, np.float32), "annotated": ex["person/annotated"] > 0,
            "labels": ex["action/label"].astype(np.int64),
            "classes": list(manifest["classes"]),
            "images": [name.decode() for name in ex["image/filename"]]}


def evaluate_activity_model(model, data_dir, split: str) -> dict:
    """Classification report (``metrics.classification``) of ``model`` (an ``ActivityModel``)
    on the labelled records of ``split`` in ``data_dir`` (an ``--annotations-only`` or any
    converted dataset with action labels), from their annotated joints; adds
    ``unknown_class_records`` and ``unknown_classes`` ({name: records})."""
    data = load_split(data_dir, split)
    table = labels_lib.label_table(data["classes"], model.classes,
                                   dataset=f"{data_dir} manifest.json", model=model.source)
    mapped = labels_lib.map_labels(data["labels"], table, where=str(data_dir))
    unknown = Counter(data["classes"][i]
                      for i in data["labels"][(data["labels"] >= 0) & (mapped < 0)])
    keep = mapped >= 0
    if not keep.any():
        raise DataError(f"{data_dir}: split {split!r} has no labelled records of "
                        f"{model.source}'s classes {model.classes} to evaluate")
    scores = data["annotated"][keep].astype(np.float32)  # an annotated joint is certain
    probs, framed = model.probabilities(data["keypoints"][keep], scores)
    if not framed.all():
        raise DataError(f"{data_dir}: {int((~framed).sum())} labelled records of split "
                        f"{split!r} have fewer than two annotated joints; e.g. "
                        f"{np.asarray(data['images'])[keep][~framed][0]}")
    report = classification.classification_report(mapped[keep], probs, model.classes)
    report["unknown_class_records"] = int(sum(unknown.values()))
    report["unknown_classes"] = dict(sorted(unknown.items()))
    return report
