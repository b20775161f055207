"""Images with several people composed from one-person photos (YOLO's mosaic / copy-paste), to
train the person detector (``tasks/detect.py``).

LSP and LSPET annotate one athlete per photo, so a detector trained on them whole would never
see two people. Each training image here is composed from ``G = 1 + data.mosaic.max_persons``
photos of the stream (records converted with ``--crop letterbox`` or ``--crop whole``: the
whole photo, its joints in stored pixels):

- slot 0 gives the background: with probability ``whole_photo`` the whole photo, letterboxed
  at a random zoom (0.5 to 1) and shift inside the image, mirrored at random, its own person
  labelled; otherwise the largest strip of it beside the person's box (left, right, above or
  below), stretched over the image: background from a real photo without its athlete (a flat
  fill of the photo's mean colour when no strip is 8 px wide).
- slots 1 .. n paste persons (n from 1 to ``max_persons``, or 0 to ``max_persons - 1`` on a
  whole photo): the square ``core.person_box`` crop around each annotated person (the box the
  pose crops use, so few unannotated bystanders come along), mirrored at random, its side
  ``min_size`` to ``max_size`` of the image's (log-uniform), its centre anywhere in the central
  90 %, turned a quarter turn either way with probability ``lying`` (a person lying down);
  later pastes cover earlier ones. With probability ``truncation`` a paste crosses an edge of
  the image instead (the bottom on half of them, else the top, left or right) by 10-45 % of
  its square: a person the frame cuts at the knees, waist or shoulders, boxed by the joints
  the image shows (as every person is). With probability ``empty`` the image is a
  person-free strip with no one pasted: a detector must also learn where nobody is; a share
  ``made_empty`` of those is made instead (``made_empty``: noise, a grey frame under sensor
  noise, a smooth colour texture), what a photo strip never shows.

Each pasted photo is resampled once (``augment.warp_image``) with the same matrix that maps its
joints (``augment.transform_keypoints``, left and right swapped when mirrored), so every joint
stays on its pixels. A person's box is the bounding box of its annotated joints in the image
grown by ``person_box.MARGIN`` about its centre (the square of its larger side is the pose
crop); it is labelled when its centre lies in the image and at least ``min_visible`` of it is
not covered by later pastes. A joint under a later paste keeps its label but loses ``visible``.

Training batches then get the everyday degradations that move no pixel (``data.augment``'s
lighting, low resolution, blur, noise and JPEG probabilities, ``degrade_images``): with a
detector that had never seen a blurred photo, ``tfpose predict`` scored 13-15 points under its
one-skeleton answer on blurred photos (docs/everyday.md).

Output per image (``compose``): ``image`` float32 S x S x 3 (0..255), ``boxes`` G x 4 (x0, y0,
x1, y1 input px), ``box_valid`` G, ``keypoints`` G x K x 3 and ``annotated`` G x K (input px;
rows of unused or unlabelled slots have ``annotated`` 0), ``labelled`` G x K (the photos' labels
of the slots shown, also of joints the image edge cuts off). Randomness is stateless (one seed
per image), so a fixed seed rebuilds the same images: the validation images and the check set of
``scripts/make_multi_person_set.py``.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from tfpose.config import AugmentConfig, MosaicConfig
from tfpose.core import geometry, person_box
from tfpose.datasets.shards import read_manifest, shard_files
from tfpose.input import augment as augment_lib
from tfpose.input import degrade as degrade_lib
from tfpose.input.normalize import check as check_normalization
from tfpose.input.stages import normalize, parse

AUTOTUNE = tf.data.AUTOTUNE
MIN_STRIP = 8.0  # stored px: a narrower strip stretched over the image is a smear, not a scene
WHOLE_ZOOM = (0.5, 1.0)  # a whole photo's side as a fraction of the image's: all of it shows
CENTRE_SPAN = 0.9  # pasted centres lie in the central 90 % of each axis
# Uniforms per slot: mode (slot 0) or cut (pastes), count (slot 0) or cut edge (pastes), size,
# x, y, flip, zoom (slot 0) or lying (pastes), empty (slot 0) or turn direction (pastes).
NUM_DRAWS = 8
# A cut paste's square lies beyond the image edge by this share of its side: the knees to the
# waist of a standing person.
CUT_SHARE = (0.1, 0.45)
# Cumulative shares of the edges a cut crosses (bottom, top, left, right): photos cut people at
# the bottom most.
CUT_EDGES = (0.5, 0.7, 0.85, 1.0)
# First seed word of the batches' degradations: a stream apart from the images' ``(seed, i)``.
DEGRADE_SEED = 1_000_003


def photo_extent(crop_box, side: float):
    """The photo's rectangle ``(x0, y0, x1, y1)`` in stored px of a ``letterbox`` or ``whole``
    record (``crop_box`` ``... x 4`` original px, stored square of ``side`` px).

    A letterbox box is centred on the photo (``geometry.letterbox_box``), so the photo's width
    is ``x0 + x1`` and its height ``y0 + y1``; a whole box is ``(0, 0, W, H)``, where the same
    sums hold.
    """
    crop_box = tf.cast(crop_box, tf.float32)
    x0, y0, x1, y1 = tf.unstack(crop_box, axis=-1)
    sx, sy = side / (x1 - x0), side / (y1 - y0)
    return tf.stack([-x0 * sx, -y0 * sy, x1 * sx, y1 * sy], axis=-1)


def rect_matrix(source, target, flip):
    """The ``... x 3 x 3`` affine mapping rectangle ``source`` onto ``target`` (``... x 4``,
    x0, y0, x1, y1), mirrored in x when ``flip`` (source's left edge onto target's right)."""
    source, target = tf.cast(source, tf.float32), tf.cast(target, tf.float32)
    sx = (target[..., 2] - target[..., 0]) / (source[..., 2] - source[..., 0])
    sy = (target[..., 3] - target[..., 1]) / (source[..., 3] - source[..., 1])
    flip = tf.cast(flip, tf.bool)
    a = tf.where(flip, -sx, sx)
    tx = tf.where(flip, target[..., 2] + source[..., 0] * sx, target[..., 0] - source[..., 0] * sx)
    ty = target[..., 1] - source[..., 1] * sy
    zero, one = tf.zeros_like(a), tf.ones_like(a)
    rows = [a, zero, tx, zero, sy, ty, zero, zero, one]
    return tf.reshape(tf.stack(rows, axis=-1), tf.concat([tf.shape(a), [3, 3]], axis=0))


def quarter_turn(centre, turn, clockwise):
    """3 x 3: a quarter turn about ``centre`` (x, y) in image px (y down), clockwise on screen
    when ``clockwise``, else anticlockwise; the identity unless ``turn``."""
    cx, cy = centre[0], centre[1]
    one, zero = tf.ones([]), tf.zeros([])
    sign = tf.where(clockwise, 1.0, -1.0)
    # Clockwise on screen: (x, y) -> (cx - (y - cy), cy + (x - cx)).
    turned = tf.stack([tf.stack([zero, -sign, cx + sign * cy]),
                       tf.stack([sign, zero, cy - sign * cx]),
                       tf.stack([zero, zero, one])])
    return tf.where(turn, turned, tf.eye(3))


def _map_rect(matrix, rect):
    """Axis-aligned ``rect`` (``... x 4``) through an axis-aligned ``matrix``: its bounding box."""
    corners = tf.stack([rect[..., :2], rect[..., 2:]], axis=-2)  # ... x 2 x 2
    moved = tf.linalg.matmul(corners, matrix[..., :2, :2], transpose_b=True)
    moved = moved + matrix[..., None, :2, 2]
    return tf.concat([tf.reduce_min(moved, axis=-2), tf.reduce_max(moved, axis=-2)], axis=-1)


def joint_boxes(keypoints, annotated, margin: float = person_box.MARGIN):
    """Boxes ``... x 4`` around the annotated joints (``... x K x 2+``), each side grown to
    ``margin`` x the joints' extent about their centre; ``valid`` ``...``: two joints or more."""
    xy = tf.cast(keypoints, tf.float32)[..., :2]
    used = tf.cast(annotated, tf.float32) > 0
    big = tf.constant(3.0e38)
    low = tf.reduce_min(tf.where(used[..., None], xy, big), axis=-2)
    high = tf.reduce_max(tf.where(used[..., None], xy, -big), axis=-2)
    valid = tf.reduce_sum(tf.cast(used, tf.int32), axis=-1) >= 2
    low, high = tf.where(valid[..., None], low, 0.0), tf.where(valid[..., None], high, 0.0)
    centre, half = (low + high) / 2.0, (high - low) * margin / 2.0
    return tf.concat([centre - half, centre + half], axis=-1), valid


