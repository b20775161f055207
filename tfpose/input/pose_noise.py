"""A pose model's joint errors as a noise model: measured on held-out photos, injected into the
annotated joints an activity classifier trains on, so it learns from joints as the shipped
pose model will hand them over rather than from clean annotations.

Errors are in units of the side of the true joints' square box (``core.joint_frame``): the
frame the classifier reads, so a measured error is directly the error in its input.
Per joint ``k`` the model holds (``scripts/measure_pose_noise.py`` writes it as JSON):

- ``person_swap``: the fraction of persons whose joints, left and right exchanged, lie closer
  to the truth than as labelled (mean distance over the annotated joints): a person seen
  from the back as from the front, or labelled so (LSPET's crowd-sourced labels mix the
  sides). The per-joint figures below are measured after undoing it;
- ``missing[k]``: the fraction of annotated joints the pose model scores under ``min_score``
  (they reach the classifier as unused);
- ``swap[k]``: the fraction of (kept) joints predicted on their left/right partner's true
  place (within ``gross_threshold`` of it and not of their own);
- ``gross[k]``: the fraction off by more than ``gross_threshold`` otherwise, with the
  empirical distribution of those errors' lengths (``gross_quantiles``) and a random direction;
- ``sigma[k]``: the root mean square x and y error of the rest (the inliers).

Shapes: ``N`` persons, ``K = 16`` joints.
"""

from __future__ import annotations

import numpy as np

from tfpose.core import joint_frame, skeleton

# An error over this fraction of the box side (~0.4 torso lengths for a standing person, twice
# the PCK@0.2 radius) is "gross": the joint is elsewhere, not jittered.
GROSS_THRESHOLD = 0.1
# Joints scored under this reach the classifier as unused: the second pass's own bar
# (``serving.passes.SECOND_PASS_MIN_SCORE``) for a joint to count in the person's box.
MIN_SCORE = 0.1
QUANTILES = np.linspace(0.0, 1.0, 21)


def relative_errors(keypoints, true, annotated):
    """(errors N x K x 2 in units of the true box side, valid N x K bool)."""
    _, side, ok = joint_frame.square_box(true, annotated)
    side = np.where(ok & (side > 0), side, 1.0)
    errors = (np.asarray(keypoints, np.float32)[..., :2] - np.asarray(true, np.float32)[..., :2])
    return errors / side[:, None, None], np.asarray(annotated, bool) & ok[:, None]


def swap_sides(keypoints, annotated):
    """Left and right joints exchanged, in place (no mirroring): (N x K x 2, N x K)."""
    partner = list(skeleton.FLIP_INDEX)
    return np.asarray(keypoints)[:, partner], np.asarray(annotated)[:, partner]


