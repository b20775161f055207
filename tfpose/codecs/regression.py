"""Regression codec: keypoints in input pixels <-> the coordinate frame a regressor predicts.

Frames (``data.coord_frame``), for an ``S x S`` input:

- ``centered``: ``x - S/2`` (pixels from the image centre, in [-S/2, S/2]);
- ``unit``: ``(x - S/2) / (S/2)`` (in [-1, 1]).

``encode`` makes the training targets, ``decode`` reads predictions back, and ``half_size`` is
the half input side ``S/2`` measured in the frame: the regression head predicts in units of
``S/2`` (values of order 1 from a fresh Dense layer) and multiplies by it. Shapes ``... x K x 2``
are kept; numpy arrays and TF tensors alike.
"""

from __future__ import annotations

from tfpose.config import COORD_FRAMES
from tfpose.core.errors import ConfigError


def half_size(input_size: int, frame: str) -> float:
    """``S/2`` in ``frame`` coordinates: S/2 for ``centered``, 1 for ``unit``."""
    if frame not in COORD_FRAMES:
        raise ConfigError(f"data.coord_frame: received {frame!r}; expected one of "
                          f"{', '.join(COORD_FRAMES)}")
    return input_size / 2.0 if frame == "centered" else 1.0


def encode(keypoints, input_size: int, frame: str):
    """Input pixels ``... x K x 2`` -> coordinates in ``frame``."""
    half = input_size / 2.0
    centred = keypoints - half
    return centred if half_size(input_size, frame) == half else centred / half


def decode(coords, input_size: int, frame: str):
    """Coordinates in ``frame`` ``... x K x 2`` -> input pixels (the inverse of ``encode``)."""
    half = input_size / 2.0
    return coords + half if half_size(input_size, frame) == half else coords * half + half