def _inside(rect, size: int):
    """``... x S x S`` bool: the pixel centres inside ``rect`` (``... x 4``)."""
    coords = tf.range(size, dtype=tf.float32)
    in_x = (coords >= rect[..., 0, None]) & (coords < rect[..., 2, None])  # ... x S
    in_y = (coords >= rect[..., 1, None]) & (coords < rect[..., 3, None])
    return in_y[..., :, None] & in_x[..., None, :]


def background(image, keypoints, annotated, extent, u, size: int, whole):
    """Slot 0: ``(matrix 3 x 3 stored -> input, picture S x S x 3, photo mask S x S)`` of one
    photo (``image`` C x C x 3, its person's ``keypoints`` K x 3 and ``annotated`` K, ``extent``
    4), from ``NUM_DRAWS`` uniforms ``u``; ``whole``: the whole photo, else a person-free strip."""
    side = float(image.shape[0])
    flip = u[5] < 0.5
    # Whole: the stored square (letterbox included) fitted at a zoom, shifted but kept inside.
    zoom = WHOLE_ZOOM[0] + u[6] * (WHOLE_ZOOM[1] - WHOLE_ZOOM[0])
    span = size * zoom
    x0 = u[3] * (size - span)
    y0 = u[4] * (size - span)
    whole_matrix = rect_matrix(tf.constant([0.0, 0.0, side, side]),
                               tf.stack([x0, y0, x0 + span, y0 + span]), flip)
    # Strip: the largest part of the photo beside its person's box.
    box, _ = joint_boxes(keypoints, annotated)
    ex0, ey0, ex1, ey1 = tf.unstack(extent)
    bx0, by0 = tf.clip_by_value(box[0], ex0, ex1), tf.clip_by_value(box[1], ey0, ey1)
    bx1, by1 = tf.clip_by_value(box[2], ex0, ex1), tf.clip_by_value(box[3], ey0, ey1)
    strips = tf.stack([
        tf.stack([ex0, ey0, bx0, ey1]), tf.stack([bx1, ey0, ex1, ey1]),
        tf.stack([ex0, ey0, ex1, by0]), tf.stack([ex0, by1, ex1, ey1]),
    ])  # fmt: skip
    widths = tf.maximum(strips[:, 2:] - strips[:, :2], 0.0)
    best = tf.argmax(widths[:, 0] * widths[:, 1])
    strip = strips[best]
    usable = tf.reduce_min(widths[best]) >= MIN_STRIP
    strip = tf.where(usable, strip, tf.constant([0.0, 0.0, side, side]))
    strip_matrix = rect_matrix(strip, tf.constant([0.0, 0.0, float(size), float(size)]), flip)
    matrix = tf.where(whole, whole_matrix, strip_matrix)
    picture = augment_lib.warp_image(image, matrix, (size, size))
    in_photo = _inside(_map_rect(matrix, extent), size)
    photo = tf.cast(in_photo[..., None], tf.float32)
    stored_in_photo = tf.cast(_inside(extent, int(side))[..., None], tf.float32)
    mean = (tf.reduce_sum(tf.cast(image, tf.float32) * stored_in_photo, axis=[0, 1])
            / tf.maximum(tf.reduce_sum(stored_in_photo), 1.0))
    flat = tf.ones([size, size, 1]) * mean
    picture = tf.where(whole, picture * photo, tf.where(usable, picture, flat))
    return matrix, picture, in_photo | tf.logical_not(whole)


