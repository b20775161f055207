"""Everyday-photo degradations for training: what rooms, streets, phones and webcams do to a photo.

The sports photos the real-photo models learn from are sharp, well lit and frame the whole
athlete. Photos users take are not: a person cut by the frame at the waist, a table in front of
their knees, a dark living room, a 320 x 240 video frame, motion blur, sensor noise, heavy JPEG.
Each degradation here is applied to a share of the training examples (``AugmentConfig``: one
probability each, 0 = off) after the keypoint-consistent affine, in the order a camera does them
to a scene:

    truncation, occlusion   what the frame and the scene hide (labels follow, see below)
    lighting                gamma, exposure, contrast and colour cast
    low resolution          the input shown at 1/2, 1/3 or 1/4 of its resolution, upsampled
    blur                    motion (9 px, four directions) or defocus (a disc of radius 3)
    noise                   Gaussian sensor noise, sigma 2..12 grey levels
    jpeg                    8 x 8 block DCT quantised as a JPEG encoder does, quality 5..40

Joints: photometric degradations move no pixel, so the joints stay on theirs. Truncation zeroes
the image beyond a line through the person (the frame's new edge: outside a photo is zero here,
as in every crop and letterbox of the pipeline) and unlabels the joints beyond it: both flags
off, the coordinates kept, as the affine does for joints that leave the input; a joint is never
clamped to the edge. Occlusion pastes a patch over a joint and keeps its label: the joint is
still there, and predicting hidden joints from the body around them is the point.

As in ``augment.py``, the random parameters are drawn outside XLA (``draw``, stateless, from the
batch's seed on a stream of its own so configs without degradations keep their draws) and
applied inside it (``apply``: pure TF ops on ``B x S x S x 3`` batches, static shapes).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfpose.config import AugmentConfig
from tfpose.core import person_box

# Offset of the degradations' random streams in the seed's second word (``augment.draw`` uses
# +0 for the affine, +1 for person crops and +2 for wide rotations).
STREAM = 10
DEGRADATIONS = ("truncation", "occlusion", "lighting", "low_resolution", "blur", "noise", "jpeg")
PHOTOMETRIC = ("lighting", "low_resolution", "blur", "noise", "jpeg")  # they move no pixel
LOW_RESOLUTION_FACTORS = (2, 3, 4)
MOTION_BLUR_LENGTH = 9
DEFOCUS_RADIUS = 3
NOISE_SIGMA = (2.0, 12.0)
JPEG_QUALITY = (5.0, 40.0)
OCCLUSION_SIDE = (0.15, 0.4)  # of the person's square box side
# Joint groups a truncation line passes through (MPII ids): hips, knees, shoulders.
TRUNCATION_LEVELS = ((2, 3), (1, 4), (12, 13))
HEAD = (8, 9)  # upper neck, head top: which side of a line the head is on
# Standard JPEG quantisation tables (ITU-T T.81 Annex K), luminance and chrominance.
JPEG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float32)
JPEG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, np.float32)


def enabled(cfg: AugmentConfig) -> bool:
    """Whether any degradation has a positive probability."""
    return any(getattr(cfg, name) > 0 for name in DEGRADATIONS)


# ----------------------------------------------------------------------------------------------
# Drawing (outside XLA).


def draw(seed, batch_size, size: int, cfg: AugmentConfig) -> dict:
    """Per-example parameters of every enabled degradation, from one ``seed`` (int [2]).

    Returns a dict of tensors with leading ``B``: ``<name>`` bool (applied or not) and the
    parameters each ``apply`` step reads; ``noise`` is the B x S x S x 3 field itself.
    """
    seed = tf.cast(seed, tf.int64)

    def stream(i):  # streams of their own: configs without degradations keep their draws
        return seed + tf.constant([0, STREAM + i], tf.int64)

    u = tf.random.stateless_uniform([batch_size, 16], seed=stream(0))
    params = {name: u[:, i] < getattr(cfg, name) for i, name in enumerate(DEGRADATIONS)}
    params.update(
        truncation_level=tf.cast(u[:, 7] * len(TRUNCATION_LEVELS), tf.int32),
        truncation_vertical=u[:, 8] < 0.25,  # a side edge of the frame through the person
        truncation_jitter=2.0 * u[:, 9] - 1.0,
        occlusion_joint=u[:, 10],
        low_resolution_factor=tf.cast(u[:, 11] * len(LOW_RESOLUTION_FACTORS), tf.int32),
        blur_kernel=tf.cast(u[:, 12] * len(BLUR_KERNELS), tf.int32),
        noise_sigma=NOISE_SIGMA[0] + u[:, 13] * (NOISE_SIGMA[1] - NOISE_SIGMA[0]),
        jpeg_quality=JPEG_QUALITY[0] + u[:, 14] * (JPEG_QUALITY[1] - JPEG_QUALITY[0]),
    )
    more = tf.random.stateless_uniform([batch_size, 9], seed=stream(1))
    params.update(
        truncation_side=more[:, 0] < 0.5,  # shoulders and side edges: which side goes
        occlusion_shape=more[:, 1:5],  # offset x, y and side x, y, each in [0, 1)
        occlusion_solid=more[:, 5] < 0.5,  # a flat colour, else another photo's pixels
        lighting_gamma=tf.exp(-0.7 + 1.8 * more[:, 6]),  # 0.5 .. 3: bright .. dark mid-tones
        lighting_gain=tf.exp(-1.2 + 2.1 * more[:, 7]),  # 0.3 .. 2.5: under .. over-exposed
        lighting_contrast=0.3 + 0.7 * more[:, 8],
    )
    cast = tf.random.stateless_uniform([batch_size, 3], seed=stream(2))
    params["lighting_cast"] = tf.exp(0.3 * (2.0 * cast - 1.0))  # per-channel gain 0.74 .. 1.35
    params["occlusion_colour"] = 255.0 * cast
    if cfg.noise > 0:
        params["noise_field"] = tf.random.stateless_normal(
            [batch_size, size, size, 3], seed=stream(3))
    return params


# ----------------------------------------------------------------------------------------------
# Applying (inside XLA): each takes and returns float32 B x S x S x 3 images in 0..255.


def _select(chosen, new, old):
    return tf.where(chosen[:, None, None, None], new, old)


def truncate(image, keypoints, annotated, level, vertical, side, jitter):
    """Zeroes each image beyond a line through its person and unlabels the joints beyond it.

    ``level`` B int: the joint group (``TRUNCATION_LEVELS``) a horizontal line passes through
    (plus ``jitter`` B in [-1, 1] x 0.05 of the person's box side); hips and knees lose the side
    away from the head, shoulders lose the head's side or the other (``side`` B bool).
    ``vertical`` B bool: a vertical line instead, through the joints' x extent at ``jitter``'s
    position, losing the ``side`` half. Returns ``(image, keypoints, annotated, applied B bool)``;
    an example without the joints it needs is left as it is (``applied`` False).
    """
    xy = keypoints[..., :2]
    used = annotated > 0
    _, person_side, valid = person_box.square_box(keypoints, annotated)
    groups = tf.constant(TRUNCATION_LEVELS, tf.int32)  # L x 2
    members = tf.gather(groups, level)  # B x 2
    member_used = tf.cast(tf.gather(used, members, batch_dims=1), tf.float32)
    member_y = tf.gather(xy[..., 1], members, batch_dims=1)
    count = tf.reduce_sum(member_used, -1)
    y_level = tf.reduce_sum(member_y * member_used, -1) / tf.maximum(count, 1.0)
    y_level = y_level + 0.05 * person_side * jitter
    head_used = tf.cast(tf.gather(used, list(HEAD), axis=1), tf.float32)
    head_count = tf.reduce_sum(head_used, -1)
    head_y = tf.reduce_sum(tf.gather(xy[..., 1], list(HEAD), axis=1) * head_used, -1) / tf.maximum(
        head_count, 1.0)
    head_above = head_y < y_level
    is_shoulders = tf.equal(level, len(TRUNCATION_LEVELS) - 1)
    # +1: lose y > level (below); -1: lose y < level. Hips and knees lose the side away from the
    # head; shoulders lose either side.
    lose_below = tf.where(is_shoulders, side, head_above)
    horizontal_ok = (count > 0) & ((head_count > 0) | is_shoulders)
    big = tf.constant(3.0e38)
    x_low = tf.reduce_min(tf.where(used, xy[..., 0], big), -1)
    x_high = tf.reduce_max(tf.where(used, xy[..., 0], -big), -1)
    x_level = x_low + (0.5 + 0.4 * jitter) * (x_high - x_low)
    applied = valid & tf.where(vertical, True, horizontal_ok)
    coordinate = tf.where(vertical[:, None], xy[..., 0], xy[..., 1])  # B x K
    level_value = tf.where(vertical, x_level, y_level)
    sign = tf.where(tf.where(vertical, side, lose_below), 1.0, -1.0)  # lose (c - level) * sign > 0
    size = tf.shape(image)[1]
    pixels = tf.range(tf.cast(size, tf.float32))
    # Pixel centres along the cut axis: x for a vertical line, y for a horizontal one.
    along = tf.where(vertical[:, None, None], pixels[None, None, :], pixels[None, :, None])
    keep_pixel = (along - level_value[:, None, None]) * sign[:, None, None] <= 0
    keep_pixel = keep_pixel | ~applied[:, None, None]
    image = image * tf.cast(keep_pixel, image.dtype)[..., None]
    # A joint goes with the pixel it lies in (pixel i spans [i - 0.5, i + 0.5]): a labelled
    # joint is always on a pixel the image still shows.
    pixel = tf.floor(coordinate + 0.5)
    keep_joint = ((pixel - level_value[:, None]) * sign[:, None] <= 0) | ~applied[:, None]
    keep = tf.cast(keep_joint, tf.float32)
    keypoints = tf.concat([xy, (keypoints[..., 2] * keep)[..., None]], -1)
    return image, keypoints, annotated * keep, applied


def occlude(image, keypoints, annotated, joint, shape, solid, colour):
    """Pastes a rectangle over one annotated joint of each image (labels unchanged).

    ``joint`` B in [0, 1) picks among the annotated joints; ``shape`` B x 4 in [0, 1): the
    patch centre's offset from the joint (x, y, up to half the patch) and its width and height
    (``OCCLUSION_SIDE`` of the person's box side); ``solid`` B bool fills it with ``colour``
    B x 3, else with the same pixels of the next image in the batch (another photo's texture).
    """
    used = tf.cast(annotated > 0, tf.float32)
    count = tf.reduce_sum(used, -1)
    rank = tf.cumsum(used, axis=-1) - 1.0  # 0-based index among the annotated joints
    target = tf.floor(joint * count)
    pick = tf.argmax(tf.cast(tf.equal(rank, target[:, None]), tf.float32) * used, axis=-1)
    centre = tf.gather(keypoints[..., :2], pick, batch_dims=1)  # B x 2
    _, side, valid = person_box.square_box(keypoints, annotated)
    low, high = OCCLUSION_SIDE
    extent = side[:, None] * (low + (high - low) * shape[:, 2:4])  # B x 2 (w, h)
    centre = centre + (shape[:, 0:2] - 0.5) * extent
    size = tf.shape(image)[1]
    pixels = tf.range(tf.cast(size, tf.float32))
    inside_x = tf.abs(pixels[None, :] - centre[:, 0:1]) <= extent[:, 0:1] / 2.0  # B x S
    inside_y = tf.abs(pixels[None, :] - centre[:, 1:2]) <= extent[:, 1:2] / 2.0
    patch = inside_y[:, :, None] & inside_x[:, None, :] & valid[:, None, None]
    fill = tf.where(solid[:, None, None, None], colour[:, None, None, :],
                    tf.roll(image, shift=1, axis=0))
    return tf.where(patch[..., None], fill, image), valid


def relight(image, gamma, gain, contrast, cast):
    """Gamma (B), exposure gain (B), contrast toward mid grey (B) and a colour cast (B x 3):
    ``255 (x / 255)^gamma x gain x cast``, then contrast about 128, clipped to 0..255."""
    x = tf.pow(tf.maximum(image, 0.0) / 255.0, gamma[:, None, None, None]) * 255.0
    x = x * gain[:, None, None, None] * cast[:, None, None, :]
    x = 128.0 + (x - 128.0) * contrast[:, None, None, None]
    return tf.clip_by_value(x, 0.0, 255.0)


def low_resolution(image, factor_index, size: int):
    """Each image shown at 1/k of its resolution (k = ``LOW_RESOLUTION_FACTORS[factor_index]``,
    B int): k x k block means, upsampled bilinearly to S with the block centres on their pixels.
    A factor that does not divide S is replaced by the largest one that does."""
    factors = [k for k in LOW_RESOLUTION_FACTORS if size % k == 0] or [1]
    versions = []
    for k in LOW_RESOLUTION_FACTORS:
        k = max([f for f in factors if f <= k] or [factors[0]])
        small = tf.nn.avg_pool2d(image, k, k, "VALID")
        versions.append(tf.image.resize(small, [size, size], method="bilinear"))
    stacked = tf.stack(versions, axis=1)  # B x F x S x S x 3
    return tf.gather(stacked, factor_index, batch_dims=1)


def blur_kernels() -> np.ndarray:
    """The blur kernels, float32 N x 9 x 9 (each sums to 1): motion along 0, 45, 90 and 135
    degrees (``MOTION_BLUR_LENGTH`` px), and a defocus disc of radius ``DEFOCUS_RADIUS``."""
    n = MOTION_BLUR_LENGTH
    c = n // 2
    kernels = []
    for angle in (0.0, 45.0, 90.0, 135.0):
        kernel = np.zeros((n, n), np.float32)
        dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        for t in np.linspace(-c, c, 4 * n):  # a supersampled line segment
            kernel[int(round(c + t * dy)), int(round(c + t * dx))] += 1.0
        kernels.append(kernel / kernel.sum())
    yy, xx = np.mgrid[-c:c + 1, -c:c + 1]
    disc = ((xx ** 2 + yy ** 2) <= DEFOCUS_RADIUS ** 2).astype(np.float32)
    kernels.append(disc / disc.sum())
    return np.stack(kernels)


BLUR_KERNELS = blur_kernels()


def blur(image, kernel_index):
    """Each image convolved with ``BLUR_KERNELS[kernel_index]`` (B int); edges padded by
    reflection, so the frame's border does not darken."""
    kernels = BLUR_KERNELS  # N x 9 x 9
    n, k = kernels.shape[0], kernels.shape[1]
    # Depthwise over the 3 channels, N kernels each: one conv gives every version.
    filters = tf.constant(np.tile(kernels.transpose(1, 2, 0)[:, :, None, :], (1, 1, 3, 1)))
    pad = k // 2
    padded = tf.pad(image, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    out = tf.nn.depthwise_conv2d(padded, filters, [1, 1, 1, 1], "VALID")  # B x S x S x 3N
    shape = tf.shape(out)
    out = tf.reshape(out, tf.stack([shape[0], shape[1], shape[2], 3, n]))
    pick = tf.one_hot(kernel_index, n, dtype=out.dtype)[:, None, None, None, :]
    return tf.reduce_sum(out * pick, axis=-1)


def add_noise(image, field, sigma):
    """``image + sigma x field`` (``field`` B x S x S x 3 standard normal, ``sigma`` B), clipped."""
    return tf.clip_by_value(image + sigma[:, None, None, None] * field, 0.0, 255.0)


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II matrix (JPEG's transform), float32 8 x 8."""
    n = np.arange(8)
    matrix = np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    matrix[0] /= np.sqrt(2)
    return matrix.astype(np.float32)


def jpeg_artefacts(image, quality):
    """Each image as a JPEG at ``quality`` (B, 1..100) would decode it: YCbCr, 8 x 8 block DCT,
    coefficients rounded to the standard tables scaled by the quality (libjpeg's rule), back.
    No chroma subsampling. S must be a multiple of 8 (else the image is returned as is)."""
    size = image.shape[1]
    if size is None or size % 8:
        return image
    rgb_to_ycc = tf.constant([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                              [0.5, -0.418688, -0.081312]], tf.float32)
    ycc = tf.einsum("bhwc,dc->bhwd", image, rgb_to_ycc) + tf.constant([0.0, 128.0, 128.0]) - 128.0
    blocks = size // 8
    # B x by x 8 x bx x 8 x 3 -> B x by x bx x 3 x 8 x 8
    x = tf.reshape(ycc, [-1, blocks, 8, blocks, 8, 3])
    x = tf.transpose(x, [0, 1, 3, 5, 2, 4])
    d = tf.constant(_dct_matrix())
    coef = tf.einsum("ij,...jk,lk->...il", d, x, d)
    scale = tf.where(quality < 50.0, 5000.0 / quality, 200.0 - 2.0 * quality) / 100.0  # B
    tables = tf.constant(np.stack([JPEG_LUMA, JPEG_CHROMA, JPEG_CHROMA]).reshape(3, 8, 8))
    # B x 3 x 8 x 8 quantisation steps
    step = tf.maximum(tf.floor(tables[None] * scale[:, None, None, None] + 0.5), 1.0)
    step = step[:, None, None]
    coef = tf.round(coef / step) * step
    x = tf.einsum("ji,...jk,kl->...il", d, coef, d)
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
    ycc = tf.reshape(x, [-1, size, size, 3]) + 128.0 - tf.constant([0.0, 128.0, 128.0])
    ycc_to_rgb = tf.constant([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136],
                              [1.0, 1.772, 0.0]], tf.float32)
    return tf.clip_by_value(tf.einsum("bhwc,dc->bhwd", ycc, ycc_to_rgb), 0.0, 255.0)


def apply(example: dict, params: dict, cfg: AugmentConfig, size: int) -> dict:
    """The drawn degradations (``draw``) applied to a batch: ``image`` float32 B x S x S x 3 in
    0..255, ``keypoints`` B x K x 3, ``annotated`` B x K. Only the enabled ones are built."""
    example = dict(example)
    image = tf.cast(example["image"], tf.float32)
    keypoints = tf.cast(example["keypoints"], tf.float32)
    annotated = tf.cast(example["annotated"], tf.float32)
    if cfg.truncation > 0:
        cut, cut_keypoints, cut_annotated, applied = truncate(
            image, keypoints, annotated, params["truncation_level"],
            params["truncation_vertical"], params["truncation_side"], params["truncation_jitter"])
        chosen = params["truncation"] & applied
        image = _select(chosen, cut, image)
        keypoints = tf.where(chosen[:, None, None], cut_keypoints, keypoints)
        annotated = tf.where(chosen[:, None], cut_annotated, annotated)
    if cfg.occlusion > 0:
        covered, valid = occlude(image, keypoints, annotated, params["occlusion_joint"],
                                 params["occlusion_shape"], params["occlusion_solid"],
                                 params["occlusion_colour"])
        image = _select(params["occlusion"] & valid, covered, image)
    if cfg.lighting > 0:
        image = _select(params["lighting"], relight(
            image, params["lighting_gamma"], params["lighting_gain"],
            params["lighting_contrast"], params["lighting_cast"]), image)
    if cfg.low_resolution > 0:
        image = _select(params["low_resolution"],
                        low_resolution(image, params["low_resolution_factor"], size), image)
    if cfg.blur > 0:
        image = _select(params["blur"], blur(image, params["blur_kernel"]), image)
    if cfg.noise > 0:
        image = _select(params["noise"],
                        add_noise(image, params["noise_field"], params["noise_sigma"]), image)
    if cfg.jpeg > 0:
        image = _select(params["jpeg"], jpeg_artefacts(image, params["jpeg_quality"]), image)
    example.update(image=image, keypoints=keypoints, annotated=annotated)
    return example
