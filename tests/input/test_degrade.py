"""Everyday-photo degradations: joints stay on their pixels, or lose their labels with them.

Photometric steps are checked with a bright dot painted at a joint: after the step the dot's
centre of mass is still at the joint. Truncation and occlusion are checked pixel by pixel; the
JPEG step against libjpeg itself (Pillow) on a real photo.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from PIL import Image  # noqa: E402

from tfpose.config import AugmentConfig  # noqa: E402
from tfpose.input import augment, degrade  # noqa: E402

S = 64
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mpii_sample" / "004645041.jpg"
SEED = tf.constant([3, 7], tf.int64)


def only(name: str, **extra) -> AugmentConfig:
    """A config with one degradation always on."""
    return dataclasses.replace(AugmentConfig(), **{name: 1.0}, **extra)


def standing_people(batch: int, rng) -> tuple:
    """``batch`` upright people in a 64 x 64 input: keypoints B x 16 x 3, annotated B x 16."""
    # MPII order: ankles low, head high; x spread around a random centre.
    heights = np.array([58, 46, 34, 34, 46, 58, 34, 18, 14, 6, 34, 26, 18, 18, 26, 34], np.float32)
    offsets = np.array([-6, -5, -4, 4, 5, 6, 0, 0, 0, 0, -12, -10, -7, 7, 10, 12], np.float32)
    keypoints = np.zeros((batch, 16, 3), np.float32)
    keypoints[..., 0] = rng.uniform(20, 44, (batch, 1)) + offsets
    keypoints[..., 1] = heights + rng.uniform(-2, 2, (batch, 16))
    keypoints[..., 2] = 1.0
    return keypoints, np.ones((batch, 16), np.float32)


def dot_image(x: float, y: float, background: float = 20.0) -> np.ndarray:
    yy, xx = np.mgrid[:S, :S]
    blob = 200.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0 ** 2))
    return np.repeat((background + blob)[..., None], 3, axis=-1).astype(np.float32)


def centre_of_mass(image: np.ndarray, background: float) -> np.ndarray:
    weight = np.clip(image.mean(-1) - background, 0, None)
    weight = np.where(weight > 0.2 * weight.max(), weight, 0.0)
    yy, xx = np.mgrid[:S, :S]
    return np.array([(weight * xx).sum(), (weight * yy).sum()]) / weight.sum()


def run(cfg: AugmentConfig, image, keypoints, annotated, seed=SEED) -> dict:
    batch = image.shape[0]
    params = degrade.draw(seed, batch, S, cfg)
    apply = tf.function(lambda e, p: degrade.apply(e, p, cfg, S), jit_compile=True,
                        autograph=False)  # as the training pipeline runs it
    out = apply({"image": tf.constant(image), "keypoints": tf.constant(keypoints),
                 "annotated": tf.constant(annotated)}, params)
    return {k: v.numpy() for k, v in out.items()}


@pytest.mark.parametrize("name, tolerance", [("lighting", 0.3), ("low_resolution", 1.0),
                                             ("blur", 0.6), ("noise", 0.6), ("jpeg", 0.6)])
def test_photometric_degradations_keep_each_joint_on_its_pixel(name, tolerance):
    rng = np.random.default_rng(1)
    batch = 10  # every kernel, factor and lighting draw shows up
    joints = rng.uniform(16, 48, (batch, 2)).astype(np.float32)
    image = np.stack([dot_image(x, y) for x, y in joints])
    keypoints = np.zeros((batch, 16, 3), np.float32)
    keypoints[:, :, :2] = joints[:, None]
    keypoints[..., 2] = 1.0
    annotated = np.ones((batch, 16), np.float32)
    out = run(only(name), image, keypoints, annotated)
    np.testing.assert_array_equal(out["keypoints"], keypoints)
    np.testing.assert_array_equal(out["annotated"], annotated)
    assert np.abs(out["image"] - image).max() > 1.0, f"{name} changed nothing"
    assert out["image"].min() >= 0.0 and out["image"].max() <= 255.0
    for i in range(batch):
        background = float(np.median(out["image"][i]))
        np.testing.assert_allclose(centre_of_mass(out["image"][i], background), joints[i],
                                   atol=tolerance, err_msg=f"{name}, example {i}")


def test_jpeg_artefacts_decode_as_libjpeg_does():
    """The in-graph block DCT at quality q gives Pillow's JPEG (4:4:4) within a grey level."""
    photo = Image.open(SAMPLE).convert("RGB").resize((S, S))
    pixels = np.asarray(photo).astype(np.float32)
    for quality in (10, 40):
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality, subsampling=0)
        libjpeg = np.asarray(Image.open(buffer)).astype(np.float32)
        ours = degrade.jpeg_artefacts(tf.constant(pixels[None]), tf.constant([float(quality)]))
        assert np.abs(ours.numpy()[0] - libjpeg).mean() < 1.5
        assert np.abs(pixels - libjpeg).mean() > 3.0  # and the artefacts are there to match


