"""The double CNN as one graph: image -> pose model -> decoded joints -> action classifier.

The two-stage model takes the RAW image (float 0..255, B x S x S x 3 at the classifier's input
size ``S``) because its two halves may normalise differently (the hourglass and the report's
classifier both zero-centre, a pretrained ResNet uses ImageNet statistics): each half normalises
its own copy inside the graph, and so does the export. The pose model is frozen and its decoded
joints carry no gradient, so training the two-stage model trains the classifier on the joints it
will see at inference (predicted, not ground truth).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.core.errors import DataError
from tfpose.input.normalize import normalize_images
from tfpose.models.decode import DecodeKeypoints


@keras.saving.register_keras_serializable(package="tfpose")
class NormalizeImage(keras.layers.Layer):
    """``input.normalize.normalize_images`` as a layer: raw 0..255 images -> model inputs."""

    def __init__(self, method: str, **kwargs):
        super().__init__(**kwargs)
        self.method = method

    def call(self, images):
        return normalize_images(images, self.method)

    def get_config(self):
        return {**super().get_config(), "method": self.method}


@keras.saving.register_keras_serializable(package="tfpose")
class ScaleJoints(keras.layers.Layer):
    """Joints B x K x 3 (x, y, visible) in one input size -> another: x, y scaled, flags kept."""

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, joints):
        return tf.concat([joints[..., :2] * self.factor, joints[..., 2:]], axis=-1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def build_two_stage(pose_model: keras.Model, pose_cfg: config_lib.Config,
                    classifier: keras.Model, cfg: config_lib.Config, pose_decode: dict,
                    score_threshold: float = 0.0) -> keras.Model:
    """Chains a trained ``pose_model`` (frozen) and ``classifier`` into one model.

    Input ``image`` B x S x S x 3 raw (S = ``cfg.data.input_size``); output ``action`` B x C.
    ``pose_decode``: the ``DecodeKeypoints`` arguments of the pose model (its task's
    ``decode_args()``). Joints whose heatmap peak is at most ``score_threshold`` reach the
    classifier as invisible.
    """
    size, pose_size = cfg.data.input_size, pose_cfg.data.input_size
    pose_model.trainable = False
    image = keras.Input((size, size, 3), name="image")
    pose_image = image if pose_size == size else keras.layers.Resizing(
        pose_size, pose_size, name="pose_resize")(image)
    pose_image = NormalizeImage(pose_cfg.data.normalization, name="pose_normalize")(pose_image)
    pose_outputs = pose_model({"image": pose_image}, training=False)
    joints = DecodeKeypoints(**pose_decode, score_threshold=score_threshold,
                             name="decode_joints")(pose_outputs)
    if pose_size != size:
        joints = ScaleJoints(size / pose_size, name="joints_to_input")(joints)
    classifier_inputs = {}
    names = [t.name for t in classifier.inputs]
    if "image" in names:
        classifier_inputs["image"] = NormalizeImage(cfg.data.normalization,
                                                    name="classifier_normalize")(image)
    if "joints" in names:
        classifier_inputs["joints"] = joints
    probs = classifier(classifier_inputs)
    probs = keras.layers.Identity(name="action", dtype="float32")(probs)
    return keras.Model(image, {"action": probs}, name="two_stage")


def inference_model(model: keras.Model) -> keras.Model:
    """The trained two-stage model with the decoded joints exposed for export/prediction:
    outputs ``action`` B x C, ``joints`` B x K x 3 (x, y, visible; input pixels) and
    ``keypoint_scores`` B x K."""
    decode_layer = model.get_layer("decode_joints")
    pose_outputs = decode_layer.input
    joints = model.get_layer("joints_to_input").output if any(
        layer.name == "joints_to_input" for layer in model.layers) else decode_layer.output
    scores = DecodeKeypoints(**{**decode_layer.get_config(), "name": "keypoint_scores",
                                "output": "scores"})(pose_outputs)
    return keras.Model(model.inputs, {"action": model.get_layer("action").output,
                                      "joints": joints, "keypoint_scores": scores})


def is_two_stage(model: keras.Model) -> bool:
    """True for a graph built by ``build_two_stage`` (it holds the ``decode_joints`` layer)."""
    return any(layer.name == "decode_joints" for layer in model.layers)


def classifier_of(model: keras.Model) -> keras.Model:
    """The action classifier of a loaded model: itself, or the ``classifier_*`` model that
    ``build_two_stage`` nested inside a two-stage graph."""
    if not is_two_stage(model):
        return model
    inner = [layer for layer in model.layers
             if isinstance(layer, keras.Model) and layer.name.startswith("classifier_")]
    if len(inner) != 1:
        raise DataError(f"{model.name}: expected one classifier_* model inside the two-stage graph;"
                        f" found {[layer.name for layer in inner]}")
    return inner[0]
