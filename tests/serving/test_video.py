"""``tfpose predict`` on video: a JSON line per frame, a drawn clip, tracking, bad clips.

Clips are generated here with PyAV (64 x 64, a few frames). The model is a real work dir whose
"heatmaps" are colour channels (``colour_finder_workdir``): joints 0-7 land on the red dot,
8-15 on the green one, so the predicted joints are known in every frame and two dots apart
give the tracker a real person box.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
av = pytest.importorskip("av")

from click.testing import CliRunner  # noqa: E402

import cli  # noqa: E402
from tfpose import config as config_lib  # noqa: E402
from tfpose.core.errors import DataError, StorageError  # noqa: E402
from tfpose.serving.video import VideoReader, is_video, predict_video  # noqa: E402

SIZE = 64
FPS = 25
FRAMES = 10


def colour_finder_workdir(folder: Path) -> Path:
    """A stride-1 'pose model': heatmap k is the red channel for k < 8, the green one for k >= 8
    (the approach of ``test_predict.dot_finder_workdir``), saved as a real work dir."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict({
        "data": {"input_size": SIZE, "heatmap_stride": 1, "normalization": "unit",
                 "whole_image_frame": "letterbox"},
        "model": {"kind": "hourglass", "num_stacks": 1}})
    config_lib.dump(cfg, folder / "config.yaml")
    kernel = np.zeros((1, 1, 3, 16), np.float32)
    kernel[0, 0, 0, :8] = 1.0
    kernel[0, 0, 1, 8:] = 1.0
    image = keras.Input((SIZE, SIZE, 3), name="image")
    maps = keras.layers.Conv2D(16, 1, use_bias=False, name="heatmaps_1",
                               kernel_initializer=keras.initializers.Constant(kernel))(image)
    keras.Model({"image": image}, {"heatmaps_1": maps}).save(str(folder / "model.keras"))
    return folder


def dots(i: int) -> tuple:
    """Frame i's red and green dot centres (x, y): both drift right 1.5 px a frame."""
    return (14 + 1.5 * i, 20.0), (20 + 1.5 * i, 44.0)


def frame_image(i: int, noise=None) -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 3), np.uint8) if noise is None else noise.copy()
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for channel, (x, y) in enumerate(dots(i)):
        # A peaked blob (not a flat square), so its maximum is one pixel at any crop scale.
        blob = 255.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5 ** 2))
        near = blob > 8
        image[near] = 0
        image[..., channel] = np.maximum(image[..., channel], blob.astype(np.uint8))
    return image


def write_clip(path: Path, count: int = FRAMES, noise: bool = False, codec: str = "libx264",
               options=None) -> Path:
    """A clip of ``count`` frames (4:4:4, lossless for x264, so the dots keep their colour);
    ``noise``: a random background, so the file is large enough to truncate mid-stream."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv444p" if codec == "libx264" else "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "0"}
        for i in range(count):
            bg = rng.integers(0, 40, (SIZE, SIZE, 3), dtype=np.uint8) if noise else None
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame_image(i, bg), "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded(path: Path) -> tuple:
    """(frame count, width, height, frame rate) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.codec_context.width, stream.codec_context.height, stream.average_rate


def read_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected_keypoints(i: int) -> np.ndarray:
    red, green = dots(i)
    return np.array([red] * 8 + [green] * 8)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return colour_finder_workdir(tmp_path_factory.mktemp("video") / "colours")