def test_truncation_unlabels_what_the_frame_cuts_and_never_a_joint_inside():
    rng = np.random.default_rng(2)
    batch = 40
    keypoints, annotated = standing_people(batch, rng)
    image = rng.uniform(30, 255, (batch, S, S, 3)).astype(np.float32)  # no zero pixel
    out = run(only("truncation"), image, keypoints, annotated)
    cut = out["image"].max(-1) == 0  # B x S x S: the frame's lost side
    applied = cut.any(axis=(1, 2))
    assert applied.sum() >= batch * 3 // 4
    for i in range(batch):
        kept = ~cut[i]
        np.testing.assert_array_equal(out["image"][i][kept], image[i][kept])  # untouched
        xy = np.clip(np.round(keypoints[i, :, :2]).astype(int), 0, S - 1)
        on_kept_pixel = kept[xy[:, 1], xy[:, 0]]
        labelled = out["annotated"][i] > 0
        # A labelled joint is on a pixel the image still shows; a cut-off one lost both flags.
        assert np.all(on_kept_pixel[labelled]), i
        assert np.all(out["keypoints"][i, ~labelled, 2] == 0)
        np.testing.assert_array_equal(out["keypoints"][i, :, :2], keypoints[i, :, :2])  # unclamped
        if applied[i]:
            assert 0 < labelled.sum() < 16, i  # a line through the person, not around them


def test_truncation_at_the_hips_drops_the_legs_and_keeps_the_head():
    rng = np.random.default_rng(3)
    keypoints, annotated = standing_people(1, rng)
    image = np.full((1, S, S, 3), 100.0, np.float32)
    params = degrade.draw(SEED, 1, S, only("truncation"))
    cut = degrade.truncate(tf.constant(image), tf.constant(keypoints), tf.constant(annotated),
                           level=tf.constant([0]), vertical=tf.constant([False]),
                           side=tf.constant([False]), jitter=tf.constant([0.0]))
    assert params["truncation"].numpy().all()
    labelled = cut[2].numpy()[0] > 0
    assert not labelled[[0, 1, 4, 5]].any()  # ankles and knees: below the hips' line
    assert labelled[[7, 8, 9, 12, 13]].all()  # thorax, neck, head, shoulders
    rows = cut[0].numpy()[0].max(axis=(1, 2))
    assert rows[: int(keypoints[0, 2, 1]) - 1].min() == 100 and rows[-1] == 0


