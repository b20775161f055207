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
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.config import CLASSIFIER_KINDS, POSE_KINDS
from tfpose.data.pipeline import read_manifest  # noqa: F401  (also used by distributed.py)
from tfpose.errors import ConfigError, DataError, StorageError


# -- environment: precision and distribution ----------------------------------------------------


def resolve_precision(name: str) -> str:
    """``auto`` -> mixed_float16 with a GPU, float32 on the CPU; sets the global Keras policy."""
    valid = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
    if name not in valid:
        raise ConfigError(f"train.precision must be one of {valid}. Received: {name!r}")
    if name == "auto":
        name = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(name)
    return name


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto`` -> MirroredStrategy with more than one GPU, else the default strategy."""
    # Only for auto: listing logical devices initialises TF, too early for multi_worker.
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":  # every GPU, else every logical CPU device (several in tests)
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(
        "train.strategy must be auto, default, mirrored or multi_worker. "
        f"Received: {name!r}"
    )


# -- dataset metadata ---------------------------------------------------------------------------


def _usable_records(cfg: config_lib.Config, manifest: dict, split: str) -> int:
    if cfg.model.kind in CLASSIFIER_KINDS:  # only labelled persons reach a classifier
        classes = set(manifest.get("classes", []))
        counts = manifest.get("counts", {}).get(split, {})
        return sum(n for name, n in counts.items() if name in classes)
    return manifest.get("num_records", {}).get(split, 0)


def steps_per_epoch(cfg: config_lib.Config, manifest: dict, split: str) -> int:
    """Batches in one pass over ``split``: full ones for training (it drops the remainder),
    all of them for validation (``train.validation_steps`` when set)."""
    training = split == cfg.data.train_split
    if training and cfg.train.steps_per_epoch:
        return cfg.train.steps_per_epoch
    if not training and cfg.train.validation_steps:
        return cfg.train.validation_steps
    manifests = [manifest]
    if training:  # the extra training sets' records count too
        manifests += [read_manifest(d) for d in cfg.data.extra_train_dirs]
    count = sum(_usable_records(cfg, m, split) for m in manifests)
    steps = count // cfg.data.batch_size if training else -(-count // cfg.data.batch_size)
    if steps < 1:
        raise DataError(
            f"{cfg.data.dir}: split {split!r} has {count} usable records, fewer than one batch "
            f"of data.batch_size={cfg.data.batch_size}"
        )
    return steps


def write_classes(cfg: config_lib.Config, workdir: Path, classes: list) -> None:
    """Writes ``classes.json`` (the manifest's class names: the model's output order) after
    checking that no weights this run starts from were trained on another order.

    Output ``i`` of a classifier means the class named ``classes[i]`` of the dataset it trained
    on; a re-converted ``data.dir`` (or a fine-tuning source converted from another file) may
    number the same names differently, and loading its weights would silently swap classes.
    So a resumed run must see the classes its state was trained on, and ``train.init_weights``
    from a classifier work dir must have the same class list.
    """
    path = workdir / "classes.json"
    sources = []
    if ResumeState.latest(workdir / "state") is not None and path.exists():
        sources.append((path, "the state this run resumes was trained on"))
    if cfg.train.init_weights:
        source = init_weights_path(cfg.train.init_weights).parent / "classes.json"
        if source.exists():
            sources.append((source, "train.init_weights was trained on"))
    for source, what in sources:
        trained = [str(c) for c in json.loads(source.read_text())]
        if trained != list(classes):
            raise DataError(
                f"{source}: {what} classes {trained}, but {cfg.data.dir} numbers {classes}; "
                f"convert the data with `tfpose convert --classes {source}` to keep that order")
    path.write_text(json.dumps(classes, indent=1))


# -- model, optimiser, compile ------------------------------------------------------------------


def build_model(cfg: config_lib.Config, num_classes: int | None = None) -> keras.Model:
    kind = cfg.model.kind
    if kind in POSE_KINDS:
        from tfpose.models.pose import build_pose_model

        return build_pose_model(cfg)
    if kind == "classifier":
        from tfpose.models.classifier import build_classifier

        return build_classifier(cfg, num_classes=num_classes)
    if kind == "two_stage":
        from tfpose.models.two_stage import build_two_stage_for_training

        return build_two_stage_for_training(cfg, num_classes=num_classes)
    raise ConfigError(
        f"model.kind must be one of {POSE_KINDS + CLASSIFIER_KINDS}. Received: {kind!r}"
    )


def learning_rate_schedule(train_cfg: config_lib.TrainConfig, steps: int):
    """``train.learning_rate`` under ``train.lr_schedule`` (``steps`` a epoch): a float, or a
    Keras schedule of the step."""
    lr = train_cfg.learning_rate
    if train_cfg.lr_schedule not in ("piecewise", "cosine"):
        raise ConfigError("train.lr_schedule must be piecewise or cosine. "
                          f"Received: {train_cfg.lr_schedule!r}")
    if train_cfg.lr_schedule == "cosine":
        warmup = int(train_cfg.warmup_epochs * steps)
        total = max(int(train_cfg.epochs * steps) - warmup, 1)
        # Keras starts the warm-up at initial_learning_rate and rises linearly to warmup_target.
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr, total, alpha=0.01,
            warmup_target=lr if warmup else None, warmup_steps=warmup)
    if train_cfg.lr_decay_epochs:
        boundaries = [int(e * steps) for e in train_cfg.lr_decay_epochs]
        values = [lr * train_cfg.lr_decay_factor**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return lr


def make_optimizer(train_cfg: config_lib.TrainConfig, steps: int) -> keras.optimizers.Optimizer:
    """The configured optimiser with ``learning_rate_schedule``; ``steps`` a epoch."""
    lr = learning_rate_schedule(train_cfg, steps)
    name = train_cfg.optimizer
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=train_cfg.momentum, nesterov=train_cfg.nesterov)
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=train_cfg.weight_decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    raise ConfigError(f"train.optimizer must be sgd, adam, adamw or rmsprop. Received: {name!r}")


def compile_model(model: keras.Model, cfg: config_lib.Config, optimizer) -> None:
    """Losses and metrics by model kind. Keras wraps the optimiser in a LossScaleOptimizer
    itself when the policy is mixed_float16."""
    if cfg.model.kind in POSE_KINDS:
        from tfpose.losses import losses_for

        model.compile(optimizer=optimizer, loss=losses_for(cfg),
                      jit_compile=cfg.train.jit_compile)
    else:
        # Keyed by output name either way: Keras maps the key to a single output too.
        model.compile(
            optimizer=optimizer,
            loss={"action": keras.losses.SparseCategoricalCrossentropy()},
            weighted_metrics={"action": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
            jit_compile=cfg.train.jit_compile,
        )


def uses_collectives(strategy: tf.distribute.Strategy) -> bool:
    """True when ``strategy`` all-reduces across replicas or workers (collective ops)."""
    return (strategy.num_replicas_in_sync > 1
            or isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy))


def training_datasets(cfg: config_lib.Config, strategy: tf.distribute.Strategy,
                      start_step: int = 0, *, val_repeat: bool):
    """(train, val) pipelines of a run under ``strategy``: the one place every strategy (the fit
    path and the multi-worker loop) builds its datasets.

    Under collectives the pipeline's batch stages run as plain TF ops, not XLA-compiled:
    XLA-compiled ``tf.function``s in the input pipeline beside the collective all-reduce crashed
    a process now and then (SIGSEGV; ``scripts/stress_distributed.sh``, README "Reliability").
    A resumed run reshuffles with a seed derived from the step, so it does not replay the
    batches it already trained on.
    """
    from tfpose.data.pipeline import build_dataset

    if uses_collectives(strategy):
        cfg = config_lib.replace(cfg, data=config_lib.replace(cfg.data, jit_compile=False))
    shuffled = config_lib.replace(cfg, train=config_lib.replace(cfg.train,
                                                                seed=cfg.train.seed + start_step))
    train_ds = build_dataset(shuffled, cfg.data.train_split, training=True, repeat=True)
    val_ds = build_dataset(cfg, cfg.data.val_split, training=False, repeat=val_repeat)
    return train_ds, val_ds


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


def current_learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))


# -- callbacks -----------------------------------------------------------------------------------


class ResumeState(keras.callbacks.Callback):
    """Writes weights + optimizer state to ``directory`` every ``every_steps`` steps and at each
    epoch end. Each save goes to a new file and ``latest.json`` is replaced atomically after it,
    so a process killed mid-write still leaves the previous complete state."""

    def __init__(self, directory: str | Path, every_steps: int):
        super().__init__()
        self.directory = Path(directory)
        self.every_steps = max(1, int(every_steps))

    @staticmethod
    def latest(directory: str | Path) -> Path | None:
        pointer = Path(directory) / "latest.json"
        if not pointer.exists():
            return None
        weights = Path(directory) / json.loads(pointer.read_text())["weights"]
        return weights if weights.exists() else None

    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def save(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        step = self._step()
        weights = self.directory / f"step-{step:09d}.weights.h5"
        # Written under a temporary name first: an epoch-end save can repeat the last step's
        # name, and a failed overwrite must not damage the good file.
        partial = self.directory / f".partial-{weights.name}"
        tmp = self.directory / "latest.json.tmp"
        try:
            self.model.save_weights(str(partial))
            os.replace(partial, weights)
            tmp.write_text(json.dumps({"weights": weights.name, "step": step}))
            os.replace(tmp, self.directory / "latest.json")
        except OSError as err:  # disk full: drop the partial files, keep the last good state
            for leftover in (partial, tmp):
                leftover.unlink(missing_ok=True)
            previous = self.latest(self.directory)
            kept = (f"the previous state {previous.name} is intact and resumes the run"
                    if previous else "no earlier state exists")
            raise StorageError(f"{weights}: cannot write the resume state "
                               f"({err.strerror or err}); {kept}") from err
        for old in self.directory.glob("step-*.weights.h5"):
            if old != weights:
                old.unlink()

    def on_train_batch_end(self, batch, logs=None):
        if self._step() % self.every_steps == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimiser's current learning rate to the epoch logs (CSV and TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)


class WallClock(keras.callbacks.Callback):
    """Adds ``wall_s`` (seconds since training started in this process) and ``cpu_s`` (CPU
    seconds of this process over the same span, all threads) to the epoch logs, and stops
    training at the first epoch end where the ``clock`` (``wall`` or ``cpu``) has passed
    ``budget_s``, so runs can be given equal time. On a shared machine ``cpu`` is the fair clock:
    it counts only the time the run really had."""

    def __init__(self, budget_s: float | None = None, clock: str = "wall"):
        super().__init__()
        if clock not in ("wall", "cpu"):
            raise ConfigError(f"train.time_budget_clock must be wall or cpu, received {clock!r}")
        self.budget_s = budget_s
        self.clock = clock
        self.start = time.perf_counter()
        self.start_cpu = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        spent = {"wall": time.perf_counter() - self.start,
                 "cpu": time.process_time() - self.start_cpu}
        if logs is not None:
            logs["wall_s"], logs["cpu_s"] = spent["wall"], spent["cpu"]
        if self.budget_s is not None and spent[self.clock] >= self.budget_s:
            print(f"\nTime budget of {self.budget_s / 60:g} {self.clock} min spent after epoch "
                  f"{epoch + 1}; stopping")
            self.model.stop_training = True


class ValidationPCKh(keras.callbacks.Callback):
    """Scores the validation split with the official PCKh (original pixels, record head sizes)
    and adds ``val_pckh`` to the epoch logs, so checkpointing can select on it."""

    def __init__(self, cfg: config_lib.Config, max_batches: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.max_batches = max_batches

    def on_epoch_end(self, epoch, logs=None):
        from tfpose.evaluate import evaluate_pose_model

        result = evaluate_pose_model(self.model, self.cfg, self.cfg.data.val_split,
                                     max_batches=self.max_batches)
        if logs is not None:
            logs["val_pckh"] = result["pckh"]["mean"]
            logs["val_pckh@0.1"] = result["pckh"]["mean@0.1"]
            logs["val_pck@0.2"] = result["pck"]["mean"]


def log_hyperparameters(cfg: config_lib.Config, log_dir: Path) -> None:
    """The resolved config as TensorBoard hyperparameters and as text."""
    from tensorboard.plugins.hparams import api as hp

    flat = {}
    for section, values in config_lib.to_dict(cfg).items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, (bool, int, float, str)):
                    flat[f"{section}.{key}"] = value
    with tf.summary.create_file_writer(str(log_dir / "hparams")).as_default():
        hp.hparams(flat)
        tf.summary.text("config", "```\n" + config_lib.dump(cfg) + "\n```", step=0)


# -- the training entry point -------------------------------------------------------------------


def init_weights_path(source: str) -> Path:
    """``train.init_weights`` -> a weights file: a ``.keras`` / ``.weights.h5`` file, a work dir
    (its ``best.keras``) or a shipped model's name (``tfpose models``)."""
    from tfpose import zoo

    path = Path(zoo.resolve(source))
    if path.is_dir():
        path = path / "best.keras"
    if not path.is_file():
        raise ConfigError(f"train.init_weights={source!r}: no weights at {path}")
    return path


