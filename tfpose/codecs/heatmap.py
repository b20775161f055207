"""Heatmap codec: keypoints <-> per-joint Gaussian heatmaps (the stacked hourglass targets).

Pixel convention (shared by ``encode`` and ``decode``): coordinate ``j`` is the centre of heatmap
pixel ``j`` (0-based, integer-centred), and a keypoint at input pixel ``x`` sits at heatmap
coordinate ``x / stride``; ``decode`` multiplies back, so ``decode(encode(k, ..., stride), stride)``
returns ``k`` up to the sub-pixel rule. Shapes: ``K`` joints (16 for MPII), ``H x W``
heatmap size; any number of leading batch dimensions (``...``) is allowed.

Everything is vectorised pure TensorFlow, so both functions run inside ``Dataset.map`` and inside
a Keras layer under the TF backend.
"""

from __future__ import annotations

import math

import tensorflow as tf

SUBPIXEL_METHODS = ("quarter", "gaussian", "dark", "none")


def encode(keypoints, weights, output_size, stride, sigma):
    """Keypoints -> unnormalised Gaussian heatmaps (peak 1) and per-joint weights.

    Args:
      keypoints: float ``... x K x 2`` (x, y) in input pixels.
      weights: ``... x K``, 1 where the joint is labelled (any dtype; nonzero = labelled).
      output_size: heatmap side ``H = W`` (int) or ``(H, W)``.
      stride: input pixels per heatmap pixel (the Gaussian is centred at ``keypoints / stride``).
      sigma: Gaussian standard deviation in heatmap pixels.

    Returns:
      heatmaps: float32 ``... x H x W x K``; all zeros for a joint of weight 0.
      weights: float32 ``... x K``: the input weights, zeroed where the 3-sigma square around the
        centre does not overlap the heatmap (the Gaussian would be invisible there).
    """
    if isinstance(output_size, int):
        height = width = output_size
    else:
        height, width = output_size
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    weights = tf.cast(tf.not_equal(tf.cast(weights, tf.float32), 0.0), tf.float32)
    centre = keypoints / float(stride)
    mu_x, mu_y = centre[..., 0], centre[..., 1]
    reach = 3.0 * sigma
    inside = (
        (mu_x + reach >= 0.0)
        & (mu_x - reach <= width - 1.0)
        & (mu_y + reach >= 0.0)
        & (mu_y - reach <= height - 1.0)
    )
    weights = weights * tf.cast(inside, tf.float32)
    # Separable Gaussian: exp(-(dx^2 + dy^2) / 2s^2) = gx * gy, an outer product per joint.
    xs = tf.range(width, dtype=tf.float32)
    ys = tf.range(height, dtype=tf.float32)
    # Built as ... x W x K and ... x H x 1 x K so the product lands in the output layout
    # without a transpose.
    gx = tf.exp(-tf.square(xs[:, None] - mu_x[..., None, :]) / (2.0 * sigma**2))  # ... x W x K
    gy = tf.exp(-tf.square(ys[:, None] - mu_y[..., None, :]) / (2.0 * sigma**2))  # ... x H x K
    gy = gy * weights[..., None, :]
    heatmaps = gy[..., :, None, :] * gx[..., None, :, :]
    return heatmaps, weights