def test_occlusion_covers_a_joint_with_a_rectangle_and_keeps_the_labels():
    rng = np.random.default_rng(4)
    batch = 12
    keypoints, annotated = standing_people(batch, rng)
    image = np.stack([np.full((S, S, 3), 10.0 * (i + 1), np.float32) for i in range(batch)])
    out = run(only("occlusion"), image, keypoints, annotated)
    np.testing.assert_array_equal(out["annotated"], annotated)
    np.testing.assert_array_equal(out["keypoints"], keypoints)
    for i in range(batch):
        changed = np.abs(out["image"][i] - image[i]).max(-1) > 0
        if not changed.any():  # a flat colour equal to the image's: practically never
            continue
        rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
        box = changed[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.all(), f"example {i}: the patch is not a rectangle"
        inside = ((keypoints[i, :, 0] >= cols[0] - 0.5) & (keypoints[i, :, 0] <= cols[-1] + 0.5)
                  & (keypoints[i, :, 1] >= rows[0] - 0.5) & (keypoints[i, :, 1] <= rows[-1] + 0.5))
        assert inside.any(), f"example {i}: the patch covers no joint"


def test_wide_rotation_draws_lying_poses_and_leaves_other_draws_alone():
    base = dataclasses.replace(AugmentConfig(), rotation=10.0)
    wide = dataclasses.replace(base, wide_rotation=1.0, wide_rotation_range=90.0)
    matrix, _, colour = augment.draw(SEED, 256, S, base)
    wide_matrix, _, wide_colour = augment.draw(SEED, 256, S, wide)
    angles = np.degrees(np.arctan2(wide_matrix.numpy()[:, 1, 0], wide_matrix.numpy()[:, 1, 1]))
    assert np.abs(angles).max() > 60 and np.abs(angles).max() <= 90.001
    base_angles = np.degrees(np.arctan2(matrix.numpy()[:, 1, 0], matrix.numpy()[:, 1, 1]))
    assert np.abs(base_angles).max() <= 10.001
    np.testing.assert_array_equal(colour, wide_colour)  # other draws unchanged


def test_no_degradation_is_built_unless_asked():
    assert not degrade.enabled(AugmentConfig())
    assert all(degrade.enabled(only(name)) for name in degrade.DEGRADATIONS)


def test_the_training_pipeline_applies_them_and_its_joints_follow(tmp_path):
    """Through ``build_dataset`` (XLA-compiled batch stages): the degraded batches differ from
    the plain ones, truncation unlabels joints, and every labelled joint is inside the input."""
    from test_pipeline import _cfg, _dataset, _write

    data_dir = _write(tmp_path / "shards")
    plain = _cfg(data_dir, input_size=64)
    every = {name: 1.0 for name in degrade.DEGRADATIONS}
    degraded = _cfg(data_dir, input_size=64, augment={**every, "rotation": 0.0})
    a = next(iter(_dataset(plain, "train", True)))
    b = next(iter(_dataset(degraded, "train", True)))
    assert a[0]["image"].shape == b[0]["image"].shape
    assert np.abs(a[0]["image"].numpy() - b[0]["image"].numpy()).max() > 0.1
    joints = b[0]["joints"].numpy()
    weights = b[2]["heatmaps_1"].numpy()  # the annotated flags weight the heatmaps
    assert np.all((joints[..., :2][weights > 0] >= 0) & (joints[..., :2][weights > 0] < 64))


def test_with_absent_weight_the_joints_cut_off_train_an_empty_map(tmp_path):
    """``data.absent_weight``: a joint the crop or a truncation takes out of the input keeps
    that weight with an all-zero target (a low score learns "not in the photo"); the same
    draws without it leave such joints out of the loss. Nothing else changes."""
    from test_pipeline import _cfg, _dataset, _write

    data_dir = _write(tmp_path / "shards")
    cut = {"truncation": 1.0, "rotation": 0.0, "scale_min": 1.2, "scale_max": 1.4}
    without = next(iter(_dataset(_cfg(data_dir, input_size=64, augment=cut), "train", True)))
    with_absent = next(iter(_dataset(_cfg(data_dir, input_size=64, augment=cut,
                                          absent_weight=0.5), "train", True)))
    np.testing.assert_array_equal(with_absent[0]["image"].numpy(), without[0]["image"].numpy())
    w0, w1 = without[2]["heatmaps_1"].numpy(), with_absent[2]["heatmaps_1"].numpy()
    maps = with_absent[1]["heatmaps_1"].numpy()  # B x H x W x K
    np.testing.assert_array_equal(maps, without[1]["heatmaps_1"].numpy())
    absent = w1 != w0
    assert absent.sum() >= 2
    np.testing.assert_array_equal(w0[absent], 0.0)
    np.testing.assert_array_equal(w1[absent], 0.5)
    assert np.all(maps.max(axis=(1, 2))[absent] == 0.0)
    joints = with_absent[0]["joints"].numpy()
    assert np.all(joints[..., 2][absent] == 0.0)  # and no joint input says otherwise


@pytest.mark.parametrize("kind", ["resnet34", "efficientnet_lite0_simcc"])
def test_absent_weight_is_refused_where_there_is_no_empty_target(kind):
    from tfpose import config
    from tfpose.core.errors import ConfigError
    from tfpose.tasks import get_task

    cfg = config.from_dict({"data": {"input_size": 64, "absent_weight": 1.0},
                            "model": {"kind": kind}})
    with pytest.raises(ConfigError, match="absent_weight"):
        get_task(cfg)
