"""End to end through `tfpose train` and `tfpose evaluate` on a tiny dataset: pose model,
classifier, and the two-stage model that trains the classifier on predicted joints."""

import json

import pytest
from click.testing import CliRunner

import cli

TINY_POSE = ["model.kind=hourglass", "model.num_stacks=2", "model.num_channels=8",
             "model.hourglass_depth=1", "data.input_size=64", "data.batch_size=4",
             "train.epochs=1", "train.image_summary_every=1"]


def run(args):
    result = CliRunner().invoke(cli.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def pose_workdir(tiny_dataset, tmp_path_factory, empty_config):
    workdir = tmp_path_factory.mktemp("pose")
    run(["train", str(empty_config), "--workdir", str(workdir),
         "--set", f"data.dir={tiny_dataset}", *sum((["--set", s] for s in TINY_POSE), [])])
    return workdir


@pytest.fixture(scope="module")
def empty_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text("name: tiny\n")
    return path


def test_pose_training_writes_the_work_dir_and_evaluates(pose_workdir):
    for name in ("config.yaml", "model.keras", "best.keras", "log.csv", "history.json"):
        assert (pose_workdir / name).exists(), name
    history = json.loads((pose_workdir / "history.json").read_text())
    assert "val_pckh" in history and "learning_rate" in history
    assert list((pose_workdir / "tb").rglob("events.out.tfevents.*"))
    output = run(["evaluate", str(pose_workdir), "--flip-test"])
    metrics = json.loads(output.strip().splitlines()[-1])
    assert 0.0 <= metrics["mean"] <= 100.0 and metrics["persons"] == 4
    assert "Head" in output and "Ankle" in output


def test_rerunning_a_finished_run_trains_nothing_more(pose_workdir, tiny_dataset, empty_config):
    output = run(["train", str(empty_config), "--workdir", str(pose_workdir),
                  "--set", f"data.dir={tiny_dataset}", *sum((["--set", s] for s in TINY_POSE), [])])
    assert "already trained" in output


def test_a_resumed_run_may_bring_a_new_time_budget(pose_workdir, tiny_dataset, empty_config):
    output = run(["train", str(empty_config), "--workdir", str(pose_workdir),
                  "--set", f"data.dir={tiny_dataset}", *sum((["--set", s] for s in TINY_POSE), []),
                  "--set", "train.time_budget_minutes=7", "--set", "train.time_budget_clock=cpu"])
    assert "already trained" in output
    written = (pose_workdir / "config.yaml").read_text()
    assert "time_budget_minutes: 7" in written and "time_budget_clock: cpu" in written


def test_a_different_config_in_the_same_work_dir_is_refused(pose_workdir, tiny_dataset,
                                                              empty_config):
    from tfpose.core.errors import ConfigError

    result = CliRunner().invoke(cli.cli, ["train", str(empty_config), "--workdir",
                                          str(pose_workdir), "--set", "train.epochs=9"])
    assert isinstance(result.exception, ConfigError)
    assert "different config" in str(result.exception)


@pytest.mark.parametrize("embedding", ["conv", pytest.param("transformer", marks=pytest.mark.slow)])
def test_classifier_trains_and_evaluates(tiny_dataset, tmp_path, empty_config, embedding):
    workdir = tmp_path / "cls"
    run(["train", str(empty_config), "--workdir", str(workdir), "--set", f"data.dir={tiny_dataset}",
         "--set", "model.kind=classifier", "--set", f"model.joint_embedding={embedding}",
         "--set", "data.input_size=64", "--set", "data.batch_size=4", "--set", "train.epochs=2"])
    assert json.loads((workdir / "classes.json").read_text())
    output = run(["evaluate", str(workdir)])
    metrics = json.loads(output.strip().splitlines()[-1])
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "balanced_accuracy" in metrics
    assert (workdir / "confusion-val.png").exists()
    assert "Table 2" in output


@pytest.mark.slow  # ~50 s alone; two-stage models are also trained in test_predict / test_evaluate_joints
def test_two_stage_trains_on_predicted_joints(pose_workdir, tiny_dataset, tmp_path, empty_config):
    workdir = tmp_path / "two_stage"
    run(["train", str(empty_config), "--workdir", str(workdir), "--set", f"data.dir={tiny_dataset}",
         "--set", "model.kind=two_stage", "--set", f"model.pose_workdir={pose_workdir}",
         "--set", "model.joint_embedding=transformer", "--set", "data.input_size=64",
         "--set", "data.batch_size=4", "--set", "train.epochs=1"])
    import subprocess
    import sys

    import keras

    from tfpose.tasks.workdir import load_workdir_model

    # A fresh process has imported none of the custom layers: loading must register them.
    code = ("from pathlib import Path; from tfpose.tasks.workdir import load_workdir_model; "
            f"print(load_workdir_model(Path({str(workdir)!r}), 'model').name)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0 and "two_stage" in loaded.stdout, loaded.stderr[-2000:]
    model = load_workdir_model(workdir, "model")
    assert [t.name for t in model.inputs] == ["image"]
    pose = [layer for layer in model.layers if isinstance(layer, keras.Model)
            and layer.name != model.name and not layer.trainable]
    assert pose, "the pose model inside the two-stage graph must be frozen"
    metrics = json.loads(run(["evaluate", str(workdir)]).strip().splitlines()[-1])
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_overwrite_leaves_nothing_of_the_earlier_run(tiny_dataset, tmp_path, empty_config):
    workdir = tmp_path / "joints"
    args = ["train", str(empty_config), "--workdir", str(workdir), "--set", f"data.dir={tiny_dataset}",
            "--set", "model.kind=classifier", "--set", "model.image_branch=false",
            "--set", "model.joint_embedding=linear", "--set", "data.batch_size=4"]
    run(args + ["--set", "train.epochs=2"])
    run(args + ["--set", "train.epochs=1", "--overwrite"])
    rows = (workdir / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 2, rows  # header + the one epoch of the second run
    assert len(json.loads((workdir / "history.json").read_text())["loss"]) == 1


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_at_the_first_epoch_end_past_it(tiny_dataset, tmp_path, empty_config,
                                                           clock):
    workdir = tmp_path / "budget"
    output = run(["train", str(empty_config), "--workdir", str(workdir),
                  "--set", f"data.dir={tiny_dataset}", "--set", "model.kind=classifier",
                  "--set", "model.image_branch=false", "--set", "model.joint_embedding=linear",
                  "--set", "data.batch_size=2", "--set", "train.epochs=5",
                  "--set", "train.time_budget_minutes=0", "--set", f"train.time_budget_clock={clock}",
                  "--set", "train.keep_epochs=true"])
    assert f"Time budget of 0 {clock} min" in output
    history = json.loads((workdir / "history.json").read_text())
    assert len(history["loss"]) == 1 and history["wall_s"][0] > 0 and history["cpu_s"][0] > 0
    # keep_epochs: one model per epoch trained, named by its number.
    assert [p.name for p in (workdir / "epochs").iterdir()] == ["epoch-001.keras"]
    assert "wall_s" in (workdir / "log.csv").read_text().splitlines()[0]


def test_an_unknown_time_budget_clock_is_refused(tiny_dataset, tmp_path, empty_config):
    from tfpose.core.errors import ConfigError

    result = CliRunner().invoke(cli.cli, ["train", str(empty_config), "--workdir",
                                          str(tmp_path / "w"), "--set", f"data.dir={tiny_dataset}",
                                          "--set", "train.time_budget_clock=gpu"])
    assert isinstance(result.exception, ConfigError) and "gpu" in str(result.exception)
