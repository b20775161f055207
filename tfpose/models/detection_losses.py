"""Losses of the person detector's three outputs (``codecs/centers.py``).

- ``CenterFocalLoss`` on ``centers`` (logits ``B x H x W x 1``): CornerNet's penalty-reduced
  focal loss, as CenterNet trains its centre map: a centre cell (target 1) costs
  ``-(1 - p)^2 log p``, any other cell ``-(1 - t)^4 p^2 log(1 - p)``, so cells near a centre
  (target close to 1) are barely punished for firing. Summed over the map and divided by the
  number of centres of that image; ``call`` returns one value per image (``B``).
- ``MaskedL1`` on ``box_size`` and ``box_offset`` (``B x H x W x 2``): L1 summed over the two
  channels, one value per cell (``B x H x W``); the pipeline's sample weight is the mask of
  centre cells, and ``mean_with_sample_weight`` divides by the batch's number of centres.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfpose")
class CenterFocalLoss(keras.losses.Loss):
    """Penalty-reduced focal loss on centre logits; ``y_true`` the ``encode``d Gaussians."""

    def __init__(self, name="center_focal", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        target = ops.cast(y_true, "float32")
        logits = ops.cast(y_pred, "float32")
        prob = ops.sigmoid(logits)
        positive = ops.cast(target >= 1.0 - 1e-4, "float32")
        # log p and log(1 - p) from the logits: finite however confident the network is.
        pos = -ops.square(1.0 - prob) * ops.log_sigmoid(logits) * positive
        neg = (-ops.power(1.0 - target, 4.0) * ops.square(prob) * ops.log_sigmoid(-logits)
               * (1.0 - positive))
        count = ops.maximum(ops.sum(positive, axis=(1, 2, 3)), 1.0)
        return ops.sum(pos + neg, axis=(1, 2, 3)) / count


@keras.saving.register_keras_serializable(package="tfpose")
class MaskedL1(keras.losses.Loss):
    """L1 of a box regression map, per cell; weighted by the centre mask."""

    def __init__(self, name="masked_l1", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ops.sum(ops.abs(ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")),
                       axis=-1)
