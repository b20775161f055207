"""The activity classifier's joint frame: the square of ``person_box`` (numpy twin, one
margin), joints mapped into 0..224, unused joints zeroed, and a mirror that undoes itself."""

import numpy as np
import pytest

from tfpose.core import joint_frame, person_box, skeleton

K = skeleton.NUM_JOINTS


def _joints(seed=0, n=2):
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(50, 400, (n, K, 2)).astype(np.float32)
    used = rng.random((n, K)) < 0.8
    used[:, :2] = True
    return keypoints, used


def test_square_box_is_person_box_square_box_in_numpy():
    keypoints, used = _joints()
    used[1, 2:] = False
    used[1, 1] = False  # one joint: no box
    centre, side, valid = joint_frame.square_box(keypoints, used)
    tf_centre, tf_side, tf_valid = person_box.square_box(keypoints, used.astype(np.float32))
    np.testing.assert_allclose(centre, tf_centre.numpy(), rtol=1e-6)
    np.testing.assert_allclose(side, tf_side.numpy(), rtol=1e-6)
    assert valid.tolist() == tf_valid.numpy().tolist() == [True, False]
    assert person_box.MARGIN == joint_frame.MARGIN


def test_frame_puts_the_box_on_0_to_size_and_zeroes_unused_joints():
    keypoints = np.zeros((1, K, 2), np.float32)
    keypoints[0, 0], keypoints[0, 1], keypoints[0, 2] = (100, 50), (140, 250), (999, 999)
    used = np.zeros((1, K), bool)
    used[0, :2] = True
    framed = joint_frame.frame_joints(keypoints, used, size=224)
    side = 200 * joint_frame.MARGIN  # the taller extent (200 px) with the margin
    # Centre (120, 150) -> 112; the top joint is 100 px above it.
    np.testing.assert_allclose(framed[0, 0], [112 - 20 * 224 / side, 112 - 100 * 224 / side, 1],
                               rtol=1e-5)
    np.testing.assert_allclose(framed[0, 1], [112 + 20 * 224 / side, 112 + 100 * 224 / side, 1],
                               rtol=1e-5)
    assert np.all(framed[0, 2:] == 0)


def test_framing_forgets_where_and_how_large_the_person_was():
    keypoints, used = _joints(1, n=1)
    moved = keypoints * 3.0 + np.float32(1000.0)
    np.testing.assert_allclose(joint_frame.frame_joints(moved, used),
                               joint_frame.frame_joints(keypoints, used), atol=1e-3)


def _standing(height=400.0):
    """A standing person ``height`` px tall (ankles to head top), MPII order, every joint used."""
    y = np.array([1.0, 0.75, 0.5, 0.5, 0.75, 1.0, 0.5, 0.2, 0.13, 0.0, 0.5, 0.35, 0.2, 0.2,
                  0.35, 0.5], np.float32) * height
    x = np.array([-0.06, -0.05, -0.06, 0.06, 0.05, 0.06, 0.0, 0.0, 0.0, 0.0, -0.2, -0.16,
                  -0.11, 0.11, 0.16, 0.2], np.float32) * height
    return np.stack([x + 500.0, y + 100.0], -1)[None], np.ones((1, K), bool)


def test_the_body_frame_keeps_a_curled_up_person_small():
    """``scale="body"``: the side comes from the limbs' lengths, not the pose's extent, so
    raising the arms (a larger extent, the same body) leaves the body's joints where they
    were, while the box frame shrinks them; the frame is still scale and shift free."""
    keypoints, used = _standing()
    raised = keypoints.copy()
    wrists = [skeleton.JOINT_NAMES.index(n) for n in ("r_wrist", "l_wrist")]
    raised[0, wrists, 1] = keypoints[0, skeleton.JOINT_NAMES.index("head_top"), 1] - 120.0
    legs = [skeleton.JOINT_NAMES.index(n) for n in ("r_ankle", "l_ankle", "r_knee", "l_knee")]
    body = joint_frame.frame_joints(keypoints, used, scale="body")
    body_raised = joint_frame.frame_joints(raised, used, scale="body")
    box = joint_frame.frame_joints(keypoints, used)
    box_raised = joint_frame.frame_joints(raised, used)
    spread = lambda f: np.ptp(f[0, legs, 1])  # noqa: E731 - the legs' height in the frame
    # Forearms moved: the median over the 12 segments hardly does; the box grows by 30 %.
    assert spread(body_raised) == pytest.approx(spread(body), rel=0.05)
    assert spread(box_raised) < 0.85 * spread(box)
    np.testing.assert_allclose(joint_frame.frame_joints(keypoints * 2 + 7, used, scale="body"),
                               body, atol=1e-3)
    # Its side is what MPII's scale would say: ~1.25 x the person's height here.
    assert joint_frame.body_side(keypoints, used)[0] == pytest.approx(400 * 1.25, rel=0.35)


def test_the_body_frame_falls_back_to_the_box_without_a_segment():
    keypoints, used = _joints(4, n=1)
    used[:] = False
    used[0, [0, 9]] = True  # an ankle and the head top: no segment joins them
    assert np.isnan(joint_frame.body_side(keypoints, used)[0])
    np.testing.assert_array_equal(joint_frame.frame_joints(keypoints, used, scale="body"),
                                  joint_frame.frame_joints(keypoints, used))
    with pytest.raises(ValueError, match="scale"):
        joint_frame.frame_joints(keypoints, used, scale="mpii")


def test_a_person_with_one_joint_gets_no_frame():
    keypoints, used = _joints(2, n=1)
    used[:] = False
    used[0, 3] = True
    assert np.all(joint_frame.frame_joints(keypoints, used) == 0)


def test_mirror_swaps_sides_and_is_its_own_inverse():
    keypoints, used = _joints(3)
    framed = joint_frame.frame_joints(keypoints, used)
    mirrored = joint_frame.mirror_framed(framed)
    np.testing.assert_allclose(joint_frame.mirror_framed(mirrored), framed, atol=1e-4)
    r_ankle, l_ankle = skeleton.JOINT_NAMES.index("r_ankle"), skeleton.JOINT_NAMES.index("l_ankle")
    if framed[0, r_ankle, 2]:
        assert mirrored[0, l_ankle, 0] == pytest.approx(224 - framed[0, r_ankle, 0])
    # The mirror of the photo, framed, is the mirrored frame.
    flipped = keypoints.copy()
    flipped[..., 0] = -flipped[..., 0]
    order = list(skeleton.FLIP_INDEX)
    np.testing.assert_allclose(joint_frame.frame_joints(flipped[:, order], used[:, order]),
                               mirrored, atol=1e-3)
