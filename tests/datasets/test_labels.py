"""Labels are matched by class NAME: a dataset's ids (its manifest's order) against a model's
classes.json, in ``tfpose evaluate`` and wherever weights meet a dataset in training.

The evaluation fixture is two conversions of the same five 64 x 64 photos (3 walking, 2 running,
plus one jumping person the model does not know): one numbers the classes by its own counts
(walking 0, running 1, jumping 2), the other is fixed with ``classes`` to the model's order
(running 0, walking 1). An untrained classifier makes the same predictions on both, so scored
by name the two must agree, and must differ from scoring the integer ids as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfpose.datasets import labels as L
from tfpose.core.errors import DataError


# -- the mapping ---------------------------------------------------------------------------------


def test_label_table_maps_ids_by_name():
    table = L.label_table(["walking", "running", "jumping"], ["running", "walking"])
    np.testing.assert_array_equal(table, [1, 0, L.UNKNOWN])
    assert table.dtype == np.int64
    # unlabelled (-1) stays -1; the unknown class becomes -1 too (callers keep the raw label)
    np.testing.assert_array_equal(L.map_labels([0, 1, 2, -1, 0], table), [1, 0, -1, -1, 1])
    with pytest.raises(DataError, match="ds: label 3 outside the manifest's 3 classes"):
        L.map_labels([3], table, where="ds")


def test_no_class_in_common_names_both_lists():
    with pytest.raises(DataError) as error:
        L.label_table(["a", "b"], ["c"], dataset="data/manifest.json", model="run/classes.json")
    message = str(error.value)
    assert "data/manifest.json ['a', 'b']" in message and "run/classes.json ['c']" in message
    assert "\n" not in message
    with pytest.raises(DataError, match=r"run: class names repeat \(c\)"):
        L.label_table(["c"], ["c", "c"], model="run")


def test_read_class_names(tmp_path):
    (tmp_path / "classes.json").write_text(json.dumps(["b", "a c"]))
    (tmp_path / "manifest.json").write_text(json.dumps({"classes": ["x", "y"]}))
    (tmp_path / "names.txt").write_text("# header\n b\n\na c\n")
    assert L.read_class_names(tmp_path / "classes.json") == ["b", "a c"]
    assert L.read_class_names(tmp_path / "manifest.json") == ["x", "y"]
    assert L.read_class_names(tmp_path / "names.txt") == ["b", "a c"]
    assert L.read_class_names(tmp_path) == ["b", "a c"]  # a work dir: its classes.json
    (tmp_path / "bad.json").write_text(json.dumps({"no": "classes"}))
    with pytest.raises(DataError, match="bad.json: expected a JSON list"):
        L.read_class_names(tmp_path / "bad.json")


# -- tfpose evaluate -----------------------------------------------------------------------------

SIZE = 64
MODEL_CLASSES = ["running", "walking"]
CATEGORIES = ["walking", "running", "walking", "jumping", "running", "walking"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Two conversions of one set of photos in different class orders, one with a class unknown
    to the model, one sharing no class with it, and an untrained classifier work dir."""
    pytest.importorskip("tensorflow")
    from PIL import Image

    from test_evaluate_joints import make_workdir
    from test_tfrecords import make_record
    from tfpose.datasets import convert

    root = tmp_path_factory.mktemp("labels")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    records = []
    for i, category in enumerate(CATEGORIES):
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), np.uint8)).save(
            root / "images" / f"p{i}.png")
        record = make_record(f"p{i}.png", i, category=category)
        record.joints[:] = rng.uniform(4, SIZE - 4, (16, 2))
        records.append(record)
    common = dict(records=records, crop="whole", image_size=SIZE, split="val",
                  min_class_fraction=0, workers=1, progress=False)
    own = convert.convert(root / "x.mat", root / "own", root / "images", **common)
    assert own["classes"] == ["walking", "running", "jumping"]
    fixed = convert.convert(root / "x.mat", root / "fixed", root / "images", classes=MODEL_CLASSES,
                      **common)
    assert fixed["classes"] == MODEL_CLASSES and fixed["skipped"] == {convert.RARE_CLASS: 1}
    convert.convert(root / "x.mat", root / "other", root / "images", classes=["jumping"], **common)
    data = {"dir": str(root / "fixed"), "input_size": SIZE, "batch_size": 4}
    workdir = make_workdir(root / "cls", {"data": data, "model": {
        "kind": "classifier", "joint_embedding": "conv"}}, MODEL_CLASSES)
    return {"root": root, "workdir": workdir}


def evaluate(workdir, data_dir):
    from tfpose.evaluation.evaluate import evaluate_workdir

    return evaluate_workdir(workdir, data_dir=data_dir, out_dir=Path(data_dir) / "eval")


