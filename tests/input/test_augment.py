"""Keypoint-consistent augmentation: joints follow the image; flips swap left and right."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfpose.config import AugmentConfig
from tfpose.input import augment
from tfpose.core.skeleton import FLIP_INDEX, JOINT_NAMES

SIZE = 64


def _grid_example():
    """Black image with a bright 3x3 square centred on each of 16 joints laid out on a grid."""
    xs, ys = np.meshgrid(14.0 + 12.0 * np.arange(4), 14.0 + 12.0 * np.arange(4))
    joints = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    for x, y in joints.astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255.0
    keypoints = np.concatenate([joints, np.ones((16, 1), np.float32)], axis=1)
    return {"image": image, "keypoints": keypoints, "annotated": np.ones(16, np.float32)}


def _random_example(seed=0):
    rng = np.random.default_rng(seed)
    keypoints = np.concatenate(
        [rng.uniform(2, SIZE - 3, (16, 2)), rng.integers(0, 2, (16, 1))], axis=1
    ).astype(np.float32)
    return {
        "image": rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32),
        "keypoints": keypoints,
        "annotated": np.ones(16, np.float32),
    }


STRONG = AugmentConfig(rotation=30.0, scale_min=0.75, scale_max=1.25, translate=0.05, flip=True,
                       color_jitter=0.0)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_bright_dots_follow_the_joints(seed):
    example = dict(_grid_example(), seed=np.array([seed, 7], np.int64))
    out = augment.augment(example, STRONG, SIZE)
    image = out["image"].numpy().sum(-1)
    keypoints, annotated = out["keypoints"].numpy(), out["annotated"].numpy()
    assert annotated.sum() >= 8  # most joints stay inside the frame
    for (x, y, visible), flag in zip(keypoints, annotated):
        if not flag:
            assert visible == 0.0 and not (0 <= x < SIZE and 0 <= y < SIZE)
            continue
        x0, y0 = int(round(x)), int(round(y))
        ys, xs = np.mgrid[max(y0 - 4, 0) : min(y0 + 5, SIZE), max(x0 - 4, 0) : min(x0 + 5, SIZE)]
        window = image[ys, xs]
        assert window.max() > 0.5 * 3 * 255
        best = np.unravel_index(np.argmax(window), window.shape)
        assert np.hypot(xs[best] - x, ys[best] - y) <= 1.5
        if 4 <= x0 < SIZE - 4 and 4 <= y0 < SIZE - 4:  # whole dot in the window: centroid
            cx, cy = (window * xs).sum() / window.sum(), (window * ys).sum() / window.sum()
            assert np.hypot(cx - x, cy - y) <= 0.5


def test_flip_twice_is_the_identity():
    example = _random_example()
    twice = augment.flip(augment.flip(example, SIZE), SIZE)
    np.testing.assert_allclose(twice["image"].numpy(), example["image"], atol=1e-2)
    np.testing.assert_allclose(twice["keypoints"].numpy(), example["keypoints"], atol=1e-4)
    np.testing.assert_array_equal(twice["annotated"].numpy(), example["annotated"])


def test_flip_mirrors_the_image_and_swaps_left_and_right():
    example = _random_example(1)
    out = augment.flip(example, SIZE)
    np.testing.assert_allclose(out["image"].numpy(), example["image"][:, ::-1], atol=1e-2)
    keypoints = out["keypoints"].numpy()
    source = example["keypoints"][list(FLIP_INDEX)]
    np.testing.assert_allclose(keypoints[:, 0], SIZE - 1 - source[:, 0], atol=1e-4)
    np.testing.assert_allclose(keypoints[:, 1:], source[:, 1:], atol=1e-4)
    names = list(JOINT_NAMES)
    left_wrist_before = example["keypoints"][names.index("r_wrist")]
    left_wrist_after = keypoints[names.index("l_wrist")]
    assert left_wrist_after[0] == pytest.approx(SIZE - 1 - left_wrist_before[0], abs=1e-4)
    assert left_wrist_after[1] == pytest.approx(left_wrist_before[1], abs=1e-4)


def test_joints_leaving_the_frame_lose_both_flags():
    example = _random_example(2)
    matrix = augment.affine_matrix(SIZE, tx=40.0)
    out = augment.apply_affine(example, matrix, False, SIZE)
    keypoints, annotated = out["keypoints"].numpy(), out["annotated"].numpy()
    outside = example["keypoints"][:, 0] + 40.0 >= SIZE
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(annotated, np.where(outside, 0.0, 1.0))
    np.testing.assert_array_equal(keypoints[:, 2], np.where(outside, 0.0, example["keypoints"][:, 2]))
    np.testing.assert_allclose(keypoints[:, 0], example["keypoints"][:, 0] + 40.0, atol=1e-4)


def test_the_labels_before_any_crop_swap_sides_with_the_joints():
    """``labelled`` (the pipeline's flags before the crops, for absent joints) follows a flip."""
    example = _random_example(3)
    labelled = np.zeros(len(JOINT_NAMES), np.float32)
    labelled[JOINT_NAMES.index("r_wrist")] = 1.0
    out = augment.flip(dict(example, labelled=labelled), SIZE)
    expected = np.zeros_like(labelled)
    expected[JOINT_NAMES.index("l_wrist")] = 1.0
    np.testing.assert_array_equal(out["labelled"].numpy(), expected)
    batch = {k: np.stack([v, v]) for k, v in dict(example, labelled=labelled).items()}
    out = augment.apply_affine(batch, np.stack([np.eye(3, dtype=np.float32)] * 2),
                               np.array([False, True]), SIZE)
    np.testing.assert_array_equal(out["labelled"].numpy(), [labelled, expected])


def test_same_seed_same_result_and_other_seed_differs():
    example = _random_example(3)
    cfg = dataclasses.replace(STRONG, color_jitter=0.3)
    a = augment.augment(dict(example, seed=np.array([1, 2])), cfg, SIZE)
    b = augment.augment(dict(example, seed=np.array([1, 2])), cfg, SIZE)
    c = augment.augment(dict(example, seed=np.array([1, 3])), cfg, SIZE)
    np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    np.testing.assert_array_equal(a["keypoints"].numpy(), b["keypoints"].numpy())
    assert not np.allclose(a["keypoints"].numpy(), c["keypoints"].numpy())


def test_disabled_is_a_no_op_and_jitter_stays_in_range():
    example = dict(_random_example(4), seed=np.array([0, 0]))
    out = augment.augment(example, AugmentConfig(enabled=False), SIZE)
    np.testing.assert_array_equal(out["image"], example["image"])
    jittered = augment.color_jitter(tf.constant(example["image"]), 0.5, np.array([5, 6]))
    assert 0.0 <= float(tf.reduce_min(jittered)) and float(tf.reduce_max(jittered)) <= 255.0
    assert not np.allclose(jittered.numpy(), example["image"])


def test_augment_same_eagerly_and_in_dataset_map():
    example = dict(_random_example(5), seed=np.array([9, 9], np.int64))
    cfg = dataclasses.replace(STRONG, color_jitter=0.2)
    eager = augment.augment(example, cfg, SIZE)
    mapped = next(iter(tf.data.Dataset.from_tensors(example).map(lambda e: augment.augment(e, cfg, SIZE))))
    for key in ("image", "keypoints", "annotated"):
        np.testing.assert_allclose(mapped[key].numpy(), eager[key].numpy(), atol=1e-3)


def test_joints_only_example_is_augmented_without_an_image():
    example = _random_example(6)
    del example["image"]
    out = augment.augment(dict(example, seed=np.array([0, 1])), STRONG, SIZE)
    assert "image" not in out and out["keypoints"].shape == (16, 3)


def test_warp_matches_image_projective_transform_inside_the_image():
    """The fused gather warp is TF's bilinear ``ImageProjectiveTransformV3`` (same pixel
    convention) wherever all four taps lie inside the image; outside it is 0."""
    rng = np.random.default_rng(7)
    images = rng.uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    matrix, _, _ = augment.draw(np.array([4, 2]), 3, SIZE, STRONG)
    ours = augment.warp_image(images, matrix).numpy()
    inverse = tf.linalg.inv(matrix)
    reference = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.reshape(inverse, [3, 9])[:, :8], output_shape=[SIZE, SIZE],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
    ).numpy()  # fmt: skip
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    inv = inverse.numpy()
    sx = inv[:, 0, 0, None, None] * xs + inv[:, 0, 1, None, None] * ys + inv[:, 0, 2, None, None]
    sy = inv[:, 1, 0, None, None] * xs + inv[:, 1, 1, None, None] * ys + inv[:, 1, 2, None, None]
    interior = (sx > 0.01) & (sx < SIZE - 1.01) & (sy > 0.01) & (sy < SIZE - 1.01)
    outside = (sx < -0.51) | (sx > SIZE - 0.49) | (sy < -0.51) | (sy > SIZE - 0.49)
    assert interior.sum() > 0.5 * interior.size and outside.sum() > 100
    np.testing.assert_allclose(ours[interior], reference[interior], atol=0.05)
    assert np.all(ours[outside] == 0.0)


