"""The person-centred second pass and its training crops: one square person box for both, the
crops keep joints on their pixels, the second pass maps back to the right pixels of a
non-square photo, and the recipe's data options (stored-size canvas, extra training sets)."""

import dataclasses
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfpose import config
from tfpose.core import person_box
from tfpose.config import AugmentConfig
from tfpose.input import augment

SIZE = 64


def test_square_box_is_centred_on_the_weighted_joints_with_the_margin():
    keypoints = np.array([[[10.0, 20.0], [30.0, 60.0], [500.0, 500.0]],
                          [[5.0, 5.0], [9.0, 9.0], [0.0, 0.0]]], np.float32)
    weights = np.array([[1, 1, 0], [1, 0, 0]], np.float32)  # row 1: one joint, no box
    centre, side, valid = person_box.square_box(keypoints, weights, margin=1.5)
    np.testing.assert_allclose(centre.numpy()[0], [20.0, 40.0])
    assert side.numpy()[0] == pytest.approx(60.0)  # 1.5 x the taller side (40)
    assert valid.numpy().tolist() == [True, False]
    np.testing.assert_allclose(person_box.corners(centre, side).numpy()[0], [-10, 10, 50, 70])


def _dots_example(joints):
    """Black 64 x 64 image with a bright 3 x 3 dot on each joint."""
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    for x, y in joints.astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255.0
    keypoints = np.concatenate([joints, np.ones((16, 1), np.float32)], axis=1)
    return {"image": np.stack([image] * 4), "keypoints": np.stack([keypoints] * 4),
            "annotated": np.ones((4, 16), np.float32)}


CROPS = AugmentConfig(rotation=40.0, scale_min=0.9, scale_max=1.1, translate=0.0, flip=True,
                      color_jitter=0.0, person_crop=1.0)


@pytest.mark.parametrize("seed", range(4))
def test_person_crops_fill_the_input_and_keep_joints_on_their_pixels(seed):
    # A small person (joints within a 16 x 16 square) in a corner of the frame.
    rng = np.random.default_rng(seed)
    joints = rng.uniform(6.0, 22.0, (16, 2)).astype(np.float32)
    example = _dots_example(joints)
    matrix, flip, colour = augment.draw(np.array([seed, 3]), 4, SIZE, CROPS,
                                        example["keypoints"], example["annotated"])
    out = augment.apply(example, matrix, flip, colour, CROPS, SIZE)
    image, keypoints = out["image"].numpy().sum(-1), out["keypoints"].numpy()
    for b in range(4):
        inside = out["annotated"].numpy()[b] > 0
        xy = keypoints[b, inside, :2]
        # Zoomed about the person: its extent is ~SIZE / MARGIN (x the drawn 0.9-1.1, and a
        # rotation can stretch the box's diagonal).
        extent = (xy.max(0) - xy.min(0)).max()
        assert 0.6 * SIZE / person_box.MARGIN < extent < 1.45 * SIZE / person_box.MARGIN
        centre = (joints.min(0) + joints.max(0)) / 2.0
        moved = matrix.numpy()[b] @ np.array([centre[0], centre[1], 1.0])
        np.testing.assert_allclose(moved[:2], (SIZE - 1) / 2.0, atol=1e-3)  # box centre -> centre
        for x, y in xy:  # every joint still sits on its (zoomed) dot
            x0, y0 = int(round(x)), int(round(y))
            window = image[b, max(y0 - 1, 0):y0 + 2, max(x0 - 1, 0):x0 + 2]
            assert window.max() > 0.5 * 3 * 255


def test_without_joints_or_with_probability_zero_the_whole_frame_is_kept():
    base = dataclasses.replace(CROPS, person_crop=0.0)
    joints = np.random.default_rng(0).uniform(6.0, 22.0, (16, 2)).astype(np.float32)
    example = _dots_example(joints)
    plain = augment.draw(np.array([1, 2]), 4, SIZE, base)[0]
    np.testing.assert_allclose(
        augment.draw(np.array([1, 2]), 4, SIZE, base, example["keypoints"],
                     example["annotated"])[0], plain)
    # One annotated joint: no box, so the whole frame even at probability 1.
    alone = np.zeros((4, 16), np.float32)
    alone[:, 0] = 1.0
    np.testing.assert_allclose(
        augment.draw(np.array([1, 2]), 4, SIZE, CROPS, example["keypoints"], alone)[0],
        augment.draw(np.array([1, 2]), 4, SIZE, dataclasses.replace(CROPS, person_crop=0.0))[0])


# -- predict's second pass ---------------------------------------------------------------------

RED, GREEN = (149.0, 17.0), (117.0, 46.0)  # the two "joints" in a 160 x 60 photo


