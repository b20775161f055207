"""Pose losses that count annotated joints only.

Both losses return one value per joint, B x K, from ``call`` and reduce with Keras 3's
``"mean_with_sample_weight"``: the pipeline's sample weight for a pose output is the
annotated mask B x K (1 where the joint is annotated and inside the input), so the reduction
is sum(mask * loss) / sum(mask) -- the mean over annotated joints of the whole batch, and an
unannotated joint contributes nothing whatever its prediction. Without a sample weight the
mean runs over all B x K joints.
"""

from __future__ import annotations

import keras
from keras import ops

from tfpose.models.pose import is_heatmap_model, pose_output_names


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


def losses_for(cfg) -> dict[str, keras.losses.Loss]:
    """The pose model's losses keyed by output name, for ``model.compile(loss=...)``.

    Regression: ``{"keypoints": MaskedKeypointL2()}``; hourglass: one ``HeatmapMSE`` per
    ``heatmaps_i`` (summed over stacks by Keras).
    """
    if is_heatmap_model(cfg):
        return {name: HeatmapMSE(name=f"{name}_mse") for name in pose_output_names(cfg)}
    return {"keypoints": MaskedKeypointL2()}
