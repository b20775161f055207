"""Crop boxes and the image work of the converter: decode, crop, resize, JPEG-encode.

Pixel convention: keypoints are 0-based pixel *indices* (pixel centres at integers). The
stored image is resampled so that stored pixel (i, j) shows original point
``crop_box[:2] + (i, j) * (crop_box[2:] - crop_box[:2]) / image_size`` exactly: the mapping in
``schema.py`` (``core.geometry``) holds for the pixels as well as the keypoints. (In whole-image
mode this means the first ~(W / image_size - 1) / 2 original columns/rows lie left of/above
stored pixel 0's centre and are blended with zero padding.)

``crop_image`` runs in worker processes: no TensorFlow here.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.geometry import letterbox_box
from tfpose.datasets import mpii

MIN_FALLBACK_SIDE = 16.0  # px; a joints-bbox crop of one or two joints still shows something
CROPS = ("person", "whole", "letterbox")
# Crops whose box comes from the image size (read by the worker), not from the annotation.
IMAGE_FRAMED = ("whole", "letterbox")
# Skip reasons of the image work (manifest ``skipped`` keys).
MISSING_IMAGE = "missing_image"
CORRUPT_IMAGE = "corrupt_image"


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

def crop_resize(image, box, size: int, reduction: int):
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
                crop_resize(image, box, size, reduction).save(buffer, "JPEG", quality=quality)
                jpegs.append(buffer.getvalue())
    except FileNotFoundError as err:
        return (MISSING_IMAGE, f"{err.strerror or err}")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return (CORRUPT_IMAGE, f"{type(err).__name__}: {err}")
    return ("ok", (width, height, boxes, jpegs))


def image_size_only(path: Path) -> tuple:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return ("ok", image.size)
    except FileNotFoundError as err:
        return (MISSING_IMAGE, f"{err.strerror or err}")
    except Exception as err:  # noqa: BLE001 - any unreadable header is a corrupt image
        return (CORRUPT_IMAGE, f"{type(err).__name__}: {err}")
