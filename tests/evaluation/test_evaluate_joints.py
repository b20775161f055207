"""``tfpose evaluate --joints {auto,gt,predicted} [--pose-workdir DIR]``: a classifier scored with
the records' ground-truth joints or with a pose model's predictions, whichever it trained on.

The work dirs hold untrained tiny models (saved like ``tfpose train`` saves them): a random pose
model predicts joints far from the annotations, so the two joint sources give different losses,
and each is checked against the same quantity computed independently here. The untrained image
branch is scaled down, else its raw-pixel-sized activations saturate the softmax and every joint
source would score the same clipped loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402

import cli  # noqa: E402
from tfpose import config as config_lib  # noqa: E402
from tfpose.core.errors import ConfigError  # noqa: E402

from conftest import TINY_CLASSES  # noqa: E402

SIZE = 64
TINY_HOURGLASS = {"kind": "hourglass", "num_stacks": 2, "num_channels": 8, "hourglass_depth": 1}


def make_workdir(folder: Path, values: dict, classes=None) -> Path:
    """A ``tfpose train``-like work dir (config.yaml, model.keras, classes.json), untrained."""
    import keras

    from tfpose.training.train import build_model

    keras.utils.set_random_seed(len(folder.name))
    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict(values)
    config_lib.dump(cfg, folder / "config.yaml")
    model = build_model(cfg, num_classes=len(classes) if classes else None)
    for part in [model, *(layer for layer in model.layers if isinstance(layer, keras.Model))]:
        if any(layer.name == "image_conv1" for layer in part.layers):
            kernel = part.get_layer("image_conv1").kernel
            kernel.assign(kernel * 0.01)  # keep the untrained softmax off its clip (see above)
    model.save(str(folder / "model.keras"))
    if classes:
        (folder / "classes.json").write_text(json.dumps(classes))
    return folder


@pytest.fixture(scope="module")
def workdirs(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("joints")
    data = {"dir": str(tiny_dataset), "input_size": SIZE, "batch_size": 4}
    pose = make_workdir(root / "pose", {"data": data, "model": TINY_HOURGLASS})
    pose32 = make_workdir(root / "pose32", {"data": {**data, "input_size": 32},
                                            "model": TINY_HOURGLASS})
    classifier = {"kind": "classifier", "joint_embedding": "conv"}
    return {
        "pose": pose,
        "pose32": pose32,
        "cls": make_workdir(root / "cls", {"data": data, "model": classifier}, TINY_CLASSES),
        "joints_only": make_workdir(root / "joints_only", {"data": data, "model": {
            "kind": "classifier", "image_branch": False, "joint_embedding": "transformer"}},
            TINY_CLASSES),
        "image_only": make_workdir(root / "image_only", {
            "data": data, "model": {"kind": "classifier", "joint_embedding": "none"}},
            TINY_CLASSES),
        "two_stage": make_workdir(root / "two_stage", {
            "data": data, "model": {**classifier, "kind": "two_stage", "pose_workdir": str(pose)}},
            TINY_CLASSES),
    }


def evaluate(*args) -> dict:
    result = CliRunner().invoke(cli.cli, ["evaluate", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Table 2" in result.output
    return json.loads([line for line in result.output.splitlines() if line.startswith("{")][-1])


def reference_loss(workdir: Path, joints_of) -> float:
    """Loss of ``workdir``'s classifier on the val split, fed ``joints_of(inputs)`` as joints;
    computed here batch by batch, outside ``tfpose.evaluate``."""
    from tfpose.input.pipeline import build_inference_dataset
    from tfpose.tasks import get_task
    from tfpose.models.two_stage import classifier_of as action_classifier
    from tfpose.tasks import load_workdir
    from tfpose.metrics.classification import classification_report

    cfg, model, names = load_workdir(workdir)
    classifier = action_classifier(model)
    # Images decoded (for the pose model) and normalised as the classifier's pipeline would.
    cfg = config_lib.replace(cfg, model=config_lib.replace(cfg.model, kind="classifier",
                                                           image_branch=True))
    labels, probs = [], []
    for inputs, meta in build_inference_dataset(get_task(cfg), "val"):
        fed = {"image": inputs.get("image"), "joints": joints_of(inputs)}
        probs.append(np.asarray(classifier({t.name: fed[t.name] for t in classifier.inputs},
                                           training=False)))
        labels.append(np.asarray(meta["label"]))
    return classification_report(np.concatenate(labels), np.concatenate(probs), names)["loss"]


def pose_joints(pose_workdir: Path):
    """Joints (x, y, visible) in the classifier's 64-px frame, decoded from ``pose_workdir``'s
    model by the evaluation's own pose decoder on the (zero-centred) classifier image."""
    import tensorflow as tf

    from tfpose.tasks import load_workdir, pose_task

    pose_cfg, pose_model, _ = load_workdir(pose_workdir)
    pose_size = pose_cfg.data.input_size

    def joints_of(inputs):
        image = inputs["image"]
        if pose_size != SIZE:  # zero-centring commutes with the (linear) bilinear resize
            image = tf.image.resize(image, (pose_size, pose_size))
        keypoints, scores = pose_task(pose_cfg).predict_keypoints(pose_model, image)
        visible = tf.cast(scores > 0.0, tf.float32)[..., None]
        return tf.concat([keypoints * (SIZE / pose_size), visible], axis=-1)

    return joints_of


