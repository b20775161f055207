"""The person detector's task (``model.kind: efficientnet_lite0_centernet``).

Outputs ``centers`` B x H x W x 1 (logits), ``box_size`` and ``box_offset`` B x H x W x 2 at
stride 4 (``codecs/centers.py``), trained on images composed from one-person photos
(``input/mosaic.py``: this task builds its own datasets) with CenterNet's losses
(``models/detection_losses.py``). Inference decodes the ``max_people`` best boxes per image in
input pixels with their scores; the best checkpoint is the lowest validation loss on the
validation split's composed images (the same images every epoch).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfpose.codecs import centers as centers_codec
from tfpose.core.errors import ConfigError
from tfpose.models import detection_losses
from tfpose.tasks.base import Task

MAX_PEOPLE = 20  # boxes decoded per image before any score threshold (what users expect)


class PersonDetection(Task):
    is_detector = True

    @property
    def output_names(self) -> list[str]:
        return ["centers", "box_size", "box_offset"] + (["heatmaps_1"] if self.has_pose else [])

    @property
    def has_pose(self) -> bool:
        """``model.shared_trunk``: the network also answers the pose model's heatmaps (pass 1
        of a whole photo); they are frozen, so no loss trains them."""
        return bool(self.cfg.model.shared_trunk)

    @property
    def monitor(self) -> tuple[str, str]:
        return ("val_loss", "min")

    @property
    def stride(self) -> int:
        return self.cfg.data.heatmap_stride

    def check(self) -> None:
        data, mosaic = self.cfg.data, self.cfg.data.mosaic
        if data.input_size % 32:
            raise ConfigError(f"data.input_size: a person detector needs a multiple of 32 "
                              f"(stride-32 features). Received: {data.input_size}")
        if mosaic.max_persons < 1:
            raise ConfigError(f"data.mosaic.max_persons: expected >= 1. "
                              f"Received: {mosaic.max_persons}")
        if not 0 < mosaic.min_size <= mosaic.max_size:
            raise ConfigError(f"data.mosaic: expected 0 < min_size <= max_size. Received: "
                              f"{mosaic.min_size}, {mosaic.max_size}")

    def build_dataset(self, split: str, training: bool, *, repeat: bool | None = None):
        from tfpose.input import mosaic

        return mosaic.build_dataset(self, split, training, repeat=repeat)

    def make_targets(self, example, weights_per_class=None):
        """``boxes`` B x N x 4 and ``box_valid`` B x N -> targets; the regressions are weighted
        by the mask of centre cells, the centre map per image."""
        cells = self.cfg.data.input_size // self.stride
        heat, sizes, offsets, mask = centers_codec.encode(example["boxes"], example["box_valid"],
                                                          cells, self.stride)
        ones = tf.ones(tf.shape(heat)[:1], tf.float32)
        return ({"centers": heat, "box_size": sizes, "box_offset": offsets},
                {"centers": ones, "box_size": mask, "box_offset": mask})

    def build(self, num_classes=None) -> keras.Model:
        from tfpose.models.person_detector import build_person_detector

        return build_person_detector(self.cfg)

    def losses(self) -> dict:
        return {"centers": detection_losses.CenterFocalLoss(),
                "box_size": detection_losses.MaskedL1(name="box_size_l1"),
                "box_offset": detection_losses.MaskedL1(name="box_offset_l1")}

    def network_at_size(self, model: keras.Model, size: int) -> keras.Model:
        """The same layers (shared weights) on a ``size`` x ``size`` input: fully
        convolutional, and ``decode_outputs`` reads the maps' own shape."""
        if size == self.cfg.data.input_size:
            return model
        if size <= 0 or size % 32:
            raise ConfigError(f"a person detector takes multiples of 32. Received: {size}")
        image = keras.Input((size, size, 3), dtype="float32", name="image")
        return keras.models.clone_model(model, input_tensors={"image": image},
                                        clone_function=lambda layer: layer)  # reuse: no copy

    def decode_outputs(self, outputs, max_people: int = MAX_PEOPLE):
        """Outputs -> (boxes B x N x 4 input px, scores B x N), best first, N = max_people."""
        return centers_codec.decode(outputs["centers"], outputs["box_size"],
                                    outputs["box_offset"], self.stride, max_people)

    def decode_pose(self, outputs):
        """A shared trunk's ``heatmaps_1`` -> (keypoints B x K x 2 input px, scores B x K),
        decoded as the pose model it came from decodes them (``data.heatmap_sigma``,
        ``model.heatmap_loss`` and ``model.heatmap_decode`` are that model's)."""
        from tfpose.models.decode import keypoints_from_outputs

        data, model = self.cfg.data, self.cfg.model
        return keypoints_from_outputs({"heatmaps_1": outputs["heatmaps_1"]}, codec="heatmap",
                                      input_size=data.input_size, heatmap_stride=self.stride,
                                      heatmap_loss=model.heatmap_loss,
                                      heatmap_sigma=data.heatmap_sigma,
                                      subpixel=model.heatmap_decode)