def _photo() -> bytes:
    image = np.zeros((60, 160, 3), np.uint8)
    for (x, y), channel in ((RED, 0), (GREEN, 1)):
        image[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2, channel] = 255
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


class DotFinder:
    """A stand-in for the network inside the LiteRT predictor: joints 0-7 at the brightest red
    pixel of the crop, 8-15 at the brightest green one (input pixels), scores 1."""

    def __call__(self, crops):
        b, s = crops.shape[0], crops.shape[1]
        keypoints = np.zeros((b, 16, 2), np.float32)
        for channel, joints in ((0, slice(0, 8)), (1, slice(8, 16))):
            flat = crops[..., channel].reshape(b, -1).argmax(-1)
            keypoints[:, joints] = np.stack([flat % s, flat // s], -1)[:, None]
        return {"keypoints": keypoints, "keypoint_scores": np.ones((b, 16), np.float32)}


def _predictor(passes):
    from tfpose.serving.litert import LiteRTPredictor

    predictor = object.__new__(LiteRTPredictor)  # the real host code, a fake network
    predictor.size, predictor.frame, predictor.passes = 32, "letterbox", passes
    predictor._croppers = {}  # what __init__ sets: the traced host crops
    predictor.infer = DotFinder()
    return predictor


def test_the_second_pass_crops_around_the_first_and_maps_back_to_original_pixels():
    encoded = [_photo()]
    one = _predictor(1)(encoded)
    two = _predictor(2)(encoded)
    truth = np.array([RED] * 8 + [GREEN] * 8, np.float32)
    # Pass 1 sees the 160-px photo at 32 px: 5 px per input pixel.
    assert np.abs(one["keypoints"][0] - truth).max() >= 2.0
    assert "boxes" not in one
    # Pass 2: the square around pass 1's joints (centred between the dots, 1.25 x their spread).
    x0, y0, x1, y1 = two["boxes"][0]
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert (x0 + x1) / 2 == pytest.approx((RED[0] + GREEN[0]) / 2, abs=2.5)  # pass 1's error
    assert (y0 + y1) / 2 == pytest.approx((RED[1] + GREEN[1]) / 2, abs=2.5)
    assert np.abs(two["keypoints"][0] - truth).max() <= 1.5  # ~1.2 px per input pixel
    assert np.abs(two["keypoints"][0] - truth).max() < np.abs(one["keypoints"][0] - truth).max()


def test_the_second_pass_keeps_pass_one_where_no_joint_is_confident():
    predictor = _predictor(2)
    finder = predictor.infer
    predictor.infer = lambda crops: dict(finder(crops), keypoint_scores=np.zeros((len(crops), 16)))
    out = predictor([_photo()])
    np.testing.assert_array_equal(out["keypoints"], _predictor(1)([_photo()])["keypoints"])


def test_joints_piled_on_one_spot_give_no_second_pass():
    """A degenerate box (all joints on one pixel) would be an empty crop: pass 1 stands."""
    predictor = _predictor(2)
    finder = predictor.infer

    def one_spot(crops):
        out = finder(crops)
        out["keypoints"][:, 8:] = out["keypoints"][:, :8]
        return out

    predictor.infer = one_spot
    out = predictor([_photo()])
    assert "boxes" not in out  # no image got a second pass
    np.testing.assert_allclose(out["keypoints"][0], np.tile(out["keypoints"][0, :1], (16, 1)))


def test_a_box_skips_the_first_pass():
    box = np.array([[100.0, 0.0, 164.0, 64.0]], np.float32)
    np.testing.assert_array_equal(_predictor(2)([_photo()], box)["keypoints"],
                                  _predictor(1)([_photo()], box)["keypoints"])


# -- the recipe's schedule ---------------------------------------------------------------------


def test_cosine_schedule_warms_up_then_decays_to_one_percent():
    from tfpose.training import common as train

    cfg = config.from_dict({"train": {"learning_rate": 1e-3, "lr_schedule": "cosine",
                                      "warmup_epochs": 1, "epochs": 5}})
    schedule = train.learning_rate_schedule(cfg.train, steps=10)
    values = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert values[0] == 0.0 and values[1] == pytest.approx(5e-4)
    assert values[2] == pytest.approx(1e-3)  # the peak at the end of the warm-up
    assert values[3] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5), rel=1e-4)  # half way
    assert values[4] == pytest.approx(1e-5)
    bad = config.from_dict({"train": {"lr_schedule": "linear"}})
    with pytest.raises(config.ConfigError, match="lr_schedule"):
        train.learning_rate_schedule(bad.train, steps=10)
