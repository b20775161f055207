"""Classification report: hand-computed values on small exact examples, text and PNG output."""

import math

import numpy as np
import pytest
from PIL import Image

from tfpose.core.errors import DataError
from tfpose.metrics.classification import (
    classification_report,
    confusion_matrix,
    format_report,
    plot_confusion_matrix,
    summary,
)

NAMES = ["sports", "occupation", "conditioning exercise"]
LABELS = [0, 0, 1, 2, 2, 2]
PREDS = [0, 1, 1, 2, 2, 0]
# rows = true: class 0 -> (0, 1); class 1 -> (1); class 2 -> (2, 2, 0)
CM = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_hand_computed_scores_from_predicted_ids():
    report = classification_report(LABELS, PREDS, NAMES)
    assert report["confusion_matrix"] == CM
    assert report["loss"] is None
    assert report["accuracy"] == pytest.approx(4 / 6)
    # recalls 1/2, 1, 2/3
    assert report["balanced_accuracy"] == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    # precisions 1/2, 1/2, 1 -> F1 1/2, 2/3, 4/5
    assert report["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    per_class = report["per_class"]
    assert [row["support"] for row in per_class] == [2, 1, 3]
    assert [row["predicted"] for row in per_class] == [2, 2, 2]
    assert [row["accuracy"] for row in per_class] == pytest.approx([1 / 2, 1, 2 / 3])
    assert [row["precision"] for row in per_class] == pytest.approx([1 / 2, 1 / 2, 1])
    assert [row["name"] for row in per_class] == NAMES
    assert summary(report) == {
        "loss": None,
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "macro_f1": report["macro_f1"],
        "num_examples": 6,
    }


def test_probabilities_give_argmax_predictions_and_cross_entropy():
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [2.0, 1.0, 1.0]])  # row 3 unnormalised
    report = classification_report([0, 1, 2], probs)
    assert report["class_names"] == ["class_0", "class_1", "class_2"]
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert report["loss"] == pytest.approx(-(math.log(0.5) + math.log(0.8) + math.log(0.25)) / 3)
    # A zero probability on the true class is clipped to 1e-7, as Keras does.
    zero = classification_report([1], np.array([[1.0, 0.0]]))
    assert zero["loss"] == pytest.approx(-math.log(1e-7))


def test_absent_and_never_true_classes():
    # Class 3 never occurs nor is predicted; class 2 is predicted but never true.
    report = classification_report([0, 0, 1], [0, 2, 1], ["a", "b", "c", "d"])
    per_class = report["per_class"]
    assert per_class[2]["accuracy"] is None and per_class[2]["f1"] == 0.0
    assert per_class[3]["accuracy"] is None and per_class[3]["f1"] is None
    assert report["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)  # classes a, b
    # F1: a = 2*1/(2+1) = 2/3, b = 1, c = 0; d excluded
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_num_classes_from_ids_and_confusion_matrix_helper():
    report = classification_report([0, 3], [3, 3])
    assert len(report["confusion_matrix"]) == 4
    np.testing.assert_array_equal(confusion_matrix([1, 1, 0], [1, 0, 0], 2), [[1, 0], [1, 1]])


@pytest.mark.parametrize(
    "labels, predictions, names, match",
    [
        ([0, 1], [0], None, r"received shape \(1,\)"),
        ([0, 3], [0, 1], NAMES, "labels must lie in"),
        ([0, 1], np.ones((2, 4)) / 4, NAMES, "4 columns but there are 3 class names"),
        ([0.0, 1.0], [0, 1], None, "labels must be"),
        ([], [], None, "N > 0"),
        ([0, 1], [0.0, 1.0], None, "predicted class ids must be integers"),
    ],
)
def test_bad_input_is_a_data_error(labels, predictions, names, match):
    with pytest.raises(DataError, match=match):
        classification_report(labels, predictions, names)


def test_format_report_lists_classes_and_the_confusion_matrix():
    report = classification_report(LABELS, PREDS, NAMES)
    assert "2  conditioning" in format_report(report, NAMES)  # names may also be passed
    text = format_report(report, title="CFE, validation")
    lines = text.splitlines()
    assert lines[0] == "CFE, validation"
    assert "accuracy 66.67%" in lines[1] and "loss n/a" in lines[1]
    row = next(line for line in lines if "conditioning exercise" in line).split()
    assert row[0] == "2" and row[-4:] == ["3", "66.67", "100.00", "80.00"]
    matrix = lines[lines.index(next(l for l in lines if l.startswith("confusion"))) + 2 :]
    assert [line.split()[1:] for line in matrix] == [[str(v) for v in r] for r in CM]


def test_plot_confusion_matrix_writes_a_shaded_png(tmp_path):
    cm = np.array([[1, 1], [0, 2]])
    path = plot_confusion_matrix(cm, ["a", "b"], tmp_path / "sub" / "cm.png")
    image = Image.open(path)
    assert image.format == "PNG"
    colours = {colour for _, colour in image.convert("RGB").getcolors(1 << 16)}
    assert (8, 48, 107) in colours  # row b: recall 1 -> the darkest shade
    assert (132, 152, 181) in colours  # row a: 1 of 2 -> half shade
    bigger = plot_confusion_matrix(np.eye(5, dtype=int), list("abcde"), tmp_path / "cm5.png")
    assert Image.open(bigger).size[0] > image.size[0]
    with pytest.raises(DataError, match="3 x 3"):
        plot_confusion_matrix(np.eye(2), NAMES, tmp_path / "bad.png")
