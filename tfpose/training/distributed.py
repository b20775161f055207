"""Multi-worker training (``train.strategy: multi_worker``): a custom loop under
``MultiWorkerMirroredStrategy``.

Keras 3 ``Model.fit`` does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585), so
this loop replaces it there. Everything else is the fit path's (``training/common.py``): the
model, its compiled losses and optimiser (wrapped in a ``LossScaleOptimizer`` under
mixed_float16), the ``state/`` resume format (``ResumeState``), ``log.csv``, ``history.json``, TensorBoard scalars
(``epoch_loss`` and ``epoch_learning_rate`` under ``tb/train``, ``epoch_loss`` under
``tb/validation``) and ``model.keras``.

The cluster comes from ``TF_CONFIG`` (one JSON per process)::

    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]},
                "task": {"type": "worker", "index": 0}}'

``data.batch_size`` is the GLOBAL batch: ``experimental_distribute_dataset`` splits each batch
across the replicas of all workers (by file when there are at least as many shards as workers,
else by element). The loss of one step is the fit path's, computed over the global batch: for a
``mean_with_sample_weight`` loss, sum(weight x per-joint loss) on each replica divided by the
all-reduced sum of weights, so summing the replicas' gradients gives the gradient of the global
mean.

Only the chief (task 0) writes into the work dir; the other workers take part in every save
(reading a synchronised variable can be a collective) but write to a temporary directory they
delete. Resuming assumes the work dir is on a file system every worker reads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError
from tfpose.tasks import get_task
from tfpose.training import common as train_lib
from tfpose.training.callbacks import ResumeState, current_learning_rate

SUM = tf.distribute.ReduceOp.SUM


def _step_of(model) -> int:
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def replica_loss(model, outputs, targets, weights):
    """This replica's share of the global-batch loss (float32 scalar); call inside
    ``strategy.run``. Summed over replicas it equals what ``Model.fit`` computes for the whole
    batch: each compiled loss's ``call`` values (B x K pose, B classes) weighted and divided by
    the global sum of weights (``mean_with_sample_weight``) or the global element count (other
    reductions), summed over outputs, plus the model's regularisation losses."""
    context = tf.distribute.get_replica_context()
    if not isinstance(outputs, dict):  # a single-output model (the classifiers)
        outputs = dict(zip(model.output_names, tf.nest.flatten(outputs)))
    total = tf.constant(0.0)
    for name, loss_fn in model.loss.items():
        values = tf.cast(loss_fn.call(targets[name], outputs[name]), tf.float32)
        weight = tf.broadcast_to(tf.cast(weights[name], tf.float32), tf.shape(values))
        if loss_fn.reduction == "mean_with_sample_weight":
            denominator = tf.reduce_sum(weight)
        else:
            denominator = tf.cast(tf.size(values), tf.float32)
        denominator = context.all_reduce(SUM, denominator)
        total += tf.math.divide_no_nan(tf.reduce_sum(values * weight), denominator)
    if model.losses:
        total += tf.add_n([tf.cast(x, tf.float32) for x in model.losses]) / float(
            context.num_replicas_in_sync
        )
    return total


def make_steps(strategy: tf.distribute.Strategy, model: keras.Model):
    """``(train_step, val_step)``: each takes a distributed iterator, runs one global batch and
    returns the global loss (a float32 scalar, the same on every worker)."""
    optimizer = model.optimizer

    def train_replica(inputs, targets, weights):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = replica_loss(model, outputs, targets, weights)
            scaled = optimizer.scale_loss(loss)  # identity unless a LossScaleOptimizer
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)  # all-reduces and unscales
        return loss

    def val_replica(inputs, targets, weights):
        return replica_loss(model, model(inputs, training=False), targets, weights)

    @tf.function
    def train_step(iterator):
        return strategy.reduce(SUM, strategy.run(train_replica, args=next(iterator)), axis=None)

    @tf.function
    def val_step(iterator):
        return strategy.reduce(SUM, strategy.run(val_replica, args=next(iterator)), axis=None)

    return train_step, val_step


def make_sync(strategy: tf.distribute.Strategy, model: keras.Model):
    """A function that sets every replica's non-trainable float variables to their mean over
    all replicas. Keras 3 BatchNormalization updates its moving statistics from each replica's
    own batch (no aggregation), so without this the workers' saved models differ there; the
    statistics are exponential moving averages, so averaging them at save time gives the same
    result as averaging the batch statistics at every step."""
    variables = [v for v in model.non_trainable_variables
                 if keras.backend.is_float_dtype(v.dtype)]

    def replica_sync():
        context = tf.distribute.get_replica_context()
        for variable in variables:
            variable.assign(context.all_reduce("MEAN", tf.identity(variable.value)))

    @tf.function
    def sync():
        strategy.run(replica_sync)

    return sync if variables else (lambda: None)


def _barrier(strategy) -> None:
    """Returns on every worker only once all have reached it (a one-number all-reduce)."""
    strategy.reduce(SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)


def _append_csv(path: Path, epoch: int, logs: dict) -> None:
    """One row like ``keras.callbacks.CSVLogger`` (epoch, then the keys sorted)."""
    keys = sorted(logs)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["epoch", *keys])
        writer.writerow([epoch, *(logs[k] for k in keys)])


