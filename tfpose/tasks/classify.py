"""Classifier tasks: the action classifier (image and/or joints) and the two-stage double CNN.

Both output ``action`` B x C (class probabilities, C = the dataset's classes, in the order of the
work dir's ``classes.json``), train with sparse categorical cross-entropy on labelled records
only, and select ``best.keras`` by validation accuracy.

- ``Classifier``: inputs ``image`` (normalised) and/or ``joints`` B x K x 3 (ground truth from the
  records); a joints-only model (``model.image_branch: false``) never decodes an image.
- ``TwoStage``: the raw image -> the frozen pose model of ``model.pose_workdir`` -> decoded
  joints -> a fresh classifier, one graph (``models/two_stage.py``); it takes raw 0..255 images
  because each half normalises its own copy in-graph.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError, DataError
from tfpose.tasks.base import Task


class ClassifierTask(Task):
    has_classes = True
    labelled_only = True

    @property
    def output_names(self) -> list[str]:
        return ["action"]

    @property
    def monitor(self) -> tuple[str, str]:
        return ("val_accuracy", "max")

    def make_targets(self, example, weights_per_class=None):
        """``action`` = the int32 label, weighted by ``weights_per_class[label]`` (float32 [C],
        ``data.class_weights``) or one."""
        label = example["label"]
        if weights_per_class is None:
            weight = tf.ones_like(label, tf.float32)
        else:
            weight = tf.gather(tf.constant(weights_per_class, tf.float32), tf.maximum(label, 0))
        return {"action": label}, {"action": weight}

    def losses(self) -> dict:
        # Keyed by output name: Keras maps the key to a single output too.
        return {"action": keras.losses.SparseCategoricalCrossentropy()}

    def weighted_metrics(self) -> dict:
        return {"action": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}


class Classifier(ClassifierTask):

    @property
    def needs_images(self) -> bool:
        return bool(self.cfg.model.image_branch)

    def build(self, num_classes=None) -> keras.Model:
        from tfpose.models.classifier import build_classifier

        return build_classifier(self.cfg, num_classes=num_classes)

    def inference_network(self, model: keras.Model) -> keras.Model:
        """Image-only classifiers as they are; one that takes ``joints`` is refused: no pose
        model predicts them from an image (export a two-stage model instead)."""
        if "joints" in [t.name.split(":")[0] for t in model.inputs]:
            raise DataError(
                f"this classifier (joint_embedding={self.cfg.model.joint_embedding!r}) needs "
                "joints as input and no pose model predicts them from an image; export a "
                "two_stage model (model.kind: two_stage with model.pose_workdir) to serve from "
                "images")
        return model


class TwoStage(ClassifierTask):
    has_keypoints = True

    @property
    def normalization(self) -> str:
        return "none"  # each half of the graph normalises its own copy

    def build(self, num_classes=None) -> keras.Model:
        """A fresh classifier (as ``cfg`` describes it) behind the frozen pose model of
        ``cfg.model.pose_workdir``; the classifier part normalises with
        ``cfg.data.normalization`` in-graph."""
        from tfpose.models.classifier import build_classifier
        from tfpose.tasks.workdir import load_pose_workdir

        cfg = self.cfg
        if not cfg.model.pose_workdir:
            raise ConfigError("model.kind two_stage needs model.pose_workdir (a trained pose model)")
        pose_model, pose_task = load_pose_workdir(cfg.model.pose_workdir)
        classifier = build_classifier(config_lib.replace(cfg, model=config_lib.replace(
            cfg.model, kind="classifier")), num_classes=num_classes)
        return compose(pose_model, pose_task, classifier, cfg)

    def inference_network(self, model: keras.Model) -> keras.Model:
        from tfpose.models import two_stage

        return two_stage.inference_model(model)

    def decode_outputs(self, outputs):
        return (tf.cast(outputs["joints"], tf.float32)[..., :2],
                tf.cast(outputs["keypoint_scores"], tf.float32))


def compose(pose_model, pose_task, classifier, cfg, score_threshold: float = 0.0):
    """``models.two_stage.build_two_stage`` with the pose half decoded by its own task."""
    from tfpose.models import two_stage

    return two_stage.build_two_stage(pose_model, pose_task.cfg, classifier, cfg,
                                     pose_task.decode_args(), score_threshold=score_threshold)