def decode(heatmaps, stride: float = 1, subpixel: str = "quarter", sigma: float = 2.0):
    """Heatmaps -> keypoints at the maximum of each channel, in input pixels, and scores.

    Args:
      heatmaps: float ``... x H x W x K``.
      stride: input pixels per heatmap pixel, as given to ``encode`` (1: heatmap pixels).
      subpixel: ``quarter`` (default; the hourglass rule: shift a quarter pixel per axis toward
        the larger neighbour, error <= 0.25 px on a clean Gaussian), ``gaussian`` (fit a parabola
        to the log of the peak and its two neighbours per axis: exact for a clean Gaussian),
        ``dark`` (distribution-aware, Zhang et al. CVPR 2020: smooth the maps with the training
        Gaussian, then a second-order Taylor step of the log map at the maximum, with the
        cross term: exact for a clean Gaussian and robust to a network's multi-peaked, noisy
        maps) or ``none`` (integer argmax). Peaks on the border are not shifted.
      sigma: the training Gaussian's standard deviation in heatmap pixels (``dark`` only).

    Returns:
      keypoints: float32 ``... x K x 2`` (x, y) in input pixels (heatmap pixels * ``stride``).
      scores: float32 ``... x K``, the heatmap maximum.
    """
    if subpixel not in SUBPIXEL_METHODS:
        raise ValueError(f"decode: unknown subpixel={subpixel!r}; expected one of {SUBPIXEL_METHODS}")
    heatmaps = tf.convert_to_tensor(heatmaps)
    heatmaps = tf.cast(heatmaps, tf.float32)
    if subpixel == "dark":
        keypoints, scores = _decode_dark(heatmaps, sigma)
        return keypoints * float(stride), scores
    shape = tf.shape(heatmaps)
    lead = shape[:-3]
    height, width, joints = shape[-3], shape[-2], shape[-1]
    flat = tf.reshape(heatmaps, tf.stack([-1, height * width, joints]))
    flat = tf.transpose(flat, [0, 2, 1])  # N x K x HW
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)  # N x K
    scores = tf.reduce_max(flat, axis=-1)
    x = index % width
    y = index // width

    def at(yy, xx):
        yy = tf.clip_by_value(yy, 0, height - 1)
        xx = tf.clip_by_value(xx, 0, width - 1)
        return tf.gather(flat, (yy * width + xx)[..., None], batch_dims=2)[..., 0]

    left, right = at(y, x - 1), at(y, x + 1)
    up, down = at(y - 1, x), at(y + 1, x)
    interior_x = tf.cast((x > 0) & (x < width - 1), tf.float32)
    interior_y = tf.cast((y > 0) & (y < height - 1), tf.float32)
    if subpixel == "quarter":
        dx = 0.25 * tf.sign(right - left)
        dy = 0.25 * tf.sign(down - up)
    elif subpixel == "gaussian":
        dx = _log_parabola_offset(left, scores, right)
        dy = _log_parabola_offset(up, scores, down)
    else:
        dx = dy = tf.zeros_like(scores)
    keypoints = tf.stack(
        [tf.cast(x, tf.float32) + dx * interior_x, tf.cast(y, tf.float32) + dy * interior_y],
        axis=-1,
    )
    keypoints = tf.reshape(keypoints, tf.concat([lead, [joints, 2]], axis=0)) * float(stride)
    scores = tf.reshape(scores, tf.concat([lead, [joints]], axis=0))
    return keypoints, scores


def _log_parabola_offset(before, peak, after):
    """Vertex of the parabola through the logs of three samples at -1, 0, +1, clipped to +-0.5."""
    tiny = 1e-10
    lb = tf.math.log(tf.maximum(before, tiny))
    lp = tf.math.log(tf.maximum(peak, tiny))
    la = tf.math.log(tf.maximum(after, tiny))
    curvature = lb - 2.0 * lp + la
    offset = tf.math.divide_no_nan(0.5 * (lb - la), curvature)
    # A flat or non-concave neighbourhood (e.g. an empty heatmap) has no usable vertex.
    offset = tf.where(curvature < -1e-6, offset, tf.zeros_like(offset))
    return tf.clip_by_value(offset, -0.5, 0.5)