# Made empty images (``made_empty``): texture cells from 2 to 64 px (log-uniform), and the
# sensor noise's spread about its grey (0..255 levels).
TEXTURE_CELLS = (2.0, 64.0)
SENSOR_SPREAD = (8.0, 64.0)


def made_empty(seed, size: int):
    """S x S x 3 float32 (0..255) with no one in it, from ``seed`` (int [2]): with equal odds
    uniform noise, a flat grey under Gaussian sensor noise, or a smooth colour texture (noise
    on a grid of cells, resized bilinearly: clouds, foliage, a blurred scene)."""
    u = tf.random.stateless_uniform([4], seed=seed)
    seeds = tf.random.experimental.stateless_split(seed, 3)

    def noise():
        return tf.random.stateless_uniform([size, size, 3], seed=seeds[0], maxval=255.0)

    def grey():
        spread = SENSOR_SPREAD[0] + u[1] * (SENSOR_SPREAD[1] - SENSOR_SPREAD[0])
        return 30.0 + 190.0 * u[2] + spread * tf.random.stateless_normal([size, size, 3],
                                                                         seed=seeds[1])

    def texture():
        log_low, log_high = math.log(TEXTURE_CELLS[0]), math.log(TEXTURE_CELLS[1])
        cells = tf.cast(tf.math.ceil(size / tf.exp(log_low + u[3] * (log_high - log_low))),
                        tf.int32)
        grid = tf.random.stateless_uniform(tf.stack([cells, cells, 3]), seed=seeds[2],
                                           maxval=255.0)
        return tf.image.resize(grid, [size, size], method="bilinear")

    kind = tf.minimum(tf.cast(tf.floor(3.0 * u[0]), tf.int32), 2)
    picture = tf.switch_case(kind, [noise, grey, texture])  # only the kind drawn is made
    return tf.ensure_shape(tf.clip_by_value(picture, 0.0, 255.0), [size, size, 3])