def test_a_clip_gives_a_line_per_frame_and_a_drawn_clip_of_the_same_frames(model, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.cli, ["predict", str(model), str(clip), "--out", str(out),
                                          "--no-smooth", "--detector", "none"])  # one person
    assert result.exit_code == 0, result.output
    assert f"{FRAMES} frames (64 x 64, 25 fps)" in result.output and "frames/s" in result.output
    lines = read_lines(out / "clip.jsonl")
    assert [rec["frame"] for rec in lines] == list(range(FRAMES))
    np.testing.assert_allclose([rec["time_s"] for rec in lines], np.arange(FRAMES) / FPS,
                               atol=1e-3)
    for i, rec in enumerate(lines):
        assert set(rec) >= {"keypoints", "scores", "class", "probability", "tracked"}
        np.testing.assert_allclose(rec["keypoints"], expected_keypoints(i), atol=1.6)
        assert min(rec["scores"]) > 0.5
    # Frame 0 searches the whole frame; every later one is tracked from its predecessor.
    assert [rec["tracked"] for rec in lines] == [False] + [True] * (FRAMES - 1)
    count, width, height, rate = decoded(out / "clip.mp4")
    assert (count, width, height, rate) == (FRAMES, SIZE, SIZE, FPS)


def test_untracked_and_smoothed_runs_agree_with_the_dots(model, tmp_path):
    """--no-track predicts every frame on the whole frame (batched), same joints. Smoothed by the
    causal filters alone (lookahead 0), a dot moving v = 1.5 px a frame (37.5 px/s) lags by at
    most the One-Euro steady-state lag v (1 - alpha) / alpha, alpha at cutoff MIN_CUTOFF +
    BETA x 37.5 (defaults: 1.3 px), and never by more than the distance covered since the
    start; and it does lag, by over half that."""
    from tfpose.serving import smoothing
    from tfpose.serving.predict import make_predictor

    clip = write_clip(tmp_path / "clip.mkv", codec="ffv1")  # another container and codec
    predictor = make_predictor(model)
    untracked = []
    summary = predict_video(predictor, clip, tmp_path / "a", draw=False, track=False,
                            smooth=False, batch_size=4, on_record=untracked.append)
    assert summary["frames"] == FRAMES and summary["tracked_frames"] == 0
    assert summary["video"] is None and not (tmp_path / "a" / "clip.mp4").exists()
    assert read_lines(tmp_path / "a" / "clip.jsonl") == untracked
    alpha = smoothing.smoothing_factor(smoothing.MIN_CUTOFF + smoothing.BETA * 1.5 * FPS, 1 / FPS)
    lag = 1.5 * (1 - alpha) / alpha
    smoothed = []
    predict_video(predictor, clip, None, draw=False, lookahead=0, on_record=smoothed.append)
    for i in range(FRAMES):
        np.testing.assert_allclose(untracked[i]["keypoints"], expected_keypoints(i), atol=1.6)
        np.testing.assert_allclose(smoothed[i]["keypoints"], expected_keypoints(i),
                                   atol=min(lag, 1.5 * i) + 1.6)
    assert smoothed[-1]["keypoints"][0][0] < untracked[-1]["keypoints"][0][0] - 0.5 * lag  # it lags


def test_the_lookahead_writes_every_frame_in_order_smoothed_over_its_window(model, tmp_path):
    """The default lookahead holds each frame back until its window is complete, and still
    writes every frame, in order, with its own image: the lines are exactly the causal run's
    joints through ``CentredWindow`` (the crops do not depend on smoothing), and the drawn
    clip has every frame."""
    from tfpose.serving.predict import make_predictor
    from tfpose.serving.smoothing import LOOKAHEAD, CentredWindow

    clip = write_clip(tmp_path / "clip.mp4")
    predictor = make_predictor(model)
    causal, ahead = [], []
    predict_video(predictor, clip, None, draw=False, lookahead=0, on_record=causal.append)
    summary = predict_video(predictor, clip, tmp_path / "out", on_record=ahead.append)
    assert [rec["frame"] for rec in ahead] == list(range(FRAMES))
    assert read_lines(tmp_path / "out" / "clip.jsonl") == ahead
    assert decoded(tmp_path / "out" / "clip.mp4")[0] == FRAMES == summary["frames"]
    window = CentredWindow(LOOKAHEAD)
    expected = [out for rec in causal for out, _ in window.push(rec["keypoints"])]
    expected += [out for out, _ in window.flush()]
    for rec, want, before in zip(ahead, expected, causal):
        assert rec["tracked"] == before["tracked"] and rec["scores"] == before["scores"]
        np.testing.assert_allclose(rec["keypoints"], want, atol=0.01)
    assert not np.allclose(ahead[-1]["keypoints"], causal[-1]["keypoints"], atol=0.2)
    # A device read with its format (a camera) waits for nothing unless asked.
    live = []
    predict_video(predictor, clip, None, format="mp4", draw=False, on_record=live.append)
    assert [rec["keypoints"] for rec in live] == [rec["keypoints"] for rec in causal]
    # --max-frames counts frames read, not written: the waiting ones come out at the end.
    first = []
    assert predict_video(predictor, clip, None, draw=False, max_frames=4,
                         on_record=first.append)["frames"] == 4
    assert [rec["frame"] for rec in first] == [0, 1, 2, 3]


