"""Pose tasks: regression (CDRP, ResNet34), heatmap (hourglass, EfficientNet-Lite0) and SimCC
(EfficientNet-Lite0) models.

All take ``image`` B x S x S x 3 and end, through their codec, in keypoints B x K x 2 in input
pixels with scores B x K (``models/decode.py``):

- ``RegressionPose``: output ``keypoints`` B x K x 2 in ``data.coord_frame``
  (``codecs/regression.py``), loss ``MaskedKeypointL2``; scores are ones.
- ``HeatmapPose``: outputs ``heatmaps_1 .. heatmaps_N`` (N = ``model.num_stacks`` for the
  hourglass, 1 otherwise), each B x S/stride x S/stride x K, all supervised with the same
  Gaussian targets (``codecs/heatmap.py``); the last is decoded.
- ``SimCCPose``: outputs ``simcc_x`` and ``simcc_y``, each B x K x S*r logits over 1-D bins
  (r = 2 bins per input pixel), supervised by normalised 1-D Gaussians (``codecs/simcc.py``)
  through ``SimCCKLDivergence``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfpose.config import HEATMAP_KINDS, POSE_KINDS, REGRESSION_KINDS, SIMCC_KINDS
from tfpose.codecs import heatmap as heatmap_codec
from tfpose.codecs import regression as regression_codec
from tfpose.codecs import simcc as simcc_codec
from tfpose.core import geometry
from tfpose.core.errors import ConfigError
from tfpose.models import losses as losses_lib
from tfpose.models.decode import keypoints_from_outputs
from tfpose.tasks.base import Task


class PoseTask(Task):
    """Shared by both pose codecs: validation by PCKh, keypoints at inference."""

    is_pose = True
    has_keypoints = True
    codec = ""  # "regression" | "heatmap" | "simcc" (``models/decode.py``)

    @property
    def monitor(self) -> tuple[str, str]:
        return ("val_pckh", "max")

    def _refuse_absent_weight(self) -> None:
        """``data.absent_weight`` trains an empty heatmap; other codecs have no such target."""
        if self.cfg.data.absent_weight:
            raise ConfigError(f"data.absent_weight is for heatmap models; a {self.codec} model "
                              f"has no empty target for an absent joint. Received: "
                              f"{self.cfg.data.absent_weight} for model.kind="
                              f"{self.cfg.model.kind!r}")

    def decode_args(self) -> dict:
        """The keyword arguments of ``models.decode.keypoints_from_outputs`` (and of the
        ``DecodeKeypoints`` layer) for this model."""
        data = self.cfg.data
        return dict(codec=self.codec, input_size=data.input_size, coord_frame=data.coord_frame,
                    heatmap_stride=data.heatmap_stride, heatmap_loss=self.cfg.model.heatmap_loss,
                    heatmap_sigma=data.heatmap_sigma)

    def decode_outputs(self, outputs):
        return keypoints_from_outputs(outputs, **self.decode_args(), subpixel=self.subpixel)

    @property
    def subpixel(self) -> str:
        """The heatmap decoding's sub-pixel rule, ``model.heatmap_decode`` (checked)."""
        rule = self.cfg.model.heatmap_decode
        if rule not in heatmap_codec.SUBPIXEL_METHODS:
            raise ConfigError(f"model.heatmap_decode must be one of "
                              f"{', '.join(heatmap_codec.SUBPIXEL_METHODS)}. Received: {rule!r}")
        return rule

    def predict_keypoints(self, model: keras.Model, images, *, flip_test: bool = False):
        """Runs ``model`` on images B x S x S x 3 -> (keypoints B x K x 2 input px, scores B x K).

        ``flip_test`` also runs the mirrored image and averages (``mirror_flipped``).
        """
        outputs = model({"image": images}, training=False)
        if not flip_test:
            return self.decode_outputs(outputs)
        flipped = model({"image": tf.reverse(images, axis=[2])}, training=False)
        return self.mirror_flipped(outputs, flipped)

    def mirror_flipped(self, outputs, flipped):
        raise NotImplementedError