def cut_centre(at, side, depth, edge, size: int):
    """The centre (2,) that puts a square of ``side`` across an image edge by ``CUT_SHARE``
    (at ``depth`` in [0, 1)) of its side; ``edge`` uniform in [0, 1) picks the edge by
    ``CUT_EDGES``; the other coordinate stays ``at``'s."""
    out = CUT_SHARE[0] + depth * (CUT_SHARE[1] - CUT_SHARE[0])
    near = (0.5 - out) * side  # the centre's distance from the edge it crosses
    which = tf.reduce_sum(tf.cast(edge >= tf.constant(CUT_EDGES[:-1]), tf.int32))
    x, y = at[0], at[1]
    far = float(size) - near
    centres = tf.stack([tf.stack([x, far]), tf.stack([x, near]),
                        tf.stack([near, y]), tf.stack([far, y])])
    return centres[which]


def compose(group: dict, seed, size: int, cfg: MosaicConfig, margin: float = person_box.MARGIN):
    """One image with several people from ``G`` photos (see the module docstring).

    group: ``image`` uint8 G x C x C x 3 (stored squares), ``keypoints`` G x K x 3 and
    ``annotated`` G x K (stored px), ``extent`` G x 4 (``photo_extent``). seed: int [2].
    """
    images, keypoints = group["image"], tf.cast(group["keypoints"], tf.float32)
    annotated, extent = tf.cast(group["annotated"], tf.float32), group["extent"]
    slots = images.shape[0]
    persons = slots - 1
    if persons < 1 or persons != cfg.max_persons:
        raise ValueError(f"compose: a group of 1 + data.mosaic.max_persons={cfg.max_persons} "
                         f"photos. Received: {slots}")
    u = tf.random.stateless_uniform([slots, NUM_DRAWS], seed=tf.cast(seed, tf.int64))
    empty = u[0, 7] < cfg.empty  # slot 0's free draw: no one on a person-free strip
    whole = (u[0, 0] < cfg.whole_photo) & tf.logical_not(empty)
    count = tf.cast(tf.floor(u[0, 1] * persons), tf.int32)  # 0 .. persons - 1
    count = tf.where(empty, 0, tf.minimum(count + tf.where(whole, 0, 1), persons))

    matrix0, canvas, owned = background(images[0], keypoints[0], annotated[0], extent[0],
                                         u[0], size, whole)
    if cfg.made_empty > 0:
        made = empty & (u[0, 2] < cfg.made_empty)  # slot 0's size draw: unused when empty
        # tf.cond: the made image is drawn only for the images that show it (a few percent).
        canvas = tf.cond(made, lambda: made_empty(tf.random.experimental.stateless_fold_in(
            tf.cast(seed, tf.int64), 1), size), lambda: canvas)
    owner = tf.where(owned, 0, -1)
    matrices, flips = [matrix0], [u[0, 5] < 0.5]
    log_low, log_high = math.log(cfg.min_size), math.log(cfg.max_size)
    for j in range(1, slots):
        centre, side, _ = person_box.square_box(keypoints[j], annotated[j], margin)
        source = tf.concat([centre - side / 2.0, centre + side / 2.0], axis=-1)
        target_side = size * tf.exp(log_low + u[j, 2] * (log_high - log_low))
        at = size * ((1.0 - CENTRE_SPAN) / 2.0 + CENTRE_SPAN * u[j, 3:5])
        at = tf.where(u[j, 0] < cfg.truncation,
                      cut_centre(at, target_side, u[j, 0] / max(cfg.truncation, 1e-9), u[j, 1],
                                 size), at)
        target = tf.concat([at - target_side / 2.0, at + target_side / 2.0], axis=-1)
        flip = u[j, 5] < 0.5
        # A quarter turn about the target square's centre keeps the square (and _map_rect's
        # boxes axis-aligned); the joints keep their sides.
        turn = quarter_turn(at, u[j, 6] < cfg.lying, u[j, 7] < 0.5)
        matrix = tf.linalg.matmul(turn, rect_matrix(source, target, flip))
        photo = _map_rect(matrix, extent[j])
        paste = tf.concat([tf.maximum(target[:2], photo[:2]),
                           tf.minimum(target[2:], photo[2:])], axis=-1)
        mask = _inside(paste, size) & (j <= count) & (side > 0)
        canvas = tf.where(mask[..., None], augment_lib.warp_image(images[j], matrix, (size, size)),
                          canvas)
        owner = tf.where(mask, j, owner)
        matrices.append(matrix)
        flips.append(flip)
    matrices, flips = tf.stack(matrices), tf.stack(flips)

    moved, labelled = augment_lib.transform_keypoints(keypoints, annotated, matrices, flips, size)
    active = tf.concat([[whole], tf.range(1, slots) <= count], axis=0)
    # Boxes from the annotated joints the image shows: a person the edge cuts is labelled by
    # what is in the frame (COCO's boxes are the visible part's, and LSPET's own cut athletes
    # annotate only their joints in the photo), so its centre lies in the image. Boxes over all
    # joints put a waist-cut person's centre at the edge or past it, where the heatmap calls it
    # background (session 14, leg 8: no one found in 118 of 905 waist-cut photos).
    boxes, enough = joint_boxes(moved, labelled * tf.cast(active[:, None], tf.float32))
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    centre_in = tf.reduce_all((centre >= 0.0) & (centre < float(size)), axis=-1)
    ids = tf.range(slots)[:, None, None]
    in_box = _inside(boxes, size)
    area = tf.reduce_sum(tf.cast(in_box, tf.float32), axis=[1, 2])
    seen = tf.reduce_sum(tf.cast(in_box & tf.equal(owner[None], ids), tf.float32), axis=[1, 2])
    visible_part = tf.math.divide_no_nan(seen, area)
    valid = active & enough & centre_in & (visible_part >= cfg.min_visible)

    # A joint under a later paste is still labelled, but hidden.
    pixel = tf.clip_by_value(tf.cast(tf.round(moved[..., :2]), tf.int32), 0, size - 1)
    on_top = tf.equal(tf.gather_nd(owner, tf.stack([pixel[..., 1], pixel[..., 0]], axis=-1)),
                      tf.range(slots)[:, None])
    labelled = labelled * tf.cast(active[:, None], tf.float32)
    visible = moved[..., 2] * tf.cast(on_top, tf.float32) * labelled
    # The photos' own labels, mirrored with their pastes: what the edge cut off is labelled
    # here and not in ``annotated`` (pose crops train it as absent: ``crowd_crops``).
    record = tf.gather(annotated * tf.cast(active[:, None], tf.float32),
                       geometry.side_order(flips), batch_dims=1)
    return {
        "image": tf.ensure_shape(canvas, [size, size, 3]),
        "boxes": boxes,
        "box_valid": tf.cast(valid, tf.float32),
        "keypoints": tf.concat([moved[..., :2], visible[..., None]], axis=-1),
        "annotated": labelled,
        "labelled": record,
    }


