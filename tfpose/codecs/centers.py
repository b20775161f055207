"""Person-centre codec (CenterNet, Zhou et al. 2019, "Objects as Points"): boxes <-> a centre
heatmap, box sizes and sub-cell offsets.

A person is a point: the centre of its box. The network predicts, per output cell, the logit that
a person's centre lies there (``centers``), and at that cell the box's size (``box_size``) and
where inside the cell the centre lies (``box_offset``). Decoding keeps the cells that are the
maximum of their 3 x 3 neighbourhood (CenterNet's max-pool in place of box NMS), takes the top
``max_people`` and reads their size and offset: pure TF, so it runs inside the graph.

Pixel convention (as ``codecs/heatmap.py``): output cell ``j`` is centred on input coordinate
``j * stride``, so a centre ``c`` lies in cell ``round(c / stride)`` at offset
``c / stride - cell`` in ``[-0.5, 0.5]``. Boxes are ``(x0, y0, x1, y1)`` in input pixels.
Shapes: ``B`` batch, ``N`` box slots (padding rows have ``valid`` 0), ``H x W`` output cells.

Why these choices:
- The centre Gaussian is TTFNet's elliptical one (Liu et al. 2019): sigma = ``ALPHA`` x box
  side / 6 per axis, peak 1 on the centre's cell; wide people get wide blobs, and it needs no
  IoU-radius solve.
- Sizes are regressed as ``log(side / stride)``: persons span 10 % to 90 % of a photo, and a log
  target weighs a 5 % error alike at every scale (raw pixels would let big boxes dominate).
"""

from __future__ import annotations

import tensorflow as tf

ALPHA = 0.54  # TTFNet's Gaussian size factor
MIN_SIDE = 1.0  # px; a degenerate box (joints on a line) still has a finite log size
MIN_SIGMA = 0.5  # cells; the smallest blob still marks its centre's neighbours


def _box_geometry(boxes):
    boxes = tf.cast(boxes, tf.float32)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2.0
    side = tf.maximum(boxes[..., 2:] - boxes[..., :2], MIN_SIDE)
    return centre, side


def encode(boxes, valid, output_size: int, stride: int):
    """Boxes -> the three targets and the mask of centre cells.

    Args:
      boxes: float ``[B x] N x 4`` (x0, y0, x1, y1) input px.
      valid: ``[B x] N``, nonzero for a real box (its centre must lie inside the input).
      output_size: ``H = W``, the output cells per side; stride: input px per cell.

    Returns:
      centers float32 ``[B x] H x W x 1`` (max of the boxes' Gaussians, 1 on each centre cell),
      sizes ``[B x] H x W x 2`` (log(w / stride), log(h / stride)), offsets ``[B x] H x W x 2``
      (dx, dy in cells), mask ``[B x] H x W`` (1 on centre cells; sizes and offsets are 0
      elsewhere). Two boxes on one cell share it: their sizes and offsets are averaged.
    """
    centre, side = _box_geometry(boxes)
    valid = tf.cast(tf.not_equal(tf.cast(valid, tf.float32), 0.0), tf.float32)
    grid = centre / float(stride)
    cell = tf.clip_by_value(tf.round(grid), 0.0, float(output_size - 1))
    offset = grid - cell
    sigma = tf.maximum(ALPHA * side / (6.0 * stride), MIN_SIGMA)  # ... x N x 2 (x, y)
    coords = tf.range(output_size, dtype=tf.float32)
    # Separable: ... x N x W along x, ... x N x H along y.
    gx = tf.exp(-tf.square(coords - cell[..., 0, None]) / (2.0 * tf.square(sigma[..., 0, None])))
    gy = tf.exp(-tf.square(coords - cell[..., 1, None]) / (2.0 * tf.square(sigma[..., 1, None])))
    gauss = gy[..., :, None] * gx[..., None, :] * valid[..., None, None]  # ... x N x H x W
    centers = tf.reduce_max(gauss, axis=-3)[..., None]
    hit_x = tf.cast(tf.equal(coords, cell[..., 0, None]), tf.float32)  # ... x N x W
    hit_y = tf.cast(tf.equal(coords, cell[..., 1, None]), tf.float32)
    hits = hit_y[..., :, None] * hit_x[..., None, :] * valid[..., None, None]  # ... x N x H x W
    count = tf.reduce_sum(hits, axis=-3)  # ... x H x W

    def scatter(values):  # ... x N x 2 -> ... x H x W x 2, averaged where boxes share a cell
        total = tf.einsum("...nhw,...nc->...hwc", hits, values)
        return tf.math.divide_no_nan(total, count[..., None])

    sizes = scatter(tf.math.log(side / float(stride)))
    offsets = scatter(offset)
    mask = tf.minimum(count, 1.0)
    return centers, sizes, offsets, mask


