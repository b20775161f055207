"""``benchmarks/multi_person.py``'s box check: boxes are matched one to one to the persons at
IoU 0.5, a box on an ``ignore`` person is neither a find nor a stray."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "multi_person.py"


@pytest.fixture(scope="module")
def bench():
    """The script's functions (run as a module, not as __main__: nothing is predicted)."""
    return SimpleNamespace(**runpy.run_path(str(SCRIPT), run_name="multi_person_scoring"))


def test_boxes_match_persons_one_to_one_and_ignore_the_ignored(bench):
    entry = {"width": 100, "height": 80, "persons": [
        {"box": [0, 0, 40, 80], "ignore": False},
        {"box": [50, 0, 90, 80], "ignore": False},
        {"box": [60, 40, 120, 90], "ignore": True}]}  # reaches past the photo: clipped
    boxes = np.array([[2, 0, 40, 78],     # the first person
                      [1, 1, 41, 79],     # the first person again: already taken, a stray
                      [60, 40, 100, 80],  # the ignored person (as clipped): neither
                      [52, 2, 88, 80]],   # the second person
                     np.float32)
    assert bench.box_matches(boxes, entry) == (2, 1)
    assert bench.box_matches(boxes[:0], entry) == (0, 0)
