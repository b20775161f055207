"""TF Serving warmup requests: PredictionLog records in the export's
``assets.extra/tf_serving_warmup_requests``, which the server replays at load time so the first
real request does not pay for graph initialisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

WARMUP_FILE = "tf_serving_warmup_requests"


def sample_jpeg(width: int = 96, height: int = 72) -> bytes:
    """A small generated JPEG (colour gradient) for warmup requests."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([255 * x / width, 255 * y / height, np.full_like(x, 128.0)], axis=-1)
    return tf.io.encode_jpeg(tf.constant(image.astype(np.uint8))).numpy()


def write_warmup_requests(path, model_name: str) -> int:
    """Writes PredictionLog records (``serving_default`` and ``serving_boxes``) to ``path``.

    TF Serving replays them at load time so the first real request does not pay for graph
    initialisation. Returns the number of records.
    """
    from tensorflow_serving.apis import prediction_log_pb2

    from tfpose.serving.requests import grpc_request

    jpeg = sample_jpeg()
    requests = [
        grpc_request([jpeg], model_name=model_name),
        grpc_request([jpeg, jpeg], [[0, 0, 96, 72], [10, 5, 60, 70]], model_name=model_name),
    ]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return len(requests)


def read_warmup_requests(path) -> list:
    """``[(signature_name, {input name: numpy array})]`` from a warmup file (tests, checks)."""
    from tensorflow_serving.apis import prediction_log_pb2

    from tfpose.serving.requests import grpc_inputs

    out = []
    for record in tf.data.TFRecordDataset(str(path)):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        out.append((request.model_spec.signature_name, grpc_inputs(request)))
    return out
