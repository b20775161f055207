"""How the person detector frames a photo: the whole photo letterboxed to its input, and, for a
wide photo, square tiles along its width too.

The detector reads a photo letterboxed to a ``size`` square (192 px). A photo four times as
wide as it is high then spans 48 px of input height, and a person half its height 24: on
200 images of 2-4 val photos side by side (``scripts/make_multi_person_set.py
--side-by-side``) the detector found 57.5 % of the people at 192 px and 80.2 % at 384. Tiles
give the photo's height the whole input instead, at the detector's own size (its LiteRT twin
takes no other): squares of the photo's height, overlapping by half, each keeping the boxes
whose centre lies in its core (the part nearer to it than to any other tile), so a person up to half the
height across is whole in the tile that keeps it; the whole photo's boxes join them, and of a
person both found the better-scored box stays (``combine``). The box overlaps this needs
(``inside_share``, ``box_iou``, ``row_iou``) serve the rest of the people pipeline too.
"""

from __future__ import annotations

import math

import numpy as np

# Photos at least this many times as wide as high are also read in tiles. 16:9 video (1.78)
# stays one input: its height gets 108 of the 192 px.
TILE_ASPECT = 2.0
TILE_OVERLAP = 0.5  # of a tile's side shared with the next one
# The share of the smaller of a tile's box and a whole-photo box inside the other at which
# they are one person: on 200 side-by-side images, tiles found 36 more people and 266 more
# boxes on no annotated person when only a tile's box 0.8 inside a whole-photo box twice its
# area was dropped; 34 more and 79 more with this rule.
SAME_PERSON = 0.6


def detector_inputs(photo, size: int, name="image", boxes=(None,)):
    """One photo (H x W x 3 uint8 array, or encoded bytes as displayed) -> per box of
    ``boxes`` (None: the whole photo letterboxed; a square of the photo: a tile) the detector
    input ``size`` x ``size`` x 3 float32 and its frame ``(x0, y0, x1, y1)`` in photo px
    (input x maps to ``x0 + x (x1 - x0) / size``, pixel centres at integers).

    The pose model's own crop (``host_crop``: the graph's, in numpy), so a photo given as a
    path, bytes or an array is framed alike; a JPEG is decoded once for all ``boxes``, at the
    reduced DCT scale they allow (a 12-megapixel photo at 1/8: ~15x faster than decoding it
    whole)."""
    from tfpose.serving.host_crop import crop_frame, crop_photo_boxes

    if isinstance(photo, (bytes, bytearray)):
        return crop_photo_boxes(bytes(photo), boxes, size, "letterbox", name)
    return [crop_frame(np.asarray(photo, np.uint8), box, size, "letterbox") for box in boxes]


def to_photo(boxes: np.ndarray, frame: np.ndarray, size: int) -> np.ndarray:
    """Boxes N x 4 in the pixels of a ``size`` input framing the photo's ``frame`` (x0, y0,
    x1, y1 photo px, from ``detector_inputs``) -> photo pixels: ``x0 + x (x1 - x0) / size``
    per axis."""
    scale = np.tile((frame[2:] - frame[:2]) / size, 2)
    return np.tile(frame[:2], 2) + np.asarray(boxes, np.float32) * scale


def tiles(width: int, height: int, aspect: float = TILE_ASPECT):
    """The square tiles over a ``width`` x ``height`` photo: ``(boxes T x 4, cores T x 4)`` in
    photo px (x0, y0, x1, y1); T = 0 unless the photo is at least ``aspect`` times as wide as
    high. The tiles' side is the height; they start at both ends and overlap by
    ``TILE_OVERLAP`` or more; the cores split the width at the middle of each overlap (the
    first and last reach beyond the photo).

    Only wide photos: people stand upright, so a photo's height bounds their size, and a wide
    photo's letterbox leaves them small. A tall photo's height fills the input already (a
    third of LSP's photos are cropped twice as tall as wide around one standing athlete)."""
    if width < aspect * height:
        return np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)
    count = math.ceil((width - height) / (height * (1.0 - TILE_OVERLAP))) + 1
    starts = np.linspace(0.0, width - height, count)
    cuts = np.concatenate([[-np.inf], (starts[1:] + starts[:-1] + height) / 2.0, [np.inf]])
    boxes = np.stack([starts, np.zeros(count), starts + height, np.full(count, height)], 1)
    cores = np.stack([cuts[:-1], np.full(count, -np.inf), cuts[1:], np.full(count, np.inf)], 1)
    return boxes.astype(np.float32), cores.astype(np.float32)


def combine(whole, tiled):
    """One photo's candidate boxes from its frames: ``whole`` ``(boxes N x 4 photo px,
    scores N)`` found on the whole photo, ``tiled`` a list of ``(boxes, scores, core 4)``, one
    per tile (empty: the photo is not tiled). Returns ``(boxes, scores)``, best first.

    A tile keeps the boxes centred in its core. Where a tile's box and a box of the whole
    photo are one person (the smaller lies ``SAME_PERSON`` inside the larger: a tile that
    frames a large person closely also finds their parts), the better-scored stays. Boxes of
    one frame are left to ``people.drop_duplicates``."""
    boxes, scores = whole
    parts, part_scores, views = [boxes], [scores], [np.zeros(len(boxes), bool)]
    for tile_boxes, tile_scores, core in tiled:
        centre = (tile_boxes[:, :2] + tile_boxes[:, 2:]) / 2.0
        keep = np.all((centre >= core[:2]) & (centre < core[2:]), axis=1)
        parts.append(tile_boxes[keep])
        part_scores.append(tile_scores[keep])
        views.append(np.ones(int(keep.sum()), bool))
    boxes, scores, in_tile = map(np.concatenate, (parts, part_scores, views))
    share = inside_share(boxes, boxes)
    same = (np.maximum(share, share.T) >= SAME_PERSON) & (in_tile[:, None] != in_tile[None])
    kept = keep_greedily(same, scores)
    return boxes[kept], scores[kept]


def keep_greedily(overlap: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices kept (int64, best first) of N boxes with ``scores`` N and ``overlap`` N x N
    bool: each box in score order unless it overlaps one already kept."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if not overlap[i, kept].any():
            kept.append(int(i))
    return np.asarray(kept, np.int64)


def inside_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A x B: the share of each box of ``a``'s area (x0, y0, x1, y1) that lies inside each box
    of ``b`` (0 for a box without area)."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), -1)
    area = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), -1)[:, None]
    return np.where(area > 0, inter / np.where(area > 0, area, 1), 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (A x 4) with every box of ``b`` (B x 4): A x B."""
    return _iou(np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None])


def row_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box of ``a`` (N x 4) with the box in the same row of ``b`` (N x 4): N."""
    return _iou(np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ... x 4 (x0, y0, x1, y1) broadcast against each other; 0 without area."""
    low, high = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(high - low, 0, None), -1)
    area = lambda r: np.prod(np.clip(r[..., 2:] - r[..., :2], 0, None), -1)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
