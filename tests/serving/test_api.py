"""``tfpose.load`` and its results: the Python API answers as ``tfpose predict`` does.

The model is ``test_video``'s colour finder (joints 0-7 on a red dot, 8-15 on a green one), so
every answer is known; photos are its frames saved as PNG.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("av")

from PIL import Image  # noqa: E402
from test_video import (FRAMES, colour_finder_workdir, expected_keypoints,  # noqa: E402
                        frame_image, write_clip)

import tfpose  # noqa: E402
from tfpose.core.errors import DataError  # noqa: E402
from tfpose.serving.predict import predict_files  # noqa: E402


def png(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame_image(i)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = colour_finder_workdir(tmp_path_factory.mktemp("api") / "colours")
    return tfpose.load(str(folder), engine="tensorflow", detector=None)  # one dot-person


def test_a_path_bytes_and_an_array_give_the_same_answer(model, tmp_path):
    path = tmp_path / "dots.png"
    path.write_bytes(png(3))
    by_path, by_bytes, by_array = model(path), model(png(3)), model(frame_image(3))
    assert by_path.keypoints.shape == (1, 16, 2) and by_path.keypoints.dtype == np.float32
    assert by_path.scores.shape == (1, 16) and by_path.boxes.shape == (1, 4)
    np.testing.assert_allclose(by_path.keypoints[0], expected_keypoints(3), atol=1.6)
    np.testing.assert_array_equal(by_bytes.keypoints, by_path.keypoints)
    np.testing.assert_allclose(by_array.keypoints, by_path.keypoints, atol=0.01)
    assert by_path.image == str(path) and by_bytes.image == "image 0"
    assert by_path.joint_names[0] == "r_ankle" and len(by_path.joint_names) == 16
    assert by_path.activity == []  # a pose model names no activity


def test_to_json_is_the_cli_line(model, tmp_path):
    path = tmp_path / "dots.png"
    path.write_bytes(png(5))
    line = next(predict_files(None, [path], None, predictor=model._predictor))
    assert json.loads(model(str(path)).to_json()) == line


def test_a_list_is_answered_in_order_and_a_bad_item_costs_only_itself(model, tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(png(1))
    truncated = png(2)[:60]
    results = model([good, truncated, tmp_path / "missing.jpg", png(4), 42])
    assert [r.error is None for r in results] == [True, False, False, True, False]
    assert "image 1" in results[1].error
    assert "missing.jpg" in results[2].error and "cannot read" in results[2].error
    assert "image 4" in results[4].error and "int" in results[4].error
    assert results[1].keypoints.shape == (0, 16, 2) and results[1].boxes.shape == (0, 4)
    np.testing.assert_array_equal(results[0].keypoints, model(good).keypoints)
    np.testing.assert_allclose(results[3].keypoints[0], expected_keypoints(4), atol=1.6)


def test_a_single_bad_input_raises_naming_it(model, tmp_path):
    with pytest.raises(DataError, match="image 0"):
        model(b"not a photo at all")
    with pytest.raises(DataError, match="H x W x 3"):
        model(np.zeros((8, 8), np.uint8))


def test_a_box_skips_the_search_and_is_the_box_returned(model):
    result = model(png(2), box=[0, 0, 64, 64])
    np.testing.assert_array_equal(result.boxes, [[0, 0, 64, 64]])
    np.testing.assert_allclose(result.keypoints[0], expected_keypoints(2), atol=1.6)


def test_draw_returns_the_image_with_the_skeleton(model):
    result = model(png(0))
    drawn = result.draw()
    assert drawn.shape == (64, 64, 3) and drawn.dtype == np.uint8
    assert (drawn != frame_image(0)).any(axis=-1).sum() > 20  # bones and joints drawn


def test_visible_is_the_drawing_rule_per_person():
    """``Result.visible``: a joint scored under the drawing's bar is not taken to be in the
    photo, per person of an every-person line; nobody found gives (0, 16)."""
    from tfpose.viz.visualize import DRAW_MIN_SCORE

    low, high = DRAW_MIN_SCORE / 2, DRAW_MIN_SCORE
    persons = [{"box": [0, 0, 9, 9], "score": 0.9, "keypoints": [[1.0, 2.0]] * 16,
                "scores": [high] * 8 + [low] * 8},
               {"box": [0, 0, 9, 9], "score": 0.8, "keypoints": [[3.0, 4.0]] * 16,
                "scores": [low] * 16}]
    record = {"image": "a.jpg", "keypoints": persons[0]["keypoints"],
              "scores": persons[0]["scores"], "persons": persons}
    visible = tfpose.api.Result(record).visible
    assert visible.shape == (2, 16) and visible.dtype == bool
    assert visible[0].tolist() == [True] * 8 + [False] * 8 and not visible[1].any()
    nobody = tfpose.api.Result({"image": "b.jpg", "keypoints": None, "scores": None,
                                "persons": []})
    assert nobody.visible.shape == (0, 16)


def test_video_yields_a_result_per_frame_and_stops_when_left(model, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4")
    results = list(model.video(clip, smooth=False))
    assert [r.record["frame"] for r in results] == list(range(FRAMES))
    for i, result in enumerate(results):
        np.testing.assert_allclose(result.keypoints[0], expected_keypoints(i), atol=1.6)
    assert results[-1].draw().shape == (64, 64, 3)
    seen = []
    for result in model.video(clip):
        seen.append(result)
        if len(seen) == 2:
            break  # the reader thread ends; nothing hangs
    assert len(seen) == 2
    with pytest.raises(DataError):
        list(model.video(tmp_path / "missing.mp4"))


def test_an_attached_activity_model_names_each_persons_activity(tmp_path):
    """``tfpose.load(..., activity=...)``: each result carries the activity model's answer on
    its joints, the same as ``serving.activity`` gives on them directly."""
    from tfpose.core import zoo
    from tfpose.serving.activity import ActivityModel

    if "mpii-activity" not in zoo.names():
        pytest.skip("mpii-activity is not shipped in this checkout")
    folder = colour_finder_workdir(tmp_path / "colours")
    model = tfpose.load(str(folder), engine="tensorflow", activity="mpii-activity",
                        detector=None)
    result = model(png(3))
    want = ActivityModel.load("mpii-activity")(result.keypoints, result.scores)
    assert len(result.activity) == 1 and result.activity == want
    assert result.activity[0]["class"] in ActivityModel.load("mpii-activity").classes
    assert json.loads(result.to_json())["activity"] == want[0]

