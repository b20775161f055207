"""PCKh, the MPII joint-localisation metric: a pure numpy scorer and a Keras metric (the file
readers are ``metrics/pckh_files.py``).

A joint is correct when ``‖pred − gt‖ ≤ threshold × head size``, with head size
``0.6 × ‖(x2, y2) − (x1, y1)‖`` of the annotated head rectangle. Joints missing in the ground
truth are skipped; annotated but occluded joints count. The MPII table groups left/right pairs
(the rate of a pair is the mean of its two joints' rates, as in the official toolkit and the
common Python ports), and "Mean" pools the 14 joints other than pelvis (6) and thorax (7) over
all persons, so each joint weighs by how often it is annotated.

"Head" is head top (9) as in the common Python tables (HRNet, mmpose); ``head="neck_top"``
averages upper neck (8) and head top as the official MATLAB table does.

Without a head rectangle (our own records, a user's data) the fallback normaliser is the
joint-based head length ``‖upper neck − head top‖`` × 0.75: on the 2958 validation persons that
length is a median 1.33 × the official head size, so the factor brings the two to the same
scale. Every result says which normaliser was used. Persons without a usable normaliser (no head
box, neck or head top not annotated) are skipped and counted.

Shapes: ``N`` persons, ``K = 16`` MPII joints; coordinates (x, y) in any consistent pixel frame.
The official files (``gt_valid.mat``, published predictions) hold MATLAB 1-based pixels: the
readers (``pckh_files``) return them as stored, so a 1-based file scores against 1-based ground
truth unchanged; add 1 to tfpose's own 0-based predictions before scoring them against those files.

The Keras metric ``PCKh`` is defined on first access (PEP 562) so that the numpy scorer and
``tfpose eval-pckh`` do not import TensorFlow.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from tfpose.core.skeleton import JOINT_NAMES, NUM_JOINTS
from tfpose.core.errors import DataError

HEAD_SIZE_FACTOR = 0.6  # official: head size = 0.6 x head-box diagonal
HEAD_LENGTH_FACTOR = 0.75  # ~1 / 1.33: joint head length -> official head size (median)
UPPER_NECK, HEAD_TOP, PELVIS, THORAX = 8, 9, 6, 7
# The 14 joints the official "Mean" pools: all but pelvis and thorax.
MEAN_JOINTS = tuple(k for k in range(NUM_JOINTS) if k not in (PELVIS, THORAX))
# Table 1 parts, in the report's order; the Head entry depends on ``head``.
PARTS = (
    ("Head", (HEAD_TOP,)),
    ("Shoulder", (12, 13)),
    ("Elbow", (11, 14)),
    ("Wrist", (10, 15)),
    ("Hip", (2, 3)),
    ("Knee", (1, 4)),
    ("Ankle", (0, 5)),
)
PART_ABBREVIATIONS = ("Head", "Sho", "Elb", "Wri", "Hip", "Knee", "Ank")
HEAD_VARIANTS = {"top": (HEAD_TOP,), "neck_top": (UPPER_NECK, HEAD_TOP)}
NORMALIZER_HEAD_SIZE = "head_size"  # given per person, e.g. 0.6 x head-box diagonal
NORMALIZER_HEAD_LENGTH = "head_length_x0.75"  # fallback: 0.75 x ‖upper neck − head top‖

ArrayLike = Union[np.ndarray, Sequence]


# -- normalisers -------------------------------------------------------------------------------


def head_size_from_boxes(boxes: ArrayLike) -> np.ndarray:
    """Official head size, 0.6 × head-box diagonal.

    boxes: N x 2 x 2 ``[[x1, y1], [x2, y2]]`` (the ``headboxes_src`` layout after moving the
    person axis first) or N x 4 ``(x1, y1, x2, y2)``. Returns float64 [N].
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 2 and boxes.shape[1] == 4:
        boxes = boxes.reshape(-1, 2, 2)
    if boxes.ndim != 3 or boxes.shape[1:] != (2, 2):
        raise DataError(
            f"head boxes must be N x 2 x 2 [[x1, y1], [x2, y2]] or N x 4; received shape "
            f"{boxes.shape}"
        )
    return HEAD_SIZE_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)


def head_size_from_joints(
    gt: ArrayLike, missing: Optional[ArrayLike] = None, factor: float = HEAD_LENGTH_FACTOR
) -> np.ndarray:
    """Fallback normaliser: ``factor × ‖upper neck − head top‖`` of the ground truth.

    gt: N x 16 x 2; missing: N x 16 bool. Returns float64 [N], NaN where the upper neck or the
    head top is missing (those persons are then skipped by ``pckh``).
    """
    gt = np.asarray(gt, dtype=np.float64)
    size = factor * np.linalg.norm(gt[:, HEAD_TOP] - gt[:, UPPER_NECK], axis=-1)
    if missing is not None:
        missing = np.asarray(missing, dtype=bool)
        size = np.where(missing[:, UPPER_NECK] | missing[:, HEAD_TOP], np.nan, size)
    return size


