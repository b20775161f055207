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
import io
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from tfpose import __version__
from tfpose.data import mpii, readers
from tfpose.errors import DataError, StorageError

SPLITS = ("train", "val", "test")
UNLABELLED = "(unlabelled)"  # key of persons without an activity in manifest counts
MANIFEST = "manifest.json"
LOG = "convert.log"
# Target records per shard: ~1000 x ~20 KB JPEGs = ~20 MB shards; joints-only records are tiny.
RECORDS_PER_SHARD = 1000
RECORDS_PER_SHARD_NO_IMAGES = 20000
MIN_FALLBACK_SIDE = 16.0  # px; a joints-bbox crop of one or two joints still shows something
CROPS = ("person", "whole", "letterbox")
# Crops whose box comes from the image size (read by the worker), not from the annotation.
IMAGE_FRAMED = ("whole", "letterbox")

# Skip reasons (manifest ``skipped`` keys).
TOO_FEW_JOINTS = "too_few_joints"
RARE_CLASS = "dropped_class"
NO_LOCATION = "no_location"  # neither objpos/scale nor any annotated joint
UNSAFE_PATH = "unsafe_path"
MISSING_IMAGE = "missing_image"
CORRUPT_IMAGE = "corrupt_image"


# -- filters, labels and splits ------------------------------------------------------------------


def select_classes(
    category_counts: Dict[str, int],
    min_class_fraction: Optional[float] = 0.05,
    top_classes: Optional[int] = None,
) -> List[str]:
    """Kept category names in label order (count descending, then name).

    ``top_classes=K`` keeps the K largest; otherwise a category is kept when it has at least
    ``min_class_fraction`` x the largest category's count (0 or None keeps all). The unlabelled
    category ``""`` is never a class.
    """
    counts = {name: n for name, n in category_counts.items() if name}
    ordered = sorted(counts, key=lambda name: (-counts[name], name))
    if top_classes is not None:
        if top_classes < 1:
            raise DataError(f"top_classes must be >= 1. Received: top_classes={top_classes}")
        return ordered[:top_classes]
    if not ordered or not min_class_fraction:
        return ordered
    threshold = min_class_fraction * counts[ordered[0]]
    return [name for name in ordered if counts[name] >= threshold]


def group_key(record: mpii.PersonRecord) -> Tuple[str, object]:
    """Split group: the video where ``vididx`` exists (near-duplicate frames), else the image."""
    if record.video_index is not None and record.video_index >= 0:
        return ("video", int(record.video_index))
    return ("image", record.image_name)


