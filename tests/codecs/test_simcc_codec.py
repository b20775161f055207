"""SimCC codec: encode -> decode recovers sub-pixel keypoints, weights, scores, the mirror."""

import numpy as np
import pytest
import tensorflow as tf

from tfpose.codecs import simcc

SIZE = 64


def _logits(targets):
    """Logits whose softmax is ``targets`` (log, floored where a tail underflowed to 0)."""
    return tf.math.log(tf.maximum(targets, 1e-30))


def test_targets_are_normalised_gaussians_on_the_bin_grid():
    keypoints = np.array([[[10.25, 40.0]]], np.float32)  # B=1, K=1
    x, y, weights = simcc.encode(keypoints, [[1]], SIZE, split_ratio=2, sigma=4.0)
    assert x.shape == y.shape == (1, 1, SIZE * 2) and x.dtype == tf.float32
    np.testing.assert_allclose(x.numpy().sum(-1), 1.0, atol=1e-5)
    # Bin b is input coordinate b / 2: the x mass is centred at bin 20.5, y's peak is bin 80.
    bins = np.arange(SIZE * 2)
    assert (x.numpy()[0, 0] * bins).sum() == pytest.approx(20.5, abs=1e-3)
    assert int(np.argmax(y.numpy()[0, 0])) == 80
    np.testing.assert_allclose(weights.numpy(), [[1.0]])


@pytest.mark.parametrize("split_ratio", [1, 2, 3])
def test_round_trip_recovers_known_sub_pixel_keypoints(split_ratio):
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(1.0, SIZE - 2.0, (3, 16, 2)).astype(np.float32)
    keypoints[0, 0] = (17.3, 42.85)  # a known sub-pixel (and sub-bin) position
    x, y, weights = simcc.encode(keypoints, np.ones((3, 16)), SIZE, split_ratio, sigma=4.0)
    decoded, scores = simcc.decode(_logits(x), _logits(y), split_ratio, sigma=4.0)
    assert decoded.shape == (3, 16, 2) and scores.shape == (3, 16)
    # The log-parabola is exact for a Gaussian: far below the bin (1 / r px) and the pixel.
    np.testing.assert_allclose(decoded.numpy(), keypoints, atol=0.01)
    np.testing.assert_allclose(decoded.numpy()[0, 0], (17.3, 42.85), atol=0.01)
    np.testing.assert_allclose(weights.numpy(), 1.0)
    # A prediction as sharp as the target scores ~1 (as a heatmap maximum), never above.
    assert np.all(scores.numpy() > 0.95) and np.all(scores.numpy() <= 1.0)


def test_integer_argmax_alone_would_miss_the_sub_bin_offset():
    """The refinement is what recovers the quarter bin (guards against losing it)."""
    x, y, _ = simcc.encode(np.array([[[20.125, 20.125]]], np.float32), [[1]], SIZE)
    assert int(np.argmax(x.numpy()[0, 0])) / 2 == 20.0
    decoded, _ = simcc.decode(_logits(x), _logits(y))
    np.testing.assert_allclose(decoded.numpy()[0, 0], (20.125, 20.125), atol=0.005)


def test_unlabelled_or_outside_joints_get_zero_weight_and_zero_targets():
    keypoints = np.array([[[30.0, 30.0], [30.0, 30.0], [-1.0, 30.0], [30.0, SIZE - 0.2],
                           [SIZE - 0.5, 0.0]]], np.float32)
    x, y, weights = simcc.encode(keypoints, [[1, 0, 1, 1, 1]], SIZE)
    # Unlabelled; left of pixel 0; below the last bin (63.5); the last bin and bin 0 are in.
    np.testing.assert_array_equal(weights.numpy(), [[1, 0, 0, 0, 1]])
    for targets in (x, y):
        sums = targets.numpy().sum(-1)[0]
        np.testing.assert_allclose(sums, [1, 0, 0, 0, 1], atol=1e-5)


def test_scores_fall_with_a_flat_prediction_and_take_the_weaker_axis():
    x, y, _ = simcc.encode(np.array([[[30.0, 30.0]]], np.float32), [[1]], SIZE)
    flat = tf.zeros_like(x)  # uniform: 1 / 128 per bin
    _, sharp = simcc.decode(_logits(x), _logits(y))
    _, half = simcc.decode(_logits(x), flat)
    assert sharp.numpy()[0, 0] == pytest.approx(1.0, abs=1e-3)
    expected = (1.0 / (SIZE * 2)) / simcc.peak_probability(4.0)
    assert half.numpy()[0, 0] == pytest.approx(expected, rel=1e-3)
    assert simcc.peak_probability(4.0) == pytest.approx(1.0 / (4.0 * np.sqrt(2 * np.pi)),
                                                         rel=1e-3)


@pytest.mark.parametrize("split_ratio", [1, 2])
def test_mirror_of_a_mirrored_images_targets_is_the_original_targets(split_ratio):
    """Bins follow tf.reverse's pixel convention: x in the mirror is S - 1 - x."""
    keypoints = np.array([[[12.3, 5.0], [50.75, 9.0]]], np.float32)
    mirrored = keypoints.copy()
    mirrored[..., 0] = SIZE - 1 - mirrored[..., 0]
    x, _, _ = simcc.encode(keypoints, [[1, 1]], SIZE, split_ratio)
    x_mirror, _, _ = simcc.encode(mirrored, [[1, 1]], SIZE, split_ratio)
    back = simcc.mirror(x_mirror, split_ratio)
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-6)
    decoded, _ = simcc.decode(_logits(back), _logits(back), split_ratio)
    np.testing.assert_allclose(decoded.numpy()[..., 0], keypoints[..., 0], atol=0.01)


def test_decode_runs_in_a_graph_with_unknown_batch():
    fn = tf.function(lambda a, b: simcc.decode(a, b),
                     input_signature=[tf.TensorSpec([None, 16, SIZE * 2], tf.float32)] * 2)
    x, y, _ = simcc.encode(np.full((2, 16, 2), 33.3, np.float32), np.ones((2, 16)), SIZE)
    keypoints, _ = fn(_logits(x), _logits(y))
    np.testing.assert_allclose(keypoints.numpy(), 33.3, atol=0.01)