def measure(keypoints, scores, true, annotated, *, min_score: float = MIN_SCORE,
            gross_threshold: float = GROSS_THRESHOLD) -> dict:
    """The noise model (module doc) of predictions ``keypoints`` N x K x 2 with ``scores``
    N x K against ``true`` N x K x 2 where ``annotated`` N x K, all in one image's pixels."""
    true, annotated = np.asarray(true, np.float32)[..., :2], np.asarray(annotated, bool)
    partner = list(skeleton.FLIP_INDEX)
    mirrored_true, mirrored_annotated = swap_sides(true, annotated)
    errors, valid = relative_errors(keypoints, true, annotated)
    as_mirrored, _ = relative_errors(keypoints, mirrored_true, mirrored_annotated)
    mean_own = (np.linalg.norm(errors, axis=-1) * valid).sum(1) / np.maximum(valid.sum(1), 1)
    mean_mirrored = ((np.linalg.norm(as_mirrored, axis=-1) * valid).sum(1)
                     / np.maximum(valid.sum(1), 1))
    person_swapped = mean_mirrored < mean_own
    true = np.where(person_swapped[:, None, None], mirrored_true, true)
    annotated = np.where(person_swapped[:, None], mirrored_annotated, annotated)
    errors, valid = relative_errors(keypoints, true, annotated)
    scores = np.asarray(scores, np.float32)
    kept = valid & (scores >= min_score)
    distance = np.linalg.norm(errors, axis=-1)
    partner_errors, _ = relative_errors(keypoints, true[:, partner], annotated)
    has_partner = (np.arange(len(partner)) != partner)[None] & np.asarray(annotated)[:, partner]
    swapped = (kept & has_partner & (distance > gross_threshold)
               & (np.linalg.norm(partner_errors, axis=-1) <= gross_threshold))
    gross = kept & (distance > gross_threshold) & ~swapped
    inlier = kept & (distance <= gross_threshold)
    per_joint = {"missing": [], "swap": [], "gross": [], "sigma": [], "median_error": [],
                 "annotated": []}
    for k in range(valid.shape[1]):
        n_valid, n_kept = max(int(valid[:, k].sum()), 1), max(int(kept[:, k].sum()), 1)
        per_joint["annotated"].append(int(valid[:, k].sum()))
        per_joint["missing"].append(round(1.0 - kept[:, k].sum() / n_valid, 4))
        per_joint["swap"].append(round(float(swapped[:, k].sum() / n_kept), 4))
        per_joint["gross"].append(round(float(gross[:, k].sum() / n_kept), 4))
        inliers = errors[inlier[:, k], k]
        rms = np.sqrt((inliers ** 2).mean(0)) if len(inliers) else np.zeros(2)
        per_joint["sigma"].append([round(float(v), 4) for v in rms])
        per_joint["median_error"].append(round(float(np.median(distance[kept[:, k], k]))
                                               if kept[:, k].any() else 0.0, 4))
    lengths = distance[gross]
    return {
        "unit": "side of the true joints' square box (core.joint_frame.square_box)",
        "joint_names": list(skeleton.JOINT_NAMES),
        "min_score": min_score,
        "gross_threshold": gross_threshold,
        "person_swap": round(float(person_swapped.mean()), 4),
        **per_joint,
        "gross_quantiles": [round(float(q), 4) for q in
                            (np.quantile(lengths, QUANTILES) if len(lengths) else
                             np.full(len(QUANTILES), gross_threshold))],
        "overall": {
            "persons": int(len(valid)),
            "joints": int(valid.sum()),
            "missing": round(float(1 - kept.sum() / max(valid.sum(), 1)), 4),
            "swap": round(float(swapped.sum() / max(kept.sum(), 1)), 4),
            "gross": round(float(gross.sum() / max(kept.sum(), 1)), 4),
            "median_error": round(float(np.median(distance[kept])) if kept.any() else 0.0, 4),
        },
    }


