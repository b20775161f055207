"""Activity attached to pose results: a tiny joints classifier in a work dir, loaded by path,
answers per person with class names, probabilities and the top k; joints matched by name; the
shipped ``mpii-activity`` loads by name."""

import json

import numpy as np
import pytest

from tfpose import config
from tfpose.core import skeleton, zoo
from tfpose.core.errors import DataError
from tfpose.models.classifier import build_classifier
from tfpose.serving.activity import ActivityModel

K = skeleton.NUM_JOINTS
CLASSES = ["sports", "dancing", "fishing and hunting"]


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory):
    cfg = config.from_dict({"data": {"input_size": 224},
                            "model": {"kind": "classifier", "image_branch": False,
                                      "joint_embedding": "pairwise", "num_classes": 3}})
    folder = tmp_path_factory.mktemp("activity")
    build_classifier(cfg).save(folder / "best.keras")
    (folder / "config.yaml").write_text(config.dump(cfg))
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    (folder / "activity.json").write_text(json.dumps({
        "framing": {"size": 224, "margin": 1.25, "min_score": 0.1,
                    "joint_names": list(skeleton.JOINT_NAMES)}, "flip_test": True}))
    return folder


def _people(p=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(100, 500, (p, K, 2)).astype(np.float32),
            rng.uniform(0.3, 1.0, (p, K)).astype(np.float32))


def test_each_person_gets_a_class_name_its_probability_and_the_top_k(tiny_workdir):
    model = ActivityModel.load(tiny_workdir)
    keypoints, scores = _people()
    scores[1, 1:] = 0.0  # one scored joint: no frame, no answer
    answers = model(keypoints, scores, top_k=2)
    assert len(answers) == 2 and answers[1] is None
    first = answers[0]
    assert first["class"] in CLASSES and first["class"] == first["top"][0]["class"]
    assert len(first["top"]) == 2 and first["top"][0]["probability"] >= first["top"][1]["probability"]
    probs, framed = model.probabilities(keypoints, scores)
    assert probs.shape == (2, 3) and framed.tolist() == [True, False]
    assert probs[0].sum() == pytest.approx(1.0, abs=1e-5)
    assert model(np.zeros((0, K, 2)), np.zeros((0, K))) == []


def test_joints_are_matched_by_name_and_bad_shapes_named(tiny_workdir):
    model = ActivityModel.load(tiny_workdir)
    keypoints, scores = _people(1, seed=1)
    order = np.random.default_rng(2).permutation(K)
    names = [skeleton.JOINT_NAMES[i] for i in order]
    np.testing.assert_allclose(model.probabilities(keypoints[:, order], scores[:, order], names)[0],
                               model.probabilities(keypoints, scores)[0], atol=1e-6)
    with pytest.raises(DataError, match="P x 16 x 2"):
        model(keypoints[:, :14], scores[:, :14])
    with pytest.raises(DataError, match="needs the joints"):
        model(keypoints[:, :14], scores[:, :14], joint_names=names[:14])


def test_a_pose_model_is_not_an_activity_model():
    with pytest.raises(DataError, match="not an activity model"):
        ActivityModel.load("lspet")


def test_the_shipped_activity_model_loads_by_name():
    if "mpii-activity" not in zoo.names():
        pytest.skip("mpii-activity is not shipped in this checkout")
    model = ActivityModel.load("mpii-activity")
    assert len(model.classes) == 15 and "sports" in model.classes
    keypoints, scores = _people(1, seed=3)
    (answer,) = model(keypoints, scores)
    assert answer["class"] in model.classes and len(answer["top"]) == 3


def test_attach_adds_the_activity_to_a_predict_line_and_its_persons(tiny_workdir):
    from tfpose.serving.activity import attach

    model = ActivityModel.load(tiny_workdir)
    keypoints, scores = _people(2, seed=4)
    line = {"image": "a.jpg", "keypoints": keypoints[0].tolist(), "scores": scores[0].tolist(),
            "persons": [{"keypoints": keypoints[1].tolist(), "scores": scores[1].tolist()}]}
    attach(line, model)
    assert line["activity"]["class"] in CLASSES and len(line["activity"]["top"]) == 3
    assert line["persons"][0]["activity"] == model(keypoints[1:], scores[1:])[0]
    assert attach({"image": "b.jpg", "keypoints": None, "scores": None}, model)["activity"] is None


def test_predict_cli_adds_each_persons_activity_and_draws_it(tmp_path):
    """`tfpose predict lspet PHOTO --activity mpii-activity`: the line gains class, probability
    and top 3, from the same attach() the Python API uses; the drawing is written."""
    from pathlib import Path

    from click.testing import CliRunner

    import cli

    if "mpii-activity" not in zoo.names():
        pytest.skip("mpii-activity is not shipped in this checkout")
    photo = Path(__file__).resolve().parents[1] / "data" / "mpii_sample" / "060754485.jpg"
    result = CliRunner().invoke(cli.cli, ["predict", "lspet", str(photo), "--out",
                                          str(tmp_path), "--activity", "mpii-activity"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[-1])
    model = ActivityModel.load("mpii-activity")
    assert line["persons"], "the man beside the truck is found"
    for person in line["persons"]:  # each person its own, the line's the first person's
        assert person["activity"] == model(np.asarray([person["keypoints"]]),
                                           np.asarray([person["scores"]]))[0]
    assert line["activity"] == line["persons"][0]["activity"]
    assert len(line["activity"]["top"]) == 3 and Path(line["drawing"]).is_file()


def test_predict_cli_names_the_activity_in_every_video_frame(tmp_path):
    """`tfpose predict MODEL CLIP --activity mpii-activity`: each frame's line carries the
    activity of its joints (attach() on the line as written), the drawn clip is written."""
    from click.testing import CliRunner
    from test_video import FRAMES, colour_finder_workdir, write_clip

    import cli

    if "mpii-activity" not in zoo.names():
        pytest.skip("mpii-activity is not shipped in this checkout")
    model = colour_finder_workdir(tmp_path / "colours")
    clip = write_clip(tmp_path / "clip.mp4")
    result = CliRunner().invoke(cli.cli, ["predict", str(model), str(clip), "--out",
                                          str(tmp_path / "out"), "--activity", "mpii-activity",
                                          "--detector", "none"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in open(tmp_path / "out" / "clip.jsonl")]
    assert len(lines) == FRAMES
    activity = ActivityModel.load("mpii-activity")
    for line in lines:
        assert line["activity"] == activity(np.asarray([line["keypoints"]]),
                                            np.asarray([line["scores"]]))[0]
    assert (tmp_path / "out" / "clip.mp4").stat().st_size > 0
