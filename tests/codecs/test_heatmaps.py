"""Heatmap codec: encode -> decode round trip, weights, batching, graph mode."""

import numpy as np
import pytest
import tensorflow as tf

from tfpose.codecs import heatmap as heatmaps


def _random_keypoints(rng, shape, size, margin=12.0):
    return rng.uniform(margin, size - margin, size=shape + (2,)).astype(np.float32)


@pytest.mark.parametrize("subpixel, tolerance", [("quarter", 0.25 + 1e-4), ("gaussian", 0.02)])
def test_round_trip_within_half_pixel_at_stride_4(subpixel, tolerance):
    rng = np.random.default_rng(0)
    stride, size = 4, 64
    keypoints = _random_keypoints(rng, (3, 16), size)  # sub-pixel positions, input pixels
    maps, weights = heatmaps.encode(keypoints, np.ones((3, 16)), size // stride, stride, 2.0)
    assert maps.shape == (3, 16, 16, 16) and maps.dtype == tf.float32
    decoded, scores = heatmaps.decode(maps, subpixel=subpixel)
    error = np.abs(decoded.numpy() - keypoints / stride)  # heatmap pixels
    assert error.max() <= tolerance
    assert error.max() < 0.5
    if subpixel == "gaussian":  # exact enough to be within half an INPUT pixel as well
        assert (error * stride).max() < 0.5
    np.testing.assert_allclose(weights.numpy(), 1.0)
    assert scores.shape == (3, 16) and np.all(scores.numpy() > 0.8)


def test_peak_is_one_and_unlabelled_joints_are_empty():
    keypoints = np.array([[8.0, 12.0], [20.0, 20.0]], np.float32)
    maps, weights = heatmaps.encode(keypoints, [1, 0], 16, 2, 1.5)
    assert maps.shape == (16, 16, 2)
    assert maps[6, 4, 0].numpy() == pytest.approx(1.0)  # (x, y) / stride = (4, 6)
    assert float(tf.reduce_max(maps[..., 1])) == 0.0
    np.testing.assert_array_equal(weights.numpy(), [1.0, 0.0])


def test_gaussian_outside_the_heatmap_gets_weight_zero():
    keypoints = np.array([[-40.0, 10.0], [10.0, 200.0], [-2.0, 10.0]], np.float32)
    _, weights = heatmaps.encode(keypoints, np.ones(3), 16, 4, 2.0)
    # The last centre is just outside but its 3-sigma square overlaps: still supervised.
    np.testing.assert_array_equal(weights.numpy(), [0.0, 0.0, 1.0])


def test_decode_quarter_shift_toward_larger_neighbour_and_border():
    maps = np.zeros((1, 8, 8, 3), np.float32)
    maps[0, 4, 3, 0], maps[0, 4, 4, 0] = 1.0, 0.5  # right neighbour larger -> +0.25 in x
    maps[0, 5, 2, 1], maps[0, 4, 2, 1] = 1.0, 0.3  # upper neighbour larger -> -0.25 in y
    maps[0, 0, 0, 2], maps[0, 0, 1, 2] = 1.0, 0.9  # on the border: no shift
    keypoints, scores = heatmaps.decode(maps)
    np.testing.assert_allclose(keypoints.numpy()[0], [[3.25, 4.0], [2.0, 4.75], [0.0, 0.0]])
    np.testing.assert_allclose(scores.numpy()[0], [1.0, 1.0, 1.0])


def test_decode_in_a_tf_function_with_unknown_batch():
    rng = np.random.default_rng(1)
    keypoints = _random_keypoints(rng, (2, 16), 64)
    maps, _ = heatmaps.encode(keypoints, np.ones((2, 16)), 16, 4, 2.0)
    graph_decode = tf.function(
        heatmaps.decode, input_signature=[tf.TensorSpec([None, None, None, 16], tf.float32)]
    )
    eager, _ = heatmaps.decode(maps)
    graph, _ = graph_decode(maps)
    np.testing.assert_allclose(graph.numpy(), eager.numpy())


def test_unknown_subpixel_method_is_an_error():
    with pytest.raises(ValueError, match="subpixel"):
        heatmaps.decode(np.zeros((4, 4, 1), np.float32), subpixel="udp")


def test_dark_recovers_a_sub_pixel_peak_from_a_noisy_map():
    """A network's maps are not clean Gaussians. With noise of 5 % of the peak, the per-axis
    rules follow a noisy neighbour (quarter: 0.45, gaussian: 0.36 heatmap px on this seed), while
    DARK's smoothing with the training Gaussian and its 2-D Taylor step stay within 0.1 px. On
    the clean maps DARK is exact (peaks over 3 sigma from the border: see ``_gaussian_blur``)."""
    rng = np.random.default_rng(0)
    truth = np.array([[10.3, 17.8], [20.62, 7.41], [30.05, 30.95]], np.float32)  # heatmap px
    maps, _ = heatmaps.encode(truth * 4.0, np.ones(3), 40, 4, 2.0)
    clean, _ = heatmaps.decode(maps, subpixel="dark", sigma=2.0)
    assert np.abs(clean.numpy() - truth).max() < 0.01
    noisy = maps + rng.normal(0.0, 0.05, maps.shape).astype(np.float32)
    decoded, scores = heatmaps.decode(noisy, subpixel="dark", sigma=2.0)
    assert np.abs(decoded.numpy() - truth).max() < 0.1
    for rule in ("quarter", "gaussian"):  # the case DARK is for
        other, _ = heatmaps.decode(noisy, subpixel=rule)
        assert np.abs(other.numpy() - truth).max() > 0.3
    np.testing.assert_allclose(scores.numpy(), tf.reduce_max(noisy, axis=[0, 1]).numpy())