def perturb(keypoints, annotated, noise: dict, rng: np.random.Generator):
    """Joints as the measured pose model would give them: (keypoints N x K x 2, used N x K).

    keypoints: true N x K x 2 pixels; annotated: N x K bool. A person has its sides exchanged
    with the rate ``person_swap``; then each annotated joint is, with the model's per-joint
    rates, dropped (``missing``), moved to its partner's true place
    (``swap``), moved by a gross error (a length drawn from ``gross_quantiles``, a random
    direction) or jittered by ``sigma``, all scaled by the true box side.
    """
    true = np.asarray(keypoints, np.float32)[..., :2]
    annotated = np.asarray(annotated, bool)
    n, k = annotated.shape
    names = noise["joint_names"]
    if list(names) != list(skeleton.JOINT_NAMES):
        raise ValueError(f"noise model joints {names} are not tfpose's {skeleton.JOINT_NAMES}")
    _, side, ok = joint_frame.square_box(true, annotated)
    side = np.where(ok, side, 0.0)[:, None, None]
    mirrored_true, mirrored_annotated = swap_sides(true, annotated)
    person_swapped = (rng.random(n) < noise["person_swap"])
    true = np.where(person_swapped[:, None, None], mirrored_true, true)
    annotated = np.where(person_swapped[:, None], mirrored_annotated, annotated)
    sigma = np.asarray(noise["sigma"], np.float32)[None]  # 1 x K x 2
    out = true + rng.normal(size=(n, k, 2)).astype(np.float32) * sigma * side
    draw = rng.random((n, k))
    swap_rate = np.asarray(noise["swap"], np.float32)[None]
    gross_rate = np.asarray(noise["gross"], np.float32)[None]
    partner = list(skeleton.FLIP_INDEX)
    swapped = (draw < swap_rate) & annotated[:, partner]
    out = np.where(swapped[..., None], true[:, partner], out)
    gross = ~swapped & (draw < swap_rate + gross_rate)
    length = np.interp(rng.random((n, k)), QUANTILES, noise["gross_quantiles"])
    angle = rng.uniform(0, 2 * np.pi, (n, k))
    jump = np.stack([np.cos(angle), np.sin(angle)], -1) * length[..., None] * side
    out = np.where(gross[..., None], true + jump, out)
    used = annotated & (rng.random((n, k)) >= np.asarray(noise["missing"], np.float32)[None])
    return np.where(used[..., None], out, 0.0).astype(np.float32), used


def format_table(noise: dict) -> str:
    """The noise model as a markdown table (one row per joint, then all joints)."""
    lines = ["| joint | annotated | missing (score < min) | left/right swap | gross | "
             "inlier RMS x, y | median error |", "|---|---|---|---|---|---|---|"]
    for k, name in enumerate(noise["joint_names"]):
        sx, sy = noise["sigma"][k]
        lines.append(f"| {name} | {noise['annotated'][k]} | {100 * noise['missing'][k]:.1f} % | "
                     f"{100 * noise['swap'][k]:.1f} % | {100 * noise['gross'][k]:.1f} % | "
                     f"{sx:.3f}, {sy:.3f} | {noise['median_error'][k]:.3f} |")
    o = noise["overall"]
    lines.append(f"| whole person, sides exchanged | {o['persons']} persons | | "
                 f"{100 * noise['person_swap']:.1f} % | | | |")
    lines.append(f"| **all** | {o['joints']} | {100 * o['missing']:.1f} % | "
                 f"{100 * o['swap']:.1f} % | {100 * o['gross']:.1f} % | | "
                 f"{o['median_error']:.3f} |")
    return "\n".join(lines)


def replay(keypoints, annotated, errors, measured, missed, rng: np.random.Generator):
    """Joints with real prediction errors replayed, a whole person's pattern at a time: the
    check on ``perturb``'s independent parts (correlations within a person kept; a swap or a
    gross error arrives as the displacement it had on the measured person).

    keypoints: true N x K x 2 px; annotated: N x K bool; errors: M x K x 2 measured errors in
    units of the true box side (``relative_errors``); measured: M x K, the error is known (the
    joint was annotated and scored at least ``min_score``); missed: M x K, annotated but scored
    under it. Person n takes person ``m`` (drawn uniformly)'s errors, scaled by its own box
    side; joints ``m`` missed are unused; joints without a known error stay as they are.
    Returns (keypoints N x K x 2, used N x K).
    """
    true = np.asarray(keypoints, np.float32)[..., :2]
    annotated = np.asarray(annotated, bool)
    _, side, ok = joint_frame.square_box(true, annotated)
    pick = rng.integers(0, len(errors), len(true))
    known = np.asarray(measured, bool)[pick]
    shift = np.where(known[..., None], np.asarray(errors, np.float32)[pick], 0.0)
    out = true + shift * np.where(ok, side, 0.0)[:, None, None]
    used = annotated & ~np.asarray(missed, bool)[pick]
    return np.where(used[..., None], out, 0.0).astype(np.float32), used
