"""The uniform average of kept epochs: every float variable (batch-norm statistics too) is the
mean over the files; a missing epoch or another architecture is a clear error."""

import keras
import numpy as np
import pytest

from tfpose.core.errors import DataError
from tfpose.training.averaging import average_models, epoch_paths


def _save_epoch(workdir, epoch: int, scale: float, units: int = 2):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units),
                              keras.layers.BatchNormalization()])
    for variable in model.weights:
        variable.assign(np.full(variable.shape, scale * (1 + variable.shape[-1]), np.float32))
    path = workdir / "epochs" / f"epoch-{epoch:03d}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def test_the_average_of_epochs_is_the_mean_of_every_variable(tmp_path):
    models = [_save_epoch(tmp_path, n, scale) for n, scale in ((1, 9.0), (2, 1.0), (3, 2.0),
                                                                (4, 6.0))]
    averaged = average_models(epoch_paths(tmp_path, 2, 4))  # 1, 2, 6: mean 3
    names = [v.path for v in averaged.weights]
    assert any("moving_variance" in n for n in names) and any("kernel" in n for n in names)
    for got, want in zip(averaged.weights, models[0].weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got),
                                   keras.ops.convert_to_numpy(want) / 9.0 * 3.0, rtol=1e-6)


def test_a_missing_epoch_or_another_architecture_is_refused(tmp_path):
    _save_epoch(tmp_path, 1, 1.0)
    with pytest.raises(DataError, match="epoch-002.keras: no such epoch"):
        epoch_paths(tmp_path, 1, 2)
    _save_epoch(tmp_path, 2, 1.0, units=4)
    with pytest.raises(DataError, match="epoch-002.keras: not the architecture"):
        average_models(epoch_paths(tmp_path, 1, 2))
