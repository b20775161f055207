"""The everyday conditions keep joints on their pixels: a blob painted at a joint is found where
the returned joints say, truncation unlabels what leaves the frame, rotation is exact."""

import numpy as np
import pytest

from tfpose.evaluation import conditions
from tfpose.evaluation.conditions import CONDITIONS, degrade, inside_frame

SIZE = (48, 64)  # H, W: not square, so a swapped axis shows


def standing_person(height=SIZE[0], width=SIZE[1]):
    """float [16, 3]: an upright person's joints (MPII ids), pelvis and thorax unlabelled."""
    joints = np.zeros((16, 3))
    y = {"ankle": 44.3, "knee": 35.6, "hip": 26.2, "shoulder": 12.7, "neck": 8.1, "head": 2.4}
    rows = {0: "ankle", 1: "knee", 2: "hip", 3: "hip", 4: "knee", 5: "ankle", 8: "neck",
            9: "head", 10: "hip", 11: "hip", 12: "shoulder", 13: "shoulder", 14: "hip", 15: "hip"}
    for joint, part in rows.items():
        side = -1 if joint in (0, 1, 2, 10, 11, 12) else 1
        spread = 0 if part in ("neck", "head") else (9.3 if joint in (10, 15) else 4.7)
        joints[joint] = (width / 2 + side * spread + 0.37, y[part] * height / 48, 1)
    return joints


def blob(height, width, x, y, sigma=1.2):
    """uint8 [H, W, 3]: a Gaussian spot centred on the sub-pixel (x, y), on black."""
    ys, xs = np.mgrid[:height, :width]
    spot = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
    return np.repeat((255 * spot)[..., None], 3, axis=2).round().astype(np.uint8)


def centroid(image):
    weight = image.astype(np.float64).sum(axis=2)
    ys, xs = np.mgrid[:image.shape[0], :image.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def test_every_condition_is_deterministic_and_keeps_shapes():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, SIZE + (3,), dtype=np.uint8)
    joints = standing_person()
    for name in CONDITIONS:
        first, first_joints = degrade(name, image, joints, seed=0, photo_index=3)
        again, again_joints = degrade(name, image, joints, seed=0, photo_index=3)
        assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3, name
        np.testing.assert_array_equal(first, again, err_msg=name)
        np.testing.assert_array_equal(first_joints, again_joints, err_msg=name)
        assert first_joints.shape == (16, 3), name
        assert not np.array_equal(first, image) or name.startswith("low resolution"), name


@pytest.mark.parametrize("name", [n for n in CONDITIONS if not n.startswith("truncated")
                                  and n != "occlusion"])
def test_a_joint_blob_stays_on_the_joint(name):
    """Geometric conditions move the blob and the joint together; photometric ones move
    neither. Tolerance: the blob's centroid survives blur and resampling to a fraction of a
    pixel (clipping and quantisation, no shift)."""
    joints = standing_person()
    for joint in (0, 9, 10, 13):
        x, y = joints[joint, :2]
        image = blob(*SIZE, x, y)
        if name in ("dark", "colour cast", "low contrast", "over-exposed", "sensor noise",
                    "JPEG artefacts"):
            # Photometric: the joints come back untouched; the blob is still brightest there.
            out, moved = degrade(name, image, joints, seed=1, photo_index=joint)
            np.testing.assert_array_equal(moved, joints)
            if name in ("dark", "colour cast", "low contrast"):
                peak = np.unravel_index(out.astype(int).sum(2).argmax(), out.shape[:2])
                assert abs(peak[1] - x) <= 0.5 and abs(peak[0] - y) <= 0.5, name
            continue
        small_image = name.startswith("low resolution")
        if small_image:  # a 64-px photo: go down to 32 to test the mapping
            rng = np.random.default_rng(0)
            out, moved = conditions.low_resolution(image, joints, rng, long_side=32)
        else:
            out, moved = degrade(name, image, joints, seed=1, photo_index=joint)
        np.testing.assert_allclose(centroid(out), moved[joint, :2], atol=0.15, err_msg=name)


def test_low_resolution_halves_and_never_upscales():
    joints = standing_person()
    image = np.zeros(SIZE + (3,), np.uint8)
    out, moved = conditions.low_resolution(image, joints, None, long_side=32)
    assert out.shape == (24, 32, 3)
    np.testing.assert_allclose(moved[:, :2], (joints[:, :2] + 0.5) / 2 - 0.5)
    same, unmoved = conditions.low_resolution(image, joints, None, long_side=240)
    assert same.shape == image.shape
    np.testing.assert_array_equal(unmoved, joints)


