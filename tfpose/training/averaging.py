"""Uniform averages of a run's saved epochs (stochastic weight averaging, Izmailov et al. 2018,
whose argument is that the epochs of a schedule's tail sit around one minimum and their mean
nearer its centre). ``train.keep_epochs`` keeps the epochs (``workdir.EPOCH_CHECKPOINT``);
``scripts/average_epochs.py`` writes their mean. Measured on the shipped ``lspet`` (README,
"Real photos"): the mean of session 8's epochs 5-8 scored above each of them on LSPET's whole
photos (63.47 against 62.48-63.08), not on LSP's 100 (83.86 against 83.43-84.79).

Every float variable is averaged, batch-norm moving statistics included. SWA's authors instead
re-measure those statistics under the averaged weights with a pass over the training data; the
mean of the epochs' statistics needs no data, and it is what the scores above measured.
Integer variables (counters) are taken from the first model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from tfpose.core.errors import DataError
from tfpose.tasks.workdir import EPOCH_CHECKPOINT


def epoch_paths(workdir, first: int, last: int) -> list[Path]:
    """The kept models (``workdir.EPOCH_CHECKPOINT``) of epochs ``first`` .. ``last`` (1-based,
    inclusive); a DataError names the first one missing."""
    paths = [Path(workdir) / EPOCH_CHECKPOINT.format(epoch=n) for n in range(first, last + 1)]
    if not paths:
        raise DataError(f"no epochs in {first}..{last}")
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such epoch (was the run trained with "
                            "train.keep_epochs=true, and that long?)")
    return paths


def average_models(paths: Sequence) -> "keras.Model":  # noqa: F821
    """The model of ``paths[0]`` with every float variable replaced by its mean over all
    ``paths`` (the same architecture; a DataError names a file that differs)."""
    import keras

    from tfpose.models import register_custom_objects

    register_custom_objects()
    model = keras.saving.load_model(str(paths[0]), compile=False)
    shapes = [tuple(v.shape) for v in model.weights]
    total = [np.zeros(s, np.float64) for s in shapes]
    for path in paths:
        other = model if path == paths[0] else keras.saving.load_model(str(path), compile=False)
        if [tuple(v.shape) for v in other.weights] != shapes:
            raise DataError(f"{path}: not the architecture of {paths[0]}")
        for i, variable in enumerate(other.weights):
            total[i] += keras.ops.convert_to_numpy(variable)
    for variable, summed in zip(model.weights, total):
        if np.issubdtype(np.dtype(variable.dtype), np.floating):
            variable.assign((summed / len(paths)).astype(variable.dtype))
    return model
