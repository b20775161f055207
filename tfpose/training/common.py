"""What both trainers share: ``train.train`` (``Model.fit``) and ``distributed.train_multi_worker``
(the multi-worker loop) resolve precision and strategy, size epochs, build and compile the model
through its task, build their datasets and prepare the work dir here, so the two cannot drift.

The work dir layout is in ``training/train.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError, DataError
from tfpose.datasets.shards import read_manifest  # noqa: F401  (re-exported for the trainers)
from tfpose.tasks import get_task
from tfpose.training.callbacks import ResumeState


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


def _usable_records(manifest: dict, split: str, labelled_only: bool) -> int:
    if labelled_only:  # only labelled persons reach a classifier
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
    labelled_only = get_task(cfg).labelled_only
    count = sum(_usable_records(m, split, labelled_only) for m in manifests)
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
    """The untrained model of ``cfg`` (its task's builder); ``num_classes`` C for classifiers."""
    return get_task(cfg).build(num_classes=num_classes)


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
    """The configured optimiser with ``learning_rate_schedule``; ``steps`` a epoch. With
    ``train.ema_momentum`` it also keeps the weights' moving average (its own variables, so the
    resume state carries it)."""
    lr = learning_rate_schedule(train_cfg, steps)
    name = train_cfg.optimizer
    momentum = train_cfg.ema_momentum
    if momentum is not None and not 0.0 < momentum < 1.0:
        raise ConfigError(f"train.ema_momentum must be in (0, 1) or null. Received: {momentum!r}")
    ema = {"use_ema": momentum is not None, "ema_momentum": momentum or 0.99}
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=train_cfg.momentum, nesterov=train_cfg.nesterov,
                                    **ema)
    if name == "adam":
        return keras.optimizers.Adam(lr, **ema)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=train_cfg.weight_decay, **ema)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr, **ema)
    raise ConfigError(f"train.optimizer must be sgd, adam, adamw or rmsprop. Received: {name!r}")


def compile_model(model: keras.Model, cfg: config_lib.Config, optimizer) -> None:
    """Losses and metrics of ``cfg``'s task (``Task.compile``)."""
    get_task(cfg).compile(model, optimizer)


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
    if uses_collectives(strategy):
        cfg = config_lib.replace(cfg, data=config_lib.replace(cfg.data, jit_compile=False))
    shuffled = config_lib.replace(cfg, train=config_lib.replace(cfg.train,
                                                                seed=cfg.train.seed + start_step))
    train_ds = get_task(shuffled).build_dataset(cfg.data.train_split, training=True, repeat=True)
    val_ds = get_task(cfg).build_dataset(cfg.data.val_split, training=False, repeat=val_repeat)
    return train_ds, val_ds


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


# -- the work dir ---------------------------------------------------------------------------------


def init_weights_path(source: str) -> Path:
    """``train.init_weights`` -> a weights file: a ``.keras`` / ``.weights.h5`` file, a work dir
    (its ``best.keras``) or a shipped model's name (``tfpose models``)."""
    from tfpose.core import zoo

    path = Path(zoo.resolve(source))
    if path.is_dir():
        path = path / "best.keras"
    if not path.is_file():
        raise ConfigError(f"train.init_weights={source!r}: no weights at {path}")
    return path


def load_matching_layers(model: keras.Model, path: Path) -> tuple[int, list[str]]:
    """Copies into ``model`` the weights of every layer of the saved model ``path`` (.keras)
    with the same name and weight shapes: a new head on a trained trunk. Returns (layers
    copied, names of ``model``'s weighted layers left as built)."""
    source = keras.saving.load_model(str(path), compile=False)
    layers = {layer.name: layer for layer in _all_layers(source)}
    copied, left = 0, []
    for layer in _all_layers(model):
        if not layer.weights:
            continue
        match = layers.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if match is None or [tuple(w.shape) for w in match.weights] != shapes:
            left.append(layer.name)
            continue
        layer.set_weights(match.get_weights())
        copied += 1
    if not copied:
        raise ConfigError(f"train.init_weights={path}: no layer of it matches this model "
                          "(same name and weight shapes)")
    return copied, left


def _all_layers(model: keras.Model):
    """The model's layers, nested models' layers included (a two-stage model's pose half)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


# What a run writes into its work dir besides config.yaml (cleared by --overwrite).
RUN_OUTPUTS = ("state", "tb", "best.keras", "model.keras", "log.csv", "history.json",
               "classes.json")


# How long this process may train: a resumed run (the next session's leg of a long schedule)
# gets its own budget, so these keys do not make it a different run.
RUN_CONTROL = ("time_budget_minutes", "time_budget_clock")


def _run_identity(cfg: config_lib.Config) -> str:
    """``cfg`` dumped without its ``RUN_CONTROL`` keys: what two runs must share to be one."""
    train = config_lib.replace(cfg.train, **{key: None for key in RUN_CONTROL})
    return config_lib.dump(config_lib.replace(cfg, train=train))


def prepare_workdir(cfg: config_lib.Config, workdir: Path, overwrite: bool) -> bool:
    """Writes config.yaml; returns True when ``workdir`` already holds this run (resume).

    A resumed run may bring a new ``train.time_budget_minutes`` / ``time_budget_clock``
    (written to config.yaml); any other difference is refused."""
    workdir.mkdir(parents=True, exist_ok=True)
    resolved = config_lib.dump(cfg)
    path = workdir / "config.yaml"
    if path.exists() and not overwrite:
        if _run_identity(config_lib.load(path)) != _run_identity(cfg):
            raise ConfigError(
                f"{workdir}: holds a run with a different config.yaml; use another --workdir "
                "or --overwrite to start afresh there"
            )
        path.write_text(resolved)
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
