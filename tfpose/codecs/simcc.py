"""SimCC codec: keypoints <-> per-joint 1-D distributions over x bins and y bins.

SimCC (Li et al., ECCV 2022; the RTMPose head) predicts each coordinate of each joint as a
classification over ``S * r`` bins, ``r`` (``split_ratio``) bins per input pixel, instead of a
2-D heatmap at a quarter of the input: the resolution is finer than the input's at a cost
linear, not quadratic, in ``S``. The targets are Gaussian-smoothed one-hot labels (the paper's
label smoothing), normalised to sum 1 per axis, trained with a KL divergence
(``models/losses.py``).

Pixel convention (``codecs/heatmap.py``'s, bins standing for heatmap pixels): bin ``b`` is
centred at input coordinate ``b / r``, so a keypoint at input pixel ``x`` is the bin coordinate
``x * r``; bin 0 is input pixel 0's centre and the last bin, ``S * r - 1``, is ``S - 1 / r``.
Shapes: ``K`` joints, ``L = S * r`` bins; any number of leading batch dimensions (``...``).

Pure TensorFlow, vectorised: usable in ``Dataset.map``, XLA-compiled pipeline stages and
Keras layers.
"""

from __future__ import annotations

import math

import tensorflow as tf

SPLIT_RATIO = 2  # bins per input pixel: the paper's and RTMPose's k = 2
SIGMA = 4.0  # bins (``data.simcc_sigma``'s default): 2 input px at SPLIT_RATIO 2


def peak_probability(sigma: float) -> float:
    """The largest probability of a normalised target Gaussian of ``sigma`` bins centred on a
    bin (the best a prediction matching the targets reaches): the score's unit in ``decode``."""
    reach = int(math.ceil(8.0 * sigma)) + 1
    return 1.0 / sum(math.exp(-(j * j) / (2.0 * sigma**2)) for j in range(-reach, reach + 1))


def encode(keypoints, weights, input_size: int, split_ratio: int = SPLIT_RATIO,
           sigma: float = SIGMA):
    """Keypoints -> normalised 1-D Gaussian targets per axis and per-joint weights.

    Args:
      keypoints: float ``... x K x 2`` (x, y) in input pixels.
      weights: ``... x K``, nonzero where the joint is labelled.
      input_size: the square input side ``S``.
      split_ratio: bins per input pixel ``r``.
      sigma: Gaussian standard deviation in bins.

    Returns:
      x_targets, y_targets: float32 ``... x K x (S * r)``, each row summing to 1 (all zeros for a
        joint of weight 0).
      weights: float32 ``... x K``: 1 where the joint is labelled and its centre lies on the
        bins (``0 <= x * r <= S * r - 1`` on both axes; a truncated target would pull the
        prediction inwards), else 0.
    """
    bins = input_size * split_ratio
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    weights = tf.cast(tf.not_equal(tf.cast(weights, tf.float32), 0.0), tf.float32)
    centre = keypoints * float(split_ratio)
    inside = tf.reduce_all((centre >= 0.0) & (centre <= bins - 1.0), axis=-1)
    weights = weights * tf.cast(inside, tf.float32)
    grid = tf.range(bins, dtype=tf.float32)

    def gaussian(mu):  # ... x K -> ... x K x L, normalised, zero where the weight is 0
        g = tf.exp(-tf.square(grid - mu[..., None]) / (2.0 * sigma**2))
        g = g / tf.maximum(tf.reduce_sum(g, axis=-1, keepdims=True), 1e-12)
        return g * weights[..., None]

    return gaussian(centre[..., 0]), gaussian(centre[..., 1]), weights


def decode(x_logits, y_logits, split_ratio: int = SPLIT_RATIO, sigma: float = SIGMA):
    """Per-axis logits -> keypoints at each axis's most likely bin, in input pixels, and scores.

    The integer argmax is refined by the vertex of the parabola through the log-probabilities
    (the logits, up to a constant) of the peak bin and its two neighbours: exact for a
    prediction equal to a Gaussian target, clipped to half a bin for a noisy one, not applied on
    the first and last bins.

    Args:
      x_logits, y_logits: float ``... x K x L`` (``L = S * r``).
      split_ratio: bins per input pixel ``r``, as given to ``encode``.
      sigma: the training Gaussian's standard deviation in bins (the score's scale).

    Returns:
      keypoints: float32 ``... x K x 2`` (x, y) in input pixels (bin coordinate / ``r``).
      scores: float32 ``... x K`` in [0, 1]: the smaller of the two axes' largest probability
        divided by ``peak_probability(sigma)``, so a prediction as sharp as its training target
        scores ~1, as a heatmap maximum does (a joint is as sure as its less sure axis).
    """
    x, px = _axis(x_logits)
    y, py = _axis(y_logits)
    keypoints = tf.stack([x, y], axis=-1) / float(split_ratio)
    scores = tf.clip_by_value(tf.minimum(px, py) / peak_probability(sigma), 0.0, 1.0)
    return keypoints, scores


def _axis(logits):
    """``... x K x L`` logits -> (sub-bin coordinate ``... x K``, largest probability ``... x K``)."""
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    bins = tf.shape(log_probs)[-1]
    index = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
    peak = tf.reduce_max(log_probs, axis=-1)

    def at(i):
        return tf.gather(log_probs, tf.clip_by_value(i, 0, bins - 1)[..., None],
                         batch_dims=len(log_probs.shape) - 1)[..., 0]

    before, after = at(index - 1), at(index + 1)
    curvature = before - 2.0 * peak + after
    offset = tf.math.divide_no_nan(0.5 * (before - after), curvature)
    # A flat or non-concave neighbourhood has no usable vertex; the border bins are not shifted.
    usable = (curvature < -1e-6) & (index > 0) & (index < bins - 1)
    offset = tf.where(usable, tf.clip_by_value(offset, -0.5, 0.5), 0.0)
    return tf.cast(index, tf.float32) + offset, tf.exp(peak)


def mirror(logits_or_probs, split_ratio: int = SPLIT_RATIO):
    """Per-axis x values ``... x K x L`` of a mirrored image as seen in the original one: bins
    reversed and shifted, joints not swapped (``tasks/pose.py`` swaps them).

    Input x maps to ``S - 1 - x`` in a mirror (``tf.reverse``'s pixel convention), i.e. bin ``b``
    to ``L - r - b``; reversing alone gives ``L - 1 - b``, so the reversed bins move ``r - 1``
    towards 0 and the last ``r - 1`` bins, outside the mirrored input, get the row's minimum
    (zero probability, or the least likely logit).
    """
    values = tf.reverse(logits_or_probs, axis=[-1])
    shift = split_ratio - 1
    if shift == 0:
        return values
    fill = tf.reduce_min(values, axis=-1, keepdims=True)
    pad = tf.repeat(fill, shift, axis=-1)
    return tf.concat([values[..., shift:], pad], axis=-1)
