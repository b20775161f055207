"""``scripts/make_multi_person_set.py --side-by-side``: whole photos placed side by side at one
height, each person's joints moved onto the same pixels of the new image."""

import runpy
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_multi_person_set.py"


def _photos(rng, count):
    """Photos of different sizes, each a dark field with 4 bright dots at its joints."""
    photos = []
    for n in range(count):
        height, width = int(rng.integers(60, 140)), int(rng.integers(50, 160))
        image = np.zeros((height, width, 3), np.uint8)
        keypoints = np.zeros((16, 3), np.float32)
        annotated = np.zeros(16, np.float32)
        for k in range(4):
            x, y = int(rng.integers(6, width - 6)), int(rng.integers(6, height - 6))
            image[y - 4:y + 5, x - 4:x + 5] = 255  # a 9 x 9 dot: it survives the resize
            keypoints[k] = [x, y, 1]
            annotated[k] = 1
        photos.append((image, keypoints, annotated))
    return photos


def test_side_by_side_joints_stay_on_their_pixels():
    namespace = runpy.run_path(str(SCRIPT), run_name="side_by_side_set")
    make = namespace["side_by_side_images"]
    photos = _photos(np.random.default_rng(0), 12)
    make.__globals__["val_photos"] = lambda data_dirs: iter(photos)
    images = list(make(["unused"], count=10, height=64, seed=3))
    assert 3 <= len(images) <= 6  # 2-4 photos each, no photo twice, until they run out
    used = 0
    for image, persons in images:
        assert image.shape[0] == 64 and 2 <= len(persons) <= 4
        for keypoints, annotated in persons:
            used += 1
            for x, y in keypoints[annotated > 0, :2]:
                assert image[int(round(y)), int(round(x))].min() > 100
    assert used <= len(photos)
