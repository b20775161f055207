"""Skeleton drawings: one person's 16 joints over an image, for ``inspect``, ``predict`` and TensorBoard.

Pure Pillow (no TensorFlow), so converter workers and tests can draw cheaply. Right-side bones
are red, left-side blue, the spine and head green (the viewer's left is the person's right in
a frontal picture, so colour, not position, tells the sides apart). Visible joints are filled
dots, annotated but occluded joints hollow rings, unannotated joints are not drawn.

Shapes: ``keypoints`` K x 2 (x, y) in pixels of the image drawn on, K = 16.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tfpose.core.skeleton import JOINT_NAMES, NUM_JOINTS, SKELETON

RIGHT_COLOR = (235, 60, 60)
LEFT_COLOR = (60, 130, 255)
CENTER_COLOR = (60, 220, 90)
GT_COLOR = (255, 255, 255)

_RIGHT = frozenset(k for k, name in enumerate(JOINT_NAMES) if name.startswith("r_"))
_LEFT = frozenset(k for k, name in enumerate(JOINT_NAMES) if name.startswith("l_"))


def _side_color(joints: Sequence[int], colors) -> tuple:
    right, left, center = colors
    if any(j in _RIGHT for j in joints):
        return right
    if any(j in _LEFT for j in joints):
        return left
    return center


def _to_pil(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"draw_skeleton expects an H x W x 3 image. Received: shape={array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array, "RGB")


def _flags(values, default: bool) -> np.ndarray:
    if values is None:
        return np.full([NUM_JOINTS], default, bool)
    return np.asarray(values).reshape(-1).astype(bool)


def _draw_bones(draw, points, annotated, visible, width, colors, radius, dots=True):
    for a, b in SKELETON:
        if annotated[a] and annotated[b]:
            xy = [tuple(map(float, points[a])), tuple(map(float, points[b]))]
            draw.line(xy, fill=_side_color((a, b), colors), width=width)
    if not dots:
        return
    for k in range(len(points)):
        if not annotated[k]:
            continue
        x, y = map(float, points[k])
        box = [x - radius, y - radius, x + radius, y + radius]
        color = _side_color((k,), colors)
        if visible[k]:
            draw.ellipse(box, fill=color, outline=(0, 0, 0))
        else:
            draw.ellipse(box, outline=color, width=max(1, width // 2))


# Joints scoring under this are left out of prediction drawings (with their bones): most of them
# are not in the photo (cut off by its frame) or misplaced. docs/everyday.md, part 4: on
# truncated held-out photos 84 % of what 0.2 hides is either, and it hides 42 % of the cut-off
# joints; on whole photos it hides 5.6 % of the joints in the frame, three quarters of them wrong.
DRAW_MIN_SCORE = 0.2


def shown_joints(scores) -> Optional[np.ndarray]:
    """K bool: the joints a prediction drawing shows (score >= ``DRAW_MIN_SCORE``); None (all)
    without scores."""
    return None if scores is None else np.asarray(scores, np.float32) >= DRAW_MIN_SCORE


def draw_skeleton(
    image,
    keypoints,
    visible=None,
    *,
    annotated=None,
    label: Optional[str] = None,
    colors=(RIGHT_COLOR, LEFT_COLOR, CENTER_COLOR),
    gt_keypoints=None,
    gt_annotated=None,
    line_width: Optional[int] = None,
) -> Image.Image:
    """Draws one skeleton on a copy of ``image`` and returns it as an RGB PIL image.

    Args:
      image: uint8 H x W x 3 array (or H x W, or a PIL image).
      keypoints: K x 2 (x, y) in pixels of ``image``; a K x 3 array's third column is ignored.
      visible: K flags; occluded joints are drawn as rings. Default: all visible.
      annotated: K flags; joints without an annotation (and their bones) are not drawn.
        Default: all annotated.
      label: text written in the top-left corner (e.g. class name and score).
      colors: (right, left, centre) RGB colours.
      gt_keypoints: optional K x 2 ground truth, drawn underneath as a thin white skeleton so
        predictions can be compared with it; ``gt_annotated`` selects its joints.
      line_width: bone width in pixels; default scales with the image (1 px per 100 px).
    """
    canvas = _to_pil(image).copy()
    width, height = canvas.size
    points = np.asarray(keypoints, np.float32).reshape(-1, np.shape(keypoints)[-1])[:, :2]
    if line_width is None:
        line_width = max(1, int(round(min(width, height) / 100)))
    radius = max(2, int(round(line_width * 1.5)))
    draw = ImageDraw.Draw(canvas)
    if gt_keypoints is not None:
        gt = np.asarray(gt_keypoints, np.float32).reshape(-1, np.shape(gt_keypoints)[-1])[:, :2]
        gt_ann = _flags(gt_annotated, True)
        white = (GT_COLOR,) * 3
        _draw_bones(draw, gt, gt_ann, gt_ann, max(1, line_width // 2), white, radius, dots=False)
    _draw_bones(
        draw,
        points,
        _flags(annotated, True),
        _flags(visible, True),
        line_width,
        colors,
        radius,
    )
    if label:
        font = ImageFont.load_default(size=max(10, height // 20))
        left, top, right, bottom = draw.textbbox((3, 2), label, font=font)
        draw.rectangle([0, 0, right + 3, bottom + 2], fill=(0, 0, 0))
        draw.text((3, 2), label, fill=(255, 255, 255), font=font)
    return canvas


def save_grid(images: Sequence[Image.Image], path, columns: Optional[int] = None) -> Image.Image:
    """Tiles equally sized drawings into one picture (row-major) and saves it to ``path``."""
    if not images:
        raise ValueError("save_grid needs at least one image. Received: 0 images")
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    cell_w = max(im.size[0] for im in images)
    cell_h = max(im.size[1] for im in images)
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h))
    for i, im in enumerate(images):
        grid.paste(im, ((i % columns) * cell_w, (i // columns) * cell_h))
    grid.save(path)
    return grid
