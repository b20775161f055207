"""From a pose model's raw outputs to keypoints in input-image pixels.

Regression models (CDRP, ResNet34) predict ``keypoints`` in the configured coordinate frame;
heatmap models (hourglass) predict one heatmap stack per hourglass, of which the last is decoded.
Both end as ``(keypoints B x K x 2 in input pixels, scores B x K)`` so the classifier, the
evaluation and the export see one format whatever the pose model.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfpose.config import HEATMAP_KINDS, REGRESSION_KINDS
from tfpose.data import heatmaps as heatmap_codec
from tfpose.data.mpii import FLIP_INDEX
from tfpose.errors import ConfigError



def frame_to_pixels(keypoints, input_size: int, coord_frame: str):
    """Regression coordinates (``centered`` or ``unit`` frame) -> input pixels. Shapes kept."""
    half = input_size / 2.0
    if coord_frame == "centered":
        return keypoints + half
    if coord_frame == "unit":
        return keypoints * half + half
    raise ValueError(f"Unknown coord_frame. Received: coord_frame={coord_frame!r}")


def final_heatmaps(outputs):
    """The last stack's heatmaps from a hourglass output (dict, list or a single tensor/shape)."""
    if isinstance(outputs, tuple) and all(d is None or isinstance(d, int) for d in outputs):
        return outputs  # a single output's shape (compute_output_shape of a 1-stack model)
    if isinstance(outputs, dict):
        names = sorted((k for k in outputs if k.startswith("heatmaps_")), key=lambda k: int(k[9:]))
        return outputs[names[-1]]
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    return outputs


def decode_args(cfg) -> dict:
    """The keyword arguments of ``keypoints_from_outputs`` for a pose config."""
    if cfg.model.heatmap_decode not in heatmap_codec.SUBPIXEL_METHODS:
        raise ConfigError(f"model.heatmap_decode must be one of "
                          f"{', '.join(heatmap_codec.SUBPIXEL_METHODS)}. "
                          f"Received: {cfg.model.heatmap_decode!r}")
    return dict(kind=cfg.model.kind, input_size=cfg.data.input_size,
                coord_frame=cfg.data.coord_frame, heatmap_stride=cfg.data.heatmap_stride,
                heatmap_loss=cfg.model.heatmap_loss, heatmap_sigma=cfg.data.heatmap_sigma,
                subpixel=cfg.model.heatmap_decode)


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


def keypoints_from_outputs(outputs, *, kind: str, input_size: int, coord_frame: str,
                           heatmap_stride: int, heatmap_loss: str = "mse",
                           heatmap_sigma: float = 2.0, subpixel: str = "quarter"):
    """Raw pose-model outputs -> (keypoints B x K x 2 input px float32, scores B x K float32).

    ``subpixel``: the heatmap decoding's sub-pixel rule (``heatmaps.decode``).

    Regression models have no confidence, so their scores are ones. Heatmap models trained with
    ``softmax_ce`` output logits: they are decoded through ``softmax_heatmaps`` (the argmax is
    the same; scores become comparable).
    """
    if kind in HEATMAP_KINDS:
        maps = tf.cast(final_heatmaps(outputs), tf.float32)
        if heatmap_loss == "softmax_ce":
            maps = softmax_heatmaps(maps, heatmap_sigma)
        keypoints, scores = heatmap_codec.decode(maps, subpixel, heatmap_sigma)
        return keypoints * float(heatmap_stride), scores
    if kind in REGRESSION_KINDS:
        keypoints = outputs["keypoints"] if isinstance(outputs, dict) else outputs
        keypoints = frame_to_pixels(tf.cast(keypoints, tf.float32), input_size, coord_frame)
        return keypoints, tf.ones_like(keypoints[..., 0])
    raise ValueError(f"Not a pose model kind. Received: kind={kind!r}")


