"""Flip test for heatmap models: the mirrored input's heatmaps, mirrored back, peak where the
plain input's do (the pixel convention of ``tf.reverse``: input x mirrors to S - 1 - x)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfpose.codecs import heatmap as heatmap_codec  # noqa: E402
from tfpose.core import geometry  # noqa: E402

SIZE, STRIDE = 64, 4


@pytest.mark.parametrize("x", [20.0, 31.3, 40.6])
def test_mirrored_heatmaps_peak_at_the_original_joint(x):
    keypoints = np.zeros((16, 2), np.float32)
    keypoints[:, 0], keypoints[:, 1] = x, 30.0
    # What a perfect model sees in the mirrored input: every joint at S - 1 - x, left and right
    # swapped (all joints share x here, so only the position matters).
    mirrored = keypoints.copy()
    mirrored[:, 0] = SIZE - 1 - x
    maps, _ = heatmap_codec.encode(mirrored, np.ones(16), SIZE // STRIDE, STRIDE, 2.0)
    back = geometry.mirror_heatmaps(maps[None], STRIDE)
    decoded, _ = heatmap_codec.decode(back, STRIDE, "dark", 2.0)
    np.testing.assert_allclose(decoded.numpy()[0, :, 0], x, atol=0.15)
    np.testing.assert_allclose(decoded.numpy()[0, :, 1], 30.0, atol=0.05)
    # Reversing alone (no shift) is stride - 1 = 3 input px off to the left.
    unshifted, _ = heatmap_codec.decode(geometry.mirror_heatmaps(maps[None], 1), STRIDE, "dark",
                                        2.0)
    np.testing.assert_allclose(unshifted.numpy()[0, :, 0], x - (STRIDE - 1), atol=0.15)
