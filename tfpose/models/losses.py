"""Pose losses that count annotated joints only.

All losses return one value per joint, B x K, from ``call`` and reduce with Keras 3's
``"mean_with_sample_weight"``: the pipeline's sample weight for a pose output is the
annotated mask B x K (1 where the joint is annotated and inside the input), so the reduction
is sum(mask * loss) / sum(mask) -- the mean over annotated joints of the whole batch, and an
unannotated joint contributes nothing whatever its prediction. Without a sample weight the
mean runs over all B x K joints.
"""

from __future__ import annotations

import keras
from keras import ops


HEATMAP_LOSSES = ("mse", "softmax_ce")


@keras.saving.register_keras_serializable(package="tfpose")
class MaskedKeypointL2(keras.losses.Loss):
    """The report's eq. 1, L = 1/m * sum_i (y_i - f_i)^2 over the m labelled coordinates.

    ``call(y_true, y_pred)``: B x K x 2 each -> B x K, the squared error averaged over (x, y).
    Averaging (not summing) the two coordinates makes the masked mean exactly eq. 1's mean over
    labelled coordinates (a joint is labelled in both or neither), so the report's learning rate
    means the same here.
    """

    def __init__(self, name="masked_keypoint_l2", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="tfpose")
class HeatmapMSE(keras.losses.Loss):
    """Heatmap L2 of the stacked hourglass, weighted by joint.

    ``call(y_true, y_pred)``: B x H x W x K each -> B x K, the squared error averaged over the
    H x W pixels of each joint's map. Use one instance per stack output: Keras sums the
    outputs' losses, which is the paper's intermediate supervision.
    """

    def __init__(self, name="heatmap_mse", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_pred - y_true), axis=(1, 2))


@keras.saving.register_keras_serializable(package="tfpose")
class HeatmapSoftmaxCE(keras.losses.Loss):
    """Cross-entropy between each joint's spatial softmax and its normalised Gaussian target.

    ``call(y_true, y_pred)``: B x H x W x K each -> B x K. ``y_pred`` are logits; ``y_true`` the
    codec's Gaussian maps (peak 1), divided by their sum so each joint's target is a
    distribution over the H x W pixels. Unlike the L2 to a mostly-zero map, whose gradient
    is tiny once the output is flat, every pixel's logit gets ``softmax - target``: the
    network is pushed toward the joint from the first step. An unannotated joint has an
    all-zero map, hence zero loss (and weight 0).
    """

    def __init__(self, name="heatmap_softmax_ce", reduction="mean_with_sample_weight",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        shape = ops.shape(y_pred)
        logits = ops.reshape(ops.cast(y_pred, "float32"), (shape[0], -1, shape[-1]))  # B x HW x K
        target = ops.reshape(ops.cast(y_true, "float32"), (shape[0], -1, shape[-1]))
        target = target / ops.maximum(ops.sum(target, axis=1, keepdims=True), 1e-12)
        return -ops.sum(target * ops.log_softmax(logits, axis=1), axis=1)


@keras.saving.register_keras_serializable(package="tfpose")
class SimCCKLDivergence(keras.losses.Loss):
    """KL divergence from a SimCC target distribution to the softmax of the predicted logits.

    ``call(y_true, y_pred)``: B x K x L each -> B x K, ``sum_l t_l (log t_l - log_softmax(z)_l)``
    over the L bins of one axis (``codecs/simcc.py``; one instance per axis output, summed by
    Keras). ``y_true`` rows are normalised Gaussians, all zeros for an unannotated joint (loss 0,
    and weight 0). The target's entropy makes the loss 0 for a prediction equal to the target,
    so its value reads as a distance; it adds no gradient (the cross-entropy's is the same).
    """

    def __init__(self, name="simcc_kl", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        target = ops.cast(y_true, "float32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        # Bins where the target underflowed to 0 contribute 0 (0 * finite, never 0 * -inf).
        return ops.sum(target * (ops.log(ops.maximum(target, 1e-12)) - log_probs), axis=-1)
