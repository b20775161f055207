"""Activity training on annotations-only records: joints back in original pixels, two tiny
epochs under a noise model, the work dir serving.activity reads, and scores under noise."""

import json
from pathlib import Path

import numpy as np
import pytest

from tfpose import config
from tfpose.core import skeleton
from tfpose.core.errors import DataError
from tfpose.datasets import convert, mpii
from tfpose.serving.activity import ActivityModel
from tfpose.training import activity

K = skeleton.NUM_JOINTS
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "joints_pairwise.yaml"


def _record(i, category):
    rng = np.random.default_rng(i)
    joints = rng.uniform(100, 300, (K, 2)).astype(np.float32)
    annotated = np.ones(K, bool)
    annotated[i % K] = False
    joints[~annotated] = 0
    return mpii.PersonRecord(
        image_name=f"{i}.jpg", image_index=i, person_index=0, joints=joints,
        annotated=annotated, visible=annotated.copy(), head_box=None, head_size=None,
        objpos=(200.0, 200.0), scale=1.5, category=category, activities=(category,), act_id=1,
        img_train=True, single_person=True, video_index=None, frame_sec=None)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    records = [_record(i, "sports" if i % 2 else "walking") for i in range(24)]
    out = tmp_path_factory.mktemp("activity") / "joints"
    convert.convert(out.parent / "none.mat", out, records=records, annotations_only=True,
                    split_ratios=(0.5, 0.5, 0.0), workers=1, min_class_fraction=0)
    return out, {r.image_name: r for r in records}


def _noise():
    return {"joint_names": list(skeleton.JOINT_NAMES), "min_score": 0.2, "person_swap": 0.1,
            "missing": [0.05] * K, "swap": [0.05] * K, "gross": [0.1] * K,
            "sigma": [[0.02, 0.02]] * K, "gross_quantiles": [0.2] * 21}


def test_a_split_comes_back_in_original_pixels(dataset):
    folder, records = dataset
    data = activity.load_split(folder, "train")
    assert data["classes"] == ["sports", "walking"] or data["classes"] == ["walking", "sports"]
    for name, keypoints, annotated, label in zip(data["images"], data["keypoints"],
                                                 data["annotated"], data["labels"]):
        record = records[name]
        np.testing.assert_allclose(keypoints[annotated], record.joints[record.annotated],
                                   atol=1e-3)
        assert data["classes"][label] == record.category


def test_train_writes_a_work_dir_that_serving_reads_and_scores_it(dataset, tmp_path):
    folder, _ = dataset
    cfg = config.load(CONFIG, ["train.epochs=2", "data.batch_size=4"])
    summary = activity.train(cfg, folder, tmp_path, {"tiny": _noise()}, noise_fraction=0.5,
                             log=lambda line: None)
    assert len(summary["history"]) == 2 and summary["framing"]["min_score"] == 0.2
    assert json.loads((tmp_path / "classes.json").read_text()) == activity.load_split(
        folder, "val")["classes"]
    model = ActivityModel.load(tmp_path)
    assert model.min_score == 0.2
    scores = activity.score(model.model, activity.load_split(folder, "val"), {"tiny": _noise()},
                            draws=2)
    assert 0 <= scores["clean"]["accuracy"] <= 1
    assert set(scores["noisy"]["tiny"]["draws"]) == {"accuracy", "balanced_accuracy"}
    # `tfpose evaluate` scores it on the records' joints framed as on a photo (not their crop):
    # the same figure as scoring it directly, written beside it.
    from tfpose.evaluation.evaluate import evaluate_workdir

    result = evaluate_workdir(tmp_path, data_dir=folder, split="val")
    assert result["metrics"]["accuracy"] == pytest.approx(scores["clean"]["accuracy"])
    assert result["metrics"]["framing"] == "box" and "activity model" in result["text"]
    assert (tmp_path / "eval-val.json").is_file()
    with pytest.raises(DataError, match="annotated joints"):
        evaluate_workdir(tmp_path, data_dir=folder, split="val", joints="predicted")


def test_the_model_to_ship_trains_on_every_split_in_the_body_frame(dataset, tmp_path):
    """``splits`` with val: every labelled person trains and the last epoch is kept (val can
    no longer choose one); the framing is recorded and serving frames joints the same way."""
    folder, _ = dataset
    cfg = config.load(CONFIG, ["train.epochs=2", "data.batch_size=4"])
    summary = activity.train(cfg, folder, tmp_path, {}, scale="body", splits=("train", "val"),
                             log=lambda line: None)
    every = sum(int((activity.load_split(folder, s)["labels"] >= 0).sum())
                for s in ("train", "val"))
    assert summary["persons"] == every and summary["best_epoch"] == 2
    assert summary["framing"]["scale"] == "body"
    model = ActivityModel.load(tmp_path)
    assert model.scale == "body"
    data = activity.load_split(folder, "val")
    probs, _ = model.probabilities(data["keypoints"], data["annotated"].astype(np.float32))
    framed = activity.framed_inputs(data["keypoints"], data["annotated"], None, None,
                                    scale="body")
    np.testing.assert_allclose(probs, activity.predict_probabilities(model.model, framed),
                               atol=1e-5)


def test_noise_models_with_different_bars_are_refused(dataset, tmp_path):
    folder, _ = dataset
    cfg = config.load(CONFIG, ["train.epochs=1"])
    other = {**_noise(), "min_score": 0.5}
    with pytest.raises(DataError, match="min_score"):
        activity.train(cfg, folder, tmp_path, {"a": _noise(), "b": other})
