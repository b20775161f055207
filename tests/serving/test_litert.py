"""LiteRT export: the .tflite answers as the work dir does, through `tfpose predict`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tiny_dataset
from test_export import SAMPLES, make_workdir
from tfpose.core.errors import DataError

pytest.importorskip("ai_edge_litert")

SIZE = 64
# A one-stack hourglass converts in seconds; the shipped EfficientNet-Lite0 is checked the same
# way by benchmarks/litert.py (README "Performance").
POSE = {"name": "tiny_pose", "data": {"input_size": SIZE, "normalization": "signed",
                                      "whole_image_frame": "letterbox"},
        "model": {"kind": "hourglass", "num_stacks": 1, "num_channels": 8, "hourglass_depth": 1}}
# Float32 LiteRT (XNNPACK) and TF kernels sum in different orders: heatmaps agree to ~1e-6, so
# the decoded keypoints agree to well under a hundredth of a pixel (measured: 0.000 px on the
# shipped lspet model, 4 photos).
TOLERANCE_PX = 0.01


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("litert")
    values = dict(POSE, data=dict(POSE["data"], dir=str(write_tiny_dataset(root / "data"))))
    return make_workdir(root / "pose", values)


@pytest.fixture(scope="module")
def tflite(workdir):
    from tfpose.serving.litert import export_tflite

    return export_tflite(workdir, workdir.parent / "pose.tflite")


def _predict(source, **kwargs):
    from tfpose.serving.predict import predict_files

    return list(predict_files(source, SAMPLES[:3], **kwargs))


@pytest.mark.parametrize("box", [None, np.array([10.0, 20.0, 180.0, 300.0], np.float32)])
def test_float32_tflite_matches_the_work_dir(workdir, tflite, box):
    ours, reference = _predict(tflite, box=box), _predict(workdir, box=box)
    for a, b in zip(ours, reference):
        assert a["image"] == b["image"]
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=TOLERANCE_PX)
        np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-3)


def test_the_sidecar_says_how_to_frame_a_photo(tflite):
    from ai_edge_litert.interpreter import Interpreter

    meta = json.loads(tflite.with_suffix(".json").read_text())
    assert (meta["input_size"], meta["whole_image_frame"], meta["quantize"]) == (
        SIZE, "letterbox", "none")
    runner = Interpreter(model_path=str(tflite)).get_signature_runner()
    out = runner(crops=np.zeros((1, SIZE, SIZE, 3), np.float32))
    assert out["keypoints"].shape == (1, 16, 2) and out["keypoint_scores"].shape == (1, 16)


@pytest.mark.slow
def test_int8_is_calibrated_on_the_training_records_and_runs(workdir):
    from tfpose.serving.litert import LiteRTPredictor, export_tflite

    path = export_tflite(workdir, workdir.parent / "pose-int8.tflite", quantize="int8")
    crops = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    out = LiteRTPredictor(path).infer(crops)
    assert np.isfinite(out["keypoints"]).all()
    assert ((out["keypoints"] >= 0) & (out["keypoints"] <= SIZE)).all()
    assert path.stat().st_size < 0.5 * (workdir.parent / "pose.tflite").stat().st_size


def test_refusals_name_what_is_wrong(workdir, tflite, tmp_path):
    from tfpose.serving.litert import LiteRTPredictor, export_tflite

    with pytest.raises(DataError, match="must end in .tflite"):
        export_tflite(workdir, tmp_path / "pose.lite")
    with pytest.raises(DataError, match="already exists"):
        export_tflite(workdir, tflite)
    classifier = make_workdir(tmp_path / "classifier", {
        "data": {"input_size": SIZE}, "model": {"kind": "classifier", "num_classes": 2}},
        ["a", "b"])
    with pytest.raises(DataError, match="for pose models"):
        export_tflite(classifier, tmp_path / "classifier.tflite")
    lonely = tmp_path / "lonely.tflite"
    lonely.write_bytes(Path(tflite).read_bytes())
    with pytest.raises(DataError, match="sidecar"):
        LiteRTPredictor(lonely)


def test_the_export_command_asks_for_what_each_format_needs(workdir):
    from click.testing import CliRunner

    import cli

    runner = CliRunner()
    result = runner.invoke(cli.cli, ["export", str(workdir), "--format", "tflite"])
    assert result.exit_code == 2 and "needs --out FILE.tflite" in result.output
    result = runner.invoke(cli.cli, ["export", str(workdir), "--name", "pose"])
    assert result.exit_code == 2 and "needs --base, --version" in result.output


@pytest.fixture
def twin_workdir(workdir, tmp_path):
    """A copy of the work dir with its LiteRT twin (best.tflite) exported beside best.keras."""
    import shutil

    from tfpose.serving.litert import export_tflite, twin_path

    copy = Path(shutil.copytree(workdir, tmp_path / "pose"))
    export_tflite(copy, twin_path(copy))
    return copy


def test_auto_runs_a_work_dirs_matching_twin_on_litert(twin_workdir):
    from tfpose.serving.litert import LiteRTPredictor
    from tfpose.serving.predict import Predictor, make_predictor

    assert isinstance(make_predictor(twin_workdir), LiteRTPredictor)
    assert isinstance(make_predictor(twin_workdir, engine="litert"), LiteRTPredictor)
    assert isinstance(make_predictor(twin_workdir, engine="tensorflow"), Predictor)
    ours = _predict(twin_workdir)
    reference = _predict(twin_workdir, engine="tensorflow")
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=TOLERANCE_PX)


def test_a_twin_of_other_weights_is_not_used(twin_workdir):
    from tfpose.serving.litert import twin_path
    from tfpose.serving.predict import Predictor, make_predictor
    from tfpose.tasks.workdir import checkpoint_path

    weights = checkpoint_path(twin_workdir)  # model.keras here: the run saved no best
    weights.write_bytes(weights.read_bytes() + b"\0")  # other bytes: as after more training
    with pytest.warns(UserWarning, match="exported from other weights"):
        assert isinstance(make_predictor(twin_workdir), Predictor)
    with pytest.raises(DataError, match=f"--out {twin_path(twin_workdir)}"):
        make_predictor(twin_workdir, engine="litert")


def test_engine_refusals_name_the_fix(workdir, tflite):
    from tfpose.serving.predict import make_predictor

    with pytest.raises(DataError, match="no best.tflite.*tfpose export"):
        make_predictor(workdir, engine="litert")
    with pytest.raises(DataError, match="runs on LiteRT"):
        make_predictor(tflite, engine="tensorflow")
    with pytest.raises(DataError, match="engine must be one of"):
        make_predictor(workdir, engine="onnx")


def test_predict_on_litert_never_imports_tensorflow(tflite, tmp_path):
    """Issue 37, part 4: `tfpose predict MODEL.tflite PHOTO` (and a work dir's twin, as lspet)
    decodes, crops and maps back in numpy and Pillow: TensorFlow's ~6 s import is not paid."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = ("import sys, cli; cli.main(['predict', sys.argv[1], sys.argv[2], '--out', sys.argv[3]]);"
            " print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, str(tflite), str(SAMPLES[0]),
                           str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line, imported = done.stdout.splitlines()
    assert json.loads(line)["image"] == str(SAMPLES[0]) and imported == "[]"
    assert (tmp_path / f"{SAMPLES[0].stem}.png").exists()
