"""Work-dir I/O: a ``tfpose train`` work dir (or a shipped model's folder) -> its config and its
Keras model; ``load_pose_workdir`` for the pose half of a two-stage model. ``load_workdir`` (the
config, the model and a classifier's class names together) is ``tasks.load_workdir``: it needs
the whole registry, which imports this module.

A work dir holds ``config.yaml`` (the resolved run config), ``best.keras`` / ``model.keras``,
with ``train.keep_epochs`` every epoch's model (``EPOCH_CHECKPOINT``) and, for a model with an
``action`` output, ``classes.json`` (output ``i`` is ``classes[i]``).
"""

from __future__ import annotations

from pathlib import Path

import keras

from tfpose import config as config_lib
from tfpose.core.errors import DataError
from tfpose.core.workdir import checkpoint_path
from tfpose.tasks.pose import pose_task

# Where train.keep_epochs saves each epoch, relative to the work dir (Keras's ModelCheckpoint
# fills in the 1-based epoch).
EPOCH_CHECKPOINT = "epochs/epoch-{epoch:03d}.keras"


def load_workdir_model(workdir: Path, checkpoint: str = "best") -> keras.Model:
    """The Keras model of ``checkpoint_path``."""
    from tfpose.models import register_custom_objects

    register_custom_objects()
    return keras.models.load_model(str(checkpoint_path(workdir, checkpoint)), compile=False)


def load_config(workdir, overrides=()) -> config_lib.Config:
    """The work dir's ``config.yaml`` with ``--set`` strings ``overrides`` applied."""
    path = Path(workdir) / "config.yaml"
    if not path.exists():
        raise DataError(f"{workdir}: no config.yaml; is it a `tfpose train` work dir?")
    return config_lib.load(path, overrides)


def other_kind_of_weights(cfg, path) -> str | None:
    """The model kind that wrote the weights file ``path`` (its folder's ``config.yaml``: a work
    dir or a shipped model) when its layers are not ``cfg``'s (another kind, or a detector's
    other heads: then weights are copied by layer name); None when they are, or for a bare
    file."""
    config = Path(path).parent / "config.yaml"
    if not config.exists():
        return None
    source = config_lib.load(config).model

    def layout(model):
        return model.kind, model.detection_head, model.shared_trunk

    if layout(source) == layout(cfg.model):
        return None
    if source.kind != cfg.model.kind:
        return source.kind
    return f"{source.kind}, {source.detection_head} heads, shared trunk {source.shared_trunk}"


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
