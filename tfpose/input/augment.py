"""Keypoint-consistent augmentation: one random affine per example, applied to image and joints.

The report thought augmentation impossible "because joints must follow"; here they follow. Per
example one 3x3 matrix ``A`` is drawn (rotation, scale, translation and an optional horizontal
flip, all about the image centre) and used twice: the image is resampled with ``A^-1`` (each
output pixel reads the input at ``A^-1 p``, bilinear, zero outside the image) and the keypoints
are mapped with ``A``. A flip also swaps left and right joints (``geometry.side_order``), so
``l_wrist`` still names the person's left wrist.

Pixel convention: integer coordinates are pixel centres (pixel ``i`` spans ``[i-0.5, i+0.5]``,
an ``n``-pixel image spans ``[-0.5, n-0.5]``), so a flip maps ``x`` to ``S - 1 - x`` exactly. A
sample inside that span reads the image (the half pixel at the border repeats the edge pixel);
a sample outside it is 0.

Every function takes one example (image ``H x W x 3``, keypoints ``K x 3``) or a batch (leading
``B``, one matrix per example): the training pipeline augments whole batches, so the resampling
of a batch is one fused gather (``warp_image``) rather than ``B`` small kernels. The image may be
a *canvas* (``pipeline.decode(..., canvas=True)``): the stored image, zero-padded, with
``image_matrix`` (canvas pixels -> input pixels, e.g. the 128 -> 256 scale) and ``image_extent``
(its height and width inside the canvas). ``A @ image_matrix`` is then the single resampling from
the stored pixels to the augmented input, instead of a resize followed by a warp.

Joints that leave the frame (outside ``0 <= x, y < S`` after the transform) lose BOTH flags:
``annotated`` becomes 0 (no loss on them: the target weight is the annotated flag) and
``visible`` (``keypoints[..., 2]``) becomes 0 (the model input treats them as missing). Their
coordinates are kept as transformed.

Randomness is stateless: every draw derives from ``example["seed"]`` (int64 [2], one per call;
a batch draws one row per example), which the pipeline sets from ``train.seed`` and the batch's
position, so a deterministic pipeline reproduces the same augmentations. Pure TF ops throughout
(no ``py_function``); the pipeline XLA-compiles ``apply`` with normalisation and targets.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfpose.core import person_box
from tfpose.config import AugmentConfig
from tfpose.core import geometry
from tfpose.input import degrade

LUMA = (0.299, 0.587, 0.114)
NUM_DRAWS = 8  # uniforms per example: angle, scale, tx, ty, flip, 3 colour factors


def affine_matrix(size, angle_deg=0.0, scale=1.0, tx=0.0, ty=0.0, flip=False, centre=None):
    """The float32 ``... x 3 x 3`` matrix mapping input pixels to output pixels (``size`` square).

    Order (right to left): move ``centre`` (``... x 2`` input pixels; default the image centre)
    to the origin, flip x (if ``flip``), scale, rotate by ``angle_deg`` (clockwise on screen, y
    points down), move to the output centre plus ``(tx, ty)`` pixels. Arguments may be Python
    numbers, scalars or equally shaped ``...`` tensors (one matrix each).
    """
    c = (float(size) - 1.0) / 2.0
    angle = tf.cast(angle_deg, tf.float32) * (math.pi / 180.0)
    scale = tf.cast(scale, tf.float32)
    fx = tf.where(tf.cast(flip, tf.bool), -1.0, 1.0)
    tx, ty = tf.cast(tx, tf.float32), tf.cast(ty, tf.float32)
    if centre is None:
        cx = cy = c
    else:
        centre = tf.cast(centre, tf.float32)
        cx, cy = centre[..., 0], centre[..., 1]
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    zero = tf.zeros_like(cos * fx + tx + ty + cx + cy)  # the arguments' common (broadcast) shape
    a, b, d, e = zero + cos * fx, zero - sin, zero + sin * fx, zero + cos
    # Linear part L about the centre: translation = output centre + t - L @ centre.
    rows = [a, b, c + tx - a * cx - b * cy, d, e, c + ty - d * cx - e * cy,
            zero, zero, zero + 1.0]
    return tf.reshape(tf.stack(rows, axis=-1), tf.concat([tf.shape(a), [3, 3]], axis=0))


def draw(seed, batch_size, size, cfg: AugmentConfig, keypoints=None, annotated=None):
    """Draws the augmentation of ``batch_size`` examples from one ``seed`` (int [2]).

    Returns ``(matrix B x 3 x 3, flip bool B, colour float32 B x 3)``; the colour factors
    (brightness, contrast, saturation) lie in ``[1 - s, 1 + s]`` for ``s = cfg.color_jitter``.
    With ``cfg.person_crop`` > 0 and the batch's ``keypoints`` (B x K x 2+, input pixels) and
    ``annotated`` (B x K), that fraction of examples is framed on the person: the square
    ``person_box.square_box`` of the annotated joints is scaled to fill the input before the
    drawn scale, rotation and shift (examples with fewer than two annotated joints keep the
    whole frame).
    """
    seed = tf.cast(seed, tf.int64)
    u = tf.random.stateless_uniform([batch_size, NUM_DRAWS], seed=seed)
    angle = (2.0 * u[:, 0] - 1.0) * cfg.rotation
    scale = cfg.scale_min + u[:, 1] * (cfg.scale_max - cfg.scale_min)
    tx = (2.0 * u[:, 2] - 1.0) * cfg.translate * size
    ty = (2.0 * u[:, 3] - 1.0) * cfg.translate * size
    flip = tf.logical_and(tf.constant(bool(cfg.flip)), u[:, 4] < 0.5)
    colour = 1.0 + (2.0 * u[:, 5:8] - 1.0) * cfg.color_jitter
    if cfg.wide_rotation > 0:  # a stream of its own, as the person crops below
        wide = tf.random.stateless_uniform([batch_size, 2],
                                           seed=seed + tf.constant([0, 2], tf.int64))
        angle = tf.where(wide[:, 0] < cfg.wide_rotation,
                         (2.0 * wide[:, 1] - 1.0) * cfg.wide_rotation_range, angle)
    centre = None
    if cfg.person_crop > 0 and keypoints is not None:
        # A stream of its own (seed + 1 in the second word), so runs without person crops keep
        # exactly the draws they had before the option existed.
        pick = tf.random.stateless_uniform([batch_size], seed=seed + tf.constant([0, 1], tf.int64))
        box_centre, side, valid = person_box.square_box(keypoints, annotated)
        crop = tf.logical_and(pick < cfg.person_crop, valid)
        image_centre = tf.fill([batch_size, 2], (float(size) - 1.0) / 2.0)
        centre = tf.where(crop[:, None], box_centre, image_centre)
        # At most 4x zoom: two joints close together do not blow up a few pixels.
        scale = scale * tf.where(crop, float(size) / tf.maximum(side, 0.25 * size), 1.0)
    return affine_matrix(size, angle, scale, tx, ty, flip, centre), flip, colour


def _inverse_affine(matrix):
    """Closed-form inverse of ``... x 3 x 3`` affine matrices (last row 0, 0, 1)."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    d, e, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    zero, one = tf.zeros_like(a), tf.ones_like(a)
    rows = [ia, ib, -(ia * tx + ib * ty), id_, ie, -(id_ * tx + ie * ty), zero, zero, one]
    return tf.reshape(tf.stack(rows, axis=-1), tf.concat([tf.shape(a), [3, 3]], axis=0))


