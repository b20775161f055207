"""TensorBoard pictures: validation images with predicted (and true) skeletons."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpose.datasets.shards import read_manifest
from tfpose.tasks import get_task


def displayable(images) -> np.ndarray:
    """Normalised model inputs B x H x W x 3 -> uint8 for display (per-image min-max stretch,
    since zero-centred inputs no longer carry their mean)."""
    images = np.asarray(images, dtype=np.float32)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return ((images - low) / np.maximum(high - low, 1e-6) * 255).astype(np.uint8)


class SkeletonImages(keras.callbacks.Callback):
    """Every ``every`` epochs, draws the first validation batch's predictions to TensorBoard:
    predicted skeletons over true ones for pose models; true joints and the predicted class
    (with its probability) for classifiers."""

    def __init__(self, cfg, log_dir: str | Path, every: int, max_images: int = 4):
        super().__init__()
        self.cfg = cfg
        self.task = get_task(cfg)
        self.every = every
        self.max_images = max_images
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self._batch = None
        self.classes = read_manifest(cfg.data.dir).get("classes", [])

    def _first_batch(self):
        if self._batch is None:
            from tfpose.input.pipeline import build_inference_dataset

            for inputs, meta in build_inference_dataset(self.task, self.cfg.data.val_split).take(1):
                self._batch = ({k: v[: self.max_images] for k, v in inputs.items()},
                               {k: v[: self.max_images] for k, v in meta.items()})
        return self._batch

    def on_epoch_end(self, epoch, logs=None):
        from tfpose.evaluation.evaluate import predict_action
        from tfpose.viz.visualize import draw_skeleton

        batch = self._first_batch()
        if (epoch + 1) % self.every or batch is None or "image" not in batch[0]:
            return  # not this epoch, or a joints-only dataset with nothing to draw on
        inputs, meta = batch
        pictures = displayable(inputs["image"])
        true = np.asarray(inputs["joints"])
        drawn = []
        if self.task.is_pose:
            keypoints, scores = self.task.predict_keypoints(self.model, inputs["image"])
            keypoints = np.asarray(keypoints)
            for i, picture in enumerate(pictures):
                drawn.append(draw_skeleton(picture, keypoints[i], np.ones(len(keypoints[i])),
                                           gt_keypoints=true[i]))
        else:
            probs = predict_action(self.model, inputs)
            for i, picture in enumerate(pictures):
                k = int(probs[i].argmax())
                name = self.classes[k] if k < len(self.classes) else str(k)
                drawn.append(draw_skeleton(picture, true[i, :, :2], true[i, :, 2],
                                           label=f"{name} {probs[i, k]:.2f}"))
        with self.writer.as_default():
            tf.summary.image("validation/skeletons", np.stack([np.asarray(d) for d in drawn]),
                             step=epoch, max_outputs=self.max_images)
        self.writer.flush()