class RegressionPose(PoseTask):
    codec = "regression"

    @property
    def output_names(self) -> list[str]:
        return ["keypoints"]

    def check(self) -> None:
        regression_codec.half_size(self.cfg.data.input_size, self.cfg.data.coord_frame)
        self._refuse_absent_weight()

    def make_targets(self, example, weights_per_class=None):
        coords = regression_codec.encode(example["keypoints"][..., :2], self.cfg.data.input_size,
                                         self.cfg.data.coord_frame)
        return {"keypoints": coords}, {"keypoints": example["annotated"]}

    def build(self, num_classes=None) -> keras.Model:
        if self.cfg.model.kind == "cdrp":
            from tfpose.models.cdrp import build_cdrp

            return build_cdrp(self.cfg)
        from tfpose.models.resnet import build_resnet34

        return build_resnet34(self.cfg)

    def losses(self) -> dict:
        return {"keypoints": losses_lib.MaskedKeypointL2()}

    def mirror_flipped(self, outputs, flipped):
        """Regressed coordinates of the mirrored image are mirrored back (x -> S - 1 - x, the
        pixel-centre convention of ``tf.reverse``), left and right swapped, and averaged."""
        keypoints, scores = self.decode_outputs(outputs)
        mirrored, _ = self.decode_outputs(flipped)
        mirrored = geometry.mirror_keypoints(mirrored, self.cfg.data.input_size)
        return (keypoints + mirrored) / 2.0, scores


class HeatmapPose(PoseTask):
    codec = "heatmap"

    @property
    def output_names(self) -> list[str]:
        stacks = self.cfg.model.num_stacks if self.cfg.model.kind == "hourglass" else 1
        return [f"heatmaps_{i + 1}" for i in range(stacks)]

    def check(self) -> None:
        data = self.cfg.data
        if data.input_size % data.heatmap_stride:
            raise ConfigError(f"data.input_size={data.input_size} is not a multiple of "
                              f"data.heatmap_stride={data.heatmap_stride}")

    def make_targets(self, example, weights_per_class=None):
        data = self.cfg.data
        maps, weight = heatmap_codec.encode(example["keypoints"][..., :2], example["annotated"],
                                            data.input_size // data.heatmap_stride,
                                            data.heatmap_stride, data.heatmap_sigma)
        if "labelled" in example:
            # Labelled before the crops and cuts, unlabelled after: outside what the input
            # shows. Its map is all zeros (encode's for weight 0); now it counts.
            absent = tf.cast(example["labelled"], tf.float32) * (
                1.0 - tf.cast(example["annotated"], tf.float32))
            weight = weight + data.absent_weight * absent
        names = self.output_names
        return {name: maps for name in names}, {name: weight for name in names}

    def network_at_size(self, model: keras.Model, size: int) -> keras.Model:
        """The same layers (shared weights) on a ``size`` x ``size`` input: the network is
        fully convolutional and its heatmaps decode by their own shape."""
        if size == self.cfg.data.input_size:
            return self.inference_network(model)
        if self.cfg.model.kind == "efficientnet_lite0":
            from tfpose.models.efficientnet_lite import input_multiple
        else:
            from tfpose.models.hourglass import input_multiple
        multiple = input_multiple(self.cfg)
        if size <= 0 or size % multiple:
            raise ConfigError(f"data.whole_image_size={size}: a {self.cfg.model.kind} model "
                              f"needs a positive multiple of {multiple}")
        image = keras.Input((size, size, 3), dtype="float32", name="image")
        inputs = {"image": image} if isinstance(model.input, dict) else image
        return keras.models.clone_model(model, input_tensors=inputs,
                                        clone_function=lambda layer: layer)  # reuse: no copy

    def build(self, num_classes=None) -> keras.Model:
        if self.cfg.model.kind == "efficientnet_lite0":
            from tfpose.models.efficientnet_lite import build_efficientnet_lite0

            return build_efficientnet_lite0(self.cfg)
        from tfpose.models.hourglass import build_hourglass

        return build_hourglass(self.cfg)

    def losses(self) -> dict:
        """One ``HeatmapMSE`` (or ``HeatmapSoftmaxCE`` with ``model.heatmap_loss: softmax_ce``)
        per ``heatmaps_i``, summed over stacks by Keras (intermediate supervision)."""
        kind = self.cfg.model.heatmap_loss
        if kind not in losses_lib.HEATMAP_LOSSES:
            raise ConfigError(f"model.heatmap_loss must be one of "
                              f"{', '.join(losses_lib.HEATMAP_LOSSES)}; received {kind!r}")
        loss = losses_lib.HeatmapMSE if kind == "mse" else losses_lib.HeatmapSoftmaxCE
        return {name: loss(name=f"{name}_{kind}") for name in self.output_names}

    def mirror_flipped(self, outputs, flipped):
        """The mirrored image's final heatmaps are mirrored back with left and right channels
        swapped, averaged with the plain ones, and then decoded."""
        maps = tf.cast(heatmap_codec.final_heatmaps(outputs), tf.float32)
        back = geometry.mirror_heatmaps(tf.cast(heatmap_codec.final_heatmaps(flipped), tf.float32),
                                        self.cfg.data.heatmap_stride)
        return self.decode_outputs([(maps + back) / 2.0])


