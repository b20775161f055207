"""Requests to a tfpose model behind TF Serving: REST ``:predict`` bodies and gRPC requests.

A client sends encoded photos (JPEG/PNG/BMP/GIF bytes) and, for ``serving_boxes``, one person
box per photo (x0, y0, x1, y1 in the photo's pixels); see ``export`` for the signatures.

REST (TF Serving's port 8501): ``POST /v1/models/NAME:predict`` with ``rest_body(...)`` as JSON.
The body uses TF Serving's row format: ``{"signature_name": ..., "instances": [...]}``, one
instance per photo, binary strings as ``{"b64": ...}`` (JSON carries no raw bytes; TF Serving
decodes such an object back to the string tensor's bytes). A signature with one input takes bare
values per instance; with several, each instance names them.

gRPC (port 8500): ``grpc_request(...)`` is a ``tensorflow_serving.apis.predict_pb2
.PredictRequest``; send it with ``prediction_service_pb2_grpc.PredictionServiceStub(channel)
.Predict(request, timeout)``. The export's warmup file holds such requests.

``rest_inputs`` and ``grpc_inputs`` read a request back into the arrays the server feeds the
signature (name -> numpy array), as TF Serving does: to check a request against a loaded model
without a server.
"""

from __future__ import annotations

import base64
from typing import Optional, Sequence

import numpy as np


def _boxes(boxes, count: int) -> Optional[np.ndarray]:
    if boxes is None:
        return None
    boxes = np.asarray(boxes, np.float32)
    if boxes.shape != (count, 4):
        raise ValueError(f"boxes: expected shape ({count}, 4), one box per image; "
                         f"received {boxes.shape}")
    return boxes


def _signature_name(signature: Optional[str], boxes) -> str:
    """``signature``, else the one the inputs call for: ``serving_boxes`` with boxes."""
    return signature or ("serving_default" if boxes is None else "serving_boxes")


def rest_body(images: Sequence[bytes], boxes=None, signature: Optional[str] = None) -> dict:
    """The JSON body of a REST ``:predict`` request for B encoded images.

    ``boxes`` float [B, 4] (x0, y0, x1, y1) selects ``serving_boxes``; without them the body
    asks ``serving_default``. ``signature`` overrides the name.
    """
    boxes = _boxes(boxes, len(images))
    encoded = [{"b64": base64.b64encode(bytes(image)).decode("ascii")} for image in images]
    if boxes is None:
        instances = encoded
    else:
        instances = [{"images": image, "boxes": box.tolist()}
                     for image, box in zip(encoded, boxes)]
    return {"signature_name": _signature_name(signature, boxes), "instances": instances}


def _rest_value(value):
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise ValueError("a binary value must be {'b64': ...}; "
                             f"received keys {sorted(value)}")
        return base64.b64decode(value["b64"])
    return value


def _stack(values) -> np.ndarray:
    if all(isinstance(v, bytes) for v in values):
        return np.array(values, dtype=object)
    return np.asarray(values, np.float32)


def rest_inputs(body: dict) -> dict:
    """Named input arrays from a REST body in row format (``instances``), as TF Serving builds
    them: instances stacked along a new batch axis, ``{"b64": ...}`` decoded to bytes. A bare
    value per instance is the signature's only input, ``images``."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise ValueError("a row-format body needs a non-empty list 'instances'")
    if not isinstance(instances[0], dict) or set(instances[0]) == {"b64"}:
        return {"images": _stack([_rest_value(v) for v in instances])}
    names = list(instances[0])
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or sorted(instance) != sorted(names):
            raise ValueError(f"instance {i}: expected the inputs {names} like instance 0")
    return {name: _stack([_rest_value(inst[name]) for inst in instances]) for name in names}


def grpc_request(images: Sequence[bytes], boxes=None, *, model_name: str,
                 signature: Optional[str] = None):
    """A ``PredictRequest`` for B encoded images (and ``boxes`` float [B, 4] for
    ``serving_boxes``), addressed to ``model_name``."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2

    boxes = _boxes(boxes, len(images))
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
        name=model_name, signature_name=_signature_name(signature, boxes)))
    request.inputs["images"].CopyFrom(tf.make_tensor_proto([bytes(i) for i in images]))
    if boxes is not None:
        request.inputs["boxes"].CopyFrom(tf.make_tensor_proto(boxes))
    return request


def grpc_inputs(request) -> dict:
    """Named input arrays of a ``PredictRequest``, as the server feeds them."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
