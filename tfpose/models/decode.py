"""From a pose model's raw outputs to keypoints in input-image pixels.

A pose model's outputs are read through its codec (``codec``): ``regression`` models (CDRP,
ResNet34) predict ``keypoints`` in the configured coordinate frame (``codecs/regression.py``);
``heatmap`` models (hourglass, EfficientNet-Lite) predict one heatmap stack per stage, of which
the last is decoded (``codecs/heatmap.py``); ``simcc`` models predict ``simcc_x`` and ``simcc_y``
logits over 1-D bins (``codecs/simcc.py``). All end as ``(keypoints B x K x 2 in input pixels,
scores B x K)`` so the classifier, the evaluation and the export see one format whatever the
pose model. Which codec a model kind uses is the task registry's business (``tfpose/tasks``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfpose.codecs import heatmap as heatmap_codec
from tfpose.codecs import regression as regression_codec
from tfpose.codecs import simcc as simcc_codec
from tfpose.config import HEATMAP_KINDS

POSE_CODECS = ("heatmap", "regression", "simcc")


def keypoints_from_outputs(outputs, *, codec: str, input_size: int, coord_frame: str = "centered",
                           heatmap_stride: int = 4, heatmap_loss: str = "mse",
                           heatmap_sigma: float = 2.0, subpixel: str = "quarter",
                           simcc_split_ratio: int = simcc_codec.SPLIT_RATIO,
                           simcc_sigma: float = simcc_codec.SIGMA):
    """Raw pose-model outputs -> (keypoints B x K x 2 input px float32, scores B x K float32).

    ``subpixel``: the heatmap decoding's sub-pixel rule (``codecs.heatmap.decode``).

    Regression models have no confidence, so their scores are ones. Heatmap models trained with
    ``softmax_ce`` output logits: they are decoded through ``softmax_heatmaps`` (the argmax is
    the same; scores become comparable). SimCC models' scores are on the same scale
    (``codecs.simcc.decode``).
    """
    if codec == "heatmap":
        maps = tf.cast(heatmap_codec.final_heatmaps(outputs), tf.float32)
        if heatmap_loss == "softmax_ce":
            maps = heatmap_codec.softmax_heatmaps(maps, heatmap_sigma)
        return heatmap_codec.decode(maps, heatmap_stride, subpixel, heatmap_sigma)
    if codec == "regression":
        keypoints = outputs["keypoints"] if isinstance(outputs, dict) else outputs
        keypoints = regression_codec.decode(tf.cast(keypoints, tf.float32), input_size,
                                            coord_frame)
        return keypoints, tf.ones_like(keypoints[..., 0])
    if codec == "simcc":
        return simcc_codec.decode(outputs["simcc_x"], outputs["simcc_y"], simcc_split_ratio,
                                  simcc_sigma)
    raise ValueError(f"Unknown pose codec {codec!r}; expected one of {POSE_CODECS}")


@keras.saving.register_keras_serializable(package="tfpose")
class DecodeKeypoints(keras.layers.Layer):
    """Keras layer form of ``keypoints_from_outputs`` for graphs that chain pose -> classifier.

    ``output="joints"``: B x K x 3 = (x, y, visible) in input pixels, where visible = score above
    ``score_threshold`` — the same layout the pipeline gives the classifier from ground truth.
    ``output="scores"``: the confidences B x K (heatmap maxima; ones for regression models).
    Gradients are stopped: the classifier never trains the pose model through its decoding.
    """

    def __init__(self, codec, input_size, coord_frame="centered", heatmap_stride=4,
                 score_threshold=0.0, output="joints", heatmap_loss="mse", heatmap_sigma=2.0,
                 simcc_split_ratio=simcc_codec.SPLIT_RATIO, simcc_sigma=simcc_codec.SIGMA,
                 **kwargs):
        super().__init__(**kwargs)
        if output not in ("joints", "scores"):
            raise ValueError(f"output must be 'joints' or 'scores'. Received: output={output!r}")
        if codec not in POSE_CODECS:
            raise ValueError(f"codec must be one of {POSE_CODECS}. Received: codec={codec!r}")
        self.output_kind = output
        self.codec = codec
        self.input_size = input_size
        self.coord_frame = coord_frame
        self.heatmap_stride = heatmap_stride
        self.score_threshold = score_threshold
        self.heatmap_loss = heatmap_loss
        self.heatmap_sigma = heatmap_sigma
        self.simcc_split_ratio = simcc_split_ratio
        self.simcc_sigma = simcc_sigma

    def decode_args(self) -> dict:
        return dict(codec=self.codec, input_size=self.input_size, coord_frame=self.coord_frame,
                    heatmap_stride=self.heatmap_stride, heatmap_loss=self.heatmap_loss,
                    heatmap_sigma=self.heatmap_sigma, simcc_split_ratio=self.simcc_split_ratio,
                    simcc_sigma=self.simcc_sigma)

    def call(self, outputs):
        outputs = tf.nest.map_structure(tf.stop_gradient, outputs)
        keypoints, scores = keypoints_from_outputs(outputs, **self.decode_args())
        if self.output_kind == "scores":
            return scores
        visible = tf.cast(scores > self.score_threshold, tf.float32)
        return tf.concat([keypoints, visible[..., None]], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.codec == "heatmap":
            shape = heatmap_codec.final_heatmaps(input_shape)
            joints = shape[-1]
        elif self.codec == "simcc":
            shape = input_shape["simcc_x"]
            joints = shape[1]
        else:
            shape = input_shape["keypoints"] if isinstance(input_shape, dict) else input_shape
            joints = shape[1]
        return (shape[0], joints) if self.output_kind == "scores" else (shape[0], joints, 3)

    def get_config(self):
        config = super().get_config()
        config.update(self.decode_args(), score_threshold=self.score_threshold,
                      output=self.output_kind)
        return config

    @classmethod
    def from_config(cls, config):
        """Also loads the layer as models saved before the codecs split wrote it: with the pose
        model's ``kind`` (e.g. ``"hourglass"``) where ``codec`` now stands."""
        config = dict(config)
        if "kind" in config and "codec" not in config:
            kind = config.pop("kind")
            config["codec"] = "heatmap" if kind in HEATMAP_KINDS else "regression"
        return cls(**config)
