"""Crowd crops: one person among others, cut as the detector's box frames it; its joints stay on
its pixels, the others' are not targets, and what the edge or the square cuts off is absent."""

import numpy as np
import tensorflow as tf

from tfpose.config import MosaicConfig
from tfpose.input import crowd_crops, mosaic

from test_mosaic import SIZE, _bilinear, _group  # gradient photos that tell where a pixel is

CROP = 48  # the pose input of these tests


def test_pick_person_draws_among_the_valid_slots_only():
    valid = tf.constant([0.0, 1.0, 0.0, 1.0, 1.0])
    picks = [int(crowd_crops.pick_person(valid, u)) for u in (0.0, 0.3, 0.34, 0.66, 0.67, 0.999)]
    assert picks == [1, 1, 3, 3, 4, 4]
    assert int(crowd_crops.pick_person(tf.zeros(5), 0.5)) == -1


def test_crop_square_is_the_box_square_moved_and_scaled_within_its_bounds():
    box = tf.constant([10.0, 20.0, 30.0, 60.0])  # 20 x 40: the square's side is 40
    centred = crowd_crops.crop_square(box, tf.constant([0.5, 0.5, 0.5]), 0.1, 0.15).numpy()
    np.testing.assert_allclose(centred, [0.0, 20.0, 40.0, 60.0], atol=1e-5)
    low = crowd_crops.crop_square(box, tf.constant([0.0, 0.0, 0.0]), 0.1, 0.15).numpy()
    high = crowd_crops.crop_square(box, tf.constant([1.0, 1.0, 1.0]), 0.1, 0.15).numpy()
    for square, sign in ((low, -1), (high, 1)):
        np.testing.assert_allclose((square[:2] + square[2:]) / 2, [20 + sign * 4, 40 + sign * 4],
                                   atol=1e-4)
        np.testing.assert_allclose(square[2:] - square[:2], 40 * np.exp(sign * 0.15), rtol=1e-5)


def _crops(cfg, count=24):
    """Crops of ``count`` composed images (slot drawn, square jittered) with their groups."""
    rng = np.random.default_rng(3)
    groups = [_group(rng, 1 + cfg.max_persons) for _ in range(count)]
    out = []
    for i, group in enumerate(groups):
        composed = mosaic.compose(group, [11, i], SIZE, cfg)
        u = tf.random.stateless_uniform([4], seed=[13, i])
        slot = int(crowd_crops.pick_person(composed["box_valid"], u[0]))
        if slot < 0:
            continue
        square = crowd_crops.crop_square(composed["boxes"][slot], u[1:], 0.1, 0.15)
        out.append((group, composed, slot, square.numpy(),
                    crowd_crops.person_crop(composed, slot, square, CROP)))
    return out


def test_the_persons_joints_stay_on_its_own_photo_and_cut_joints_are_absent():
    """Every visible joint of the cropped person reads its own photo (blue = 40 x (slot + 1))
    at its own place; a joint the record labels that the image edge or the crop square cut off
    is unlabelled and still ``labelled``; nothing outside the crop is labelled."""
    crops = _crops(MosaicConfig(max_persons=3, truncation=0.5))
    exact = absent = 0
    for group, composed, slot, square, crop in crops:
        image = crop["image"].numpy()
        keypoints, annotated = crop["keypoints"].numpy(), crop["annotated"].numpy()
        labelled = crop["labelled"].numpy()
        assert ((keypoints[annotated > 0, :2] >= 0) & (keypoints[annotated > 0, :2] < CROP)).all()
        assert (annotated <= labelled).all()
        # The record's labels, whichever side the paste was mirrored to.
        assert labelled.sum() == (group["annotated"][slot] > 0).sum()
        absent += int((labelled - annotated).sum())
        # Back in the composed image, the crop's joints are the person's joints there.
        scale = CROP / (square[2] - square[0])
        inside = annotated > 0
        np.testing.assert_allclose(keypoints[inside, :2] / scale + square[:2],
                                   composed["keypoints"][slot].numpy()[inside, :2], atol=1e-3)
        visible = inside & (keypoints[:, 2] > 0)
        value, whole = _bilinear(image, keypoints[visible, :2])
        # Only where the four taps read one photo (its blue channel is the slot's).
        own = whole & (np.abs(value[:, 2] - 40 * (slot + 1)) < 1e-3)
        exact += int(own.sum())
    assert len(crops) >= 16 and exact >= 50 and absent >= 10


def test_crops_of_a_fixed_seed_are_the_same_in_a_dataset_and_eagerly():
    """``crop_square`` and ``person_crop`` are plain TF: a dataset map gives the eager crop."""
    cfg = MosaicConfig(max_persons=2)
    group = _group(np.random.default_rng(4), 3)
    composed = mosaic.compose(group, [1, 2], SIZE, cfg)
    slot = int(crowd_crops.pick_person(composed["box_valid"], 0.5))
    square = crowd_crops.crop_square(composed["boxes"][slot], tf.constant([0.2, 0.7, 0.9]),
                                     0.1, 0.15)
    eager = crowd_crops.person_crop(composed, slot, square, CROP)
    mapped = next(iter(tf.data.Dataset.from_tensors(composed).map(
        lambda c: crowd_crops.person_crop(c, slot, square, CROP))))
    for key in eager:
        np.testing.assert_allclose(eager[key].numpy(), mapped[key].numpy(), atol=1e-4)
