"""Which persons a converted dataset keeps, how its classes are numbered, and which split
each person lands in (deterministic for a seed; all persons of one video or image together)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfpose.core.errors import DataError
from tfpose.datasets import mpii

SPLITS = ("train", "val", "test")


def select_classes(
    category_counts: Dict[str, int],
    min_class_fraction: Optional[float] = 0.05,
    top_classes: Optional[int] = None,
) -> List[str]:
    """Kept category names in label order (count descending, then name).

    ``top_classes=K`` keeps the K largest; otherwise a category is kept when it has at least
    ``min_class_fraction`` x the largest category's count (0 or None keeps all). The unlabelled
    category ``""`` is never a class.
    """
    counts = {name: n for name, n in category_counts.items() if name}
    ordered = sorted(counts, key=lambda name: (-counts[name], name))
    if top_classes is not None:
        if top_classes < 1:
            raise DataError(f"top_classes must be >= 1. Received: top_classes={top_classes}")
        return ordered[:top_classes]
    if not ordered or not min_class_fraction:
        return ordered
    threshold = min_class_fraction * counts[ordered[0]]
    return [name for name in ordered if counts[name] >= threshold]


def group_key(record: mpii.PersonRecord) -> Tuple[str, object]:
    """Split group: the video where ``vididx`` exists (near-duplicate frames), else the image."""
    if record.video_index is not None and record.video_index >= 0:
        return ("video", int(record.video_index))
    return ("image", record.image_name)


def _ratio_split(
    records: Sequence[mpii.PersonRecord], names: Sequence[str], ratios: Sequence[float], seed: int
) -> List[str]:
    ratios = np.asarray(ratios, np.float64)
    if len(ratios) != len(names) or (ratios < 0).any() or ratios.sum() <= 0:
        raise DataError(
            f"split ratios must be {len(names)} non-negative numbers ({'/'.join(names)}) with a"
            f" positive sum. Received: {tuple(ratios.tolist())}"
        )
    groups: Dict[tuple, List[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[group_key(record)].append(i)
    keys = sorted(groups, key=lambda key: (key[0], str(key[1])))
    order = np.random.default_rng(seed).permutation(len(keys))
    bounds = np.cumsum(ratios / ratios.sum()) * len(records)
    assigned = [""] * len(records)
    done = 0
    for g in order:
        members = groups[keys[g]]
        # A group goes to the split whose share contains its middle person.
        middle = done + len(members) / 2
        split = names[min(int(np.searchsorted(bounds, middle, side="right")), len(names) - 1)]
        for i in members:
            assigned[i] = split
        done += len(members)
    return assigned


def read_validation_list(path) -> set:
    """Validation persons as a set of 0-based ``(image_index, person_index)`` or ``(name, person)``.

    ``.mat``: the standard list (``valid_index.mat``: ``RELEASE_img_index`` and
    ``RELEASE_person_index``, 1-based indices into the *official* RELEASE file). Text file:
    one ``IMAGE_NAME [PERSON_INDEX]`` per line (0-based person index; without it every person
    of the image), for annotation files whose indices differ from the official ones.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"validation list {path} does not exist")
    if path.suffix.lower() == ".mat":
        from tfpose.datasets import matfile

        mat = matfile.loadmat(path)
        try:
            images = np.asarray(mat["RELEASE_img_index"]).reshape(-1).astype(int)
            persons = np.asarray(mat["RELEASE_person_index"]).reshape(-1).astype(int)
        except (KeyError, ValueError, OSError) as err:
            raise DataError(
                f"validation list {path} is not a valid_index.mat (needs RELEASE_img_index and"
                f" RELEASE_person_index): {err}"
            ) from err
        return {(int(i) - 1, int(p) - 1) for i, p in zip(images, persons)}
    entries = set()
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].startswith("#"):
            entries.add((parts[0], int(parts[1]) if len(parts) > 1 else None))
    return entries


def _in_validation(record: mpii.PersonRecord, entries: set) -> bool:
    return (
        (record.image_index, record.person_index) in entries
        or (record.image_name, record.person_index) in entries
        or (record.image_name, None) in entries
    )


def assign_splits(
    records: Sequence[mpii.PersonRecord],
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    split: Optional[str] = None,
    validation: Optional[set] = None,
) -> List[str]:
    """One split name per record.

    - ``split=NAME``: everything in NAME.
    - ``validation`` (from ``read_validation_list``): listed persons go to ``val``; the others
      are divided between ``train`` and ``test`` in the ratio ``ratios[0] : ratios[2]``,
      group-aware among themselves. The standard list itself is by person, so frames of one
      video (or other persons of one image) may sit in train while one person is in val.
    - otherwise: groups (``group_key``) shuffled with ``seed`` and dealt out so each split
      gets about its ratio of persons (``train/val/test``; a 0 ratio leaves a split empty).
    """
    if split is not None:
        return [split] * len(records)
    if validation is None:
        return _ratio_split(records, SPLITS, ratios, seed)
    in_val = [_in_validation(r, validation) for r in records]
    if not any(in_val):
        raise DataError(
            "the validation list matched no person of the annotations (its indices refer to"
            " the official RELEASE file; use a name list for other files)"
        )
    rest = [r for r, v in zip(records, in_val) if not v]
    rest_ratios = (ratios[0], ratios[2]) if ratios[0] + ratios[2] > 0 else (1.0, 0.0)
    rest_splits = iter(_ratio_split(rest, ("train", "test"), rest_ratios, seed) if rest else [])
    return ["val" if v else next(rest_splits) for v in in_val]