# -- the scorer --------------------------------------------------------------------------------


def correct_counts(
    pred: np.ndarray,
    gt: np.ndarray,
    norm: np.ndarray,
    scored: np.ndarray,
    threshold: float,
) -> tuple:
    """Per-joint (correct [K], scored [K]) counts.

    pred, gt: N x K x 2; norm: [N] positive normaliser; scored: N x K bool, the joints that
    count. A non-finite prediction is simply wrong.
    """
    dist = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(invalid="ignore"):
        correct = (dist <= threshold * norm[:, None]) & scored
    return correct.sum(axis=0), scored.sum(axis=0)


def pckh(
    pred: ArrayLike,
    gt: ArrayLike,
    head_size: Optional[ArrayLike] = None,
    missing: Optional[ArrayLike] = None,
    threshold: float = 0.5,
    head: str = "top",
    low_threshold: float = 0.1,
) -> dict:
    """Score N persons' predicted joints with PCKh.

    pred, gt:   N x 16 x 2 (x, y), same pixel frame.
    head_size:  [N] normaliser per person (``head_size_from_boxes``); None uses the joint-based
                fallback ``head_size_from_joints`` and says so in ``result["normalizer"]``.
                Persons whose normaliser is not a positive finite number are skipped.
    missing:    N x 16 bool, joints absent from the ground truth (skipped); None = none missing.
    threshold:  fraction of the head size (0.5 for PCKh@0.5).
    head:       ``"top"`` (Head = head top, Python tables) or ``"neck_top"`` (MATLAB table).
    low_threshold: the stricter threshold whose pooled mean is also reported (PCKh@0.1).

    Returns a JSON-friendly dict; rates are percentages, NaN where no joint was scored:
      ``per_joint`` [16], ``joint_count`` [16], ``parts`` {Head, Shoulder, …, Ankle},
      ``mean`` (pooled over the 14 joints), ``mean_unweighted`` (unweighted mean of those 14
      joints' rates; equals the mean of the 7 parts with the MATLAB head),
      ``mean_parts`` (unweighted mean of the 7 parts as shown), ``mean@<low>`` (pooled),
      ``threshold``, ``low_threshold``, ``head``, ``normalizer``, ``num_persons``,
      ``num_skipped_persons``.
    """
    pred = _as_joints(pred, "predictions")
    gt = _as_joints(gt, "ground truth")
    n = gt.shape[0]
    if pred.shape != gt.shape:
        raise DataError(
            f"predictions and ground truth differ: received predictions {pred.shape}, "
            f"ground truth {gt.shape}"
        )
    if head not in HEAD_VARIANTS:
        raise DataError(f"head must be one of {sorted(HEAD_VARIANTS)}; received head={head!r}")
    if missing is None:
        missing = np.zeros((n, NUM_JOINTS), dtype=bool)
    missing = np.asarray(missing).astype(bool)
    if missing.shape != (n, NUM_JOINTS):
        raise DataError(f"missing must be {n} x {NUM_JOINTS}; received shape {missing.shape}")

    if head_size is None:
        norm = head_size_from_joints(gt, missing)
        normalizer = NORMALIZER_HEAD_LENGTH
    else:
        norm = np.asarray(head_size, dtype=np.float64).reshape(-1)
        normalizer = NORMALIZER_HEAD_SIZE
        if norm.shape != (n,):
            raise DataError(f"head_size must have {n} entries; received shape {norm.shape}")
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(norm) & (norm > 0)
    scored = ~missing & usable[:, None]

    correct, count = correct_counts(pred, gt, norm, scored, threshold)
    correct_low, _ = correct_counts(pred, gt, norm, scored, low_threshold)
    per_joint = _rates(correct, count)

    parts = {}
    for name, joints in PARTS:
        joints = HEAD_VARIANTS[head] if name == "Head" else joints
        parts[name] = _nanmean(per_joint[list(joints)])
    mean_joints = list(MEAN_JOINTS)
    return {
        "threshold": float(threshold),
        "low_threshold": float(low_threshold),
        "head": head,
        "normalizer": normalizer,
        "num_persons": int(n),
        "num_skipped_persons": int((~usable).sum()),
        "joint_names": list(JOINT_NAMES),
        "per_joint": [float(r) for r in per_joint],
        "joint_count": [int(c) for c in count],
        "parts": parts,
        "mean": _pooled(correct[mean_joints], count[mean_joints]),
        "mean_unweighted": _nanmean(per_joint[mean_joints]),
        "mean_parts": _nanmean(np.array(list(parts.values()))),
        f"mean@{low_threshold:g}": _pooled(correct_low[mean_joints], count[mean_joints]),
    }


