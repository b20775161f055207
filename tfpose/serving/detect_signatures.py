"""The person detector inside a pose model's SavedModel: TF Serving runs both stages.

``export_with_detector(WORKDIR, BASE, NAME, VERSION, DETECTOR)`` (``tfpose export lspet``: the
shipped ``person-detector`` is the default for pose models) adds two signatures beside the pose
model's four:

    detect_people         images  string [B] (encoded, any sizes)
    detect_people_images  images  float32 [B, H, W, 3] (RGB 0..255, already decoded)
    -> boxes   float32 [B, N, 4]  (x0, y0, x1, y1) original px, best first
       scores  float32 [B, N]     the detector's score; 0 for a box dropped as the duplicate of
                                  a better one (IoU > ``people.DUPLICATE_IOU``) or under
                                  ``people.MIN_BOX_SIDE`` input px (no person)

with ``N = litert.DETECTOR_CANDIDATES``. In the graph, as ``people.PersonDetector`` does on the
host: each photo letterboxed to the detector's input (the crop of ``export.crop_batch``), the
network, the centre peaks (``codecs.centers.decode``), boxes of no size dropped, boxes mapped
back to the photo, greedy duplicate suppression. A client keeps the boxes whose score reaches
``people.MIN_SCORE`` (0 left after suppression never does), then sends each person's square
(``people.square_of``) to ``serving_boxes`` with its photo, and, for the second pass, the
square around those joints (``passes.second_pass_boxes``): docs/serving.md shows it.
"""

from __future__ import annotations

import tensorflow as tf

from tfpose.core.errors import DataError
from tfpose.input.normalize import normalize_images
from tfpose.serving.export import _call, crop_batch, export_workdir, serving_variables
from tfpose.serving.litert import DETECTOR_CANDIDATES
from tfpose.serving.people import DUPLICATE_IOU, MIN_BOX_SIDE
from tfpose.tasks import get_task, load_workdir

DETECT_SIGNATURES = ("detect_people", "detect_people_images")


def suppress_duplicates(boxes, scores, iou_limit: float = DUPLICATE_IOU):
    """Greedy suppression, as ``people.drop_duplicates``: boxes ``B x N x 4`` sorted best first,
    scores ``B x N`` (``N = DETECTOR_CANDIDATES``) -> scores with each box overlapping a better kept one beyond ``iou_limit``
    set to 0, then both re-sorted best first. Unrolled over the ``N`` candidates (N is static
    and small): no loop op in the served graph."""
    from tfpose.codecs.centers import box_iou

    count = DETECTOR_CANDIDATES
    boxes = tf.ensure_shape(boxes, [None, count, 4])
    overlap = box_iou(boxes, boxes) > iou_limit  # B x N x N
    keep = []
    for j in range(count):
        beaten = tf.zeros_like(scores[:, 0], tf.bool)
        for i in range(j):
            beaten = beaten | (keep[i] & overlap[:, i, j])
        keep.append(tf.logical_not(beaten))
    scores = scores * tf.cast(tf.stack(keep, axis=1), scores.dtype)
    order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
    return tf.gather(boxes, order, batch_dims=1), tf.gather(scores, order, batch_dims=1)


def attach_detector(module, source, checkpoint: str = "best") -> None:
    """Adds the detector of work dir (or shipped name) ``source`` to the
    ``export.ServingModule`` ``module``: its variables and the two ``DETECT_SIGNATURES``."""
    from tfpose.core import zoo

    cfg, model, _ = load_workdir(zoo.resolve(source), checkpoint)
    task = get_task(cfg)
    if not task.is_detector:
        raise DataError(f"--detector must be a person detector (model.kind "
                        f"efficientnet_lite0_centernet). Received: a {task.kind} model")
    size, normalization = cfg.data.input_size, cfg.data.normalization
    module.detector_variables = serving_variables(model)
    network = tf.function(lambda images: _call(model, images), autograph=False,
                          input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    module._detector_network = network

    def detect(encoded: bool):
        def fn(images):
            crops, frames = crop_batch(images, None, size, encoded=encoded, frame="letterbox")
            boxes, scores = task.decode_outputs(network(normalize_images(crops, normalization)),
                                                DETECTOR_CANDIDATES)
            sides = tf.reduce_max(boxes[..., 2:] - boxes[..., :2], axis=-1)  # input px
            scores = tf.where(sides >= MIN_BOX_SIDE, scores, tf.zeros_like(scores))
            scale = tf.tile((frames[:, None, 2:] - frames[:, None, :2]) / size, [1, 1, 2])
            boxes = tf.tile(frames[:, None, :2], [1, 1, 2]) + boxes * scale
            boxes, scores = suppress_duplicates(boxes, scores)
            return {"boxes": boxes, "scores": scores}
        return fn

    strings = tf.TensorSpec([None], tf.string, name="images")
    floats = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    module.detect_people = tf.function(detect(True), input_signature=[strings], autograph=False)
    module.detect_people_images = tf.function(detect(False), input_signature=[floats],
                                              autograph=False)
    module.extra_signatures = list(DETECT_SIGNATURES)


def export_with_detector(workdir, base, name: str, version: int, detector, **options):
    """``export.export_workdir`` (``options``: its keywords) with ``detector``'s (a work dir or
    shipped name) ``DETECT_SIGNATURES`` added; returns the export's path."""
    return export_workdir(workdir, base, name, version,
                          extend=lambda module: attach_detector(module, detector), **options)
