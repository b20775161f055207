"""Training: one config -> a trained, resumable model in a work dir.

Work dir layout::

    config.yaml      the resolved config (what actually ran)
    classes.json     class names in label order (classifiers), copied from the dataset manifest
    state/           resume state: weights + optimizer (+ step) written atomically every N steps
    best.keras       best model by validation PCKh (pose) or accuracy (classifiers)
    model.keras      the model at the end of training
    log.csv          one row per epoch; tb/ TensorBoard logs; history.json

Rerunning the same command on the same work dir continues from ``state/``: the optimizer's
step counter is restored with its moments, so a run killed mid-epoch finishes the interrupted
epoch's remaining steps and ends at the same total number of steps.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import keras

from tfpose import config as config_lib
from tfpose.tasks import get_task
from tfpose.tasks.workdir import EPOCH_CHECKPOINT, other_kind_of_weights
from tfpose.training.callbacks import (  # noqa: F401  (re-exported: the trainer's callbacks)
    AveragedWeights, LearningRateLogger, ResumeState, ValidationPCKh, WallClock,
    current_learning_rate)
# The steps both trainers share, re-exported under their old names (``train.build_model`` ...).
from tfpose.training.common import (  # noqa: F401
    RUN_OUTPUTS, build_model, compile_model, init_weights_path,
    load_matching_layers, log_hyperparameters,
    make_optimizer, make_strategy, prepare_workdir, read_manifest, resolve_precision,
    steps_per_epoch, training_datasets, uses_collectives, write_classes)


def fit_dataset(ds, model: keras.Model):
    """Adapts pipeline batches to ``model``: only the inputs it declares (a pose model takes no
    ``joints``), and a bare target/weight for a model with a single, non-dict output."""
    names = [t.name for t in model.inputs]
    single = not isinstance(model.output, dict)

    def adapt(inputs, targets, weights):
        inputs = {name: inputs[name] for name in names}
        if single and len(targets) == 1:
            (targets,), (weights,) = targets.values(), weights.values()
        return inputs, targets, weights

    return ds.map(adapt)


def train(cfg: config_lib.Config, workdir: str | Path, *, overwrite: bool = False,
          verbose: int | str = "auto") -> dict:
    """Trains ``cfg`` into ``workdir``; resumes when the work dir holds the same run.

    Returns a summary: history (per epoch), steps, precision, the paths written.
    """
    from tfpose.datasets.integrity import named_shard_errors

    if cfg.train.strategy == "multi_worker":  # Model.fit fails there (keras-team/keras#20585)
        from tfpose.training.distributed import train_multi_worker

        return train_multi_worker(cfg, workdir, overwrite=overwrite)
    budget = cfg.train.time_budget_minutes
    clock = WallClock(None if budget is None else 60.0 * budget,  # the clock starts here
                      cfg.train.time_budget_clock)
    workdir = Path(workdir)
    prepare_workdir(cfg, workdir, overwrite)
    keras.utils.set_random_seed(cfg.train.seed)
    precision = resolve_precision(cfg.train.precision)
    task = get_task(cfg)
    manifest = read_manifest(cfg.data.dir)
    classes = manifest.get("classes", [])
    if task.has_classes:
        write_classes(cfg, workdir, classes)
    train_steps = steps_per_epoch(cfg, manifest, cfg.data.train_split)

    strategy = make_strategy(cfg.train.strategy)
    with strategy.scope():
        model = build_model(cfg, num_classes=len(classes) or None)
        compile_model(model, cfg, make_optimizer(cfg.train, train_steps))

    state_dir = workdir / "state"
    start_step = 0
    latest = ResumeState.latest(state_dir)
    if latest is not None:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(str(latest))
        start_step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    elif cfg.train.init_weights:
        # Fine-tuning: the network starts from earlier weights, the optimiser and schedule
        # from zero (a resumed run loads its own state above instead).
        source = init_weights_path(cfg.train.init_weights)
        kind = other_kind_of_weights(cfg, source)
        if kind is not None:  # another head on the same trunk: by layer name
            copied, left = load_matching_layers(model, source)
            print(f"Initialised {copied} layers of {workdir} from {source} (kind {kind}) by "
                  f"name; {len(left)} left as built: {', '.join(left[:8])}"
                  + (" ..." if len(left) > 8 else ""))
        else:
            with warnings.catch_warnings():  # the saved optimiser state is left out on purpose
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(str(source))
            print(f"Initialised {workdir} from {source}")
    elif cfg.model.backbone_weights:
        from tfpose.models.efficientnet_lite import load_backbone_weights

        layers = load_backbone_weights(model, cfg.model.backbone_weights)
        print(f"Initialised {layers} backbone layers of {workdir} from {cfg.model.backbone_weights}")
    total_steps = cfg.train.epochs * train_steps
    if start_step >= total_steps:
        print(f"{workdir}: already trained ({start_step} of {total_steps} steps); nothing to do")
        return {"steps": start_step, "resumed_from": start_step, "history": {}}
    if start_step:
        print(f"Resuming {workdir} at step {start_step} of {total_steps}")

    # Without validation_steps Keras reads the whole split each epoch; with it, the split must
    # repeat or the shared iterator runs dry after a few epochs.
    val_steps = cfg.train.validation_steps
    train_ds, val_ds = training_datasets(cfg, strategy, start_step, val_repeat=bool(val_steps))
    train_ds, val_ds = fit_dataset(train_ds, model), fit_dataset(val_ds, model)

    log_dir = workdir / "tb"
    if not start_step:
        log_hyperparameters(cfg, log_dir)
    monitor = task.monitor
    averaged = AveragedWeights() if cfg.train.ema_momentum is not None else None
    callbacks = [averaged.swap_in] if averaged else []  # the epoch end reads the average
    callbacks.append(LearningRateLogger())
    if task.is_pose:
        callbacks.append(ValidationPCKh(cfg, max_batches=cfg.train.validation_steps))
    if cfg.train.image_summary_every:
        from tfpose.training.summaries import SkeletonImages

        callbacks.append(SkeletonImages(cfg, log_dir / "images", cfg.train.image_summary_every))
    callbacks += [
        clock,  # after the validation callbacks (their time counts), before the CSV log
        keras.callbacks.ModelCheckpoint(str(workdir / "best.keras"), monitor=monitor[0],
                                        mode=monitor[1], save_best_only=True),
        *([keras.callbacks.ModelCheckpoint(str(workdir / EPOCH_CHECKPOINT))]
          if cfg.train.keep_epochs else []),
        keras.callbacks.CSVLogger(str(workdir / "log.csv"), append=True),
        keras.callbacks.TensorBoard(str(log_dir), profile_batch=cfg.train.profile_batch or 0),
        keras.callbacks.TerminateOnNaN(),
        *([averaged.swap_out] if averaged else []),  # the trained weights back, to resume from
        ResumeState(state_dir, every_steps=cfg.train.checkpoint_every_steps or train_steps),
    ]

    history = {}
    epoch, done_in_epoch = divmod(start_step, train_steps)
    fits = []
    if done_in_epoch:  # finish the interrupted epoch first
        fits.append((epoch, epoch + 1, train_steps - done_in_epoch))
        epoch += 1
    if epoch < cfg.train.epochs:
        fits.append((epoch, cfg.train.epochs, train_steps))
    splits = [cfg.data.train_split] + ([cfg.data.val_split] if val_ds is not None else [])
    for initial_epoch, epochs, steps in fits:
        with named_shard_errors(cfg.data.dir, splits):  # names a damaged shard and record
            result = model.fit(train_ds, initial_epoch=initial_epoch, epochs=epochs,
                               steps_per_epoch=steps, validation_data=val_ds,
                               validation_steps=val_steps, callbacks=callbacks, verbose=verbose,
                               shuffle=False)  # the pipeline shuffles
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if model.stop_training:
            break
        if averaged and (initial_epoch, epochs, steps) != fits[-1]:
            averaged.restore_training_weights(model)  # fit ended on the average; train on

    model.save(str(workdir / "model.keras"))
    (workdir / "history.json").write_text(json.dumps(history, indent=1))
    steps_done = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    return {"steps": steps_done, "resumed_from": start_step, "precision": precision,
            "history": history, "workdir": str(workdir)}
