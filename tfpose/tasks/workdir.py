"""Work-dir I/O in one place: a ``tfpose train`` work dir (or a shipped model's folder) -> its
config, its Keras model and, for classifiers, its class names.

A work dir holds ``config.yaml`` (the resolved run config), ``best.keras`` / ``model.keras`` and,
for a model with an ``action`` output, ``classes.json`` (output ``i`` is ``classes[i]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from tfpose import config as config_lib
from tfpose.core.errors import DataError
from tfpose.tasks import get_task, pose_task


def load_workdir_model(workdir: Path, checkpoint: str = "best") -> keras.Model:
    """``best.keras`` (falls back to ``model.keras`` when no best was saved) or ``model.keras``."""
    from tfpose.models import register_custom_objects

    register_custom_objects()
    workdir = Path(workdir)
    candidates = [workdir / f"{checkpoint}.keras", workdir / "model.keras"]
    for path in candidates:
        if path.exists():
            return keras.models.load_model(str(path), compile=False)
    raise DataError(f"{workdir}: no trained model (looked for {', '.join(map(str, candidates))})")


def load_config(workdir, overrides=()) -> config_lib.Config:
    """The work dir's ``config.yaml`` with ``--set`` strings ``overrides`` applied."""
    path = Path(workdir) / "config.yaml"
    if not path.exists():
        raise DataError(f"{workdir}: no config.yaml; is it a `tfpose train` work dir?")
    return config_lib.load(path, overrides)


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


def load_pose_workdir(workdir):
    """(pose model, its task) from a pose model's work dir; ConfigError for any other kind."""
    cfg = load_config(workdir)
    task = pose_task(cfg, where=f"--pose-workdir {workdir}")
    return load_workdir_model(Path(workdir), "best"), task


def num_actions(model: keras.Model):
    """C of the model's B x C ``action`` output, or None when it has no single such output."""
    output = model.output
    if isinstance(output, dict):
        output = output.get("action")
    shape = getattr(output, "shape", None)
    return int(shape[-1]) if shape is not None and shape[-1] is not None else None