def predict_keypoints(model: keras.Model, images, cfg, *, flip_test: bool = False):
    """Runs ``model`` on images B x S x S x 3 -> (keypoints B x K x 2 input px, scores B x K).

    ``flip_test`` also runs the mirrored image and averages: heatmaps are mirrored back and
    their left/right channels swapped before decoding; regressed coordinates are mirrored
    (x -> S - 1 - x, the pixel-centre convention of ``tf.reverse``) and swapped.
    """
    kind, size = cfg.model.kind, cfg.data.input_size
    args = decode_args(cfg)
    outputs = model({"image": images}, training=False)
    if not flip_test:
        return keypoints_from_outputs(outputs, **args)
    flipped = model({"image": tf.reverse(images, axis=[2])}, training=False)
    swap = list(FLIP_INDEX)
    if kind in HEATMAP_KINDS:
        maps = tf.cast(final_heatmaps(outputs), tf.float32)
        back = tf.gather(tf.reverse(tf.cast(final_heatmaps(flipped), tf.float32), axis=[2]),
                         swap, axis=-1)
        return keypoints_from_outputs([(maps + back) / 2.0], **args)
    keypoints, scores = keypoints_from_outputs(outputs, **args)
    mirrored, _ = keypoints_from_outputs(flipped, **args)
    mirrored = tf.gather(mirrored, swap, axis=1)
    mirrored = tf.stack([size - 1.0 - mirrored[..., 0], mirrored[..., 1]], axis=-1)
    return (keypoints + mirrored) / 2.0, scores


@keras.saving.register_keras_serializable(package="tfpose")
class DecodeKeypoints(keras.layers.Layer):
    """Keras layer form of ``keypoints_from_outputs`` for graphs that chain pose -> classifier.

    ``output="joints"``: B x K x 3 = (x, y, visible) in input pixels, where visible = score above
    ``score_threshold`` — the same layout the pipeline gives the classifier from ground truth.
    ``output="scores"``: the confidences B x K (heatmap maxima; ones for regression models).
    Gradients are stopped: the classifier never trains the pose model through its decoding.
    """

    def __init__(self, kind, input_size, coord_frame="centered", heatmap_stride=4,
                 score_threshold=0.0, output="joints", heatmap_loss="mse", heatmap_sigma=2.0,
                 **kwargs):
        super().__init__(**kwargs)
        if output not in ("joints", "scores"):
            raise ValueError(f"output must be 'joints' or 'scores'. Received: output={output!r}")
        self.output_kind = output
        self.kind = kind
        self.input_size = input_size
        self.coord_frame = coord_frame
        self.heatmap_stride = heatmap_stride
        self.score_threshold = score_threshold
        self.heatmap_loss = heatmap_loss
        self.heatmap_sigma = heatmap_sigma

    def call(self, outputs):
        outputs = tf.nest.map_structure(tf.stop_gradient, outputs)
        keypoints, scores = keypoints_from_outputs(
            outputs, kind=self.kind, input_size=self.input_size, coord_frame=self.coord_frame,
            heatmap_stride=self.heatmap_stride, heatmap_loss=self.heatmap_loss,
            heatmap_sigma=self.heatmap_sigma)
        if self.output_kind == "scores":
            return scores
        visible = tf.cast(scores > self.score_threshold, tf.float32)
        return tf.concat([keypoints, visible[..., None]], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = final_heatmaps(input_shape) if self.kind in HEATMAP_KINDS else (
            input_shape["keypoints"] if isinstance(input_shape, dict) else input_shape)
        joints = shape[-1] if self.kind in HEATMAP_KINDS else shape[1]
        return (shape[0], joints) if self.output_kind == "scores" else (shape[0], joints, 3)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, input_size=self.input_size, coord_frame=self.coord_frame,
                      heatmap_stride=self.heatmap_stride, score_threshold=self.score_threshold,
                      output=self.output_kind, heatmap_loss=self.heatmap_loss,
                      heatmap_sigma=self.heatmap_sigma)
        return config
