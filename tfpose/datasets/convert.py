"""The converter: person records -> cropped, resized JPEGs -> sharded TFRecords + ``manifest.json``.

``convert`` runs these steps, each a small function testable on its own:

1. read the annotations (``readers.read_annotations``: official MPII ``RELEASE`` .mat, HRNet
   JSON, or an LSP/LSPET ``joints.mat``);
2. filter: persons with fewer than ``min_joints`` annotated joints; categories with fewer
   persons than ``min_class_fraction`` x the largest (the report's 5 % rule), or all but the
   ``top_classes`` largest, or (``classes``) those not listed. Persons without an activity
   keep label -1 (``UNLABELLED``);
3. labels: kept class names sorted by person count, descending, ties by name; or, with
   ``classes``, exactly the given names in the given order (a model's classes.json), so the
   new dataset numbers them as that model does;
4. split (``assign_splits``): deterministic for a seed and group-aware (all persons of one
   video, else of one image, land in one split);
5. crop (``crop_box``): a square around ``objpos`` of side ``scale x 200 x margin`` (falling
   back to the annotated joints' bounding box x margin: LSP has no objpos), the whole image
   (the report's mode, aspect not kept), or the whole image letterboxed (``letterbox_box``:
   the square around the image centre with the longer side, exactly how ``tfpose predict``
   frames a photo without a box); parts outside the image are zero-padded; resize to
   ``image_size``; JPEG;
6. write ``{split}-00000-of-000NN.tfrecord`` shards, ``manifest.json`` and ``convert.log``
   into a hidden temporary sibling of ``out_dir`` and rename it only when complete.

Pixel convention: keypoints are 0-based pixel *indices* (pixel centres at integers). The
stored image is resampled so that stored pixel (i, j) shows original point
``crop_box[:2] + (i, j) * (crop_box[2:] - crop_box[:2]) / image_size`` exactly: the mapping in
``schema.py`` holds for the pixels as well as the keypoints. (In whole-image mode this means
the first ~(W / image_size - 1) / 2 original columns/rows lie left of/above stored pixel 0's
centre and are blended with zero padding.)

Parallelism: worker processes (``spawn`` context; TensorFlow is not fork-safe once it has
started threads) decode, crop, resize and JPEG-encode one image each and return bytes; the
parent alone imports TensorFlow, serialises ``tf.train.Example``s and writes the shards in a
fixed order, so the output is identical for any number of workers. ``workers <= 1`` runs
everything in-process (tests).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import multiprocessing
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tfpose import __version__
from tfpose.core.errors import DataError, StorageError
from tfpose.core.geometry import to_crop
from tfpose.core import skeleton
from tfpose.datasets import mpii, readers
from tfpose.datasets.crops import (CROPS, IMAGE_FRAMED, crop_box, crop_image, image_size_only,
                                   safe_image_path)
from tfpose.datasets.shards import (LOG, MANIFEST, UNLABELLED, ShardWriter, finish_out_dir,
                                    prepare_out_dir)
from tfpose.datasets.splits import SPLITS, assign_splits, read_validation_list, select_classes

# Target records per shard: ~1000 x ~20 KB JPEGs = ~20 MB shards; joints-only records are tiny.
RECORDS_PER_SHARD = 1000
RECORDS_PER_SHARD_NO_IMAGES = 20000

# Skip reasons (manifest ``skipped`` keys; the image ones are in ``crops``).
TOO_FEW_JOINTS = "too_few_joints"
RARE_CLASS = "dropped_class"
NO_LOCATION = "no_location"  # neither objpos/scale nor any annotated joint
UNSAFE_PATH = "unsafe_path"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

def _example(record, label, class_name, box, size, jpeg, original_wh) -> dict:
    annotated = np.asarray(record.annotated, bool)
    visible = np.asarray(record.visible, bool) & annotated
    stored = to_crop(np.asarray(record.joints, np.float64), np.asarray(box, np.float64),
                     size).astype(np.float32)
    keypoints = np.zeros([skeleton.NUM_JOINTS, 3], np.float32)
    keypoints[annotated, :2] = stored[annotated]
    keypoints[:, 2] = visible
    center = record.objpos if record.objpos is not None else (-1.0, -1.0)
    return {
        "image/encoded": jpeg,
        "image/format": "jpeg" if jpeg else "",
        "image/filename": record.image_name,
        "image/height": size,
        "image/width": size,
        "image/original_height": original_wh[1] if original_wh else -1,
        "image/original_width": original_wh[0] if original_wh else -1,
        "image/index": record.image_index,
        "person/index": record.person_index,
        "person/keypoints": keypoints,
        "person/annotated": annotated.astype(np.int64),
        "person/visible": visible.astype(np.int64),
        "person/head_size": record.head_size if record.head_size is not None else -1.0,
        "person/crop_box": np.asarray(box, np.float32),
        "person/center": np.asarray(center, np.float32),
        "person/scale": record.scale if record.scale is not None else -1.0,
        "action/label": label,
        "action/name": class_name,
        "action/activity": ", ".join(record.activities),
        "video/index": record.video_index if record.video_index is not None else -1,
    }


def convert(
    annotations,
    out_dir,
    images_dir=None,
    annotations_only: bool = False,
    *,
    min_joints: int = 4,
    min_class_fraction: Optional[float] = 0.05,
    top_classes: Optional[int] = None,
    crop: str = "person",
    format: str = "auto",
    margin: float = 1.25,
    image_size: int = 256,
    jpeg_quality: int = 90,
    split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    split: Optional[str] = None,
    validation_list=None,
    num_shards: Optional[int] = None,
    workers: int = 2,
    overwrite: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
    records: Optional[List[mpii.PersonRecord]] = None,
    classes=None,
) -> dict:
    """Converts an annotation file (+ image folder) into a TFRecord dataset; returns the manifest.

    Args:
      annotations: official ``RELEASE`` .mat or HRNet/mmpose JSON.
      out_dir: dataset folder to create (must be absent or empty unless ``overwrite``).
      images_dir: the image folder (required unless ``annotations_only``).
      annotations_only: write joints and labels only (``image/encoded`` empty); keypoints are
        in the same stored frame as with images. Whole-image crops then need ``images_dir`` to
        read image sizes from the file headers.
      min_joints: drop persons with fewer annotated joints (0 keeps all).
      min_class_fraction: drop categories below this fraction of the largest (0/None: keep).
      top_classes: keep only the K largest categories (overrides ``min_class_fraction``).
      classes: the kept classes AND their label order, fixed (e.g. a trained work dir's, so a
        new dataset numbers them as the model does): a list of names or a file for
        ``labels.read_class_names`` (classes.json, manifest.json, one name per line). Persons
        of other categories are dropped (``dropped_class``); the frequency filters do not apply;
        a listed class without persons is kept with count 0.
      crop: ``"person"`` (square around the person), ``"whole"`` (the report's mode) or
        ``"letterbox"`` (the whole image, aspect kept, as ``tfpose predict`` frames a photo).
      format: ``auto`` | ``mpii`` | ``lsp`` (``readers.read_annotations``).
      margin: person crop side = scale x 200 x margin.
      image_size: stored side in px (larger than the model input, so augmentation can crop).
      split_ratios: train/val/test fractions; ``split``: put everything in one split;
        ``validation_list``: see ``assign_splits``.
      num_shards: shards per split (default: about 1000 records per shard).
      workers: image processes (<= 1: in-process).
      progress: called as ``progress(done, total)`` after each person (e.g. a CLI progress
        bar); None for silence.
      records: already-read ``PersonRecord``s (then ``annotations`` is only hashed/recorded).

    Raises DataError on unusable input; a bad image only skips its persons (``skipped`` in the
    manifest, one line per person in ``convert.log``).
    """
    from tfpose.datasets import schema  # TensorFlow: parent process only

    started = time.time()
    annotations = Path(annotations)
    out_dir = Path(out_dir)
    if not annotations_only and images_dir is None:
        raise DataError("convert needs an image folder (--images) or --annotations-only")
    images_dir = Path(images_dir) if images_dir is not None else None
    if images_dir is not None and not images_dir.is_dir():
        raise DataError(f"image folder {images_dir} does not exist")
    if crop not in CROPS:
        raise DataError(f"crop must be one of {', '.join(CROPS)}. Received: crop={crop!r}")
    if crop in IMAGE_FRAMED and annotations_only and images_dir is None:
        raise DataError(f"--crop {crop} with --annotations-only needs --images to read image sizes")
    if image_size < 8 or not 1 <= jpeg_quality <= 100 or margin <= 0:
        raise DataError(
            f"need image_size >= 8, 1 <= jpeg_quality <= 100, margin > 0. Received: image_size="
            f"{image_size}, jpeg_quality={jpeg_quality}, margin={margin}"
        )
    arguments = {
        "annotations": str(annotations), "format": format,
        "images": str(images_dir) if images_dir else None,
        "annotations_only": annotations_only, "min_joints": min_joints,
        "min_class_fraction": min_class_fraction, "top_classes": top_classes, "crop": crop,
        "margin": margin, "image_size": image_size, "jpeg_quality": jpeg_quality,
        "split_ratios": list(split_ratios), "seed": seed, "split": split,
        "validation_list": str(validation_list) if validation_list else None,
        "num_shards": num_shards, "workers": workers,
        "classes": str(classes) if isinstance(classes, (str, Path)) else classes,
    }  # fmt: skip
    if records is None:
        if not annotations.is_file():
            raise DataError(f"annotation file {annotations} does not exist")
        source = readers.read_annotations(annotations, format)
        records = source.records
    else:
        source = readers.Annotations("records", records, "as given")
    validation = read_validation_list(validation_list) if validation_list else None
    fixed_classes = None
    if classes is not None:
        if top_classes is not None:
            raise DataError(f"give classes or top_classes, not both. Received: classes={classes},"
                            f" top_classes={top_classes}")
        from tfpose.datasets.labels import read_class_names

        if isinstance(classes, (str, Path)):
            fixed_classes = read_class_names(classes)
        else:
            fixed_classes = [str(c) for c in classes]
            if not fixed_classes or len(set(fixed_classes)) != len(fixed_classes):
                raise DataError(f"classes must be distinct names. Received: {fixed_classes}")

    tmp = prepare_out_dir(out_dir, overwrite)
    skipped: Counter = Counter()
    log_lines: List[str] = []

    def skip(record, reason, detail=""):
        skipped[reason] += 1
        log_lines.append(
            f"skip {record.image_name} person {record.person_index}: {reason}"
            + (f" ({detail})" if detail else "")
        )

    pool = None
    writers: Dict[str, ShardWriter] = {}
    try:
        # 1-2. filters
        kept = []
        for record in records:
            if record.num_annotated < min_joints:
                skip(record, TOO_FEW_JOINTS, f"{record.num_annotated} < {min_joints}")
            else:
                kept.append(record)
        category_counts = Counter(r.category for r in kept if r.category)
        if fixed_classes is not None:
            classes = fixed_classes
            if not any(name in category_counts for name in classes):
                raise DataError(f"{annotations}: no person of the given classes {classes}; "
                                f"its categories are {sorted(category_counts)}")
        else:
            classes = select_classes(category_counts, min_class_fraction, top_classes)
        labels = {name: i for i, name in enumerate(classes)}
        survivors = []
        for record in kept:
            if record.category and record.category not in labels:
                skip(record, RARE_CLASS, record.category if fixed_classes is None
                     else f"{record.category} not in the given classes")
            else:
                survivors.append(record)

        # 4. splits; order within a split shuffled by image so shards mix.
        splits = assign_splits(survivors, split_ratios, seed, split, validation)
        by_split: Dict[str, Dict[str, List[mpii.PersonRecord]]] = defaultdict(dict)
        for record, name in zip(survivors, splits):
            by_split[name].setdefault(record.image_name, []).append(record)
        rng = np.random.default_rng(seed + 1)
        plan = []  # (split, image name, [records])
        split_names = [s for s in SPLITS if s in by_split] + sorted(set(by_split) - set(SPLITS))
        planned = {}
        for name in split_names:
            images = sorted(by_split[name])
            for i in rng.permutation(len(images)):
                plan.append((name, images[i], by_split[name][images[i]]))
            planned[name] = sum(len(v) for v in by_split[name].values())

        # 5. image tasks (the crop box of whole-image mode needs the image size, read there)
        tasks = []
        image_hash = hashlib.sha256()
        for name, image_name, persons in plan:
            path = safe_image_path(images_dir, image_name) if images_dir is not None else None
            boxes = [None] * len(persons)  # whole-image boxes come from the image size
            if images_dir is not None and path is None:
                tasks.append((UNSAFE_PATH, image_name))
                continue
            if crop == "person":
                boxes = [crop_box(r, "person", margin) for r in persons]
            if path is None:
                tasks.append(("no_image", boxes))
            elif annotations_only:
                tasks.append(("size_only", (path, boxes)))
            else:
                framed = boxes if crop == "person" else [crop] * len(persons)
                tasks.append(("image", (str(path), framed, image_size, jpeg_quality)))

        # 6. write
        shard_counts = {
            name: num_shards
            or max(1, math.ceil(planned[name] / (RECORDS_PER_SHARD_NO_IMAGES if annotations_only else RECORDS_PER_SHARD)))
            for name in split_names
        }  # fmt: skip
        image_jobs = [t[1] for t in tasks if t[0] == "image"]
        if image_jobs and workers > 1:
            # An executor (not multiprocessing.Pool): a worker that dies raises
            # BrokenProcessPool here instead of hanging the run.
            pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            )
            results = pool.map(crop_image, image_jobs, chunksize=2)
        else:
            results = map(crop_image, image_jobs)

        counts = {name: Counter() for name in split_names}
        written = Counter()
        position = Counter()  # planned records of a split seen so far -> shard index
        for name in split_names:
            writers[name] = ShardWriter(tmp, name, shard_counts[name], planned[name])
        outside = 0
        total = sum(planned.values())
        for (name, image_name, persons), (kind, payload) in zip(plan, tasks):
            status, result = "ok", None
            if kind == UNSAFE_PATH:
                status, result = UNSAFE_PATH, "absolute or '..' image name"
            elif kind == "image":
                status, result = next(results)
            elif kind == "size_only" and crop in IMAGE_FRAMED:
                status, result = image_size_only(payload[0])
            if status == "ok" and kind in ("image", "size_only"):
                try:
                    size_bytes = Path(payload[0]).stat().st_size
                    image_hash.update(f"{image_name}\t{size_bytes}\n".encode())
                except OSError:
                    pass
            for j, record in enumerate(persons):
                at = position[name]
                position[name] += 1
                if progress:
                    progress(sum(position.values()), total)
                if status != "ok":
                    skip(record, status, result)
                    continue
                jpeg, original = b"", None
                if kind == "image":
                    width, height, boxes, jpegs = result
                    box, jpeg, original = boxes[j], jpegs[j], (width, height)
                elif kind == "size_only" and crop in IMAGE_FRAMED:
                    original = tuple(result)
                    box = crop_box(record, crop, image_size_wh=original)
                else:
                    box = payload[1][j] if kind == "size_only" else payload[j]
                if box is None:
                    skip(record, NO_LOCATION, "no objpos/scale and no annotated joint")
                    continue
                label = labels.get(record.category, -1)
                class_name = record.category if label >= 0 else ""
                example = _example(record, label, class_name, box, image_size, jpeg, original)
                xy = example["person/keypoints"][:, :2]
                off = ((xy < 0) | (xy > image_size - 1)).any(1) & np.asarray(record.annotated, bool)
                outside += int(off.sum())
                writers[name].write(at, schema.encode_example(example))
                written[name] += 1
                counts[name][class_name or UNLABELLED] += 1
        shards = {name: writers[name].close() for name in split_names}
        if pool is not None:
            pool.shutdown()
            pool = None

        manifest = {
            "format": "tfpose-tfrecords/1",
            "tfpose_version": __version__,
            "classes": classes,
            "label_order": ("as given (classes)" if fixed_classes is not None else
                            "category person count (after the joint filter) descending, then name"),
            "num_classes": len(classes),
            "unlabelled_key": UNLABELLED,
            "counts": {n: {c: counts[n][c] for c in classes + [UNLABELLED]} for n in split_names},
            "num_records": {n: written[n] for n in split_names},
            "skipped": dict(sorted(skipped.items())),
            "shards": shards,
            # Per shard: a shard cut at a record boundary still reads cleanly (integrity.py).
            "shard_records": {n: writers[s].records[n] for s in split_names for n in shards[s]},
            "image_size": image_size,
            "has_images": not annotations_only,
            "crop": crop,
            "margin": margin,
            "joint_names": list(skeleton.JOINT_NAMES),
            "source_format": source.format,
            "head_size": source.head_size,
            "dropped_joints": {"nonfinite": source.dropped_joints},
            "joints_outside_crop": outside,
            "split_groups": "video index where present, else image name",
            "arguments": arguments,
            "inputs": {
                "annotations_sha256": _sha256(annotations) if annotations.is_file() else None,
                # Over the sorted "name<TAB>byte size" lines of the images used, not their pixels.
                "images_names_sizes_sha256": image_hash.hexdigest() if images_dir else None,
            },
            "seconds": round(time.time() - started, 2),
        }
        (tmp / LOG).write_text("\n".join(log_lines) + ("\n" if log_lines else ""))
        # The manifest is written last: a folder without one is never a finished dataset.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        finish_out_dir(tmp, out_dir)
        return manifest
    except OSError as err:  # disk full, quota, permissions: nothing under out_dir was touched
        where = err.filename or tmp
        kept = (f"the existing {out_dir} is unchanged" if out_dir.exists()
                else f"nothing was written to {out_dir}")
        raise StorageError(f"{where}: cannot write ({err.strerror or err}); {kept}") from err
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for writer in writers.values():
            if writer.writer is not None:
                writer.writer.close()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
