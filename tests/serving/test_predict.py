"""``tfpose predict``: drawings and JSON lines from a work dir or an export, on the real samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

import cli  # noqa: E402
from tfpose import config as config_lib  # noqa: E402
from tfpose.core.errors import DataError  # noqa: E402

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "mpii_sample").glob("*.jpg"))
CLASSES = ["walking", "running", "sitting"]
SIZE = 64


def make_workdir(folder: Path, values: dict, classes=None) -> Path:
    """A fake ``tfpose train`` work dir: config.yaml, model.keras and classes.json."""
    from tfpose.training.train import build_model

    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict(values)
    config_lib.dump(cfg, folder / "config.yaml")
    build_model(cfg, num_classes=len(classes) if classes else None).save(
        str(folder / "model.keras"))
    if classes:
        (folder / "classes.json").write_text(json.dumps(classes))
    return folder


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    hourglass = make_workdir(root / "hourglass", {
        "data": {"input_size": SIZE},
        "model": {"kind": "hourglass", "num_stacks": 2, "num_channels": 8, "hourglass_depth": 1}})
    two_stage = make_workdir(root / "two_stage", {
        "data": {"input_size": SIZE},
        "model": {"kind": "two_stage", "joint_embedding": "conv", "num_classes": 3,
                  "pose_workdir": str(hourglass)}}, CLASSES)
    return {"root": root, "hourglass": hourglass, "two_stage": two_stage}


def run_predict(args):
    # Tiny untrained models: one answer per photo, without the person detector.
    result = CliRunner().invoke(cli.cli, ["predict", *map(str, args), "--detector", "none"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_predict_two_stage_workdir_and_export_agree(workdirs, tmp_path):
    from tfpose.serving.export import export_workdir

    base = tmp_path / "serving"
    export_workdir(workdirs["two_stage"], base, "double_cnn", 3)
    from_workdir = run_predict([workdirs["two_stage"], *SAMPLES, "--out", tmp_path / "a"])
    from_export = run_predict([base / "double_cnn", *SAMPLES, "--out", tmp_path / "b"])
    assert len(from_workdir) == len(from_export) == 5
    for rec_w, rec_e, path in zip(from_workdir, from_export, SAMPLES):
        assert rec_w["image"] == rec_e["image"] == str(path)
        assert rec_w["class"] == rec_e["class"] and rec_w["class"] in CLASSES
        assert rec_w["probability"] == pytest.approx(rec_e["probability"], abs=1e-4)
        np.testing.assert_allclose(rec_w["keypoints"], rec_e["keypoints"], atol=0.02)
        assert np.shape(rec_w["keypoints"]) == (16, 2) and np.shape(rec_w["scores"]) == (16,)
        with Image.open(path) as original, Image.open(rec_e["drawing"]) as drawing:
            assert drawing.size == original.size and drawing.format == "PNG"
            # Something was drawn: the skeleton and the label change pixels.
            diff = np.abs(np.asarray(drawing, np.int16) - np.asarray(original.convert("RGB"), np.int16))
            assert (diff.max(-1) > 40).mean() > 0.001
        xy = np.asarray(rec_w["keypoints"])
        assert np.all(xy >= 0) and np.all(xy <= np.array(original.size))
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        f"{p.stem}.png" for p in SAMPLES)


def test_predict_pose_workdir_with_a_box(workdirs, tmp_path):
    box = (300, 100, 700, 500)
    records = run_predict([workdirs["hourglass"], SAMPLES[0], SAMPLES[3], "--out", tmp_path,
                           "--box", ",".join(map(str, box))])
    assert len(records) == 2
    for rec in records:
        assert rec["class"] is None and rec["probability"] is None
        xy = np.asarray(rec["keypoints"])
        assert np.all(xy >= np.array(box[:2])) and np.all(xy <= np.array(box[2:]))
        assert Path(rec["drawing"]).exists()


def test_predict_rejects_a_bad_box(workdirs, tmp_path):
    """(A bad image file costs only itself: test_images.py.)"""
    with pytest.raises(DataError, match="--box"):
        run_predict([workdirs["hourglass"], SAMPLES[0], "--out", tmp_path, "--box", "5,5,1,9"])


def dot_finder_workdir(folder: Path, frame: str) -> Path:
    """A 'pose model' whose every heatmap is the input's brightness (stride 1): it finds a dot.

    Saved as a real work dir (config.yaml + model.keras), so predict runs its normal path:
    decode, frame the whole image, crop, the network, the heatmap decode, the map back.
    """
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict({
        "data": {"input_size": SIZE, "heatmap_stride": 1, "normalization": "unit",
                 "whole_image_frame": frame},
        "model": {"kind": "hourglass", "num_stacks": 1}})
    config_lib.dump(cfg, folder / "config.yaml")
    image = keras.Input((SIZE, SIZE, 3), name="image")
    brightness = keras.layers.Conv2D(16, 1, use_bias=False, name="heatmaps_1",
                                     kernel_initializer=keras.initializers.Constant(1 / 3))(image)
    keras.Model({"image": image}, {"heatmaps_1": brightness}).save(str(folder / "model.keras"))
    return folder


@pytest.mark.parametrize("frame", ["letterbox", "stretch"])
def test_predict_json_coordinates_round_trip_on_a_non_square_photo(tmp_path, frame):
    """A 192 x 96 photo with one bright dot: every keypoint of the JSON line is the dot's pixel
    in the original image (0-based), however the whole image was framed."""
    width, height, dot = 192, 96, (60, 51)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[dot[1] - 1:dot[1] + 2, dot[0] - 1:dot[0] + 2] = 255  # 3 x 3, centred on the dot
    photo = tmp_path / "wide.png"
    Image.fromarray(canvas).save(photo)
    workdir = dot_finder_workdir(tmp_path / f"dots-{frame}", frame)
    [rec] = run_predict([workdir, photo, "--no-draw"])
    assert rec["image"] == str(photo) and "drawing" not in rec
    # One input pixel is 3 original px (letterbox: side 192 / 64) or 3 x 1.5 (stretch).
    np.testing.assert_allclose(np.asarray(rec["keypoints"]), np.tile(dot, (16, 1)), atol=1.6)
    assert not list(tmp_path.glob("*.png"))[1:]  # only the photo itself: nothing drawn


def test_predict_needs_out_or_no_draw(workdirs):
    result = CliRunner().invoke(cli.cli, ["predict", str(workdirs["hourglass"]), str(SAMPLES[0])])
    assert result.exit_code != 0 and "--no-draw" in result.output


def test_second_pass_boxes_are_the_training_crops_square():
    """The numpy boxes of ``passes.second_pass_boxes`` equal ``person_box.square_box`` and
    ``corners`` (TensorFlow, what the training crops use), validity included."""
    from tfpose.core import person_box
    from tfpose.serving.passes import SECOND_PASS_MIN_SCORE, SECOND_PASS_MIN_SIDE, second_pass_boxes

    rng = np.random.default_rng(3)
    keypoints = rng.uniform(-50.0, 700.0, (64, 16, 2)).astype(np.float32)
    keypoints[5] = 40.0 + rng.uniform(0.0, 3.0, (16, 2))  # a pile of joints: under the min side
    scores = rng.uniform(0.0, 0.4, (64, 16)).astype(np.float32)
    scores[7] = 0.0
    scores[8, 1:] = 0.0  # one joint only
    boxes, valid = second_pass_boxes(keypoints, scores)
    centre, side, ok = person_box.square_box(keypoints, scores >= SECOND_PASS_MIN_SCORE)
    expected = person_box.corners(centre, side).numpy()
    np.testing.assert_allclose(boxes, expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(valid, ok.numpy() & (side.numpy() >= SECOND_PASS_MIN_SIDE))
    assert not valid[[5, 7, 8]].any() and valid.sum() > 50


def test_pass_two_grows_its_box_by_a_pass_one_cell():
    """Pass 1 frames a 480 x 360 photo with the letterbox square of side 480 and puts the joints
    on a 100-px square: pass 2's box is that square x 1.25 (the training crops' margin), 125 px,
    plus 480 / 48 = 10 px on each side (SECOND_PASS_PAD: a heatmap cell of a 192-px pass 1),
    145 px about the same centre. An export without ``input_boxes`` grows nothing; the pass's
    ``input_boxes`` never reach the caller."""
    from tfpose.serving.passes import SECOND_PASS_PAD, run_passes

    joints = np.stack(np.meshgrid(np.linspace(200, 300, 4), np.linspace(100, 200, 4)), -1)
    asked = []

    def one_pass(images, boxes, framed=True):
        asked.append(boxes)
        out = {"keypoints": np.repeat(joints.reshape(1, 16, 2), len(images), 0).astype(np.float32),
               "keypoint_scores": np.ones((len(images), 16), np.float32)}
        if framed:
            whole = np.array([[0.0, -60.0, 480.0, 420.0]], np.float32)
            out["input_boxes"] = np.repeat(whole, len(images), 0) if boxes is None else boxes
        return out

    outputs = run_passes(one_pass, np.zeros((2, 360, 480, 3), np.float32), None, 2)
    assert asked[0] is None and "input_boxes" not in outputs
    assert SECOND_PASS_PAD * 480 == pytest.approx(10.0)
    np.testing.assert_allclose(asked[1], [[177.5, 77.5, 322.5, 222.5]] * 2)
    np.testing.assert_allclose(outputs["boxes"], asked[1])
    asked.clear()
    run_passes(lambda images, boxes: one_pass(images, boxes, framed=False),
               np.zeros((1, 360, 480, 3), np.float32), None, 2)
    np.testing.assert_allclose(asked[1], [[187.5, 87.5, 312.5, 212.5]])
