"""Pose training crops of one person among others, framed as the person detector frames them.

``tfpose predict`` finds people with the detector and runs the pose model on the square about
each box (``serving/people.py``). Those crops differ from the one-person training crops in three
ways the pose model had never seen: other people's limbs inside the square (side by side,
crossing, in front), a person the photo's edge cuts boxed by the part the photo shows (the
square about a waist-cut person's visible half), and small people enlarged from few pixels. On
the multi-person check set the pose model on the TRUE boxes recovered only 51 % of the people
(docs/multi_person.md): the ceiling of any detector is the pose model on such crops.

Each example here is one image composed by ``mosaic.compose`` from ``1 + max_persons`` training
photos at ``data.crowd.canvas`` px (1-4 people, cut by the edge, lying, covered: ``data.mosaic``),
one labelled person of it drawn at random, and the square about its box (the box the detector
learns: its joints in the image x ``person_box.MARGIN``; side ``max(w, h)``, as
``people.square_of``) moved by up to ``data.crowd.shift`` of its side and scaled by up to
``exp(+-data.crowd.scale)`` (a detector's box is not the true one), resampled once to the input.
Only that person's joints are targets; the others' are what the model must learn to ignore.
A joint the record labels that the canvas or the square cuts off is unlabelled after the
crop and labelled before it (``labelled``): with ``data.absent_weight`` it is trained towards an
empty heatmap, as the one-person pipeline's cut-off joints are.

Output per example (``examples``): ``image`` float32 S x S x 3 (0..255), ``keypoints`` K x 3,
``annotated`` K and ``labelled`` K, in input px (S = ``data.input_size``), the keys the pose
pipeline's per-batch stages read.
"""

from __future__ import annotations

import tensorflow as tf

from tfpose.input import augment as augment_lib
from tfpose.input import mosaic

# First seed word of the crowd crops' draws: a stream apart from the one-person batches'.
CROWD_SEED = 2_000_003


def pick_person(box_valid, u):
    """The slot of one valid person (``box_valid`` G in {0, 1}), drawn by ``u`` in [0, 1):
    the ``floor(u * n)``-th of the ``n`` valid slots. -1 when none is valid."""
    valid = tf.cast(box_valid, tf.float32) > 0
    count = tf.reduce_sum(tf.cast(valid, tf.int32))
    rank = tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float32)), tf.int32), count - 1)
    order = tf.cumsum(tf.cast(valid, tf.int32)) - 1  # each valid slot's rank among the valid
    hit = valid & tf.equal(order, rank)
    return tf.where(count > 0, tf.argmax(tf.cast(hit, tf.int32), output_type=tf.int32), -1)


def crop_square(box, u, shift: float, scale: float):
    """The square (x0, y0, x1, y1) about ``box`` (4, x0, y0, x1, y1), side ``max(w, h)``, its
    centre moved by up to ``shift`` x side per axis and its side scaled by ``exp(s)``, ``s`` in
    ``[-scale, scale]``, drawn by ``u`` (3 uniforms)."""
    centre = (box[:2] + box[2:]) / 2.0
    side = tf.reduce_max(box[2:] - box[:2])
    centre = centre + (2.0 * u[:2] - 1.0) * shift * side
    half = side * tf.exp((2.0 * u[2] - 1.0) * scale) / 2.0
    return tf.concat([centre - half, centre + half], axis=-1)


def person_crop(composed: dict, slot, square, size: int) -> dict:
    """The person in ``slot`` of a ``mosaic.compose`` image, cut to ``square`` and resampled to
    ``size`` px: ``image`` S x S x 3, ``keypoints`` K x 3 and ``annotated`` K (joints outside the
    crop unlabelled), ``labelled`` K (the record's labels: cut-off joints count as absent)."""
    matrix = mosaic.rect_matrix(square, tf.constant([0.0, 0.0, float(size), float(size)]),
                                tf.constant(False))
    image = augment_lib.warp_image(composed["image"], matrix, (size, size))
    keypoints, annotated = augment_lib.transform_keypoints(
        composed["keypoints"][slot], composed["annotated"][slot], matrix, tf.constant(False),
        size)
    return {"image": tf.ensure_shape(image, [size, size, 3]), "keypoints": keypoints,
            "annotated": annotated, "labelled": composed["labelled"][slot]}


def examples(cfg, split: str, seed: int):
    """An endless stream of crowd crops (see the module docstring) from ``split``'s photos,
    shuffled; crop ``i`` seeded by ``(seed + CROWD_SEED, i)``."""
    crowd = cfg.data.crowd
    records, side = mosaic.photo_records(cfg, split)
    records = records.shuffle(cfg.data.shuffle_buffer, seed=seed + CROWD_SEED,
                              reshuffle_each_iteration=True).repeat()
    composed = mosaic.composed_examples(records, side, cfg, seed + CROWD_SEED,
                                        size=crowd.canvas)
    size = cfg.data.input_size

    def crop(index, example):
        u = tf.random.stateless_uniform(
            [4], seed=tf.stack([tf.constant(seed + CROWD_SEED, tf.int64), index]))
        slot = pick_person(example["box_valid"], u[0])
        # With no one labelled (the crop is dropped below), the whole image: an empty box would
        # give a square of side 0 and non-finite pixel indices.
        box = tf.where(slot >= 0, example["boxes"][tf.maximum(slot, 0)],
                       tf.constant([0.0, 0.0, float(crowd.canvas), float(crowd.canvas)]))
        square = crop_square(box, u[1:], crowd.shift, crowd.scale)
        return slot, person_crop(example, tf.maximum(slot, 0), square, size)

    crops = composed.enumerate().map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    # An image with no labelled person (all covered or cut away) gives no crop.
    return crops.filter(lambda slot, _: slot >= 0).map(lambda _, example: example)

