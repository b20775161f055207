"""The One-Euro filter: cuts the jitter of a still joint, follows a moving one with little lag."""

from __future__ import annotations

import numpy as np
import pytest

from tfpose.serving.smoothing import BETA, MIN_CUTOFF, OneEuroFilter, smoothing_factor

FPS = 25.0


def run(filt, values):
    return np.array([filt(v, i / FPS) for i, v in enumerate(values)])


def test_defaults_cut_the_jitter_of_a_still_point():
    """A still joint at 100 px with white noise of sd 2 px, 250 frames at 25 fps.

    The noise's own speed is ~70 px/s (sd of a difference of two 2 px draws, x 25 fps); low-passed
    at D_CUTOFF = 4 Hz (alpha 0.5) its mean magnitude is ~30-40 px/s, so the cutoff is MIN_CUTOFF
    + BETA x 30-40 = 4-5 Hz, alpha 0.5-0.55, and an exponential average with alpha keeps
    sqrt(alpha / (2 - alpha)) = 0.58-0.61 of white noise's sd (measured 0.67: the cutoff moves
    with the noise) and less of its frame-to-frame step (measured 0.41). The test asks for under
    0.75 of the sd and 0.5 of the mean step (the jitter a viewer sees), after one second: a
    filter that passed the values through (ratio 1) fails both.
    """
    rng = np.random.default_rng(0)
    noisy = 100.0 + rng.normal(0.0, 2.0, (250, 16, 2))
    smooth = run(OneEuroFilter(), noisy)[25:]
    noisy = noisy[25:]
    assert smooth.std() < 0.75 * noisy.std()
    step = lambda a: np.abs(np.diff(a, axis=0)).mean()  # noqa: E731
    assert step(smooth) < 0.5 * step(noisy)
    assert abs(smooth.mean() - 100.0) < 0.2  # no bias
    # A plain 1 Hz low-pass (beta 0) smooths more: the speed term is what opens the defaults.
    assert run(OneEuroFilter(beta=0.0), noisy).std() < 0.5 * noisy.std()


def test_a_step_is_followed_within_one_frame():
    """A joint jumping 100 px at frame 50 (a pose model changing its mind: 2500 px/s for a frame).

    Frame 1 after: speed 2500 px/s, its 4 Hz low-pass (alpha 0.50) 1253 -> cutoff 1 + 0.1 x 1253
    = 126 Hz, alpha 0.97: 96.9 px covered; frame 2 is within 0.5 px. With beta = 0 (a plain 1 Hz
    low-pass, alpha 0.2) 0.8^4 = 41 px would remain after 4 frames."""
    values = np.where(np.arange(80) < 50, 100.0, 200.0)
    smooth = run(OneEuroFilter(), values)
    assert smooth[49] == pytest.approx(100.0)
    assert 195.0 < smooth[50] < 199.0          # alpha ~0.97 on the first frame
    assert abs(smooth[51] - 200.0) < 0.5        # within 2 frames
    lagging = run(OneEuroFilter(beta=0.0), values)
    assert abs(lagging[53] - 200.0) > 35.0      # the speed term is what follows the step


def test_reset_takes_the_next_value_as_is_and_nan_passes_through():
    filt = OneEuroFilter()
    filt(np.array([10.0, 10.0]), 0.0)
    assert filt(np.array([50.0, 50.0]), 0.04)[0] < 50.0
    filt.reset()
    np.testing.assert_array_equal(filt(np.array([50.0, 50.0]), 0.08), [50.0, 50.0])
    out = filt(np.array([np.nan, 60.0]), 0.12)
    assert np.isnan(out[0]) and 50.0 < out[1] < 60.0
    assert filt(np.array([70.0, 60.0]), 0.16)[0] == 70.0  # restarts from the new value


def test_smoothing_factor_and_bad_parameters():
    assert smoothing_factor(MIN_CUTOFF, 1 / FPS) == pytest.approx(1 / (1 + FPS / (2 * np.pi)))
    assert BETA > 0
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0.0)