def warp_image(image, matrix, output_size=None, extent=None):
    """Resamples ``image`` so that input pixel ``p`` lands at ``matrix @ p``; bilinear, float32.

    image: ``[B x] H x W x C`` (any real dtype); matrix: ``[B x] 3 x 3`` affine; output_size:
    ``(height, width)`` (default: the input's); extent: ``[B x] 2`` float (height, width) of the
    image inside a zero-padded canvas (default: all of it). Output pixels whose source lies
    outside the extent (see the module's pixel convention) are 0.

    One gather per tap for the whole batch; under XLA the coordinates, four taps and blend fuse
    into one loop, several times faster than ``ImageProjectiveTransformV3``.
    """
    image = tf.convert_to_tensor(image)
    single = image.shape.rank == 3
    if single:
        image, matrix = image[None], tf.convert_to_tensor(matrix)[None]
        extent = None if extent is None else tf.convert_to_tensor(extent)[None]
    shape = tf.shape(image)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    if output_size is None:
        output_size = (height, width)
    out_h, out_w = output_size
    if extent is None:
        extent = tf.cast(tf.stack([height, width]), tf.float32)[None] * tf.ones([batch, 1])
    extent = tf.cast(extent, tf.float32)
    inverse = _inverse_affine(tf.cast(matrix, tf.float32))  # output px -> input px
    # Affine, so x_src = (a x + c) + b y: per-row and per-column terms on short vectors, then
    # one add per pixel (a lone add: grappler cannot reorder it, so a graph gives the eager
    # result bit for bit, and a 1e-5 px shift would show on a noisy image).
    xs = tf.range(out_w, dtype=tf.float32)[None, :]
    ys = tf.range(out_h, dtype=tf.float32)[None, :]

    def source(row):
        along_x = inverse[:, row, 0, None] * xs + inverse[:, row, 2, None]  # B x out_w
        along_y = inverse[:, row, 1, None] * ys  # B x out_h
        return along_x[:, None, :] + along_y[:, :, None]  # B x out_h x out_w

    sx, sy = source(0), source(1)
    ext_h, ext_w = extent[:, 0, None, None], extent[:, 1, None, None]
    inside = (sx >= -0.5) & (sx < ext_w - 0.5) & (sy >= -0.5) & (sy < ext_h - 0.5)
    # Clamping to the edge pixel centres makes the border half pixel repeat the edge and keeps
    # every tap in range, so no per-tap bounds test is needed.
    sx = tf.clip_by_value(sx, 0.0, ext_w - 1.0)
    sy = tf.clip_by_value(sy, 0.0, ext_h - 1.0)
    x0, y0 = tf.floor(sx), tf.floor(sy)
    wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
    x0i, y0i = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1i = tf.minimum(x0i + 1, tf.cast(ext_w, tf.int32) - 1)
    y1i = tf.minimum(y0i + 1, tf.cast(ext_h, tf.int32) - 1)
    flat = tf.reshape(image, tf.stack([batch, height * width, channels]))

    def tap(yi, xi):
        index = tf.reshape(yi * width + xi, tf.stack([batch, -1]))
        values = tf.gather(flat, index, batch_dims=1)
        return tf.reshape(tf.cast(values, tf.float32), tf.stack([batch, out_h, out_w, channels]))

    top = tap(y0i, x0i) * (1.0 - wx) + tap(y0i, x1i) * wx
    bottom = tap(y1i, x0i) * (1.0 - wx) + tap(y1i, x1i) * wx
    warped = (top * (1.0 - wy) + bottom * wy) * tf.cast(inside, tf.float32)[..., None]
    return warped[0] if single else warped