@pytest.mark.parametrize("which", ["cls", "joints_only"])
def test_classifier_work_dir_with_gt_and_predicted_joints(workdirs, which):
    cls, pose = workdirs[which], workdirs["pose"]
    auto = evaluate(cls)
    gt = evaluate(cls, "--joints", "gt")
    predicted = evaluate(cls, "--joints", "predicted", "--pose-workdir", pose)

    assert auto["joints"] == gt["joints"] == "gt" and gt["pose_workdir"] is None
    assert predicted["joints"] == "predicted" and predicted["pose_workdir"] == str(pose)
    assert auto["loss"] == pytest.approx(gt["loss"], rel=1e-6)
    assert gt["loss"] == pytest.approx(reference_loss(cls, lambda inputs: inputs["joints"]),
                                       rel=1e-4)
    assert predicted["loss"] == pytest.approx(reference_loss(cls, pose_joints(pose)), rel=1e-4)
    assert abs(predicted["loss"] - gt["loss"]) > 1e-4, "predicted joints must differ from gt"
    # One output file per joint source: none overwrites another.
    for name, metrics in (("eval-val.json", auto), ("eval-val-gt.json", gt),
                          ("eval-val-predicted.json", predicted)):
        assert json.loads((cls / name).read_text())["loss"] == metrics["loss"], name
    assert (cls / "confusion-val-predicted.png").exists()


def test_pose_model_of_another_input_size_maps_joints_into_the_classifier_frame(workdirs):
    cls, pose32 = workdirs["cls"], workdirs["pose32"]
    predicted = evaluate(cls, "--joints", "predicted", "--pose-workdir", pose32)
    assert predicted["loss"] == pytest.approx(reference_loss(cls, pose_joints(pose32)), rel=1e-4)


@pytest.mark.slow  # ~17 s alone; test_predict checks a two-stage work dir against its export
def test_two_stage_work_dir_with_gt_and_predicted_joints(workdirs):
    two_stage, pose = workdirs["two_stage"], workdirs["pose"]
    auto = evaluate(two_stage)
    predicted = evaluate(two_stage, "--joints", "predicted")
    gt = evaluate(two_stage, "--joints", "gt")
    recomposed = evaluate(two_stage, "--joints", "predicted", "--pose-workdir", pose)

    assert auto["joints"] == predicted["joints"] == recomposed["joints"] == "predicted"
    assert predicted["pose_workdir"] == str(pose)
    assert auto["loss"] == pytest.approx(predicted["loss"], rel=1e-6)
    # The pose model frozen inside the graph is the pose work dir's: recomposing changes nothing.
    assert recomposed["loss"] == pytest.approx(predicted["loss"], rel=1e-5)
    assert predicted["loss"] == pytest.approx(reference_loss(two_stage, pose_joints(pose)),
                                              rel=1e-4)
    assert gt["joints"] == "gt"
    assert gt["loss"] == pytest.approx(reference_loss(two_stage, lambda inputs: inputs["joints"]),
                                       rel=1e-4)
    assert abs(gt["loss"] - predicted["loss"]) > 1e-4


def test_image_only_classifier_reports_no_joints(workdirs):
    assert evaluate(workdirs["image_only"])["joints"] == "none"


