"""Class labels matched by NAME, never by integer id.

Every converted dataset numbers its classes by its own person counts (``manifest.json``
``classes``), so two conversions of different files or filters give one class different ids.
A trained classifier knows its classes from its work dir's ``classes.json``. Wherever a
dataset's labels meet a model's outputs, ``label_table`` translates the dataset's ids into the
model's through the names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

import numpy as np

from tfpose.core.errors import DataError

UNKNOWN = -1  # label_table entry of a dataset class the model does not know


def label_table(dataset_classes: Sequence[str], model_classes: Sequence[str], *,
                dataset: str = "dataset", model: str = "model") -> np.ndarray:
    """int64 [D]: dataset class id -> model class id of the same name, ``UNKNOWN`` (-1) where
    the model has no class of that name.

    dataset_classes: the D names of a dataset's manifest, in its label order.
    model_classes:   the C names of a model's ``classes.json``, in its output order.
    ``dataset`` / ``model`` name the two sources in errors (e.g. their folders).

    Raises DataError, naming both lists, when no class is in common: every accuracy would be
    meaningless (usually the wrong dataset or work dir).
    """
    dataset_classes = [str(c) for c in dataset_classes]
    model_classes = [str(c) for c in model_classes]
    for where, names in ((dataset, dataset_classes), (model, model_classes)):
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"{where}: class names repeat ({', '.join(repeated)}): {names}")
    ids = {name: i for i, name in enumerate(model_classes)}
    table = np.array([ids.get(name, UNKNOWN) for name in dataset_classes], np.int64)
    if not (table >= 0).any():
        raise DataError(f"no class in common between {dataset} {dataset_classes} and "
                        f"{model} {model_classes}; labels are matched by name")
    return table


def map_labels(labels, table: np.ndarray, *, where: str = "dataset") -> np.ndarray:
    """int64 [N] model class ids of dataset ``labels`` [N] (``table`` from ``label_table``).

    Unlabelled records (-1) stay -1; a record of a class the model does not know becomes
    ``UNKNOWN`` too, so callers tell them apart by the input label (>= 0). A label outside the
    manifest's classes is a broken dataset: DataError naming ``where``.
    """
    labels = np.asarray(labels, np.int64)
    bad = labels >= len(table)
    if bad.any():
        raise DataError(f"{where}: label {int(labels[bad][0])} outside the manifest's "
                        f"{len(table)} classes (was it converted with another manifest?)")
    return np.where(labels >= 0, table[np.maximum(labels, 0)], -1)


def read_class_names(path) -> List[str]:
    """Class names in label order from ``path``: a work dir's ``classes.json`` (a JSON list), a
    ``manifest.json`` (its ``classes``) or a text file with one name per line (blank lines and
    ``#`` comments skipped)."""
    path = Path(path)
    if path.is_dir():  # a work dir or a dataset folder: the file in it that names classes
        for name in ("classes.json", "manifest.json"):
            if (path / name).is_file():
                return read_class_names(path / name)
        raise DataError(f"{path}: no classes.json or manifest.json to read class names from")
    try:
        text = path.read_text()
    except OSError as err:
        raise DataError(f"class list {path}: cannot read it ({err})") from err
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"class list {path}: not valid JSON ({err})") from err
        if isinstance(value, dict):
            value = value.get("classes")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError(f"class list {path}: expected a JSON list of names or a manifest "
                            "with a 'classes' list")
        names = list(value)  # exact: names are matched character for character
    else:
        names = [line.strip() for line in text.splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    if not names or "" in names:
        raise DataError(f"class list {path}: no class names (or an empty one)")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"class list {path}: class names repeat ({', '.join(repeated)})")
    return names