def transform_keypoints(keypoints, annotated, matrix, flip, size):
    """Maps keypoints (``[B x] K x 3`` = x, y, visible) with ``matrix``; ``flip`` swaps left/right.

    Returns ``(keypoints [B x] K x 3, annotated [B x] K)``; joints outside ``[0, size)`` lose both
    flags.
    """
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    single = keypoints.shape.rank == 2
    annotated = tf.cast(annotated, tf.float32)
    matrix = tf.cast(matrix, tf.float32)
    flip = tf.cast(flip, tf.bool)
    if single:
        keypoints, annotated = keypoints[None], annotated[None]
        matrix, flip = matrix[None], flip[None]
    moved = tf.linalg.matmul(keypoints[..., :2], matrix[:, :2, :2], transpose_b=True)
    moved = moved + matrix[:, None, :2, 2]
    order = geometry.side_order(flip)  # the warp mirrored x; the joints swap sides here
    moved = tf.gather(moved, order, batch_dims=1)
    visible = tf.gather(keypoints[..., 2], order, batch_dims=1)
    annotated = tf.gather(annotated, order, batch_dims=1)
    inside = tf.cast(tf.reduce_all((moved >= 0.0) & (moved < float(size)), axis=-1), tf.float32)
    keypoints = tf.concat([moved, (visible * inside)[..., None]], axis=-1)
    annotated = annotated * inside
    return (keypoints[0], annotated[0]) if single else (keypoints, annotated)


