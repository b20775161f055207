"""The One-Euro filter: cuts the jitter of a still joint, follows a moving one with little lag.
The jump gate drops one-frame jumps and follows real ones; the pose smoother keeps smoothing a
person who moves as a whole; the centred window releases frames in order, late by its lag, and
smooths without lag."""

from __future__ import annotations

import numpy as np
import pytest

from tfpose.serving.smoothing import (BETA, JUMP_GATE, MIN_CUTOFF, CentredWindow, JumpGate,
                                      OneEuroFilter, PoseSmoother, smoothing_factor)

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


def square_person(size=100.0):
    """16 joints on a size x size square (the gate's person size is its side)."""
    grid = np.linspace(0.0, size, 4)
    return np.array([[x, y] for x in grid for y in grid], np.float64)


def test_the_jump_gate_drops_a_one_frame_jump_and_follows_a_lasting_one():
    """Joint 0 of a still 100-px person jumps 60 px (0.6 of the person, gate 0.15) at frame 3
    and is back at frame 4: frame 3 keeps it where it was. Joint 1 jumps 60 px at frame 3 and
    stays: held one frame (JUMP_HOLD), taken at frame 4, then followed as is. The others pass
    untouched."""
    gate = JumpGate()
    pose = square_person()
    frames = np.repeat(pose[None], 8, axis=0)
    frames[3, 0] += 60.0
    frames[3:, 1] += [0.0, 60.0]
    out = np.array([gate(f) for f in frames])
    np.testing.assert_array_equal(out[:, 0], np.repeat(pose[None, 0], 8, axis=0))
    np.testing.assert_array_equal(out[3, 1], pose[1])
    np.testing.assert_array_equal(out[4:, 1], frames[4:, 1])
    np.testing.assert_array_equal(out[:, 2:], frames[:, 2:])


def test_the_jump_gate_follows_steady_fast_motion():
    """Joint 0 moves 0.1 of the person a frame (10 px; 250 px/s at 25 fps), from rest: the
    expected position (last + half the last step) is at most 10 px = 0.1 < JUMP_GATE away, so
    it is never held. At 0.25 a frame it is held on the first moving frame only (from rest it
    is 25 px away, over the gate), then taken, and followed exactly (the error to the expected
    position is half a step, 12.5 px, under the gate's 15 px)."""
    for speed, held_frames in ((10.0, []), (25.0, [1])):
        frames = np.repeat(square_person()[None], 12, axis=0)
        frames[:, 0, 0] += speed * np.arange(12)
        gate = JumpGate()
        out = np.array([gate(f) for f in frames])
        held = [t for t in range(12) if not np.array_equal(out[t, 0], frames[t, 0])]
        assert held == held_frames, speed
    assert 0.1 < JUMP_GATE < 0.25


def test_the_pose_smoother_smooths_a_person_moving_as_a_whole():
    """16 joints with 2-px noise, still or crossing the frame at 100 px/s (4 px a frame).

    Per joint, the One-Euro filter's cutoff rises with the joint's speed: 1 + 0.1 x 100 = 11 Hz,
    alpha 0.73 at 25 fps, so on the moving person it keeps most of the noise (measured jitter,
    the mean |second difference|: still 2.4, moving 3.5). The pose smoother filters the centre
    (a mean of 16: a quarter of the noise) and the pose around it (which does not move), so the
    moving person is smoothed as the still one (2.3 and 2.4). The test asks for the smoother's
    moving jitter under 1.15 x its still one and under 0.8 x the per-joint filter's."""
    rng = np.random.default_rng(0)
    shape = rng.uniform(0.0, 200.0, (16, 2))

    def jitter(filt, speed):
        truth = shape[None] + np.arange(250)[:, None, None] * np.array([speed, 0.0])
        noisy = truth + rng.normal(0.0, 2.0, truth.shape)
        out = run(filt, noisy)
        return np.linalg.norm(out[2:] - 2 * out[1:-1] + out[:-2], axis=-1)[25:].mean()

    still, moving = jitter(PoseSmoother(), 0.0), jitter(PoseSmoother(), 4.0)
    per_joint = jitter(OneEuroFilter(), 4.0)
    assert moving < 1.15 * still
    assert moving < 0.8 * per_joint