# What a run writes into its work dir besides config.yaml (cleared by --overwrite).
RUN_OUTPUTS = ("state", "tb", "best.keras", "model.keras", "log.csv", "history.json",
               "classes.json")


def prepare_workdir(cfg: config_lib.Config, workdir: Path, overwrite: bool) -> bool:
    """Writes config.yaml; returns True when ``workdir`` already holds this run (resume)."""
    workdir.mkdir(parents=True, exist_ok=True)
    resolved = config_lib.dump(cfg)
    path = workdir / "config.yaml"
    if path.exists() and not overwrite:
        if path.read_text() != resolved:
            raise ConfigError(
                f"{workdir}: holds a run with a different config.yaml; use another --workdir "
                "or --overwrite to start afresh there"
            )
        return True
    if overwrite:  # nothing of the earlier run may be mistaken for this one's
        for name in RUN_OUTPUTS:
            stale = workdir / name
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    path.write_text(resolved)
    return False


def train(cfg: config_lib.Config, workdir: str | Path, *, overwrite: bool = False,
          verbose: int | str = "auto") -> dict:
    """Trains ``cfg`` into ``workdir``; resumes when the work dir holds the same run.

    Returns a summary: history (per epoch), steps, precision, the paths written.
    """
    from tfpose.data.integrity import named_shard_errors

    if cfg.train.strategy == "multi_worker":  # Model.fit fails there (keras-team/keras#20585)
        from tfpose.distributed import train_multi_worker

        return train_multi_worker(cfg, workdir, overwrite=overwrite)
    budget = cfg.train.time_budget_minutes
    clock = WallClock(None if budget is None else 60.0 * budget,  # the clock starts here
                      cfg.train.time_budget_clock)
    workdir = Path(workdir)
    prepare_workdir(cfg, workdir, overwrite)
    keras.utils.set_random_seed(cfg.train.seed)
    precision = resolve_precision(cfg.train.precision)
    manifest = read_manifest(cfg.data.dir)
    classes = manifest.get("classes", [])
    if cfg.model.kind in CLASSIFIER_KINDS:
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
    monitor = ("val_pckh", "max") if cfg.model.kind in POSE_KINDS else ("val_accuracy", "max")
    callbacks = [LearningRateLogger()]
    if cfg.model.kind in POSE_KINDS:
        callbacks.append(ValidationPCKh(cfg, max_batches=cfg.train.validation_steps))
    if cfg.train.image_summary_every:
        from tfpose.summaries import SkeletonImages

        callbacks.append(SkeletonImages(cfg, log_dir / "images", cfg.train.image_summary_every))
    callbacks += [
        clock,  # after the validation callbacks (their time counts), before the CSV log
        keras.callbacks.ModelCheckpoint(str(workdir / "best.keras"), monitor=monitor[0],
                                        mode=monitor[1], save_best_only=True),
        keras.callbacks.CSVLogger(str(workdir / "log.csv"), append=True),
        keras.callbacks.TensorBoard(str(log_dir), profile_batch=cfg.train.profile_batch or 0),
        keras.callbacks.TerminateOnNaN(),
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

    model.save(str(workdir / "model.keras"))
    (workdir / "history.json").write_text(json.dumps(history, indent=1))
    steps_done = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    return {"steps": steps_done, "resumed_from": start_step, "precision": precision,
            "history": history, "workdir": str(workdir)}
