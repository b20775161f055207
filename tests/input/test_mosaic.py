"""Composed multi-person images: every joint stays on its pixels, every box around its joints,
each person's joints on its own photo, whole single photos in the mix."""

import numpy as np
import pytest
import tensorflow as tf

from tfpose.config import MosaicConfig
from tfpose.core import person_box, skeleton
from tfpose.input import mosaic

SIDE = 64  # stored photos
SIZE = 64  # composed images
CFG = MosaicConfig(max_persons=3)


def _group(rng, slots):
    """``slots`` gradient photos: red = 4 x, green = 4 y (so a pixel tells where in its photo it
    was read), blue = 40 x (slot + 1) (which photo); 16 joints inside each."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    images = np.stack([np.stack([4 * xs, 4 * ys, np.full_like(xs, 40 * (j + 1))], -1)
                       for j in range(slots)]).astype(np.uint8)
    joints = rng.uniform(8, SIDE - 8, (slots, 16, 2)).astype(np.float32)
    keypoints = np.concatenate([joints, np.ones((slots, 16, 1), np.float32)], -1)
    annotated = np.ones((slots, 16), np.float32)
    annotated[:, 6] = 0  # an unannotated joint never counts
    extent = np.tile(np.array([0, 0, SIDE, SIDE], np.float32), (slots, 1))
    return {"image": images, "keypoints": keypoints, "annotated": annotated, "extent": extent}


def _compose_all(cfg):
    """16 composed images (in one graph: eager ops one by one are slow) with their groups."""
    rng = np.random.default_rng(0)
    groups = [_group(rng, 1 + cfg.max_persons) for _ in range(16)]
    stacked = {key: np.stack([g[key] for g in groups]) for key in groups[0]}
    ds = tf.data.Dataset.from_tensor_slices(stacked).enumerate()
    ds = ds.map(lambda i, g: mosaic.compose(g, tf.stack([tf.constant(7, tf.int64), i]), SIZE, cfg))
    return list(zip(groups, ds))


@pytest.fixture(scope="module")
def composed():
    return _compose_all(CFG)


@pytest.fixture(scope="module")
def composed_lying():
    """The same groups and seeds with every pasted person turned a quarter turn."""
    return _compose_all(MosaicConfig(max_persons=3, lying=1.0))


def _bilinear(image, xy):
    """``image`` H x W x C read at the points ``xy`` N x 2, and whether each point's four
    neighbouring pixels exist."""
    x0, y0 = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1]).astype(int)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < image.shape[1]) & (y0 + 1 < image.shape[0])
    x0, y0 = np.clip(x0, 0, image.shape[1] - 2), np.clip(y0, 0, image.shape[0] - 2)
    wx, wy = (xy[:, 0] - x0)[:, None], (xy[:, 1] - y0)[:, None]
    taps = [image[y0, x0], image[y0, x0 + 1], image[y0 + 1, x0], image[y0 + 1, x0 + 1]]
    value = ((taps[0] * (1 - wx) + taps[1] * wx) * (1 - wy)
             + (taps[2] * (1 - wx) + taps[3] * wx) * wy)
    same = np.ptp(np.stack([t[:, 2] for t in taps]), axis=0) == 0  # one photo under all four
    return value, inside & same


def test_every_visible_joint_is_on_its_own_photo_at_its_place(composed):
    assert _joints_on_their_photos(composed) > 100


def test_lying_people_are_turned_a_quarter_turn_and_keep_their_joints_on_their_pixels(
        composed, composed_lying):
    """``lying``: a pasted person's limbs turn by 90 degrees (either way) against the same
    paste upright; the background photo does not turn; joints stay on their pixels."""
    assert _joints_on_their_photos(composed_lying) > 100
    turns = []
    for (_, upright), (_, lying) in zip(composed, composed_lying):
        for j in range(1 + CFG.max_persons):
            used = (upright["annotated"][j].numpy() > 0) & (lying["annotated"][j].numpy() > 0)
            if used.sum() < 2:
                continue
            a = upright["keypoints"][j, :, :2].numpy()[used]
            b = lying["keypoints"][j, :, :2].numpy()[used]
            da, db = a - a.mean(0), b - b.mean(0)
            cross = (da[:, 0] * db[:, 1] - da[:, 1] * db[:, 0]).sum()
            angle = np.degrees(np.arctan2(cross, (da * db).sum()))
            turns.append((j, angle))
    background = [angle for j, angle in turns if j == 0]
    pasted = [abs(angle) for j, angle in turns if j > 0]
    assert all(abs(angle) < 1e-2 for angle in background)
    assert len(pasted) >= 8 and all(abs(angle - 90) < 1e-2 for angle in pasted)
    signs = {np.sign(angle) for j, angle in turns if j > 0}
    assert signs == {-1.0, 1.0}  # both ways


def _joints_on_their_photos(composed) -> int:
    """Checks every visible joint reads its own photo at its own place; returns how many
    were read exactly (the four pixels around them from that photo)."""
    checked = 0
    for group, ex in composed:
        image = ex["image"].numpy()
        for j in range(1 + CFG.max_persons):
            visible = (ex["annotated"][j].numpy() > 0) & (ex["keypoints"][j, :, 2].numpy() > 0)
            if not visible.any():
                continue
            xy = ex["keypoints"][j, :, :2].numpy()[visible]
            px = np.clip(np.round(xy).astype(int), 0, SIZE - 1)
            np.testing.assert_allclose(image[px[:, 1], px[:, 0], 2], 40 * (j + 1), atol=1e-3)
            # Read between pixels at the joint itself: a linear ramp resampled bilinearly is
            # the same ramp, so the photo position comes back exactly where all four
            # neighbouring pixels belong to the person's photo.
            value, exact = _bilinear(image, xy)
            read = value[exact, :2] / 4.0
            source = group["keypoints"][j, :, :2]
            # A mirrored person's joints swap sides: joint k was the photo's FLIP_INDEX[k].
            errors = [np.abs(read - source[np.asarray(order)[visible]][exact]).max(initial=0)
                      for order in (range(16), skeleton.FLIP_INDEX)]
            assert min(errors) < 0.02
            checked += exact.sum()
    return checked


def test_every_box_is_the_margin_box_of_its_joints(composed):
    counts = []
    for group, ex in composed:
        valid = ex["box_valid"].numpy() > 0
        counts.append(valid.sum())
        for j in np.flatnonzero(valid):
            box = ex["boxes"][j].numpy()
            used = ex["annotated"][j].numpy() > 0
            xy = ex["keypoints"][j, :, :2].numpy()[used]
            assert (xy >= box[:2] - 1e-3).all() and (xy <= box[2:] + 1e-3).all()
            centre = (box[:2] + box[2:]) / 2
            assert (centre >= 0).all() and (centre < SIZE).all()
            if used.sum() == 15:  # every annotated joint inside the image: the exact box
                low, high = xy.min(0), xy.max(0)
                np.testing.assert_allclose(box[2:] - box[:2], (high - low) * person_box.MARGIN,
                                           rtol=1e-4)
                np.testing.assert_allclose(centre, (low + high) / 2, atol=1e-3)
    counts = np.array(counts)
    assert counts.min() >= 1 and counts.max() <= CFG.max_persons
    assert (counts == 1).any() and (counts >= 3).any()


def test_whole_photos_stay_in_the_mix():
    """With whole_photo = 1 and one person at most, every image is one whole photo: its person
    labelled, nothing pasted, the photo unstretched (zoom equal in x and y)."""
    rng = np.random.default_rng(1)
    cfg = MosaicConfig(max_persons=1, whole_photo=1.0)
    group = _group(rng, 2)
    ex = mosaic.compose(group, [0, 3], SIZE, cfg)
    np.testing.assert_array_equal(ex["box_valid"].numpy(), [1.0, 0.0])
    assert ex["annotated"][1].numpy().sum() == 0
    image = ex["image"].numpy()
    assert set(np.unique(image[..., 2])) <= {0.0, 40.0}  # only photo 0 (and letterbox black)
    kp = ex["keypoints"][0].numpy()
    used = ex["annotated"][0].numpy() > 0
    ratio = np.ptp(kp[used, :2], 0) / np.ptp(group["keypoints"][0][group["annotated"][0] > 0, :2], 0)
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-4)


def test_same_seed_same_image_eagerly_and_in_a_dataset_map(composed):
    group, graph = composed[0]
    eager = mosaic.compose(group, [7, 0], SIZE, CFG)
    np.testing.assert_allclose(graph["image"].numpy(), eager["image"].numpy(), atol=1e-3)
    np.testing.assert_allclose(graph["boxes"].numpy(), eager["boxes"].numpy(), atol=1e-4)


def test_photo_extent_of_letterbox_and_whole_records():
    # A 200 x 100 photo letterboxed into a 256 square: the box is (0, -50, 200, 150).
    np.testing.assert_allclose(mosaic.photo_extent([0.0, -50.0, 200.0, 150.0], 256.0).numpy(),
                               [0.0, 64.0, 256.0, 192.0])
    np.testing.assert_allclose(mosaic.photo_extent([0.0, 0.0, 200.0, 100.0], 256.0).numpy(),
                               [0.0, 0.0, 256.0, 256.0])


def test_training_batches_get_only_the_degradations_that_move_no_pixel():
    """The detector's photometric degradations: the frame's cuts and the joint patches are
    left out (the boxes would have to follow), the rest kept; a degraded batch stays a batch of
    images in 0..255 and differs from the clean one where a degradation was drawn."""
    from tfpose.config import AugmentConfig

    augment = AugmentConfig(truncation=0.5, occlusion=0.5, blur=1.0, noise=1.0, jpeg=0.2)
    kept = mosaic.photometric_degradations(augment)
    assert (kept.truncation, kept.occlusion, kept.blur, kept.noise, kept.jpeg) == (
        0.0, 0.0, 1.0, 1.0, 0.2)
    assert mosaic.photometric_degradations(AugmentConfig(truncation=0.5)) is None
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)),
                         tf.float32)
    out = mosaic.degrade_images(images, kept, tf.constant([3, 4], tf.int64)).numpy()
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 255.0
    assert np.abs(out - images.numpy()).mean() > 1.0  # blurred and noisy: not the same picture
    again = mosaic.degrade_images(images, kept, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)  # stateless: the same seed, the same batch


def test_empty_images_show_a_strip_and_no_one():
    """``empty = 1``: every image is a person-free strip (not a whole photo) with nothing
    pasted and no box; ``empty = 0`` (the default) draws the images it drew before."""
    rng = np.random.default_rng(2)
    group = _group(rng, 1 + CFG.max_persons)
    for i in range(8):
        ex = mosaic.compose(group, [5, i], SIZE, MosaicConfig(max_persons=3, empty=1.0))
        assert ex["box_valid"].numpy().sum() == 0 and ex["annotated"].numpy().sum() == 0
        assert set(np.unique(ex["image"].numpy()[..., 2])) <= {40.0}  # photo 0's pixels only
        default = mosaic.compose(group, [5, i], SIZE, CFG)
        same = mosaic.compose(group, [5, i], SIZE, MosaicConfig(max_persons=3, empty=0.0))
        np.testing.assert_array_equal(default["image"].numpy(), same["image"].numpy())


def test_made_empty_images_are_noise_grey_or_texture_and_hold_no_one():
    """``made_empty``: that share of the empty images is made, not cut from photo 0 (whose
    blue channel is 40 everywhere), each kind shows up, and no one is labelled on them."""
    rng = np.random.default_rng(3)
    group = _group(rng, 1 + CFG.max_persons)
    cfg = MosaicConfig(max_persons=3, empty=1.0, made_empty=0.5)
    made, strips, kinds = 0, 0, set()
    for i in range(24):
        ex = mosaic.compose(group, [9, i], SIZE, cfg)
        assert ex["box_valid"].numpy().sum() == 0 and ex["annotated"].numpy().sum() == 0
        image = ex["image"].numpy()
        assert image.min() >= 0 and image.max() <= 255
        if set(np.unique(image[..., 2])) <= {40.0}:
            strips += 1
            continue
        made += 1
        step = np.abs(np.diff(image, axis=1)).mean()
        spread = image.std()
        kinds.add("texture" if step < 0.5 * spread else "noise" if spread > 68 else "grey")
    assert made >= 6 and strips >= 6  # about half each
    for seed in range(12):  # every kind, straight from made_empty
        image = mosaic.made_empty(tf.constant([seed, 0], tf.int64), SIZE).numpy()
        step, spread = np.abs(np.diff(image, axis=1)).mean(), image.std()
        kinds.add("texture" if step < 0.5 * spread else "noise" if spread > 68 else "grey")
    assert kinds == {"noise", "grey", "texture"}


def test_cut_people_cross_an_image_edge_and_are_boxed_by_the_joints_it_shows():
    """``truncation = 1``: every paste crosses an image edge (its square by 10-45 % of its
    side), its joints beyond the edge unlabelled, the rest on their pixels, its box the margin
    box of the joints the image shows (centre inside); ``truncation = 0`` draws as before."""
    composed_cut = _compose_all(MosaicConfig(max_persons=3, truncation=1.0))
    assert _joints_on_their_photos(composed_cut) > 50
    pasted = lost = 0
    for group, ex in composed_cut:
        for j in np.flatnonzero(ex["box_valid"].numpy()[1:] > 0) + 1:
            pasted += 1
            box = ex["boxes"][j].numpy()
            labelled = ex["annotated"][j].numpy() > 0
            xy = ex["keypoints"][j, :, :2].numpy()[labelled]
            assert ((xy >= 0) & (xy < SIZE)).all()
            low, high = xy.min(0), xy.max(0)
            np.testing.assert_allclose(box[2:] - box[:2], (high - low) * person_box.MARGIN,
                                       rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose((box[:2] + box[2:]) / 2, (low + high) / 2, atol=1e-3)
            lost += int((group["annotated"][j] > 0).sum() - labelled.sum())
    assert pasted >= 16 and lost > pasted  # more than a joint cut off per person on average
    rng = np.random.default_rng(2)
    group = _group(rng, 1 + CFG.max_persons)
    default = mosaic.compose(group, [5, 1], SIZE, CFG)
    same = mosaic.compose(group, [5, 1], SIZE, MosaicConfig(max_persons=3, truncation=0.0))
    np.testing.assert_array_equal(default["image"].numpy(), same["image"].numpy())


def test_cut_centre_puts_the_square_across_the_chosen_edge():
    at, side = tf.constant([30.0, 20.0]), tf.constant(40.0)
    for edge, depth, want in [(0.1, 0.0, [30.0, 64 - 16.0]), (0.6, 0.0, [30.0, 16.0]),
                              (0.8, 1.0, [2.0, 20.0]), (0.9, 1.0, [62.0, 20.0])]:
        got = mosaic.cut_centre(at, side, tf.constant(depth), tf.constant(edge), SIZE).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4)