class SimCCPose(PoseTask):
    """SimCC: each joint's x and y as classifications over ``S * r`` bins (``codecs/simcc.py``).

    The network takes only ``data.input_size`` (its head flattens the stride-4 maps), so the
    base ``network_at_size`` refuses a ``data.whole_image_size``.
    """

    codec = "simcc"
    split_ratio = simcc_codec.SPLIT_RATIO

    @property
    def output_names(self) -> list[str]:
        return ["simcc_x", "simcc_y"]

    def check(self) -> None:
        if self.cfg.data.simcc_sigma <= 0:
            raise ConfigError(f"data.simcc_sigma: expected > 0 bins, received "
                              f"{self.cfg.data.simcc_sigma}")
        self._refuse_absent_weight()

    def decode_args(self) -> dict:
        return dict(super().decode_args(), simcc_split_ratio=self.split_ratio,
                    simcc_sigma=self.cfg.data.simcc_sigma)

    def make_targets(self, example, weights_per_class=None):
        data = self.cfg.data
        x, y, weight = simcc_codec.encode(example["keypoints"][..., :2], example["annotated"],
                                          data.input_size, self.split_ratio, data.simcc_sigma)
        return {"simcc_x": x, "simcc_y": y}, {"simcc_x": weight, "simcc_y": weight}

    def build(self, num_classes=None) -> keras.Model:
        from tfpose.models.efficientnet_lite import build_efficientnet_lite0_simcc

        return build_efficientnet_lite0_simcc(self.cfg, self.split_ratio)

    def losses(self) -> dict:
        """One ``SimCCKLDivergence`` per axis, summed by Keras."""
        return {name: losses_lib.SimCCKLDivergence(name=f"{name}_kl")
                for name in self.output_names}

    def mirror_flipped(self, outputs, flipped):
        """The mirrored image's x distributions are mirrored back (``codecs.simcc.mirror``),
        left and right joints swapped; both axes' probabilities are averaged with the plain
        ones and decoded (their logs are the logits ``decode`` reads)."""
        joints = list(geometry.FLIP_INDEX)

        def probs(logits):
            return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

        back_x = simcc_codec.mirror(tf.gather(probs(flipped["simcc_x"]), joints, axis=-2),
                                    self.split_ratio)
        back_y = tf.gather(probs(flipped["simcc_y"]), joints, axis=-2)
        mean_x = (probs(outputs["simcc_x"]) + back_x) / 2.0
        mean_y = (probs(outputs["simcc_y"]) + back_y) / 2.0
        # The floor keeps the logs finite where both probabilities underflowed to 0.
        return self.decode_outputs({"simcc_x": tf.math.log(tf.maximum(mean_x, 1e-12)),
                                    "simcc_y": tf.math.log(tf.maximum(mean_y, 1e-12))})


# The pose part of the registry (``tasks/__init__.py`` adds the classifiers to it).
POSE_TASKS = {
    **{kind: RegressionPose for kind in REGRESSION_KINDS},
    **{kind: HeatmapPose for kind in HEATMAP_KINDS},
    **{kind: SimCCPose for kind in SIMCC_KINDS},
}


def pose_task(cfg, where: str = "") -> PoseTask:
    """The task of a pose model's config; ConfigError naming ``where`` for any other kind.

    Resolved from ``POSE_TASKS`` alone so that a two-stage model (``tasks/classify.py``) finds
    its pose half without importing the registry that imports it.
    """
    kind = cfg.model.kind
    if kind not in POSE_TASKS and where:
        raise ConfigError(f"{where}: expected a pose model ({', '.join(POSE_KINDS)}); "
                          f"received a {kind} one")
    if kind not in POSE_TASKS:
        raise ConfigError(f"model.kind: not a pose model, received {kind!r}; expected one of "
                          f"{', '.join(POSE_KINDS)}")
    task = POSE_TASKS[kind](cfg)
    task.check()
    return task
