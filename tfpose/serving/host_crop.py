"""The SavedModel graph's decode and crop (``export.crop_batch``), on the host in numpy and
Pillow: what ``litert.LiteRTPredictor`` feeds its interpreter, so a ``.tflite`` (and the
``lspet`` twin ``tfpose predict`` runs by default) answers without importing TensorFlow, whose
import alone takes ~6 s on the 2-core box.

The same picture as the graph's: output pixel (i, j) of an S x S crop of box (x0, y0, x1, y1)
samples original point ``(x0, y0) + (i, j) * (x1 - x0, y1 - y0) / S`` (pixel centres at
integers), with the triangle kernel of ``ScaleAndTranslate(antialias=True)`` widened to the
sampling step when shrinking, weights normalised, zeros outside the image. A JPEG whose box is
at least 2, 4 or 8 times the crop is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
(Pillow's ``draft``), as the graph does with ``decode_jpeg(ratio=)``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.geometry import letterbox_box
from tfpose.serving.images import open_image, rgb_pixels

JPEG_FORMATS = ("JPEG", "MPO")


def whole_image_box(width: int, height: int, frame: str) -> np.ndarray:
    """float32 [4]: ``export.whole_image_box`` of a W x H image (``stretch`` or ``letterbox``)."""
    if frame == "letterbox":
        return np.asarray(letterbox_box(width, height), np.float32)
    if frame != "stretch":
        raise DataError(f"whole_image_frame must be stretch or letterbox. Received: {frame!r}")
    return np.asarray([0.0, 0.0, width, height], np.float32)


def axis_taps(start: float, length: float, size: int, extent: int,
              reduction: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The resampling of one axis: output pixel i = sum over t of ``weights[i, t]`` x image
    pixel ``index[i, t]`` (the image ``extent`` pixels long, decoded at 1/``reduction``);
    both ``size`` x T.

    As ``export._axis_window`` and ``ScaleAndTranslate`` compute them: sample point (pixel
    edges at integers) ``c0 + (i + 0.5) * step``, triangle kernel of radius ``max(step, 1)``,
    weights normalised over every pixel the kernel covers, the ones outside the image included
    (the graph's zero padding: their weight stays out of the sum)."""
    step = length / size / reduction
    c0 = (start + 0.5 - 0.5 * length / size) / reduction
    samples = c0 + (np.arange(size) + 0.5) * step
    radius = max(step, 1.0)
    first = np.ceil(samples - radius - 0.5).astype(np.int64)
    taps = int(np.max(np.floor(samples + radius - 0.5).astype(np.int64) - first)) + 1
    index = first[:, None] + np.arange(taps)
    weights = np.maximum(0.0, 1.0 - np.abs(index + 0.5 - samples[:, None]) / radius)
    weights /= np.maximum(weights.sum(1, keepdims=True), 1e-30)
    outside = (index < 0) | (index >= extent)
    weights[outside] = 0.0
    return np.clip(index, 0, max(extent - 1, 0)), weights.astype(np.float32)


def crop_and_resize(image: np.ndarray, box, size: int, reduction: float = 1.0) -> np.ndarray:
    """H x W x 3 image (decoded at 1/``reduction``), box (x0, y0, x1, y1) original px ->
    S x S x 3 float32 (``export.crop_and_resize``).

    A sum over the kernel's taps (a few per output pixel), not products with dense S x H
    weight matrices: numpy's BLAS threads, fighting the interpreter's and other processes' for
    two cores, made those ~10x slower (a 157 x 105 LSPET photo: 90 ms a crop against 10, on
    the 2-core box at load 14; the graph's crop took 2-10 ms there in the same minutes)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise DataError(f"box must have x1 > x0 and y1 > y0. Received: {list(box)}")
    height, width = image.shape[:2]
    row_index, row_weights = axis_taps(y0, y1 - y0, size, height, reduction)
    col_index, col_weights = axis_taps(x0, x1 - x0, size, width, reduction)
    # Only the columns the box's taps reach: a person is often a small part of the photo.
    first, last = int(col_index.min()), int(col_index.max()) + 1
    image = np.asarray(image)[:, first:last]
    tall = np.zeros((size, last - first, 3), np.float32)
    for t in range(row_index.shape[1]):
        tall += row_weights[:, t, None, None] * image[row_index[:, t]]
    # Columns gathered as rows of the transpose: numpy takes whole rows ~2x faster.
    columns = np.ascontiguousarray(tall.transpose(1, 0, 2))
    out = np.zeros((size, size, 3), np.float32)
    for t in range(col_index.shape[1]):
        out += col_weights[:, t, None, None] * columns[col_index[:, t] - first]
    return np.ascontiguousarray(out.transpose(1, 0, 2))


def crop_photo(encoded: bytes, box: Optional[np.ndarray], size: int, frame: str,
               name="image") -> tuple[np.ndarray, np.ndarray]:
    """One encoded photo (``images.prepare_image``'s bytes: as displayed) -> (S x S x 3 float32
    crop, the box used, float32 [4]); ``box`` None: the whole photo framed by ``frame``. A
    DataError naming ``name`` when its pixels cannot be decoded."""
    return crop_photo_boxes(encoded, [box], size, frame, name)[0]


def crop_photo_boxes(encoded: bytes, boxes: Sequence, size: int, frame: str,
                     name="image") -> list[tuple[np.ndarray, np.ndarray]]:
    """``crop_photo`` of several boxes of one photo from one decode, a JPEG at the DCT scale
    the smallest box allows."""
    with open_image(encoded, name) as image:
        width, height = image.size
        used = [whole_image_box(width, height, frame) if box is None
                else np.asarray(box, np.float32) for box in boxes]
        reduction = 1.0
        if image.format in JPEG_FORMATS:
            ratio = min(min(u[2] - u[0], u[3] - u[1]) for u in used) / size
            wanted = next(r for r in (8, 4, 2, 1) if ratio >= r or r == 1)
            if wanted > 1:
                drafted = image.draft("RGB", (max(1, width // wanted), max(1, height // wanted)))
                if drafted is not None:  # the scale Pillow chose (1/1 .. 1/8)
                    reduction = width / drafted[1][2]
        pixels = rgb_pixels(image, name)
    return [(crop_and_resize(pixels, u, size, reduction), u) for u in used]


def crop_frame(frame_pixels: np.ndarray, box: Optional[np.ndarray], size: int,
               frame: str) -> tuple[np.ndarray, np.ndarray]:
    """A decoded H x W x 3 frame (RGB 0..255) -> (crop, box used), as ``crop_photo``."""
    height, width = frame_pixels.shape[:2]
    used = whole_image_box(width, height, frame) if box is None else np.asarray(box, np.float32)
    return crop_and_resize(frame_pixels, used, size), used