def jitter_colours(image, factors):
    """Brightness, contrast, saturation ``factors`` (``[B x] 3``) on 0..255 ``[B x] H x W x 3``.

    In sequence: ``x * b``; contrast ``k`` about the mean luma; saturation ``s`` about each
    pixel's luma; clip to 0..255. The luma weights sum to 1, so the three collapse into
    ``kb (s x + (1 - s) luma(x)) + (1 - k) b mean(luma(x))``: one pass over the pixels once the
    mean is known, which is what the per-batch (XLA) loop wants.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    factors = tf.convert_to_tensor(factors, tf.float32)
    factor = factors[..., None, None, None, :]  # ... x 1 x 1 x 1 x 3 (one per kind)
    b, k, s = factor[..., 0], factor[..., 1], factor[..., 2]
    gray = tf.reduce_sum(image * tf.constant(LUMA), axis=-1, keepdims=True)
    mean = tf.reduce_mean(gray, axis=[-3, -2], keepdims=True)
    image = (k * b) * (s * image + (1.0 - s) * gray) + ((1.0 - k) * b) * mean
    return tf.clip_by_value(image, 0.0, 255.0)


def color_jitter(image, strength, seed):
    """Random brightness, contrast and saturation factors in ``[1 - s, 1 + s]`` on a 0..255 image."""
    u = tf.random.stateless_uniform([3], seed=tf.cast(seed, tf.int64), dtype=tf.float32)
    return jitter_colours(image, 1.0 + (2.0 * u - 1.0) * strength)


def apply_affine(example, matrix, flip, size):
    """Stage helper: warps ``example["image"]`` (when present) and its keypoints with one matrix
    per example; a canvas (``image_matrix``, ``image_extent``) is resampled once."""
    example = dict(example)
    if "image" in example:
        image_matrix = example.pop("image_matrix", None)
        full = matrix if image_matrix is None else tf.linalg.matmul(matrix, image_matrix)
        example["image"] = warp_image(
            example["image"], full, (size, size), example.pop("image_extent", None)
        )
    example["keypoints"], example["annotated"] = transform_keypoints(
        example["keypoints"], example["annotated"], matrix, flip, size
    )
    if "labelled" in example:  # the joints' labels before any crop: they swap sides too
        labelled = tf.cast(example["labelled"], tf.float32)
        single = labelled.shape.rank == 1
        flips = tf.reshape(tf.cast(flip, tf.bool), [-1])
        labelled = tf.gather(labelled[None] if single else labelled, geometry.side_order(flips),
                             batch_dims=1)
        example["labelled"] = labelled[0] if single else labelled
    return example


def flip(example, size):
    """Deterministic horizontal flip with the left/right swap (``x -> size - 1 - x``)."""
    return apply_affine(example, affine_matrix(size, flip=True), True, size)


def apply(example, matrix, flip, colour, cfg: AugmentConfig, size):
    """The drawn augmentation (see ``draw``) applied: affine, then colour jitter when enabled."""
    example = apply_affine(example, matrix, flip, size)
    if "image" in example and cfg.color_jitter > 0:
        if example["image"].shape.rank == 3:
            colour = colour[0]
        example["image"] = jitter_colours(example["image"], colour)
    return example


def augment(example, cfg: AugmentConfig, size):
    """Augment stage (example dict -> example dict) for one example or a batch, ``size`` square.

    Reads ``image`` (``[B x] H x W x 3``, 0..255, float or a uint8 canvas; optional for
    joints-only data), ``keypoints`` (``[B x] K x 3``), ``annotated`` (``[B x] K``) and ``seed``
    (int64 [2]); returns float32 ``[B x] S x S x 3`` images and transformed joints. Without
    ``cfg.enabled`` only a canvas is resampled to the input. Then the everyday-photo
    degradations of ``cfg`` (``degrade.py``) on the images that are there.
    """
    example = dict(example)
    seed = example.pop("seed", None)
    keypoints = tf.convert_to_tensor(example["keypoints"])
    single = keypoints.shape.rank == 2
    batch = 1 if single else tf.shape(keypoints)[0]
    if not cfg.enabled:
        if "image_matrix" not in example:
            return example
        matrix = tf.eye(3, batch_shape=[] if single else [batch])
        return apply_affine(example, matrix, tf.zeros([] if single else [batch], tf.bool), size)
    matrix, flipped, colour = draw(seed, batch, size, cfg)
    if single:
        matrix, flipped = matrix[0], flipped[0]
    example = apply(example, matrix, flipped, colour, cfg, size)
    if degrade.enabled(cfg) and "image" in example:
        params = degrade.draw(seed, batch, size, cfg)
        if single:
            example = {k: v[None] if k in ("image", "keypoints", "annotated") else v
                       for k, v in example.items()}
        example = degrade.apply(example, params, cfg, size)
        if single:
            example = {k: v[0] if k in ("image", "keypoints", "annotated") else v
                       for k, v in example.items()}
    return example
