"""The weights' moving average (``train.ema_momentum``): the epoch end and the saved model read
the average, training and its resume state go on from the trained weights."""

import keras
import numpy as np
import pytest

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError
from tfpose.training.callbacks import AveragedWeights
from tfpose.training.common import make_optimizer


def _trained_model(momentum=0.5, steps=3):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=momentum), loss="mse")
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model


def _values(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def test_swapping_puts_the_average_in_the_model_and_back():
    model = _trained_model()
    trained = _values(model.trainable_variables)
    average = _values(model.optimizer._model_variables_moving_average)
    assert not np.allclose(trained[0], average[0])  # 3 steps of lr 0.1 at momentum 0.5 differ
    averaged = AveragedWeights()
    averaged.swap(model)
    for got, want in zip(_values(model.trainable_variables), average):
        np.testing.assert_array_equal(got, want)
    averaged.swap(model)
    for got, want in zip(_values(model.trainable_variables), trained):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(_values(model.optimizer._model_variables_moving_average), average):
        np.testing.assert_array_equal(got, want)


def test_the_trained_weights_come_back_after_fit_finalises_the_average():
    model = _trained_model()
    averaged = AveragedWeights()
    averaged.remember_training_weights(model)
    trained = _values(model.trainable_variables)
    model.optimizer.finalize_variable_values(model.trainable_variables)  # what fit does last
    assert not np.allclose(_values(model.trainable_variables)[0], trained[0])
    averaged.restore_training_weights(model)
    for got, want in zip(_values(model.trainable_variables), trained):
        np.testing.assert_array_equal(got, want)


def test_a_momentum_outside_zero_one_is_refused():
    with pytest.raises(ConfigError, match="ema_momentum"):
        make_optimizer(config_lib.TrainConfig(ema_momentum=1.0), steps=10)
    assert make_optimizer(config_lib.TrainConfig(ema_momentum=0.9), steps=10).use_ema
    assert not make_optimizer(config_lib.TrainConfig(), steps=10).use_ema


def test_a_run_saves_the_average_and_resumes_from_the_trained_weights(tiny_dataset, tmp_path):
    from tfpose.training import train as train_lib
    from tfpose.training.callbacks import ResumeState

    cfg = config_lib.from_dict({
        "data": {"dir": str(tiny_dataset), "input_size": 64, "batch_size": 2},
        "model": {"kind": "cdrp", "fc_units": 16},
        "train": {"epochs": 2, "steps_per_epoch": 3, "validation_steps": 1, "ema_momentum": 0.5,
                  "precision": "float32", "strategy": "default", "learning_rate": 0.01,
                  "image_summary_every": 0},
    })  # fmt: skip
    workdir = tmp_path / "run"
    train_lib.train(cfg, workdir, verbose=0)

    saved = keras.saving.load_model(workdir / "model.keras", compile=False)
    state = train_lib.build_model(cfg)
    train_lib.compile_model(state, cfg, train_lib.make_optimizer(cfg.train, 3))
    state.optimizer.build(state.trainable_variables)
    state.load_weights(str(ResumeState.latest(workdir / "state")))
    assert int(keras.ops.convert_to_numpy(state.optimizer.iterations)) == 6
    average = _values(state.optimizer._model_variables_moving_average)
    trained = _values(state.trainable_variables)
    by_path = {v.path: keras.ops.convert_to_numpy(v) for v in saved.trainable_variables}
    final = [by_path[v.path] for v in state.trainable_variables]
    assert all(np.allclose(f, a, atol=1e-6) for f, a in zip(final, average))
    assert not all(np.allclose(f, t, atol=1e-6) for f, t in zip(final, trained))