def test_a_cut_restarts_tracking_and_smoothing(model, tmp_path):
    """Frames 0-5 as usual, then a new shot (blue background: the model ignores blue, the
    thumbnails differ by ~29 grey levels) with the dots 12 px higher: frame 6 is searched whole
    and, smoothing reset (filters and the lookahead's window), lands on the new dots at once."""
    from tfpose.serving.predict import make_predictor
    from tfpose.serving.video import VideoWriter

    clip = tmp_path / "cut.mp4"
    writer = VideoWriter(clip, FPS, SIZE, SIZE, crf=0)
    for i in range(10):
        image = frame_image(i)
        if i >= 6:
            image = np.roll(image, -12, axis=0)
            image[..., 2] = 255
        writer.write(image)
    writer.close()
    records = []
    summary = predict_video(make_predictor(model), clip, None, draw=False,
                            on_record=records.append)
    assert summary["cuts"] == 1
    assert [rec["tracked"] for rec in records] == [False] + [True] * 5 + [False] + [True] * 3
    np.testing.assert_allclose(records[6]["keypoints"], expected_keypoints(6) - [0, 12], atol=2.0)


def test_a_truncated_clip_keeps_its_leading_frames_and_says_how_many(model, tmp_path, capsys):
    whole = write_clip(tmp_path / "whole.mp4", count=30, noise=True,
                       options={"movflags": "faststart"})  # index first: playable when cut
    data = whole.read_bytes()
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(data[:len(data) * 6 // 10])
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(model), str(clip), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "\n" not in err and str(clip) in err
    kept = len(read_lines(out / "cut.jsonl"))
    assert 0 < kept < 30 and f"kept the {kept} frames" in err
    assert decoded(out / "cut.mp4")[:3] == (kept, SIZE, SIZE)  # finished and playable


def test_a_silently_short_matroska_clip_is_reported(model, tmp_path):
    """Matroska cut short ends without an FFmpeg error: the declared duration tells."""
    whole = write_clip(tmp_path / "whole.mkv", count=30, noise=True)
    data = whole.read_bytes()
    clip = tmp_path / "cut.mkv"
    clip.write_bytes(data[:len(data) * 6 // 10])
    from tfpose.serving.predict import make_predictor

    with pytest.raises(DataError, match=r"truncated: \d+ of the 30 frames"):
        predict_video(make_predictor(model), clip, tmp_path / "out", draw=False)
    assert 0 < len(read_lines(tmp_path / "out" / "cut.jsonl")) < 30


def unknown_codec_clip(path: Path) -> Path:
    """A Matroska clip whose codec ID is renamed to one no decoder knows."""
    clip = write_clip(path.with_name("ok.mkv"), count=3, codec="ffv1")
    data = clip.read_bytes()
    assert b"V_FFV1" in data
    path.write_bytes(data.replace(b"V_FFV1", b"V_XXXX"))
    return path


@pytest.mark.parametrize("case, message", [
    ("not_a_video", "not a video"), ("empty", "not a video"), ("no_frames", "no video frames"),
    ("none_decoded", "no video frames decoded (damaged or truncated"),
    ("unknown_codec", "codec unknown")])
def test_bad_clips_are_one_line_naming_the_file(model, tmp_path, capsys, case, message):
    clip = tmp_path / ("clip.mkv" if case in ("unknown_codec", "no_frames") else "clip.mp4")
    if case == "not_a_video":
        clip.write_text("hello, I am not a video\n" * 50)
    elif case == "empty":
        clip.write_bytes(b"")
    elif case == "no_frames":  # a valid header (a video track) cut before the first cluster
        data = write_clip(tmp_path / "ok.mkv", count=3, codec="ffv1").read_bytes()
        clip.write_bytes(data[:data.index(b"\x1f\x43\xb6\x75")])
    elif case == "none_decoded":  # index first, then cut inside the first (key)frame
        data = write_clip(tmp_path / "ok.mp4", count=20, options={"movflags": "faststart"})
        data = data.read_bytes()
        clip.write_bytes(data[:data.index(b"mdat") + 40])
    else:
        unknown_codec_clip(clip)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(model), str(clip), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "\n" not in err and str(clip) in err, err
    assert message in err
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_an_unwritable_output_is_one_line_naming_it(model, tmp_path, capsys):
    clip = write_clip(tmp_path / "clip.mp4", count=2)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", str(model), str(clip), "--out", str(blocker / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(blocker / "out") in err
    from tfpose.serving.predict import make_predictor

    out = tmp_path / "readonly"
    out.mkdir()
    (out / "clip.mp4").mkdir()  # the video's path is taken by a folder: cannot be written
    with pytest.raises(StorageError, match="clip.mp4"):
        predict_video(make_predictor(model), clip, out)


def test_videos_are_told_from_images_by_extension_or_by_probing(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", count=2).rename(tmp_path / "clip.bin")
    assert is_video(clip) and is_video(tmp_path / "x.MOV")
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(frame_image(0)).save(photo)
    assert not is_video(photo)
    with VideoReader(clip) as reader:
        assert (reader.width, reader.height, reader.fps) == (SIZE, SIZE, FPS)
        assert [index for index, _, _ in reader] == [0, 1] and reader.damage is None


@pytest.mark.skipif(not os.path.exists("/dev/video0"), reason="no webcam (/dev/video0)")
def test_camera_reads_frames(model, tmp_path):
    result = CliRunner().invoke(cli.cli, ["predict", str(model), "--camera", "0", "--out",
                                          str(tmp_path), "--max-frames", "3"])
    assert result.exit_code == 0, result.output
    assert len(read_lines(tmp_path / "camera0.jsonl")) == 3


def test_frames_answer_as_their_encoded_images_for_every_source(model, tmp_path):
    """``predict_frames`` (decoded pixels through the float signatures) gives what the bytes path
    gives for the same pixels (PNG: lossless), for a work dir, its SavedModel and its .tflite,
    whole frame (two passes) and with a box."""
    import io

    from PIL import Image

    from tfpose.serving.export import export_workdir
    from tfpose.serving.predict import make_predictor

    frames = np.stack([frame_image(0), frame_image(5)])
    encoded = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG")
        encoded.append(buf.getvalue())
    boxes = np.array([[4, 4, 40, 56], [8, 0, 60, 60]], np.float32)
    sources = [model, export_workdir(model, tmp_path / "serving", "colours", 1)]
    try:
        import ai_edge_litert  # noqa: F401

        from tfpose.serving.litert import export_tflite

        sources.append(export_tflite(model, tmp_path / "colours.tflite"))
    except ImportError:
        pass
    for source in sources:
        predictor = make_predictor(source)
        for box in (None, boxes):
            ours, theirs = predictor.predict_frames(frames, box), predictor(encoded, box)
            np.testing.assert_allclose(ours["keypoints"], theirs["keypoints"], atol=0.01)
            np.testing.assert_allclose(ours["keypoint_scores"], theirs["keypoint_scores"],
                                       atol=1e-4)
        np.testing.assert_allclose(predictor.predict_frames(frames)["keypoints"][1],
                                   expected_keypoints(5), atol=1.6)