def photo_records(cfg, split: str):
    """``(records, side)``: the parsed records of ``split`` (``data.dir`` plus, for training,
    ``data.extra_train_dirs``) with two annotated joints or more (a box needs them), in file
    order, and ``side`` C, the largest stored image side among those datasets."""
    dirs = [cfg.data.dir] + (list(cfg.data.extra_train_dirs)
                             if split == cfg.data.train_split else [])
    side = max(int(read_manifest(d).get("image_size") or 0) for d in dirs)
    files = [f for d in dirs for f in shard_files(d, split)]
    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.flat_map(tf.data.TFRecordDataset)  # file order: the same images every pass
    ds = ds.map(parse, num_parallel_calls=AUTOTUNE)
    return ds.filter(lambda ex: tf.reduce_sum(ex["annotated"]) >= 2.0), side


def decode_photo(example: dict, side: int) -> dict:
    """A parsed record -> ``image`` uint8 C x C x 3 (C = ``side``), ``keypoints`` K x 3 and
    ``annotated`` K in those pixels, ``extent`` 4 (``photo_extent``): what ``compose`` groups."""
    image = tf.io.decode_image(example["encoded"], channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    shape = tf.shape(image)
    image = tf.cond(
        tf.logical_and(tf.equal(shape[0], side), tf.equal(shape[1], side)),
        lambda: image,
        lambda: tf.cast(tf.round(tf.image.resize(image, [side, side], antialias=True)), tf.uint8))
    scale = tf.stack([side / example["stored_size"][1], side / example["stored_size"][0]])
    keypoints = example["keypoints"]
    return {
        "image": tf.ensure_shape(image, [side, side, 3]),
        "keypoints": tf.concat([keypoints[:, :2] * scale, keypoints[:, 2:]], axis=1),
        "annotated": example["annotated"],
        "extent": photo_extent(example["crop_box"], float(side)),
    }


def build_dataset(task, split: str, training: bool, *, repeat: bool | None = None,
                  seed: int | None = None):
    """Batches of ``(inputs, targets, sample_weights)`` of composed images for ``task`` (the
    detector's: ``task.cfg``, ``task.normalization``, ``task.make_targets``).

    Training shuffles the photos and repeats; validation composes the same images every pass
    (photos in file order, image ``i`` seeded by ``(seed, i)``). Colour jitter
    (``data.augment.color_jitter``) applies to training images only.
    """
    cfg = task.cfg
    check_normalization(task.normalization)
    repeat = training if repeat is None else repeat
    seed = cfg.train.seed if seed is None else seed
    ds, side = photo_records(cfg, split)
    if training:
        ds = ds.shuffle(cfg.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = composed_examples(ds, side, cfg, seed,
                           jitter=cfg.data.augment.color_jitter if training else 0.0)
    photometric = photometric_degradations(cfg.data.augment) if training else None

    def per_batch(index, example):
        if photometric is not None:
            batch_seed = tf.stack([tf.constant(seed + DEGRADE_SEED, tf.int64), index])
            example = dict(example, image=degrade_images(example["image"], photometric,
                                                         batch_seed))
        example = normalize(example, task.normalization)
        targets, weights = task.make_targets(example)
        return {"image": example["image"]}, targets, weights

    ds = ds.batch(cfg.data.batch_size, drop_remainder=training).enumerate()
    ds = ds.map(per_batch, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = not training or cfg.data.deterministic
    return ds.with_options(options)


def photometric_degradations(augment: AugmentConfig) -> AugmentConfig | None:
    """``augment`` with only the degradations that move no pixel (``degrade.PHOTOMETRIC``:
    lighting, low resolution, blur, noise, JPEG) at their probabilities, for composed images;
    None when none is on. The frame's cuts and the patches over joints are the pose model's:
    here the persons' boxes would have to follow them."""
    kept = {name: getattr(augment, name) if name in degrade_lib.PHOTOMETRIC else 0.0
            for name in degrade_lib.DEGRADATIONS}
    if not any(value > 0 for value in kept.values()):
        return None
    return dataclasses.replace(augment, **kept)


def degrade_images(images, augment: AugmentConfig, seed):
    """``degrade.draw`` + ``degrade.apply`` of ``augment``'s photometric degradations on a batch
    of composed images B x S x S x 3 (0..255): the blur, noise, darkness and compression of
    everyday photos, in which the detector must still find people."""
    images = tf.cast(images, tf.float32)
    batch, size = tf.shape(images)[0], images.shape[1]
    params = degrade_lib.draw(seed, batch, size, augment)
    placeholder = {"image": images, "keypoints": tf.zeros([batch, 16, 3]),
                   "annotated": tf.zeros([batch, 16])}  # no joint moves: none is read
    return degrade_lib.apply(placeholder, params, augment, size)["image"]


def composed_images(cfg, split: str, seed: int = 0):
    """The composed images of ``split`` (float32 S x S x 3, 0..255, no colour jitter) in file
    order, image ``i`` seeded by ``(seed, i)``: the validation's pictures for ``split="val"``,
    and for ``"train"`` what the detector's int8 LiteRT twin is calibrated on (the people and
    backgrounds it trained on, not the one-person records)."""
    ds, side = photo_records(cfg, split)
    return composed_examples(ds, side, cfg, seed).map(lambda example: example["image"])


def composed_examples(ds, side: int, cfg, seed: int, jitter: float = 0.0,
                      size: int | None = None):
    """Parsed records -> composed images (``compose``'s dicts) of ``size`` px (default
    ``data.input_size``), image ``i`` of the stream seeded by ``(seed, i)``, colours jittered
    by up to ``jitter``."""
    size, mosaic = size or cfg.data.input_size, cfg.data.mosaic
    ds = ds.map(lambda ex: decode_photo(ex, side), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(1 + mosaic.max_persons, drop_remainder=True)

    def one_image(index, group):
        image_seed = tf.stack([tf.constant(seed, tf.int64), index])
        example = compose(group, image_seed, size, mosaic)
        if jitter > 0:
            u = tf.random.stateless_uniform([3], seed=image_seed + tf.constant([0, 1], tf.int64))
            example["image"] = augment_lib.jitter_colours(example["image"],
                                                         1.0 + (2.0 * u - 1.0) * jitter)
        return example

    return ds.enumerate().map(one_image, num_parallel_calls=AUTOTUNE)
