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
laggier output: ``--beta 0.01`` (README, section Video: half the jitter, up to 3 points).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

MIN_CUTOFF = 1.0   # Hz: the cutoff of a still joint (barely matters at BETA 0.1: 0.1-2 Hz alike)
BETA = 0.1         # cutoff increase per pixel/s of (smoothed) speed
D_CUTOFF = 4.0     # Hz: the cutoff of the speed estimate itself (Casiez et al.'s 1 Hz lagged:
                   # a slow speed estimate keeps the filter shut through a jump)


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