def _gaussian_blur(maps, sigma: float):
    """Each channel of N x H x W x K smoothed by a separable Gaussian (radius 3 sigma), keeping
    its maximum (DARK's modulation: the blurred map is rescaled to the original peak). Zero
    padding, as DARK's reference: a peak within 3 sigma of the border is pulled inwards by up to
    ~0.2 px."""
    radius = max(1, int(round(3.0 * sigma)))
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-tf.square(taps) / (2.0 * sigma**2))
    kernel = kernel / tf.reduce_sum(kernel)
    joints = tf.shape(maps)[-1]
    along_x = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), tf.stack([1, 1, joints, 1]))
    along_y = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), tf.stack([1, 1, joints, 1]))

    def blur(x):
        x = tf.nn.depthwise_conv2d(x, along_x, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(x, along_y, [1, 1, 1, 1], "SAME")

    blurred = blur(maps)
    peak = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    peak_blurred = tf.reduce_max(blurred, axis=[1, 2], keepdims=True)
    return blurred * tf.math.divide_no_nan(peak, peak_blurred)


def _decode_dark(heatmaps, sigma: float):
    """``decode(..., subpixel="dark")``: see there."""
    shape = tf.shape(heatmaps)
    lead = shape[:-3]
    height, width, joints = shape[-3], shape[-2], shape[-1]
    maps = tf.reshape(heatmaps, tf.stack([-1, height, width, joints]))
    flat = tf.transpose(tf.reshape(maps, tf.stack([-1, height * width, joints])), [0, 2, 1])
    index = tf.argmax(flat, axis=-1, output_type=tf.int32)  # N x K, on the raw maps
    scores = tf.reduce_max(flat, axis=-1)
    x, y = index % width, index // width
    log_maps = tf.math.log(tf.maximum(_gaussian_blur(maps, sigma), 1e-10))
    log_flat = tf.transpose(tf.reshape(log_maps, tf.stack([-1, height * width, joints])), [0, 2, 1])

    def at(dy, dx):
        yy = tf.clip_by_value(y + dy, 0, height - 1)
        xx = tf.clip_by_value(x + dx, 0, width - 1)
        return tf.gather(log_flat, (yy * width + xx)[..., None], batch_dims=2)[..., 0]

    centre = at(0, 0)
    gx = 0.5 * (at(0, 1) - at(0, -1))
    gy = 0.5 * (at(1, 0) - at(-1, 0))
    hxx = at(0, 1) - 2.0 * centre + at(0, -1)
    hyy = at(1, 0) - 2.0 * centre + at(-1, 0)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    # Newton step -H^-1 g; only where the log map is concave there (a maximum), else no shift.
    usable = (hxx < -1e-6) & (det > 1e-12)
    dx = tf.where(usable, -(hyy * gx - hxy * gy) / tf.where(usable, det, 1.0), 0.0)
    dy = tf.where(usable, -(hxx * gy - hxy * gx) / tf.where(usable, det, 1.0), 0.0)
    interior = tf.cast((x > 0) & (x < width - 1) & (y > 0) & (y < height - 1), tf.float32)
    dx = tf.clip_by_value(dx, -1.0, 1.0) * interior
    dy = tf.clip_by_value(dy, -1.0, 1.0) * interior
    keypoints = tf.stack([tf.cast(x, tf.float32) + dx, tf.cast(y, tf.float32) + dy], axis=-1)
    keypoints = tf.reshape(keypoints, tf.concat([lead, [joints, 2]], axis=0))
    scores = tf.reshape(scores, tf.concat([lead, [joints]], axis=0))
    return keypoints, scores


def final_heatmaps(outputs):
    """The last stack's heatmaps of a heatmap model's outputs: a dict (``heatmaps_1..N``), a
    list, one tensor, or (in ``compute_output_shape``) one output's shape tuple."""
    if isinstance(outputs, tuple) and all(d is None or isinstance(d, int) for d in outputs):
        return outputs
    if isinstance(outputs, dict):
        names = sorted((k for k in outputs if k.startswith("heatmaps_")), key=lambda k: int(k[9:]))
        return outputs[names[-1]]
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    return outputs


def softmax_heatmaps(logits, sigma: float):
    """Logits B x H x W x K of a ``softmax_ce`` model -> maps on the MSE maps' scale.

    The spatial softmax of each joint, times the mass ``2 pi sigma^2`` of the unnormalised
    training Gaussian: a prediction equal to the target peaks at ~1 like an MSE model's, so
    scores mean the same for both losses (clipped to 1 when sharper than the target).
    """
    shape = tf.shape(logits)
    flat = tf.reshape(logits, tf.stack([shape[0], -1, shape[-1]]))
    probs = tf.reshape(tf.nn.softmax(flat, axis=1), shape)
    return tf.minimum(probs * (2.0 * math.pi * sigma**2), 1.0)