def train_multi_worker(cfg: config_lib.Config, workdir: str | Path, *,
                       overwrite: bool = False) -> dict:
    """Trains ``cfg`` on the cluster in ``TF_CONFIG`` into ``workdir``; resumes like ``train``.

    Every worker runs this with the same arguments. Returns the summary of ``train.train`` plus
    ``chief`` (bool) and ``weights_digest`` (sha256 of the final weights, equal on all workers).
    """
    # First: the strategy configures the collective ops, which must precede any other TF op.
    strategy = train_lib.make_strategy("multi_worker")
    chief = strategy.extended.should_checkpoint
    workdir = Path(workdir)
    if chief:
        train_lib.prepare_workdir(cfg, workdir, overwrite)
    _barrier(strategy)  # the chief has validated the work dir (and cleared it on --overwrite)

    keras.utils.set_random_seed(cfg.train.seed)
    precision = train_lib.resolve_precision(cfg.train.precision)
    manifest = train_lib.read_manifest(cfg.data.dir)
    classes = manifest.get("classes", [])
    if chief and get_task(cfg).has_classes:
        train_lib.write_classes(cfg, workdir, classes)
    train_steps = train_lib.steps_per_epoch(cfg, manifest, cfg.data.train_split)
    val_steps = train_lib.steps_per_epoch(cfg, manifest, cfg.data.val_split)
    if cfg.train.jit_compile:
        print("train.jit_compile is not used by the multi_worker loop (collectives inside)")
    if cfg.train.ema_momentum is not None:
        raise ConfigError("train.ema_momentum: the multi_worker loop keeps no weight average; "
                          "use a Model.fit strategy (auto, default, mirrored) or ema_momentum: null")

    with strategy.scope():
        model = train_lib.build_model(cfg, num_classes=len(classes) or None)
        train_lib.compile_model(model, cfg, train_lib.make_optimizer(cfg.train, train_steps))
        # Built here, in the strategy's scope: variables cannot be created inside the step.
        model.optimizer.build(model.trainable_variables)
        latest = ResumeState.latest(workdir / "state")
        if latest is not None:
            model.load_weights(str(latest))
    start_step = _step_of(model)
    total_steps = cfg.train.epochs * train_steps
    if start_step >= total_steps:
        print(f"{workdir}: already trained ({start_step} of {total_steps} steps); nothing to do")
        return {"steps": start_step, "resumed_from": start_step, "history": {}, "chief": chief}
    if start_step:
        print(f"Resuming {workdir} at step {start_step} of {total_steps}")

    train_ds, val_ds = train_lib.training_datasets(cfg, strategy, start_step, val_repeat=True)
    train_iter = iter(strategy.experimental_distribute_dataset(train_ds))
    val_dist = strategy.experimental_distribute_dataset(val_ds)
    train_step, val_step = make_steps(strategy, model)
    sync = make_sync(strategy, model)

    out = workdir if chief else Path(tempfile.mkdtemp(prefix="tfpose-worker-"))
    state = ResumeState(out / "state", cfg.train.checkpoint_every_steps or train_steps)
    state.set_model(model)
    log_dir = workdir / "tb"
    if chief and not start_step:
        train_lib.log_hyperparameters(cfg, log_dir)
    writers = {split: tf.summary.create_file_writer(str(log_dir / split))
               for split in ("train", "validation")} if chief else {}

    history: dict[str, list[float]] = {}
    epoch, done_in_epoch = divmod(start_step, train_steps)
    for epoch in range(epoch, cfg.train.epochs):
        losses = []
        for _ in range(train_steps - done_in_epoch):
            losses.append(float(train_step(train_iter)))
            if _step_of(model) % state.every_steps == 0:
                sync()
                state.save()
        done_in_epoch = 0
        val_iter = iter(val_dist)
        logs = {"loss": float(np.mean(losses)),
                "val_loss": float(np.mean([float(val_step(val_iter)) for _ in range(val_steps)])),
                "learning_rate": current_learning_rate(model.optimizer)}
        sync()
        state.save()
        print(f"Epoch {epoch + 1}/{cfg.train.epochs} - step {_step_of(model)} - "
              + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()), flush=True)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if chief:
            _append_csv(workdir / "log.csv", epoch, logs)
            with writers["train"].as_default():
                tf.summary.scalar("epoch_loss", logs["loss"], step=epoch)
                tf.summary.scalar("epoch_learning_rate", logs["learning_rate"], step=epoch)
            with writers["validation"].as_default():
                tf.summary.scalar("epoch_loss", logs["val_loss"], step=epoch)
        if not np.isfinite(logs["loss"]):
            print(f"Epoch {epoch + 1}: loss is {logs['loss']}; stopping")
            break

    model.save(str(out / "model.keras"))
    if chief:
        (workdir / "history.json").write_text(json.dumps(history, indent=1))
        for writer in writers.values():
            writer.close()
    else:
        shutil.rmtree(out, ignore_errors=True)
    digest = weights_digest(model)
    return {"steps": _step_of(model), "resumed_from": start_step, "precision": precision,
            "history": history, "workdir": str(workdir), "chief": chief,
            "weights_digest": digest}


def weights_digest(model: keras.Model) -> str:
    """sha256 over all model weights in order: equal digests mean identical replicas."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()
