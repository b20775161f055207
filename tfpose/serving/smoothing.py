"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): jitter removal for keypoint tracks.

A first-order low-pass filter whose cutoff frequency rises with the signal's speed:

    tau(f)   = 1 / (2 pi f)                 the low-pass time constant of cutoff f (Hz)
    alpha(f) = 1 / (1 + tau(f) / dt)         the smoothing factor over a step of dt seconds
    dx       = (x - x_hat_prev) / dt         raw speed
    dx_hat   = dx_hat_prev + alpha(d_cutoff) (dx - dx_hat_prev)
    cutoff   = min_cutoff + beta |dx_hat|
    x_hat    = x_hat_prev + alpha(cutoff) (x - x_hat_prev)

Still, the cutoff is ``min_cutoff`` (strong smoothing: jitter is cut); moving fast, it rises
(little lag). Each coordinate is filtered on its own, so one filter serves a K x 2 array of
joints. Units: ``beta`` is per (coordinate unit / s), here per pixel/s of the original video.

Defaults (``MIN_CUTOFF`` 1 Hz, ``BETA`` 0.1, ``D_CUTOFF`` 4 Hz), for keypoints in pixels at
25-30 fps, chosen on the made clips (``benchmarks/video.py``, two independent sets of photos,
tracked and not): the setting that cuts the jitter most while PCK@0.2 stays at or above the
unsmoothed run's on every clip (a grid of min_cutoff 0.05-5 Hz, beta 0-0.3, d_cutoff 0.5-8 Hz).
A pose model's joints jump by tens of pixels when it changes its mind; a filter that lags over
those jumps costs PCK (Casiez's 1 Hz / 0.01 / 1 Hz cut it 2.6-3.6 x for up to 3 points), so the
speed term opens the filter on any real motion and smooths only the small wobble of a still
joint: still (2 px white noise), the cutoff is about 4-5 Hz (alpha ~0.5 at 25 fps, keeping
about 0.6-0.7 of the noise's standard deviation and 0.4 of its frame-to-frame step); a 100 px
jump is followed within one frame (``tests/serving/test_smoothing.py`` checks both). Smoother,
laggier output: ``--beta 0.01`` (docs/video_history.md: half the jitter, up to 3 points).

What ``tfpose predict`` runs on a clip is ``PoseSmoother``: two steps made for a pose model's
errors before the One-Euro filter:

* ``JumpGate``: a joint that leaves, for one frame, where its motion was taking it (by over
  ``JUMP_GATE`` x the person's size) is held where it was for that frame; if it is still away
  the next frame, the jump is taken as real. A heatmap model's worst jitter is such one-frame
  jumps (a joint snapping to the other leg, then back): on the made clips the top 5 % of
  (frame, joint) steps carried half of the unsmoothed jitter.
* The body frame: the joints' mean (the person's position) and each joint relative to it (the
  pose) are filtered on their own. Under a moving camera or a walking person every joint moves
  fast, and a per-joint filter opens (its cutoff rises with speed) and smooths nothing; the
  pose relative to its centre barely moves, so its filter stays shut on the wobble, while the
  centre, a mean over 16 joints, has a quarter of a joint's noise where the joints' errors
  are independent (a tracking crop's shift moves them together: on the made clips, tracked
  and smoothed, the centre's own acceleration was 1.0-1.1 px/frame^2 of the joints' 1.4-1.8).

A clip from a file need not be answered the moment a frame arrives, so its output also looks
ahead: ``CentredWindow`` waits ``LOOKAHEAD`` frames and replaces each frame's joints by a
Gaussian-weighted mean over the frames either side (zero phase: a joint in steady motion comes
out where it is, not behind). A causal filter can only trade jitter for lag; a centred one
removes the frame-to-frame wobble that is left at no lag. A live camera runs with lookahead 0.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Optional

import numpy as np

MIN_CUTOFF = 1.0   # Hz: the cutoff of a still joint (barely matters at BETA 0.1: 0.1-2 Hz alike)
BETA = 0.1         # cutoff increase per pixel/s of (smoothed) speed
D_CUTOFF = 4.0     # Hz: the cutoff of the speed estimate itself (Casiez et al.'s 1 Hz lagged:
                   # a slow speed estimate keeps the filter shut through a jump)
# JumpGate: a joint more than this x the person's size (the larger side of its joints' extent)
# from where it was heading is held for up to JUMP_HOLD frames. Chosen on the made clips
# (benchmarks/video.py's four, session 6's lspet, tracked, with PoseSmoother's filters): jitter
# without the gate 2.30 / 4.71 / 17.15 / 6.93; gate 0.1-0.2 1.42 / 1.75-1.83 / 9.0-9.4 /
# 3.7-4.0; 0.3 2.10 / 11.5 / 4.2 on the last three, 0.5 2.9 / 13.9 / 5.3; PCK within 0.25 of
# the ungated run throughout. Real limbs rarely trip it: for a 1.7 m person at 25 frames/s a
# joint would have to start from rest at 6 m/s, or, in steady motion, go 13 m/s (the gate
# looks half a step ahead, so steady motion is held only past 0.3 of the person a frame).
JUMP_GATE = 0.15
JUMP_HOLD = 1      # frames; 2-3 cut `cuts` to 1.12-1.24 and `--skip 6` pan to 5.6-6.3 but lost
                   # 0.2-0.25 points of PCK on the two cuts clips
# CentredWindow: a file's output waits LOOKAHEAD frames; each frame's joints become the mean of
# the frames within LOOKAHEAD either side, weighted by a Gaussian of LOOKAHEAD_SIGMA frames.
# Chosen on the made clips (replays of benchmarks/video.py's score on its four clips, session
# 7's lspet, tracked, after PoseSmoother; MediaPipe's jitter there 0.76 / 3.69 / 4.01 / 6.06),
# jitter pan / cuts / --skip 6 pan / --skip 6 cuts:
#   lookahead 0:                 1.32 / 2.01 / 5.92 / 3.29
#   1 frame, sigma 1:            0.40 / 0.74 / 2.17 / 1.15
#   2 frames, sigma 0.8 ... 1.5: 0.42-0.21 / 0.77-0.39 / 2.30-1.16 / 1.21-0.59 (sigma 1: 0.30 /
#                                0.58 / 1.71 / 0.89)
#   3 frames, sigma 1.5:         0.16 / 0.32 / 0.94 / 0.48
# PCK@0.2 moved +0.2 to +0.4 on the pan clips and -0.1 to -0.3 on the cuts clips against
# lookahead 0 at 1-2 frames with sigma <= 1.2; sigma 1.5 costs -0.2 to -0.4 on the cuts clips.
# Two frames (80 ms at 25 frames/s) at sigma 1 (weights 0.14, 0.61, 1, 0.61, 0.14): the window
# spans +-2 sigma, and cuts a quarter more jitter than one frame for the same PCK.
LOOKAHEAD = 2
LOOKAHEAD_SIGMA = 1.0


def smoothing_factor(cutoff, dt):
    """alpha of a first-order low-pass of cutoff ``cutoff`` (Hz) over ``dt`` seconds (arrays ok)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape (e.g. K x 2 joints), element by element.

    ``filter(x, t)``: x an array (same shape every call), t its time in seconds (increasing);
    returns the filtered float64 array. The first call (and the first after ``reset``) returns x
    unchanged. Non-finite values pass through and do not update the state of their element.
    """

    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One-Euro needs min_cutoff > 0, d_cutoff > 0, beta >= 0. Received: "
                             f"min_cutoff={min_cutoff}, beta={beta}, d_cutoff={d_cutoff}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value is taken as is (tracking lost, a cut in the video)."""
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    def filter(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt <= 0:  # a repeated or out-of-order time stamp: no time passed, nothing to learn
            return self._x.copy()
        finite = np.isfinite(x) & np.isfinite(self._x)
        dx = np.where(finite, (x - self._x) / dt, 0.0)
        dx_hat = self._dx + smoothing_factor(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        x_hat = self._x + smoothing_factor(cutoff, dt) * (x - self._x)
        # An element that was or became non-finite restarts from the new value.
        x_hat = np.where(finite, x_hat, x)
        self._dx = np.where(finite, dx_hat, 0.0)
        self._x, self._t = x_hat, float(t)
        return x_hat.copy()

    __call__ = filter


class JumpGate:
    """Holds a joint for a frame where it jumps away from its course, ``filter(x)`` on K x 2.

    Per joint: the expected position is the last output plus half its last step (a joint in
    steady motion is looked for where it was heading, without trusting one frame's speed
    fully). A joint further than ``gate`` x the person's size (the larger side of the last
    output's extent) from it is held at its last output, for at most ``hold`` frames in a row;
    then the new position is taken (a real jump: a turn, a person re-found). The first call (and
    the first after ``reset``) returns x unchanged; a non-finite joint passes through and starts
    its own course again.
    """

    def __init__(self, gate: float = JUMP_GATE, hold: int = JUMP_HOLD):
        if gate <= 0 or hold < 0:
            raise ValueError(f"JumpGate needs gate > 0 and hold >= 0. Received: gate={gate}, "
                             f"hold={hold}")
        self.gate, self.hold = float(gate), int(hold)
        self.reset()

    def reset(self) -> None:
        self._last: Optional[np.ndarray] = None
        self._step: Optional[np.ndarray] = None
        self._held: Optional[np.ndarray] = None

    def filter(self, x) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._last is None or self._last.shape != x.shape:
            self._last, self._step = x.copy(), np.zeros_like(x)
            self._held = np.zeros(x.shape[0], int)
            return x.copy()
        seen = np.isfinite(self._last).all(1)
        size = float(np.ptp(self._last[seen], axis=0).max()) if seen.any() else 0.0
        expected = self._last + 0.5 * self._step
        distance = np.linalg.norm(x - expected, axis=1)
        away = np.isfinite(distance) & (distance > self.gate * max(size, 1.0))
        held = away & (self._held < self.hold)
        out = np.where(held[:, None], self._last, x)
        step = out - self._last
        self._step = np.where(np.isfinite(step), step, 0.0)
        self._held = np.where(held, self._held + 1, 0)
        self._last = out
        return out.copy()

    __call__ = filter


class PoseSmoother:
    """A person's joints over time, ``filter(keypoints, t)``: K x 2 pixels at t seconds.

    ``JumpGate`` (unless ``gate`` is None), then One-Euro filters (``min_cutoff``, ``beta``) on
    the joints' mean and on the joints relative to it (the module docstring says why). A K x 2
    array in, a K x 2 float64 array out; non-finite joints pass through and do not move the
    mean. ``reset`` when the person is lost or the shot changes.
    """

    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF, gate: Optional[float] = JUMP_GATE,
                 hold: int = JUMP_HOLD):
        self.jumps = JumpGate(gate, hold) if gate is not None else None
        self.centre = OneEuroFilter(min_cutoff, beta, d_cutoff)
        self.pose = OneEuroFilter(min_cutoff, beta, d_cutoff)

    def reset(self) -> None:
        if self.jumps is not None:
            self.jumps.reset()
        self.centre.reset()
        self.pose.reset()

    def filter(self, keypoints, t: float) -> np.ndarray:
        x = np.asarray(keypoints, np.float64)
        if self.jumps is not None:
            x = self.jumps(x)
        finite = np.isfinite(x).all(1)
        if not finite.any():
            return x.copy()
        centre = x[finite].mean(0, keepdims=True)
        return self.centre(centre, t) + self.pose(x - centre, t)

    __call__ = filter


class CentredWindow:
    """Zero-phase smoothing at a fixed lag, ``push(keypoints, item)`` -> released frames.

    Each pushed K x 2 array waits until ``lag`` later frames have arrived; it is then released
    as ``(smoothed K x 2 float64, item)``, where smoothed is the mean of the frames up to
    ``lag`` either side within the current run, weighted by a Gaussian of ``sigma`` frames
    (near a run's ends the window is cut off: there it looks one way only). ``item`` rides
    along untouched (what the caller writes with the frame). ``flush()`` releases every waiting
    frame and ends the run: call it at a cut, a lost person and the clip's end. Frames come out
    in the order they went in. A joint non-finite in its own frame stays so; one non-finite in
    a neighbour only drops out of that frame's mean. ``lag`` 0 releases each frame as it is.
    """

    def __init__(self, lag: int = LOOKAHEAD, sigma: float = LOOKAHEAD_SIGMA):
        if lag < 0 or sigma <= 0:
            raise ValueError(f"CentredWindow needs lag >= 0 and sigma > 0. Received: lag={lag}, "
                             f"sigma={sigma}")
        self.lag = int(lag)
        self.weights = np.exp(-0.5 * (np.arange(-self.lag, self.lag + 1) / float(sigma)) ** 2)
        self._past: deque = deque(maxlen=self.lag)  # inputs already released, this run
        self._pending: deque = deque()

    def push(self, keypoints, item=None) -> list:
        self._pending.append((np.asarray(keypoints, np.float64), item))
        return [self._release()] if len(self._pending) > self.lag else []

    def flush(self) -> list:
        released = [self._release() for _ in range(len(self._pending))]
        self._past.clear()
        return released

    def _release(self):
        x, item = self._pending.popleft()
        after = [y for y, _ in itertools.islice(self._pending, self.lag)]
        window = np.stack([*self._past, x, *after])  # T x K x 2
        weights = self.weights[self.lag - len(self._past):self.lag + 1 + len(after)]
        weights = np.where(np.isfinite(window).all(-1), weights[:, None], 0.0)  # T x K
        total = weights.sum(0)
        mean = (np.nan_to_num(window) * weights[..., None]).sum(0) / np.where(
            total > 0, total, 1.0)[:, None]
        self._past.append(x)
        return np.where(np.isfinite(x), mean, x), item