def _as_joints(array: ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 2):
        raise DataError(f"{what} must be N x {NUM_JOINTS} x 2; received shape {array.shape}")
    return array


def _rates(correct: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, 100.0 * correct / np.maximum(count, 1), np.nan)


def _pooled(correct: np.ndarray, count: np.ndarray) -> float:
    total = int(count.sum())
    return 100.0 * float(correct.sum()) / total if total else math.nan


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


# -- reporting ---------------------------------------------------------------------------------


def summary(result: dict) -> dict:
    """The flat metrics of a ``pckh`` result for one JSON line (NaN becomes null).

    Keys: head shoulder elbow wrist hip knee ankle mean mean_unweighted mean_parts mean@0.1
    (percent), threshold, head_variant, normalizer, num_persons, num_skipped_persons.
    """
    low = f"mean@{result['low_threshold']:g}"
    out = {name.lower(): result["parts"][name] for name, _ in PARTS}
    out.update(
        mean=result["mean"],
        mean_unweighted=result["mean_unweighted"],
        mean_parts=result["mean_parts"],
        **{low: result[low]},
    )
    out = {k: (None if math.isnan(v) else round(v, 4)) for k, v in out.items()}
    out.update(
        threshold=result["threshold"],
        head_variant=result["head"],
        normalizer=result["normalizer"],
        num_persons=result["num_persons"],
        num_skipped_persons=result["num_skipped_persons"],
    )
    return out


def format_table(result: dict, normalizer: Optional[str] = None) -> str:
    """The report's Table 1 layout (Head Sho Elb Wri Hip Knee Ank Mean) plus the extra means.

    ``normalizer``: how the records' head sizes were made (a manifest's ``head_size``, e.g. LSP's
    neck to head top length), shown instead of MPII's head-box rule."""
    threshold = result["threshold"]
    low = result["low_threshold"]
    head = "head top" if result["head"] == "top" else "mean of upper neck and head top"
    cells = list(result["parts"].values()) + [result["mean"]]
    header = "".join(f"{name:>8}" for name in PART_ABBREVIATIONS + ("Mean",))
    row = "".join(f"{value:8.2f}" for value in cells)
    lines = [
        f"PCKh@{threshold:g} (%), {result['num_persons']} persons, normaliser: "
        f"{_describe_normalizer(result['normalizer'], normalizer)}; Head = {head}",
        header,
        row,
        f"Mean, unweighted over the 14 joints: {result['mean_unweighted']:.2f}   "
        f"over the 7 parts: {result['mean_parts']:.2f}   "
        f"PCKh@{low:g} mean: {result[f'mean@{low:g}']:.2f}",
    ]
    if result["num_skipped_persons"]:
        lines.append(f"skipped {result['num_skipped_persons']} persons without a normaliser")
    return "\n".join(lines)


def _describe_normalizer(normalizer: str, given: Optional[str] = None) -> str:
    if normalizer == NORMALIZER_HEAD_LENGTH:
        return f"{HEAD_LENGTH_FACTOR} x upper-neck-to-head-top length (no head boxes)"
    return f"head size ({given or '0.6 x head-box diagonal'})"


# -- Keras metric ------------------------------------------------------------------------------

_KERAS_CLASSES: dict = {}