def test_the_pose_smoother_resets_and_passes_missing_joints():
    smoother = PoseSmoother()
    pose = square_person()
    smoother(pose, 0.0)
    assert not np.allclose(smoother(pose + 10.0, 0.04), pose + 10.0)  # it smooths
    smoother.reset()
    np.testing.assert_array_equal(smoother(pose + 50.0, 0.08), pose + 50.0)
    missing = pose + 50.0
    missing[3] = np.nan
    out = smoother(missing, 0.12)
    assert np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, 0)).all()
    with pytest.raises(ValueError, match="gate"):
        JumpGate(gate=0.0)


def test_the_centred_window_releases_each_frame_lag_frames_late_and_in_order():
    window = CentredWindow(lag=2)
    released = [window.push(np.full((16, 2), float(i)), i) for i in range(5)]
    assert [[item for _, item in out] for out in released] == [[], [], [0], [1], [2]]
    assert [item for _, item in window.flush()] == [3, 4]
    assert window.flush() == []
    passthrough = CentredWindow(lag=0)
    (out, item), = passthrough.push(np.full((16, 2), 7.0), "a")
    assert item == "a" and np.array_equal(out, np.full((16, 2), 7.0))


def test_the_centred_window_follows_steady_motion_without_lag_and_cuts_jitter():
    """Defaults (lag 2, sigma 1): weights w = (0.135, 0.607, 1, 0.607, 0.135) / 2.484.

    A joint moving at a steady 3 px a frame comes out where it is in every frame with a full
    window (symmetric weights: no lag), and lags only in the last ``lag`` frames, by at most
    (0.1353 x 2 + 0.6065 x 1) / 1.7418 x 3 = 1.511 px (the window cut to its past half).
    White noise of sd 2 px on a still joint: the second difference of the output is white
    noise through w * (1, -2, 1), whose taps (0.055, 0.135, -0.031, -0.317, -0.031, 0.135,
    0.055) have a norm of 0.381, against sqrt(6) = 2.449 for the raw second difference: the
    jitter (mean |acceleration|) falls to 0.155 of the raw. The test asks for 0.12-0.2 over
    2,000 frames: a window that passed values through (1.0), a two-frame mean (0.41) or a
    three-frame mean (0.27) fails.
    """
    window = CentredWindow()
    moving = np.arange(40.0)[:, None, None] * np.array([3.0, -1.0]) + np.zeros((40, 16, 2))
    out = [o for x in moving for o, _ in window.push(x)] + [o for o, _ in window.flush()]
    np.testing.assert_allclose(out[2:-2], moving[2:-2], atol=1e-9)
    assert 1.5 < np.abs(out[-1] - moving[-1])[..., 0].max() < 1.52

    rng = np.random.default_rng(0)
    noisy = 100.0 + rng.normal(0.0, 2.0, (2000, 16, 2))
    smooth = np.array([o for x in noisy for o, _ in window.push(x)]
                      + [o for o, _ in window.flush()])

    def accel(a):
        return np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=-1)[5:-5].mean()

    assert 0.12 < accel(smooth) / accel(noisy) < 0.2
    assert abs(smooth.mean() - 100.0) < 0.1


def test_the_centred_window_never_mixes_runs_and_keeps_missing_joints_missing():
    window = CentredWindow(lag=2)
    released = [out for i in range(3) for out in window.push(np.zeros((16, 2)), ("before", i))]
    released += window.flush()  # a cut: the zeros' run ends
    assert [item for _, item in released] == [("before", i) for i in range(3)]
    after = np.full((16, 2), 100.0)
    missing = after.copy()
    missing[5] = np.nan
    for i, x in enumerate([after, missing, after + 2.0, after + 4.0]):
        released += window.push(x, i)
    released += window.flush()
    first, second, third = (out for out, _ in released[3:6])
    assert np.nanmin(first) >= 100.0  # nothing of the zeros before the flush
    assert np.isnan(second[5]).all() and np.isfinite(np.delete(second, 5, 0)).all()
    assert np.isfinite(first[5]).all() and np.isfinite(third[5]).all()  # the gap drops out
    # Frame 2's joint 5: frames 0, 2, 3 (weights e^-2, 1, e^-0.5); frame 1's gap drops out.
    np.testing.assert_allclose(third[5], (0.1353 * 100.0 + 102.0 + 0.6065 * 104.0) / 1.7418,
                               atol=1e-3)
    with pytest.raises(ValueError, match="lag"):
        CentredWindow(lag=-1)
