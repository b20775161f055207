"""Action-classification metrics: a pure numpy report, its text form and a confusion-matrix PNG.

Shapes: ``N`` examples, ``C`` classes. Labels are integer class ids in ``[0, C)``. The confusion
matrix counts true classes in rows and predicted classes in columns.

Averages over classes follow scikit-learn's defaults: balanced accuracy is the mean recall over
classes that occur in the labels; macro-F1 averages F1 over classes that occur in the labels or
the predictions (a class never seen nor predicted has no defined F1). Precision or F1 of a class
never predicted is 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from tfpose.core.errors import DataError

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def classification_report(
    labels: Sequence[int],
    predictions: Union[np.ndarray, Sequence],
    class_names: Optional[Sequence[str]] = None,
) -> dict:
    """Loss, accuracy, balanced accuracy, macro-F1, per-class scores and the confusion matrix.

    labels:      [N] int true class ids.
    predictions: N x C probabilities (softmax output) or [N] int predicted class ids.
    class_names: C names; default ``class_0 …``. C is ``len(class_names)``, else the width of
                 the probabilities, else ``max(labels, predictions) + 1``.

    Returns a JSON-friendly dict: ``loss`` (mean cross-entropy of the probabilities, each row
    renormalised and clipped to [1e-7, 1 - 1e-7] as Keras does; None for predicted ids),
    ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (fractions in [0, 1]), ``num_examples``,
    ``class_names``, ``per_class`` (list of {name, support, accuracy = recall, precision, f1,
    predicted}) and ``confusion_matrix`` (C x C nested lists, rows = true, columns = predicted).
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"labels must be [N] integers, N > 0; received {labels.dtype} {labels.shape}"
        )
    n = labels.shape[0]
    if predictions.shape[0] != n or predictions.ndim not in (1, 2):
        raise DataError(
            f"predictions must be [{n}] class ids or {n} x C probabilities; received shape "
            f"{predictions.shape}"
        )

    probs = None
    if predictions.ndim == 2:
        probs = predictions.astype(np.float64)
        preds = probs.argmax(axis=1)
    else:
        if not np.issubdtype(predictions.dtype, np.integer):
            raise DataError(f"predicted class ids must be integers; received {predictions.dtype}")
        preds = predictions.astype(np.int64)

    if class_names is not None:
        num_classes = len(class_names)
    elif probs is not None:
        num_classes = probs.shape[1]
    else:
        num_classes = int(max(labels.max(), preds.max())) + 1
    if probs is not None and probs.shape[1] != num_classes:
        raise DataError(
            f"probabilities have {probs.shape[1]} columns but there are {num_classes} class names"
        )
    for what, ids in (("labels", labels), ("predictions", preds)):
        if ids.min() < 0 or ids.max() >= num_classes:
            raise DataError(
                f"{what} must lie in [0, {num_classes}); received min {ids.min()}, "
                f"max {ids.max()}"
            )
    if class_names is None:
        class_names = [f"class_{i}" for i in range(num_classes)]
    names = list(class_names)

    cm = confusion_matrix(labels, preds, num_classes)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    hits = np.diag(cm)
    recall = _safe_divide(hits, support)
    precision = _safe_divide(hits, predicted)
    f1 = _safe_divide(2 * hits, support + predicted)  # = 2PR / (P + R)
    seen = support > 0
    present = seen | (predicted > 0)

    loss = None
    if probs is not None:
        rows = probs / np.maximum(probs.sum(axis=1, keepdims=True), EPSILON)
        p_true = np.clip(rows[np.arange(n), labels], EPSILON, 1.0 - EPSILON)
        loss = float(-np.log(p_true).mean())

    return {
        "num_examples": int(n),
        "class_names": names,
        "loss": loss,
        "accuracy": float(hits.sum() / n),
        "balanced_accuracy": float(recall[seen].mean()),
        "macro_f1": float(f1[present].mean()),
        "per_class": [
            {
                "name": names[c],
                "support": int(support[c]),
                "predicted": int(predicted[c]),
                "accuracy": float(recall[c]) if seen[c] else None,
                "precision": float(precision[c]),
                "f1": float(f1[c]) if present[c] else None,
            }
            for c in range(num_classes)
        ],
        "confusion_matrix": cm.tolist(),
    }


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> np.ndarray:
    """int64 C x C counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(preds)), 1)
    return cm


def _safe_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=np.asarray(b) > 0)


def summary(report: dict) -> dict:
    """The flat metrics of a report for one JSON line."""
    return {
        k: report[k]
        for k in ("loss", "accuracy", "balanced_accuracy", "macro_f1", "num_examples")
    }


def format_report(
    report: dict, class_names: Optional[Sequence[str]] = None, title: str = ""
) -> str:
    """Text: the summary line, a per-class table and the confusion matrix (rows = true).

    class_names: display names overriding the report's own (same number of classes).
    """
    names = list(class_names) if class_names is not None else report["class_names"]
    if len(names) != len(report["per_class"]):
        raise DataError(
            f"{len(names)} class names for a report of {len(report['per_class'])} classes"
        )
    width = max([len(name) for name in names] + [5])
    loss = "n/a" if report["loss"] is None else f"{report['loss']:.4f}"
    lines = [title] if title else []
    lines.append(
        f"examples {report['num_examples']}  loss {loss}  accuracy {100 * report['accuracy']:.2f}%"
        f"  balanced accuracy {100 * report['balanced_accuracy']:.2f}%"
        f"  macro-F1 {100 * report['macro_f1']:.2f}%"
    )
    lines.append("")
    lines.append(
        f"{'#':>3}  {'class':<{width}}  {'support':>7}  {'acc %':>6}  {'prec %':>6}  {'F1 %':>6}"
    )
    for c, row in enumerate(report["per_class"]):
        lines.append(
            f"{c:>3}  {names[c]:<{width}}  {row['support']:>7}  {_pct(row['accuracy']):>6}  "
            f"{_pct(row['precision']):>6}  {_pct(row['f1']):>6}"
        )
    lines.append("")
    lines.append("confusion matrix (rows = true class #, columns = predicted class #)")
    cm = np.asarray(report["confusion_matrix"])
    cell = max(len(str(cm.max())), len(str(len(names) - 1)), 3) + 1
    lines.append(" " * 4 + "".join(f"{c:>{cell}}" for c in range(len(names))))
    for c in range(len(names)):
        lines.append(f"{c:>3} " + "".join(f"{v:>{cell}}" for v in cm[c]))
    return "\n".join(lines)


def _pct(value: Optional[float]) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def plot_confusion_matrix(
    cm: Union[np.ndarray, Sequence],
    class_names: Sequence[str],
    path: Union[str, Path],
    normalize: bool = True,
    cell: int = 36,
) -> Path:
    """Draw the confusion matrix to a PNG with Pillow and return the path.

    Cells are shaded by the row-normalised rate (the per-class recall on the diagonal) when
    ``normalize``, else by the count relative to the largest; each cell prints its count. Rows
    are labelled ``# name``; columns by class number, so long names stay readable.
    """
    from PIL import Image, ImageDraw, ImageFont

    cm = np.asarray(cm, dtype=np.int64)
    c = len(class_names)
    if cm.shape != (c, c):
        raise DataError(
            f"confusion matrix must be {c} x {c} for {c} class names; received {cm.shape}"
        )
    if normalize:
        shade = _safe_divide(cm, cm.sum(axis=1, keepdims=True))
    else:
        shade = cm / max(int(cm.max()), 1)

    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(text):
        left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
        return right - left, bottom - top

    labels = [f"{i} {name}" for i, name in enumerate(class_names)]
    label_w = max(text_size(label)[0] for label in labels) + 12
    top = 40  # column numbers and the axis caption
    margin = 10
    width = label_w + c * cell + margin
    height = top + c * cell + margin + 20
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((label_w, 4), "predicted class #", fill="black", font=font)
    for j in range(c):
        w, _ = text_size(str(j))
        draw.text((label_w + j * cell + (cell - w) / 2, top - 16), str(j), fill="black", font=font)
    for i in range(c):
        y = top + i * cell
        _, h = text_size(labels[i])
        draw.text((4, y + (cell - h) / 2), labels[i], fill="black", font=font)
        for j in range(c):
            x = label_w + j * cell
            level = float(shade[i, j])
            # White -> dark blue; light text on dark cells.
            colour = tuple(int(round(255 + (t - 255) * level)) for t in (8, 48, 107))
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=(200, 200, 200))
            text = str(int(cm[i, j]))
            w, h = text_size(text)
            draw.text(
                (x + (cell - w) / 2, y + (cell - h) / 2),
                text,
                fill="white" if level > 0.5 else "black",
                font=font,
            )
    draw.text((4, height - 18), "rows: true class", fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