def peaks(center_logits, max_people: int):
    """The ``max_people`` highest local maxima of the centre map.

    center_logits: ``B x H x W x 1``. Returns ``(scores B x N, cells B x N x 2 int32 (x, y))``
    with ``N = max_people`` (fewer cells than that: the rest have score 0). A cell counts only
    when it equals the maximum of its 3 x 3 neighbourhood (CenterNet's NMS).
    """
    heat = tf.sigmoid(tf.cast(center_logits, tf.float32))
    pooled = tf.nn.max_pool2d(heat, 3, 1, "SAME")
    heat = heat * tf.cast(tf.equal(heat, pooled), tf.float32)
    shape = tf.shape(heat)
    width = shape[2]
    flat = tf.reshape(heat, tf.stack([shape[0], -1]))
    k = tf.minimum(max_people, tf.shape(flat)[1])
    scores, index = tf.math.top_k(flat, k=k)
    pad = max_people - k  # a map with fewer cells than max_people: zero-score rows
    scores = tf.pad(scores, [[0, 0], [0, pad]])
    index = tf.pad(index, [[0, 0], [0, pad]])
    cells = tf.stack([index % width, index // width], axis=-1)
    return scores, cells


MAX_SIDE_FACTOR = 2.0  # a decoded box's side at most this x the input's


def decode(center_logits, sizes, offsets, stride: int, max_people: int = 20):
    """Network outputs -> the ``max_people`` best boxes per image, best first.

    center_logits ``B x H x W x 1``, sizes and offsets ``B x H x W x 2`` (as ``encode``).
    Returns ``(boxes B x N x 4 (x0, y0, x1, y1) input px, scores B x N in [0, 1])``; callers keep
    the rows above their score threshold.
    """
    scores, cells = peaks(center_logits, max_people)
    sizes = tf.cast(sizes, tf.float32)
    offsets = tf.cast(offsets, tf.float32)
    width = tf.shape(sizes)[2]
    flat_index = cells[..., 1] * width + cells[..., 0]  # B x N

    def at(maps):  # B x H x W x 2 -> B x N x 2
        flat = tf.reshape(maps, tf.stack([tf.shape(maps)[0], -1, 2]))
        return tf.gather(flat, flat_index, batch_dims=1)

    centre = (tf.cast(cells, tf.float32) + at(offsets)) * float(stride)
    # A side at most twice the input's (a person cut by the frame can outgrow it, not more):
    # the size head reads wild values off the centres, and an int8 twin calibrated on those
    # rounded every real box side to 0 (a range of e^8 cells).
    longest = tf.cast(tf.maximum(tf.shape(sizes)[1], width), tf.float32)
    side = tf.exp(tf.minimum(at(sizes), tf.math.log(MAX_SIDE_FACTOR * longest))) * float(stride)
    boxes = tf.concat([centre - side / 2.0, centre + side / 2.0], axis=-1)
    return boxes, scores


def box_iou(a, b):
    """IoU of every box of ``a`` (``... x N x 4``) with every box of ``b`` (``... x M x 4``):
    ``... x N x M``."""
    a = tf.cast(a, tf.float32)[..., :, None, :]
    b = tf.cast(b, tf.float32)[..., None, :, :]
    low = tf.maximum(a[..., :2], b[..., :2])
    high = tf.minimum(a[..., 2:], b[..., 2:])
    inter = tf.reduce_prod(tf.maximum(high - low, 0.0), axis=-1)
    area_a = tf.reduce_prod(tf.maximum(a[..., 2:] - a[..., :2], 0.0), axis=-1)
    area_b = tf.reduce_prod(tf.maximum(b[..., 2:] - b[..., :2], 0.0), axis=-1)
    return tf.math.divide_no_nan(inter, area_a + area_b - inter)