def _ratio_split(
    records: Sequence[mpii.PersonRecord], names: Sequence[str], ratios: Sequence[float], seed: int
) -> List[str]:
    ratios = np.asarray(ratios, np.float64)
    if len(ratios) != len(names) or (ratios < 0).any() or ratios.sum() <= 0:
        raise DataError(
            f"split ratios must be {len(names)} non-negative numbers ({'/'.join(names)}) with a"
            f" positive sum. Received: {tuple(ratios.tolist())}"
        )
    groups: Dict[tuple, List[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[group_key(record)].append(i)
    keys = sorted(groups, key=lambda key: (key[0], str(key[1])))
    order = np.random.default_rng(seed).permutation(len(keys))
    bounds = np.cumsum(ratios / ratios.sum()) * len(records)
    assigned = [""] * len(records)
    done = 0
    for g in order:
        members = groups[keys[g]]
        # A group goes to the split whose share contains its middle person.
        middle = done + len(members) / 2
        split = names[min(int(np.searchsorted(bounds, middle, side="right")), len(names) - 1)]
        for i in members:
            assigned[i] = split
        done += len(members)
    return assigned


def read_validation_list(path) -> set:
    """Validation persons as a set of 0-based ``(image_index, person_index)`` or ``(name, person)``.

    ``.mat``: the standard list (``valid_index.mat``: ``RELEASE_img_index`` and
    ``RELEASE_person_index``, 1-based indices into the *official* RELEASE file). Text file:
    one ``IMAGE_NAME [PERSON_INDEX]`` per line (0-based person index; without it every person
    of the image), for annotation files whose indices differ from the official ones.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"validation list {path} does not exist")
    if path.suffix.lower() == ".mat":
        from tfpose.data import matfile

        mat = matfile.loadmat(path)
        try:
            images = np.asarray(mat["RELEASE_img_index"]).reshape(-1).astype(int)
            persons = np.asarray(mat["RELEASE_person_index"]).reshape(-1).astype(int)
        except (KeyError, ValueError, OSError) as err:
            raise DataError(
                f"validation list {path} is not a valid_index.mat (needs RELEASE_img_index and"
                f" RELEASE_person_index): {err}"
            ) from err
        return {(int(i) - 1, int(p) - 1) for i, p in zip(images, persons)}
    entries = set()
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].startswith("#"):
            entries.add((parts[0], int(parts[1]) if len(parts) > 1 else None))
    return entries


def _in_validation(record: mpii.PersonRecord, entries: set) -> bool:
    return (
        (record.image_index, record.person_index) in entries
        or (record.image_name, record.person_index) in entries
        or (record.image_name, None) in entries
    )


def assign_splits(
    records: Sequence[mpii.PersonRecord],
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    split: Optional[str] = None,
    validation: Optional[set] = None,
) -> List[str]:
    """One split name per record.

    - ``split=NAME``: everything in NAME.
    - ``validation`` (from ``read_validation_list``): listed persons go to ``val``; the others
      are divided between ``train`` and ``test`` in the ratio ``ratios[0] : ratios[2]``,
      group-aware among themselves. The standard list itself is by person, so frames of one
      video (or other persons of one image) may sit in train while one person is in val.
    - otherwise: groups (``group_key``) shuffled with ``seed`` and dealt out so each split
      gets about its ratio of persons (``train/val/test``; a 0 ratio leaves a split empty).
    """
    if split is not None:
        return [split] * len(records)
    if validation is None:
        return _ratio_split(records, SPLITS, ratios, seed)
    in_val = [_in_validation(r, validation) for r in records]
    if not any(in_val):
        raise DataError(
            "the validation list matched no person of the annotations (its indices refer to"
            " the official RELEASE file; use a name list for other files)"
        )
    rest = [r for r, v in zip(records, in_val) if not v]
    rest_ratios = (ratios[0], ratios[2]) if ratios[0] + ratios[2] > 0 else (1.0, 0.0)
    rest_splits = iter(_ratio_split(rest, ("train", "test"), rest_ratios, seed) if rest else [])
    return ["val" if v else next(rest_splits) for v in in_val]


# -- geometry ------------------------------------------------------------------------------------


def crop_box(
    record: mpii.PersonRecord,
    mode: str = "person",
    margin: float = 1.25,
    image_size_wh: Optional[Tuple[int, int]] = None,
) -> Optional[Tuple[float, float, float, float]]:
    """The original-image region ``(x0, y0, x1, y1)`` (0-based px) stored for ``record``.

    ``person``: a square of side ``scale x 200 x margin`` centred on ``objpos``; without
    objpos/scale, a square of side ``margin x`` the longer side of the annotated joints'
    bounding box (at least 16 px) centred on it. ``whole``: ``(0, 0, W, H)``; ``letterbox``:
    ``letterbox_box(W, H)`` (both need ``image_size_wh``). None when the person cannot be
    located.
    """
    if mode in IMAGE_FRAMED:
        if image_size_wh is None:
            raise DataError(f"{mode} crops need the image size (read from the image)")
        width, height = image_size_wh
        if mode == "letterbox":
            return letterbox_box(width, height)
        return (0.0, 0.0, float(width), float(height))
    if mode != "person":
        raise DataError(f"crop must be one of {', '.join(CROPS)}. Received: crop={mode!r}")
    if record.objpos is not None and record.scale is not None and record.scale > 0:
        cx, cy = record.objpos
        side = float(record.scale) * 200.0 * margin
    else:
        annotated = np.asarray(record.annotated, bool)
        if not annotated.any():
            return None
        pts = np.asarray(record.joints, np.float64)[annotated]
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = max(max(x1 - x0, y1 - y0) * margin, MIN_FALLBACK_SIDE)
    half = side / 2
    return (float(cx - half), float(cy - half), float(cx + half), float(cy + half))


def letterbox_box(width: float, height: float) -> Tuple[float, float, float, float]:
    """The square ``(x0, y0, x1, y1)`` of side max(W, H) around the image centre: the whole
    image, aspect kept, the shorter side padded equally on both sides (with zeros)."""
    side = float(max(width, height))
    x0, y0 = (float(width) - side) / 2, (float(height) - side) / 2
    return (x0, y0, x0 + side, y0 + side)


def to_stored(points, box, image_size: int) -> np.ndarray:
    """Original-image px -> stored-image px (inverse of the mapping in ``schema.py``)."""
    box = np.asarray(box, np.float64)
    scale = image_size / (box[2:] - box[:2])
    return ((np.asarray(points, np.float64) - box[:2]) * scale).astype(np.float32)


def to_original(points, box, image_size: int) -> np.ndarray:
    """Stored-image px -> original-image px: ``box[:2] + p * (box[2:] - box[:2]) / size``."""
    box = np.asarray(box, np.float64)
    return (box[:2] + np.asarray(points, np.float64) * (box[2:] - box[:2]) / image_size).astype(
        np.float32
    )


def safe_image_path(images_dir: Path, name: str) -> Optional[Path]:
    """``images_dir / name``, or None when ``name`` is absolute or climbs out with ``..``."""
    if not name or os.path.isabs(name) or name.startswith(("/", "\\")) or ":" in name:
        return None
    parts = Path(name.replace("\\", "/")).parts
    if ".." in parts:
        return None
    path = images_dir / Path(*parts)
    try:
        path.resolve().relative_to(images_dir.resolve())
    except ValueError:  # a symlink inside the folder pointing out of it
        return None
    return path


# -- image work (runs in worker processes: no TensorFlow here) -----------------------------------


def _crop_resize(image, box, size: int, reduction: int):
    """Resamples ``box`` (pixel-index convention) of ``image`` to size x size; see module doc."""
    from PIL import Image

    x0, y0, x1, y1 = box
    # Corner coordinates of the region whose output pixel centres land on the box's grid.
    bw, bh = x1 - x0, y1 - y0
    cx0 = (x0 + 0.5 - 0.5 * bw / size) / reduction
    cy0 = (y0 + 0.5 - 0.5 * bh / size) / reduction
    cx1, cy1 = cx0 + bw / reduction, cy0 + bh / reduction
    ix0, iy0 = math.floor(cx0), math.floor(cy0)
    ix1, iy1 = math.ceil(cx1), math.ceil(cy1)
    region = image.crop((ix0, iy0, ix1, iy1))  # zero-pads outside the image
    return region.resize(
        (size, size), Image.BILINEAR, box=(cx0 - ix0, cy0 - iy0, cx1 - ix0, cy1 - iy0)
    )


def crop_image(task) -> tuple:
    """Worker: ``(path, boxes, size, quality)`` -> ``("ok", (W, H, boxes, jpegs))`` or a skip.

    ``boxes`` entries may be ``"whole"`` or ``"letterbox"`` (``crop_box`` of the image size).
    The JPEG is decoded once per image, at the coarsest DCT reduction (1/2, 1/4, 1/8) that still gives every crop at least one decoded
    pixel per stored pixel: the same picture, several times faster for small persons.
    """
    from PIL import Image, UnidentifiedImageError

    path, boxes, size, quality = task
    try:
        with Image.open(path) as image:
            width, height = image.size
            boxes = [crop_box(None, b, image_size_wh=(width, height)) if isinstance(b, str)
                     else b for b in boxes]
            reduction = 1
            if image.format == "JPEG":
                ratio = min(min(b[2] - b[0], b[3] - b[1]) for b in boxes) / size
                if ratio >= 2:
                    image.draft("RGB", (math.ceil(width / ratio), math.ceil(height / ratio)))
                    reduction = max(1, int(round(width / image.size[0])))
            image = image.convert("RGB")  # decodes now: a truncated file raises here
            jpegs = []
            for box in boxes:
                buffer = io.BytesIO()
                _crop_resize(image, box, size, reduction).save(buffer, "JPEG", quality=quality)
                jpegs.append(buffer.getvalue())
    except FileNotFoundError as err:
        return (MISSING_IMAGE, f"{err.strerror or err}")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return (CORRUPT_IMAGE, f"{type(err).__name__}: {err}")
    return ("ok", (width, height, boxes, jpegs))


# -- the converter -------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image_size_only(path: Path) -> tuple:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return ("ok", image.size)
    except FileNotFoundError as err:
        return (MISSING_IMAGE, f"{err.strerror or err}")
    except Exception as err:  # noqa: BLE001 - any unreadable header is a corrupt image
        return (CORRUPT_IMAGE, f"{type(err).__name__}: {err}")


def _example(record, label, class_name, box, size, jpeg, original_wh) -> dict:
    annotated = np.asarray(record.annotated, bool)
    visible = np.asarray(record.visible, bool) & annotated
    stored = to_stored(record.joints, box, size)
    keypoints = np.zeros([mpii.NUM_JOINTS, 3], np.float32)
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


def _shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise DataError(f"output {out_dir} already exists and is not empty (use --overwrite)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # A conversion killed (kill -9, power cut) leaves its hidden partial folder behind; the
    # output itself only ever appears complete (one rename). Clear partials of dead processes.
    for stale in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _finish_out_dir(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        trash = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(trash)
        tmp.rename(out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(out_dir)


class _ShardWriter:
    """The shards of one split; record number ``i`` of ``planned`` goes to shard
    ``i * count // planned``, so shard contents do not depend on which images fail."""

    def __init__(self, folder: Path, split: str, count: int, planned: int):
        self.folder, self.split, self.count, self.planned = folder, split, count, planned
        self.index, self.writer, self.closed = -1, None, False
        self.names = [_shard_name(split, i, count) for i in range(count)]
        self.records = Counter()  # shard name -> records written (the manifest's shard_records)

    def write(self, position: int, serialized: bytes) -> None:
        import tensorflow as tf

        index = min(position * self.count // max(self.planned, 1), self.count - 1)
        if index != self.index:
            if self.writer is not None:
                self.writer.close()
            self.index = index
            self.writer = tf.io.TFRecordWriter(str(self.folder / self.names[index]))
        self.writer.write(serialized)
        self.records[self.names[index]] += 1

    def close(self) -> List[str]:
        """Closes the open shard, creates empty files for shards nothing reached; the names."""
        if self.closed:
            return self.names
        self.closed = True
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        for name in self.names:
            (self.folder / name).touch(exist_ok=True)  # an empty file is a valid TFRecord file
        return self.names


class _Progress:
    """A click progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, length: int, label: str):
        self.bar = None
        if enabled and length:
            import click

            self.bar = click.progressbar(length=length, label=label, file=sys.stderr)
            self.bar.__enter__()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


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
    progress: bool = True,
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
      records: already-read ``PersonRecord``s (then ``annotations`` is only hashed/recorded).

    Raises DataError on unusable input; a bad image only skips its persons (``skipped`` in the
    manifest, one line per person in ``convert.log``).
    """
    from tfpose.data import schema  # TensorFlow: parent process only

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
        from tfpose.data.labels import read_class_names

        if isinstance(classes, (str, Path)):
            fixed_classes = read_class_names(classes)
        else:
            fixed_classes = [str(c) for c in classes]
            if not fixed_classes or len(set(fixed_classes)) != len(fixed_classes):
                raise DataError(f"classes must be distinct names. Received: {fixed_classes}")

    tmp = _prepare_out_dir(out_dir, overwrite)
    skipped: Counter = Counter()
    log_lines: List[str] = []

    def skip(record, reason, detail=""):
        skipped[reason] += 1
        log_lines.append(
            f"skip {record.image_name} person {record.person_index}: {reason}"
            + (f" ({detail})" if detail else "")
        )

    pool = None
    writers: Dict[str, _ShardWriter] = {}
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
            writers[name] = _ShardWriter(tmp, name, shard_counts[name], planned[name])
        outside = 0
        bar = _Progress(progress, sum(planned.values()), "converting")
        for (name, image_name, persons), (kind, payload) in zip(plan, tasks):
            status, result = "ok", None
            if kind == UNSAFE_PATH:
                status, result = UNSAFE_PATH, "absolute or '..' image name"
            elif kind == "image":
                status, result = next(results)
            elif kind == "size_only" and crop in IMAGE_FRAMED:
                status, result = _image_size_only(payload[0])
            if status == "ok" and kind in ("image", "size_only"):
                try:
                    size_bytes = Path(payload[0]).stat().st_size
                    image_hash.update(f"{image_name}\t{size_bytes}\n".encode())
                except OSError:
                    pass
            for j, record in enumerate(persons):
                at = position[name]
                position[name] += 1
                bar.update(1)
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
        bar.close()
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
            "joint_names": list(mpii.JOINT_NAMES),
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
        _finish_out_dir(tmp, out_dir)
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


# -- reading back --------------------------------------------------------------------------------


def read_manifest(dataset_dir) -> dict:
    """``manifest.json`` of a converted dataset folder, as a dict (the one reader of it)."""
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"{dataset_dir} is not a converted dataset (no {MANIFEST})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read the dataset manifest ({err})") from err


def shard_paths(dataset_dir, split: str) -> List[str]:
    """The shard files of one split, from the manifest."""
    manifest = read_manifest(dataset_dir)
    if split not in manifest["shards"]:
        raise DataError(
            f"{dataset_dir} has no split {split!r}. Available: {sorted(manifest['shards'])}"
        )
    return [str(Path(dataset_dir) / name) for name in manifest["shards"][split]]


def iter_examples(dataset_dir, split: Optional[str] = None) -> Iterator[dict]:
    """Parsed records as numpy values (eager; for tests and ``inspect``), split by split."""
    import tensorflow as tf

    from tfpose.data import schema

    manifest = read_manifest(dataset_dir)
    for name in [split] if split else list(manifest["shards"]):
        for serialized in tf.data.TFRecordDataset(shard_paths(dataset_dir, name)):
            parsed = schema.parse_example(serialized)
            example = {k: v.numpy() for k, v in parsed.items()}
            example["split"] = name
            yield example


def inspect_dataset(dataset_dir, examples: int = 0, out_dir=None, seed: int = 0) -> dict:
    """Counts per split and class, joint coverage, and ``examples`` drawn records saved as PNG.

    Returns ``{"manifest", "coverage": {joint: {"annotated", "visible"}}, "pngs": [paths],
    "shards": n}`` where coverage fractions are over all records of all splits. Every shard is
    CRC-checked first: a damaged one is a ``DataError`` naming each damaged shard and record.
    """
    from PIL import Image

    from tfpose.data import integrity
    from tfpose.visualize import draw_skeleton

    manifest = read_manifest(dataset_dir)
    reports = integrity.verify(dataset_dir)
    damaged = [r.describe() for r in reports if not r.ok]
    if damaged:
        raise DataError("damaged shards:\n  " + "\n  ".join(damaged))
    annotated = np.zeros(mpii.NUM_JOINTS)
    visible = np.zeros(mpii.NUM_JOINTS)
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
        for k, name in enumerate(mpii.JOINT_NAMES)
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