def test_uint8_canvas_warp_reads_only_its_extent():
    """A zero-padded canvas: ``image_matrix`` scales its 32 x 32 image to 64 x 64 pixels, the
    same as bilinear resizing (half-pixel centres) when the augmentation is the identity."""
    rng = np.random.default_rng(8)
    small = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    canvas = np.zeros((SIZE, SIZE, 3), np.uint8)
    canvas[:32, :32] = small
    scale = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]], np.float32)  # (i + 0.5) * 2 - 0.5
    example = {"image": canvas, "image_matrix": scale, "image_extent": np.array([32.0, 32.0]),
               "keypoints": np.zeros((16, 3), np.float32), "annotated": np.ones(16, np.float32)}  # fmt: skip
    out = augment.augment(example, AugmentConfig(enabled=False), SIZE)
    assert set(out) == {"image", "keypoints", "annotated"}
    expected = tf.image.resize(small.astype(np.float32), [SIZE, SIZE], method="bilinear").numpy()
    np.testing.assert_allclose(out["image"].numpy(), expected, atol=1e-3)


def test_a_batch_gets_one_matrix_per_example():
    examples = [_random_example(10 + i) for i in range(3)]
    batch = {key: np.stack([e[key] for e in examples]) for key in examples[0]}
    cfg = dataclasses.replace(STRONG, color_jitter=0.3)
    matrix, flipped, colour = augment.draw(np.array([5, 5]), 3, SIZE, cfg)
    assert len({tuple(m) for m in matrix.numpy().reshape(3, 9).round(4)}) == 3
    batched = augment.apply(batch, matrix, flipped, colour, cfg, SIZE)
    for i, example in enumerate(examples):
        single = augment.apply(example, matrix[i], flipped[i], colour[i : i + 1], cfg, SIZE)
        for key in ("image", "keypoints", "annotated"):
            np.testing.assert_allclose(batched[key][i].numpy(), single[key].numpy(), atol=1e-3)


def test_colour_jitter_is_brightness_then_contrast_then_saturation():
    image = _random_example(11)["image"]
    b, k, s = 1.2, 0.7, 1.3
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    x = image * b
    x = (x - (x @ luma).mean()) * k + (x @ luma).mean()
    gray = (x @ luma)[..., None]
    expected = np.clip(gray + (x - gray) * s, 0, 255)
    out = augment.jitter_colours(image, [b, k, s]).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-3)
    assert 0 < (expected == 255).mean() < 0.5  # the clip is exercised
