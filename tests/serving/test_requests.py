"""Client requests for TF Serving, read back as the server reads them (no TensorFlow needed
for REST). That they feed a loaded export is checked in ``test_export.py``."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from tfpose.serving.requests import rest_body, rest_inputs

PHOTOS = [b"\xff\xd8\xff\xe0 first", b"\x89PNG second \x00\xff"]


def test_rest_body_for_whole_photos_is_row_format_with_base64():
    body = json.loads(json.dumps(rest_body(PHOTOS)))
    assert body["signature_name"] == "serving_default"
    assert body["instances"] == [{"b64": base64.b64encode(p).decode()} for p in PHOTOS]
    inputs = rest_inputs(body)
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == object and list(inputs["images"]) == PHOTOS


def test_rest_body_with_boxes_names_both_inputs_per_instance():
    boxes = [[0, 0, 10, 20], [5.5, 1, 9, 7]]
    body = json.loads(json.dumps(rest_body(PHOTOS, boxes)))
    assert body["signature_name"] == "serving_boxes"
    assert sorted(body["instances"][1]) == ["boxes", "images"]
    inputs = rest_inputs(body)
    assert list(inputs["images"]) == PHOTOS
    assert inputs["boxes"].dtype == np.float32
    np.testing.assert_array_equal(inputs["boxes"], np.array(boxes, np.float32))


def test_a_box_per_photo_is_required():
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        rest_body(PHOTOS, [[0, 0, 10, 20]])


def test_instances_that_disagree_are_refused():
    body = rest_body(PHOTOS, [[0, 0, 1, 1]] * 2)
    del body["instances"][1]["boxes"]
    with pytest.raises(ValueError, match="instance 1"):
        rest_inputs(body)
    with pytest.raises(ValueError, match="instances"):
        rest_inputs({"signature_name": "serving_default", "instances": []})
