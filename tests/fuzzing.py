"""Seeded byte mutations for the fuzz tests (``tests/datasets/test_fuzz.py``,
``tests/serving/test_images_fuzz.py``): the damage files suffer on disks and in transfers."""

from __future__ import annotations

import numpy as np


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One of: truncate, flip 1-8 random bytes, overwrite a run with junk, duplicate a slice."""
    data = bytearray(data)
    kind = rng.integers(4)
    if kind == 0 or not data:
        return bytes(data[: rng.integers(len(data) + 1)])
    if kind == 1:
        for _ in range(rng.integers(1, 9)):
            data[rng.integers(len(data))] ^= int(rng.integers(1, 256))
        return bytes(data)
    start = int(rng.integers(len(data)))
    length = int(rng.integers(1, 64))
    if kind == 2:
        data[start:start + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        return bytes(data)
    return bytes(data[:start] + data[start:start + length] * 3 + data[start:])