def __getattr__(name):  # PEP 562: build the Keras class only when asked for
    if name == "PCKh":
        if name not in _KERAS_CLASSES:
            _KERAS_CLASSES[name] = _build_keras_metric()
        return _KERAS_CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_keras_metric():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="tfpose")
    class PCKh(keras.metrics.Metric):
        """Streaming PCKh for validation during training; ``result()`` is a fraction in [0, 1].

        Accumulates per-joint correct and scored counts over batches and pools them over
        ``joints`` (default: the official 14 for K = 16, else all), like ``pckh``'s ``mean``.

        In ``model.compile`` pass it as ``weighted_metrics={"keypoints": [PCKh()]}``: Keras
        gives the sample weights (the annotated-joint mask) only to ``weighted_metrics``;
        under ``metrics`` every joint, unannotated ones included, would be scored.

        update_state(y_true, y_pred, sample_weight=None, head_size=None):
          y_true:        B x K x 2 keypoints (B x K x 3: the third channel is the visibility
                         mask, used when ``sample_weight`` is None).
          y_pred:        B x K x 2 keypoints in the same frame.
          sample_weight: B x K, > 0 where the joint is annotated (the pipeline's weights).
          head_size:     B per-example normaliser in keypoint units; overrides ``normalizer``.

        Args:
          threshold:  fraction of the normaliser (0.5 for PCKh@0.5).
          normalizer: used when ``update_state`` gets no ``head_size`` (as in ``model.fit`` /
            ``model.evaluate``, which pass only y_true, y_pred, sample_weight): a positive number
            in keypoint units, or ``"head_length"`` = 0.75 × ‖upper neck − head top‖ of y_true
            (the module's documented fallback; examples with neck or head top unannotated
            are skipped).
          num_joints: K.
          joints:     joint ids pooled by ``result()``.
        """

        def __init__(
            self,
            threshold=0.5,
            normalizer="head_length",
            num_joints=NUM_JOINTS,
            joints=None,
            name="pckh",
            dtype=None,
        ):
            super().__init__(name=name, dtype=dtype)
            if isinstance(normalizer, str):
                if normalizer != "head_length":
                    raise ValueError(
                        "normalizer must be 'head_length' or a positive number; received "
                        f"normalizer={normalizer!r}"
                    )
                if num_joints <= HEAD_TOP:
                    raise ValueError(
                        f"normalizer='head_length' needs the MPII joints; received "
                        f"num_joints={num_joints}"
                    )
            elif not float(normalizer) > 0:
                raise ValueError(f"normalizer must be positive; received normalizer={normalizer}")
            if joints is None:
                joints = MEAN_JOINTS if num_joints == NUM_JOINTS else tuple(range(num_joints))
            self.threshold = float(threshold)
            self.normalizer = normalizer if isinstance(normalizer, str) else float(normalizer)
            self.num_joints = int(num_joints)
            self.joints = tuple(int(j) for j in joints)
            self._pool = np.zeros(self.num_joints, dtype="float32")
            self._pool[list(self.joints)] = 1.0
            self.correct = self.add_variable(
                shape=(self.num_joints,), initializer="zeros", name="correct"
            )
            self.scored = self.add_variable(
                shape=(self.num_joints,), initializer="zeros", name="scored"
            )

        def update_state(self, y_true, y_pred, sample_weight=None, head_size=None):
            y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            if sample_weight is not None:
                mask = ops.reshape(ops.cast(sample_weight, self.dtype), ops.shape(y_true)[:2]) > 0
            elif y_true.shape[-1] == 3:
                mask = y_true[..., 2] > 0
            else:
                mask = ops.ones(ops.shape(y_true)[:2], dtype="bool")
            y_true = y_true[..., :2]
            y_pred = y_pred[..., :2]
            if head_size is not None:
                norm = ops.reshape(ops.cast(head_size, self.dtype), (-1,))
            elif self.normalizer == "head_length":
                length = ops.sqrt(
                    ops.sum(ops.square(y_true[:, HEAD_TOP] - y_true[:, UPPER_NECK]), axis=-1)
                )
                has_head = ops.logical_and(mask[:, HEAD_TOP], mask[:, UPPER_NECK])
                norm = ops.where(has_head, HEAD_LENGTH_FACTOR * length, 0.0)
            else:
                norm = ops.full(ops.shape(y_true)[:1], self.normalizer, dtype=self.dtype)
            usable = ops.logical_and(ops.isfinite(norm), norm > 0)
            scored = ops.logical_and(mask, usable[:, None])
            dist = ops.sqrt(ops.sum(ops.square(y_pred - y_true), axis=-1))
            correct = ops.logical_and(dist <= self.threshold * norm[:, None], scored)
            self.correct.assign_add(ops.sum(ops.cast(correct, self.dtype), axis=0))
            self.scored.assign_add(ops.sum(ops.cast(scored, self.dtype), axis=0))

        def result(self):
            pool = ops.convert_to_tensor(self._pool, dtype=self.dtype)
            return ops.divide_no_nan(ops.sum(self.correct * pool), ops.sum(self.scored * pool))

        def per_joint(self):
            """Per-joint fractions [K] (0 where nothing was scored)."""
            return ops.divide_no_nan(self.correct, self.scored)

        def reset_state(self):
            self.correct.assign(ops.zeros_like(self.correct))
            self.scored.assign(ops.zeros_like(self.scored))

        def get_config(self):
            return {
                "threshold": self.threshold,
                "normalizer": self.normalizer,
                "num_joints": self.num_joints,
                "joints": list(self.joints),
                "name": self.name,
                "dtype": self.dtype,
            }

    PCKh.__module__ = __name__
    PCKh.__qualname__ = "PCKh"
    return PCKh