@pytest.mark.parametrize("which, args, message", [
    ("cls", ["--joints", "predicted"], "needs --pose-workdir"),
    ("cls", ["--joints", "gt", "--pose-workdir", "{pose}"], "needs --joints predicted"),
    ("cls", ["--pose-workdir", "{pose}"], "received --joints auto"),
    ("cls", ["--joints", "predicted", "--pose-workdir", "{cls}"], "received a classifier one"),
    ("pose", ["--joints", "gt"], "hourglass pose model (received --joints gt)"),
    ("image_only", ["--joints", "gt"], "takes no joints"),
    ("image_only", ["--joints", "predicted", "--pose-workdir", "{pose}"], "takes no joints"),
])
def test_bad_joint_sources_are_config_errors(workdirs, which, args, message):
    args = [a.format(**workdirs) for a in args]
    result = CliRunner().invoke(cli.cli, ["evaluate", str(workdirs[which]), *args])
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)
    assert "\n" not in str(result.exception)


def test_the_command_line_prints_one_line_and_exits_2(workdirs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", str(workdirs["cls"]), "--joints", "predicted"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "--pose-workdir" in err and "\n" not in err


def test_mirror_inputs_swaps_sides_and_reflects_x():
    from tfpose.core.skeleton import JOINT_NAMES
    from tfpose.evaluation.evaluate import mirror_inputs

    left, right = JOINT_NAMES.index("l_wrist"), JOINT_NAMES.index("r_wrist")
    joints = np.zeros((1, 16, 3), np.float32)
    joints[0, left] = (10.0, 20.0, 1.0)  # visible left wrist
    joints[0, right] = (0.0, 0.0, 0.0)  # hidden right wrist: zeros, stays zeros
    image = np.zeros((1, SIZE, SIZE, 3), np.float32)
    image[0, 20, 10] = 1.0
    mirrored = mirror_inputs({"image": image, "joints": joints}, SIZE)

    np.testing.assert_array_equal(mirrored["joints"][0, right], [SIZE - 1 - 10.0, 20.0, 1.0])
    np.testing.assert_array_equal(mirrored["joints"][0, left], [0.0, 0.0, 0.0])
    assert mirrored["image"][0, 20, SIZE - 1 - 10, 0] == 1.0  # the pixel under the wrist moved too
    twice = mirror_inputs(mirrored, SIZE)
    np.testing.assert_array_equal(twice["joints"], joints)
    np.testing.assert_array_equal(twice["image"], image)


@pytest.mark.parametrize("which", ["cls", "joints_only", pytest.param("two_stage", marks=pytest.mark.slow)])
def test_flip_test_averages_the_mirrored_view(workdirs, which):
    """--flip-test scores the mean of the probabilities on the inputs and on their mirror image,
    recomputed here with the mirror spelled out (reverse x, swap the named sides)."""
    from tfpose.core.skeleton import JOINT_NAMES
    from tfpose.input.pipeline import build_inference_dataset
    from tfpose.tasks import get_task
    from tfpose.evaluation.evaluate import load_workdir, predict_action
    from tfpose.metrics.classification import classification_report

    swap = [JOINT_NAMES.index(n.replace("r_", "l_") if n.startswith("r_") else
                              n.replace("l_", "r_") if n.startswith("l_") else n)
            for n in JOINT_NAMES]
    plain = evaluate(workdirs[which])
    flipped = evaluate(workdirs[which], "--flip-test")

    cfg, model, names = load_workdir(workdirs[which])
    labels, probs = [], []
    for inputs, meta in build_inference_dataset(get_task(cfg), "val"):
        mirror = {}
        if "image" in inputs:
            mirror["image"] = np.asarray(inputs["image"])[:, :, ::-1]
        joints = np.asarray(inputs["joints"])[:, swap]
        mirror["joints"] = np.concatenate(
            [np.where(joints[..., 2:] > 0, SIZE - 1 - joints[..., :1], joints[..., :1]),
             joints[..., 1:]], axis=-1)
        probs.append((predict_action(model, inputs) + predict_action(model, mirror)) / 2)
        labels.append(np.asarray(meta["label"]))
    expected = classification_report(np.concatenate(labels), np.concatenate(probs), names)

    assert flipped["flip_test"] is True and plain["flip_test"] is False
    # Its own output files: the plain evaluation's are not overwritten.
    assert json.loads((workdirs[which] / "eval-val.json").read_text())["flip_test"] is False
    assert json.loads((workdirs[which] / "eval-val-flip.json").read_text())["flip_test"] is True
    assert (workdirs[which] / "confusion-val-flip.png").exists()
    assert flipped["loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert abs(flipped["loss"] - plain["loss"]) > 1e-5, "an untrained model is not mirror-symmetric"
