"""The ``Task`` interface: what a model kind means to the data, the trainer and the servers.

A task wraps one resolved config and answers every question that depends on ``model.kind``, so
no other package switches on the kind (``tests/test_architecture.py`` checks it):

- data: ``needs_images``, ``normalization``, ``labelled_only``, ``output_names``,
  ``make_targets`` (consumed by ``input/pipeline.py``, which never imports a task);
- model: ``build``, ``losses``, ``weighted_metrics``, ``monitor``, ``compile``;
- inference: ``inference_network`` and ``decode_outputs`` (export, predict, LiteRT).

Concrete tasks: ``tasks/pose.py`` (regression and heatmap pose models) and
``tasks/classify.py`` (the action classifier and the two-stage double CNN).
"""

from __future__ import annotations

import keras

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError


class Task:
    """Base of all tasks. ``cfg`` is the resolved run config."""

    is_pose = False
    is_detector = False  # outputs person boxes (``tasks/detect.py``)
    has_classes = False  # outputs ``action`` B x C: needs the manifest's classes (classes.json)
    has_keypoints = False  # inference yields keypoints B x K x 2 and their scores B x K
    # Data: False only for models that never see pixels (then images are never decoded); a
    # subclass may answer per config with a property.
    needs_images = True
    labelled_only = False  # True when records without an activity label are dropped (classifiers)

    def __init__(self, cfg: config_lib.Config):
        self.cfg = cfg

    @property
    def kind(self) -> str:
        """``model.kind``, for messages (dispatch on the task's attributes, not on this)."""
        return self.cfg.model.kind

    # -- data ------------------------------------------------------------------------------

    @property
    def normalization(self) -> str:
        """The normalisation the dataset applies to images (``input/normalize.py``)."""
        return self.cfg.data.normalization

    @property
    def output_names(self) -> list[str]:
        """The model's output names, the keys of ``targets`` and ``weights``."""
        raise NotImplementedError

    def check(self) -> None:
        """Raises ConfigError when the config cannot work for this task (before any I/O)."""

    def build_dataset(self, split: str, training: bool, *, repeat: bool | None = None):
        """Batches of ``(inputs, targets, sample_weights)`` of ``split`` for ``Model.fit``: the
        converted records through ``input/pipeline.py``, unless a task composes its own."""
        from tfpose.input.pipeline import build_dataset

        return build_dataset(self, split, training, repeat=repeat)

    def make_targets(self, example: dict, weights_per_class=None) -> tuple[dict, dict]:
        """Example (or batch) dict -> ``(targets, weights)`` keyed by ``output_names``."""
        raise NotImplementedError

    # -- model -----------------------------------------------------------------------------

    def build(self, num_classes: int | None = None) -> keras.Model:
        raise NotImplementedError

    def losses(self) -> dict:
        raise NotImplementedError

    def weighted_metrics(self) -> dict | None:
        return None

    @property
    def monitor(self) -> tuple[str, str]:
        """(metric, mode) that selects ``best.keras``."""
        raise NotImplementedError

    def compile(self, model: keras.Model, optimizer) -> None:
        """Losses and metrics of this task. Keras wraps the optimiser in a LossScaleOptimizer
        itself when the policy is mixed_float16."""
        model.compile(optimizer=optimizer, loss=self.losses(),
                      weighted_metrics=self.weighted_metrics(),
                      jit_compile=self.cfg.train.jit_compile)

    # -- inference -------------------------------------------------------------------------

    def inference_network(self, model: keras.Model) -> keras.Model:
        """The Keras model that serving calls on normalised B x S x S x 3 images."""
        return model

    def network_at_size(self, model: keras.Model, size: int) -> keras.Model:
        """``inference_network`` taking B x ``size`` x ``size`` x 3 images; only the
        configured ``data.input_size`` unless the task's networks are fully convolutional."""
        if size != self.cfg.data.input_size:
            raise ConfigError(f"data.whole_image_size={size}: a {self.cfg.model.kind} model "
                              f"takes only its input_size {self.cfg.data.input_size}")
        return self.inference_network(model)

    def decode_outputs(self, outputs) -> tuple:
        """The inference network's outputs -> (keypoints B x K x 2 input px, scores B x K)."""
        raise NotImplementedError(f"{type(self).__name__} predicts no keypoints")
