"""Keras callbacks of a training run: resume state, learning-rate and clock logging, the time
budget and validation PCKh (``training/train.py`` assembles them)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError, StorageError


def current_learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(lr))


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
        from tfpose.evaluation.evaluate import evaluate_pose_model

        result = evaluate_pose_model(self.model, self.cfg, self.cfg.data.val_split,
                                     max_batches=self.max_batches)
        if logs is not None:
            logs["val_pckh"] = result["pckh"]["mean"]
            logs["val_pckh@0.1"] = result["pckh"]["mean@0.1"]
            logs["val_pck@0.2"] = result["pck"]["mean"]


class AveragedWeights:
    """The optimiser's moving average of the weights (``train.ema_momentum``) in the model for
    what an epoch end reads: validation, the skeleton images, ``best.keras``.

    Two callbacks around those: ``swap_in`` (first in the list) puts the average in the model,
    ``swap_out`` (after the checkpoint, before ``ResumeState``) puts the trained weights back, so
    training continues from its own weights and the resume state holds both (the average is an
    optimizer variable). ``Model.fit`` ends by copying the average into the model
    (``finalize_variable_values``): ``model.keras`` is the average; ``restore_training_weights``
    undoes that when one run calls ``fit`` again (after a resumed run's interrupted epoch).
    """

    def __init__(self):
        self._trained = None
        self.swap_in = _SwapWeights(self, into_model=True)
        self.swap_out = _SwapWeights(self, into_model=False)

    @staticmethod
    def _pairs(model):
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # loss scaling
        if not getattr(optimizer, "use_ema", False):
            raise ConfigError("AveragedWeights needs an optimizer built with use_ema=True")
        # Keras's own SwapEMAWeights reads the same two lists: the trained variables and their
        # averages, index for index.
        return zip(optimizer._trainable_variables, optimizer._model_variables_moving_average)

    def swap(self, model):
        for variable, average in self._pairs(model):
            trained = keras.ops.convert_to_numpy(variable)
            variable.assign(average)
            average.assign(trained)

    def remember_training_weights(self, model):
        self._trained = [keras.ops.convert_to_numpy(v) for v, _ in self._pairs(model)]

    def restore_training_weights(self, model):
        """The weights as trained at the last epoch end, in place of ``fit``'s final average."""
        if self._trained is not None:
            for (variable, _), value in zip(self._pairs(model), self._trained):
                variable.assign(value)


class _SwapWeights(keras.callbacks.Callback):
    def __init__(self, owner: AveragedWeights, into_model: bool):
        super().__init__()
        self.owner, self.into_model = owner, into_model

    def on_epoch_end(self, epoch, logs=None):
        self.owner.swap(self.model)
        if not self.into_model:
            self.owner.remember_training_weights(self.model)