def by_id_and_by_name(workdir, data_dir):
    """The report of ``workdir`` on ``data_dir`` computed here from the records' class NAMES
    (``action/name``) and, for contrast, from their integer ids taken as the model's."""
    from tfpose.input.pipeline import build_inference_dataset
    from tfpose.tasks import get_task
    from tfpose.datasets.shards import iter_examples
    from tfpose.evaluation.evaluate import load_workdir, predict_action
    from tfpose.metrics.classification import classification_report

    cfg, model, names = load_workdir(workdir, overrides=[f"data.dir={data_dir}"])
    probs = np.concatenate([predict_action(model, inputs)
                            for inputs, _ in build_inference_dataset(get_task(cfg), "val")])
    examples = [ex for ex in iter_examples(data_dir, "val") if ex["action/label"] >= 0]
    known = np.array([ex["action/name"].decode() in names for ex in examples])
    by_name = [names.index(ex["action/name"].decode()) for ex in examples if
               ex["action/name"].decode() in names]
    ids = np.array([int(ex["action/label"]) for ex in examples])
    return (classification_report(np.array(by_name), probs[known], names),
            classification_report(ids[ids < len(names)], probs[ids < len(names)], names))


def test_two_conversions_in_different_orders_score_the_same(scored):
    workdir, root = scored["workdir"], scored["root"]
    own, fixed = evaluate(workdir, root / "own"), evaluate(workdir, root / "fixed")
    expected, as_ids = by_id_and_by_name(workdir, root / "own")
    for result in (own, fixed):
        metrics = result["metrics"]
        assert metrics["num_examples"] == 5
        assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
        assert metrics["loss"] == pytest.approx(expected["loss"], rel=1e-5)
        assert [(c["name"], c["support"], c["predicted"]) for c in metrics["per_class"]] == [
            (c["name"], c["support"], c["predicted"]) for c in expected["per_class"]]
    # The fixture tells the two apart: the integer ids scored as they are give another loss.
    assert abs(as_ids["loss"] - expected["loss"]) > 1e-4
    # The jumping person: known to neither the model nor the fixed conversion (dropped there).
    assert own["metrics"]["unknown_class_records"] == 1
    assert own["metrics"]["unknown_classes"] == {"jumping": 1}
    assert ("left out of every score: 1 records of classes the model does not know: jumping (1)"
            in own["text"])
    assert fixed["metrics"]["unknown_class_records"] == 0 and "does not know" not in fixed["text"]
    saved = json.loads((root / "own" / "eval" / "eval-val.json").read_text())
    assert saved["unknown_class_records"] == 1


def test_no_class_in_common_is_a_clear_error(scored):
    with pytest.raises(DataError) as error:
        evaluate(scored["workdir"], scored["root"] / "other")
    message = str(error.value)
    assert "no class in common" in message and "['jumping']" in message
    assert "cls/classes.json ['running', 'walking']" in message


def test_classes_json_of_another_model_is_refused(scored, tmp_path):
    import shutil

    from tfpose.evaluation.evaluate import load_workdir

    workdir = tmp_path / "cls"
    shutil.copytree(scored["workdir"], workdir)
    (workdir / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(DataError, match="3 class names for a model with 2 action outputs"):
        load_workdir(workdir)


def test_training_refuses_weights_of_another_class_order(tmp_path):
    """Resume state or train.init_weights trained on other class ids: an error, not a silent
    swap of the classifier's outputs."""
    pytest.importorskip("tensorflow")
    from tfpose import config as config_lib
    from tfpose.training.train import write_classes

    cfg = config_lib.from_dict({"data": {"dir": "data/new"}, "model": {"kind": "classifier"}})
    workdir = tmp_path / "run"
    (workdir / "state").mkdir(parents=True)
    write_classes(cfg, workdir, ["a", "b"])  # a fresh run: written as given
    assert json.loads((workdir / "classes.json").read_text()) == ["a", "b"]
    (workdir / "state" / "w.weights.h5").write_bytes(b"")
    (workdir / "state" / "latest.json").write_text(json.dumps({"weights": "w.weights.h5"}))
    write_classes(cfg, workdir, ["a", "b"])  # resumed, same order: fine
    with pytest.raises(DataError, match=r"run/classes.json: the state .* \['a', 'b'\], but "
                                        r"data/new numbers \['b', 'a'\]; convert .*--classes"):
        write_classes(cfg, workdir, ["b", "a"])

    source = tmp_path / "source"
    source.mkdir()
    (source / "best.keras").write_bytes(b"")
    (source / "classes.json").write_text(json.dumps(["x", "y"]))
    fine_tune = config_lib.from_dict({"data": {"dir": "data/new"}, "model": {"kind": "classifier"},
                                      "train": {"init_weights": str(source)}})
    with pytest.raises(DataError, match="train.init_weights was trained on classes"):
        write_classes(fine_tune, tmp_path / "tuned", ["y", "x"])
    (tmp_path / "tuned").mkdir()
    write_classes(fine_tune, tmp_path / "tuned", ["x", "y"])
