"""The one registry of model kinds: ``get_task(cfg)`` -> the ``Task`` of ``cfg.model.kind``.

Every other package asks the task what a kind means (``tasks/base.py``), so adding a model kind
is one entry here and, where it is new, one Task class.
"""

from __future__ import annotations

from tfpose.config import CLASSIFIER_KINDS, HEATMAP_KINDS, POSE_KINDS, REGRESSION_KINDS
from tfpose.core.errors import ConfigError
from tfpose.tasks.base import Task
from tfpose.tasks.classify import Classifier, TwoStage
from tfpose.tasks.pose import HeatmapPose, PoseTask, RegressionPose

TASKS = {
    **{kind: RegressionPose for kind in REGRESSION_KINDS},
    **{kind: HeatmapPose for kind in HEATMAP_KINDS},
    "classifier": Classifier,
    "two_stage": TwoStage,
}
assert set(TASKS) == set(POSE_KINDS + CLASSIFIER_KINDS), "every configurable kind has a task"


def get_task(cfg) -> Task:
    """The task of ``cfg.model.kind``; ConfigError for an unknown kind."""
    kind = cfg.model.kind
    if kind not in TASKS:
        raise ConfigError(f"model.kind: unknown {kind!r}; expected one of {', '.join(TASKS)}")
    task = TASKS[kind](cfg)
    task.check()
    return task


def pose_task(cfg, where: str = "") -> PoseTask:
    """The task of a pose model's config; ConfigError naming ``where`` for any other kind."""
    task = get_task(cfg)
    if not task.is_pose:
        raise ConfigError(f"{where or cfg.name}: expected a pose model ({', '.join(POSE_KINDS)}); "
                          f"received a {cfg.model.kind} one")
    return task


__all__ = ["TASKS", "Task", "get_task", "pose_task", "PoseTask", "RegressionPose",
           "HeatmapPose", "Classifier", "TwoStage"]
