"""The One-Euro filter: cuts the jitter of a still joint, follows a moving one with little lag."""

from __future__ import annotations

import numpy as np
import pytest

from tfpose.serving.smoothing import BETA, MIN_CUTOFF, OneEuroFilter, smoothing_factor

FPS = 25.0


def run(filt, values):
    return np.array([filt(v, i / FPS) for i, v in enumerate(values)])


def test_defaults_cut_the_jitter_of_a_still_point_by_more_than_half():
    """A still joint at 100 px with white noise of sd 2 px, 250 frames at 25 fps.

    Still, the cutoff is MIN_CUTOFF = 1 Hz: alpha = 1 / (1 + 25 / (2 pi)) = 0.20, and an
    exponential average with alpha keeps sqrt(alpha / (2 - alpha)) = 0.33 of white noise's sd.
    The noise's own speed estimate (~25 px/s after its 1 Hz low-pass) raises the cutoff by
    BETA x 25 = 0.25 Hz only (alpha 0.24, ratio 0.37). The test asks for under 0.5 of the sd
    and of the mean frame-to-frame step (the jitter a viewer sees), after one second.
    """
    rng = np.random.default_rng(0)
    noisy = 100.0 + rng.normal(0.0, 2.0, (250, 16, 2))
    smooth = run(OneEuroFilter(), noisy)[25:]
    noisy = noisy[25:]
    assert smooth.std() < 0.5 * noisy.std()
    step = lambda a: np.abs(np.diff(a, axis=0)).mean()  # noqa: E731
    assert step(smooth) < 0.5 * step(noisy)
    assert abs(smooth.mean() - 100.0) < 0.2  # no bias


def test_a_step_is_followed_within_four_frames():
    """A joint jumping 100 px at frame 50 (a fast limb: 2500 px/s for one frame).

    Frame 1 after: speed 2500 px/s, its 1 Hz low-pass (alpha 0.2) 500 -> cutoff 1 + 0.01 x 500
    = 6 Hz, alpha 0.60: 60 px covered. Frame 2: speed 1000, smoothed 600 -> 7 Hz, alpha 0.64:
    85.6 px. Frame 3: 94.5 px. So within 4 frames the error is under 5 px; with beta = 0 (a
    plain 1 Hz low-pass, alpha 0.2) 0.8^4 = 41 px would remain."""
    values = np.where(np.arange(80) < 50, 100.0, 200.0)
    smooth = run(OneEuroFilter(), values)
    assert smooth[49] == pytest.approx(100.0)
    assert 150.0 < smooth[50] < 170.0          # alpha ~0.6 on the first frame
    assert abs(smooth[53] - 200.0) < 5.0        # within 4 frames
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
