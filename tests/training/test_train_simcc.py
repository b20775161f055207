"""The SimCC kind end to end, as a probe would run it against the heatmap kind: `tfpose train`,
`tfpose evaluate --flip-test`, `tfpose export` and two-pass `tfpose predict` (work dir and
export agree) on the tiny dataset (64 px, 1 epoch of 2 steps)."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cli

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "mpii_sample").glob("*.jpg"))[:2]
TINY_SIMCC = ["model.kind=efficientnet_lite0_simcc", "model.num_channels=8",
              "data.normalization=signed", "data.input_size=64", "data.batch_size=4",
              "train.epochs=1", "train.steps_per_epoch=2", "train.image_summary_every=1"]


def run(args):
    result = CliRunner().invoke(cli.cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def workdir(tiny_dataset, tmp_path_factory):
    config = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    config.write_text("name: tiny_simcc\n")
    workdir = tmp_path_factory.mktemp("simcc")
    run(["train", config, "--workdir", workdir, "--set", f"data.dir={tiny_dataset}",
         *sum((["--set", s] for s in TINY_SIMCC), [])])
    return workdir


def test_simcc_trains_and_evaluates_with_flip_test(workdir):
    for name in ("config.yaml", "model.keras", "best.keras", "history.json"):
        assert (workdir / name).exists(), name
    history = json.loads((workdir / "history.json").read_text())
    assert {"simcc_x_loss", "simcc_y_loss", "val_pckh"} <= set(history)
    assert all(np.isfinite(v) for v in history["loss"])
    output = run(["evaluate", workdir, "--flip-test"])
    metrics = json.loads(output.strip().splitlines()[-1])
    assert 0.0 <= metrics["mean"] <= 100.0 and metrics["persons"] == 4


def test_simcc_exports_and_predicts_in_two_passes_like_its_work_dir(workdir, tmp_path,
                                                                    monkeypatch):
    from tfpose.serving import passes

    # A 2-step model's scores may all miss pass 2's 0.1 bar; every joint counts here so that
    # pass 2 (the boxed crops) surely runs for both sources.
    second = []

    def every_joint(keypoints, scores, min_score=0.0, pad=0.0):
        boxes, valid = original(keypoints, scores, 0.0, pad)
        second.append(bool(valid.any()))
        return boxes, valid

    original = passes.second_pass_boxes
    monkeypatch.setattr(passes, "second_pass_boxes", every_joint)
    # One person per photo, the whole photo's two passes: no person detector.
    run(["export", workdir, "--base", tmp_path / "serving", "--name", "simcc", "--version", 1,
         "--detector", "none"])
    records = {}
    for source, model in (("workdir", workdir), ("export", tmp_path / "serving" / "simcc")):
        output = run(["predict", model, *SAMPLES, "--no-draw", "--passes", 2, "--detector",
                      "none"])
        records[source] = [json.loads(line) for line in output.splitlines()
                           if line.startswith("{")]
    assert len(records["workdir"]) == len(records["export"]) == len(SAMPLES)
    assert second == [True, True]  # pass 2 ran, from the work dir and from the export
    for rec_w, rec_e in zip(records["workdir"], records["export"]):
        assert np.shape(rec_w["keypoints"]) == (16, 2) and np.shape(rec_w["scores"]) == (16,)
        np.testing.assert_allclose(rec_w["keypoints"], rec_e["keypoints"], atol=0.05)
        np.testing.assert_allclose(rec_w["scores"], rec_e["scores"], atol=1e-3)
        assert all(0.0 <= s <= 1.0 for s in rec_w["scores"])
