"""The one registry of model kinds: ``get_task(cfg)`` -> the ``Task`` of ``cfg.model.kind``.

Every other package asks the task what a kind means (``tasks/base.py``), so adding a model kind
is one entry here and, where it is new, one Task class.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfpose.config import CLASSIFIER_KINDS, DETECTOR_KINDS, POSE_KINDS
from tfpose.core.errors import ConfigError, DataError
from tfpose.tasks.base import Task
from tfpose.tasks.classify import Classifier, TwoStage
from tfpose.tasks.detect import PersonDetection
from tfpose.tasks.workdir import load_config, load_workdir_model, num_actions
from tfpose.tasks.pose import (POSE_TASKS, HeatmapPose, PoseTask, RegressionPose, SimCCPose,
                               pose_task)

# The pose kinds come from ``tasks/pose.py`` (``POSE_TASKS``): a two-stage model resolves its
# pose half there without importing this registry, which imports it (no import cycle).
TASKS = {
    **POSE_TASKS,
    "classifier": Classifier,
    "two_stage": TwoStage,
    **{kind: PersonDetection for kind in DETECTOR_KINDS},
}
assert set(TASKS) == set(POSE_KINDS + CLASSIFIER_KINDS + DETECTOR_KINDS), \
    "every configurable kind has a task"


def get_task(cfg) -> Task:
    """The task of ``cfg.model.kind``; ConfigError for an unknown kind."""
    kind = cfg.model.kind
    if kind not in TASKS:
        raise ConfigError(f"model.kind: unknown {kind!r}; expected one of {', '.join(TASKS)}")
    task = TASKS[kind](cfg)
    task.check()
    return task


def load_workdir(workdir, checkpoint: str = "best", overrides=()):
    """``(cfg, keras model, class names or None)`` of a ``tfpose train`` work dir; ``overrides``
    are ``--set`` strings applied to its config.yaml (e.g. another ``data.dir``)."""
    workdir = Path(workdir)
    cfg = load_config(workdir, overrides)
    model = load_workdir_model(workdir, checkpoint)
    class_names = None
    if get_task(cfg).has_classes:
        path = workdir / "classes.json"
        if not path.exists():
            raise DataError(f"{workdir}: a {cfg.model.kind} work dir needs classes.json")
        class_names = [str(c) for c in json.loads(path.read_text())]
        width = num_actions(model)
        if width is not None and width != len(class_names):  # a classes.json of another run
            raise DataError(f"{path}: {len(class_names)} class names for a model with {width} "
                            "action outputs; it does not belong to this work dir's model")
    return cfg, model, class_names


__all__ = ["TASKS", "Task", "get_task", "pose_task", "PoseTask", "RegressionPose",
           "HeatmapPose", "SimCCPose", "Classifier", "TwoStage", "PersonDetection",
           "load_workdir"]
