"""An activity model: a joints-only classifier with its class names and how it frames joints
(``core.joint_frame``), as ``scripts/train_activity.py`` writes it (``best.keras``,
``classes.json``, ``activity.json``) and the shipped ``mpii-activity`` is.

``ActivityModel.load(source)`` reads one; calling it on a pose result's keypoints and scores
gives, per person, the class name, its probability and the top k. Attaching it to
``tfpose predict``'s lines is ``serving.activity``'s; scoring it on annotated joints is
``evaluation.activity``'s: both build on this one class.

The joints are framed by their own square (``core.joint_frame.frame_joints`` with the model's
``framing.scale``, the same function the model trained with), joints scored under the model's
``min_score`` count as missing, and the probabilities average the person and their mirror image
(the flip test the model was scored with). Shapes: ``P`` persons, ``K = 16`` joints, ``C``
classes.
"""

from __future__ import annotations

import json
from typing import List, Optional, Sequence

import numpy as np

from tfpose.core import joint_frame, skeleton, zoo
from tfpose.core.errors import DataError
from tfpose.core.workdir import ACTIVITY_FILE

TOP_K = 3


class ActivityModel:
    """A joints-only activity classifier with its class names and its joint framing."""

    def __init__(self, model, classes: Sequence[str], *, min_score: float,
                 frame_size: int = joint_frame.FRAME_SIZE, margin: float = joint_frame.MARGIN,
                 scale: str = "box", flip_test: bool = True, source: str = ""):
        width = int(model.output.shape[-1]) if not isinstance(model.output, dict) else None
        if width != len(classes):
            raise DataError(f"{source or 'activity model'}: {len(classes)} class names for an "
                            f"output of width {width}")
        self.model, self.classes = model, list(classes)
        if scale not in joint_frame.SCALES:
            raise DataError(f"{source or 'activity model'}: framing scale {scale!r} is not one "
                            f"of {joint_frame.SCALES}; a newer tfpose may read it")
        self.min_score, self.frame_size, self.margin = float(min_score), frame_size, margin
        self.scale = scale
        self.flip_test, self.source = flip_test, source

    @classmethod
    def load(cls, source) -> "ActivityModel":
        """A shipped model's name (``tfpose models``) or a work dir holding ``best.keras``,
        ``classes.json`` and ``activity.json``. DataError names what is missing."""
        from tfpose.tasks.workdir import load_workdir_model

        folder = zoo.resolve(source)
        if not (folder / ACTIVITY_FILE).is_file() or not (folder / "classes.json").is_file():
            raise DataError(f"{source}: not an activity model (needs {ACTIVITY_FILE} and "
                            f"classes.json; shipped: {', '.join(zoo.names()) or 'none'})")
        meta = json.loads((folder / ACTIVITY_FILE).read_text())
        framing = meta["framing"]
        names = framing.get("joint_names", list(skeleton.JOINT_NAMES))
        if list(names) != list(skeleton.JOINT_NAMES):
            raise DataError(f"{source}: trained on joints {names}, not tfpose's "
                            f"{list(skeleton.JOINT_NAMES)}")
        classes = json.loads((folder / "classes.json").read_text())
        return cls(load_workdir_model(folder), classes, min_score=framing["min_score"],
                   frame_size=framing["size"], margin=framing["margin"],
                   scale=framing.get("scale", "box"),  # models before the body frame
                   flip_test=bool(meta.get("flip_test", True)), source=str(source))

    def probabilities(self, keypoints, scores, joint_names: Optional[Sequence[str]] = None):
        """(P x C probabilities, P bool: the person had two joints to frame).

        keypoints: P x K x 2+ pixels of one photo (x, y first); scores: P x K. ``joint_names``
        (the pose result's, K names) are matched to the model's by name; default: tfpose's
        MPII order, checked by count.
        """
        keypoints = np.asarray(keypoints, np.float32)
        scores = np.asarray(scores, np.float32)
        if joint_names is not None:
            missing = [n for n in skeleton.JOINT_NAMES if n not in list(joint_names)]
            if missing:
                raise DataError(f"activity model needs the joints {missing}; the pose result "
                                f"names {list(joint_names)}")
            order = [list(joint_names).index(n) for n in skeleton.JOINT_NAMES]
            keypoints, scores = keypoints[:, order], scores[:, order]
        k = skeleton.NUM_JOINTS
        if keypoints.ndim != 3 or keypoints.shape[1:2] != (k,) or keypoints.shape[2] < 2 \
                or scores.shape != keypoints.shape[:2]:
            raise DataError(f"activity: expected keypoints P x {k} x 2 and scores P x {k}. "
                            f"Received: {keypoints.shape} and {scores.shape}")
        used = scores >= self.min_score
        joints = joint_frame.frame_joints(keypoints, used, self.frame_size, self.margin,
                                          self.scale)
        framed = joints[..., 2].sum(-1) >= 2
        if not len(joints):
            return np.zeros((0, len(self.classes)), np.float32), framed
        batch = [joints, joint_frame.mirror_framed(joints, self.frame_size)] if self.flip_test \
            else [joints]
        probs = np.asarray(self.model({"joints": np.concatenate(batch)}, training=False))
        probs = probs.reshape(len(batch), len(joints), -1).mean(0)
        return probs.astype(np.float32), framed

    def __call__(self, keypoints, scores, top_k: int = TOP_K,
                 joint_names: Optional[Sequence[str]] = None) -> List[Optional[dict]]:
        """Per person (P): ``{"class", "probability", "top": [{"class", "probability"}] * k}``,
        most probable first, or None where fewer than two joints were scored (no frame)."""
        probs, framed = self.probabilities(keypoints, scores, joint_names)
        answers = []
        for row, ok in zip(probs, framed):
            if not ok:
                answers.append(None)
                continue
            best = np.argsort(-row)[: max(1, top_k)]
            top = [{"class": self.classes[c], "probability": round(float(row[c]), 4)}
                   for c in best]
            answers.append({"class": top[0]["class"], "probability": top[0]["probability"],
                            "top": top})
        return answers