@pytest.mark.parametrize("k_draw", [0, 1])
def test_rotation_maps_every_joint_exactly(k_draw):
    """Pixel-exact: the pixel painted at each (integer) joint is found at the moved joint."""
    joints = standing_person()
    joints[:, :2] = np.floor(joints[:, :2])
    image = np.zeros(SIZE + (3,), np.uint8)
    for k, (x, y, _) in enumerate(joints):
        image[int(y), int(x)] = (k + 1, 200, 17)

    class Draw:  # the rng only picks the direction
        def integers(self, n):
            return k_draw

    out, moved = conditions.rotate_90(image, joints, Draw())
    assert out.shape == (SIZE[1], SIZE[0], 3)
    for k, (x, y, _) in enumerate(moved):
        assert x == int(x) and y == int(y)
        assert tuple(out[int(y), int(x)]) == tuple(image[int(joints[k, 1]), int(joints[k, 0])])
    assert {tuple(out[int(y), int(x)])[1] for x, y, _ in moved} == {200}


@pytest.mark.parametrize("name,gone,kept", [
    ("truncated at the shoulders", (8, 9), (12, 13, 2, 3, 0, 5)),
    ("truncated at the waist", (1, 4, 0, 5), (2, 3, 12, 13, 9)),
    ("truncated at the knees", (0, 5), (1, 4, 2, 3, 9)),
])
def test_truncation_cuts_the_named_part_and_labels_nothing_outside(name, gone, kept):
    joints = standing_person()
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, SIZE + (3,), dtype=np.uint8)
    for photo in range(20):
        out, moved = degrade(name, image, joints, seed=0, photo_index=photo)
        height, width = out.shape[:2]
        labelled = moved[:, 2] > 0
        assert inside_frame(moved[labelled], height, width).all()
        assert not labelled[list(gone)].any() and labelled[list(kept)].all()
        # Rows cut, not resampled: the kept rows are the original's, joints shifted with them.
        top = int(round(joints[9, 1] - moved[9, 1]))
        np.testing.assert_array_equal(out, image[top:top + height])
        np.testing.assert_allclose(moved[:, :2], joints[:, :2] - [0, top])


def test_truncation_of_an_upside_down_person_keeps_the_body():
    """A handstand: the head is below the hips, so the waist cut keeps the bottom rows."""
    joints = standing_person()
    joints[:, 1] = SIZE[0] - 1 - joints[:, 1]
    image = np.zeros(SIZE + (3,), np.uint8)
    out, moved = degrade("truncated at the waist", image, joints, seed=0, photo_index=0)
    labelled = moved[:, 2] > 0
    assert labelled[[12, 13, 9]].all() and not labelled[[0, 5]].any()
    assert inside_frame(moved[labelled], *out.shape[:2]).all()


def test_truncation_never_labels_a_joint_outside_for_random_people():
    rng = np.random.default_rng(7)
    for photo in range(60):
        joints = np.column_stack([rng.uniform(-10, 74, 16), rng.uniform(-10, 58, 16),
                                  rng.integers(0, 2, 16)]).astype(float)
        image = np.zeros(SIZE + (3,), np.uint8)
        for name in ("truncated at the shoulders", "truncated at the waist",
                     "truncated at the knees"):
            out, moved = degrade(name, image, joints, seed=1, photo_index=photo)
            assert out.shape[0] >= 1
            labelled = moved[:, 2] > 0
            assert inside_frame(moved[labelled], *out.shape[:2]).all()
            assert not (labelled & (joints[:, 2] == 0)).any()  # nothing gains a label


def test_occlusion_covers_joints_and_keeps_their_labels():
    joints = standing_person()
    image = np.full(SIZE + (3,), 128, np.uint8)
    for photo in range(10):
        out, moved = degrade("occlusion", image, joints, seed=0, photo_index=photo)
        np.testing.assert_array_equal(moved, joints)
        covered = [j for j in range(16) if joints[j, 2] > 0
                   and (out[int(joints[j, 1]), int(joints[j, 0])] != 128).any()]
        assert len(covered) >= 1
