"""MPII readers and writer: the shipped real sample, every quirk of the real file, bad files."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from mpii_shared import TRAIN_CATEGORY_COUNTS, TRAIN_UNLABELLED
from mpii_shared import TRAIN_ANNOTATIONS as TRAIN_MAT
from tfpose.datasets import mpii
from tfpose.datasets import mpii_writer
from tfpose.core import skeleton
from tfpose.core.errors import DataError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mpii_sample"
SAMPLE_MAT = SAMPLE / "mpii_sample.mat"


def _raw_sample():
    """The sample .mat as loadmat gives it, without our reader: per image name, 1-based values."""
    release = scipy.io.loadmat(SAMPLE_MAT, struct_as_record=False, squeeze_me=True)["RELEASE"]
    out = []
    for image, act in zip(release.annolist, release.act):
        rect = image.annorect
        points = {int(p.id): (p.x, p.y, p.is_visible) for p in rect.annopoints.point}
        out.append((image.image.name, rect, points, act))
    return out


def _image(name="a.jpg", persons=(), **kw):
    image = {
        "name": name,
        "img_train": 1,
        "vididx": None,
        "frame_sec": None,
        "act": {"cat_name": "sports", "act_name": "curling", "act_id": 1},
        "single_person": [],
        "persons": list(persons),
    }
    image.update(kw)
    return image


def _person(points=((0, 10.0, 20.0, 1),), head_box=(0.0, 0.0, 30.0, 40.0), **kw):
    person = {"objpos": (50.0, 60.0), "scale": 2.5, "head_box": head_box,
              "points": None if points is None else list(points)}  # fmt: skip
    person.update(kw)
    return person


def _roundtrip(tmp_path, images, **kw):
    path = tmp_path / "release.mat"
    mpii_writer.write_release_mat(path, images)
    return mpii.read_release_mat(path, **kw)


# --- joint metadata ----------------------------------------------------------------------------


def test_flip_index_is_an_involution_swapping_left_and_right_names():
    assert len(skeleton.JOINT_NAMES) == len(skeleton.FLIP_INDEX) == skeleton.NUM_JOINTS
    for k, j in enumerate(skeleton.FLIP_INDEX):
        assert skeleton.FLIP_INDEX[j] == k
        name, flipped = skeleton.JOINT_NAMES[k], skeleton.JOINT_NAMES[j]
        if name[:2] in ("l_", "r_"):
            other = {"l_": "r_", "r_": "l_"}[name[:2]] + name[2:]
            assert flipped == other
        else:
            assert j == k
    for a, b in skeleton.SKELETON:
        assert 0 <= a < skeleton.NUM_JOINTS and 0 <= b < skeleton.NUM_JOINTS


# --- the real sample --------------------------------------------------------------------------


def test_sample_mat_reads_five_real_persons_zero_based():
    records = mpii.read_release_mat(SAMPLE_MAT)
    raw = _raw_sample()
    assert len(records) == 5
    assert [r.category for r in records] == [
        "sports", "miscellaneous", "occupation", "occupation", "occupation"]  # fmt: skip
    assert records[0].activities == ("curling",) and records[0].act_id == 1
    for k, (record, (name, rect, points, act)) in enumerate(zip(records, raw)):
        assert (record.image_name, record.image_index, record.person_index) == (name, k, 0)
        assert (SAMPLE / name).is_file()
        assert list(np.flatnonzero(record.annotated)) == sorted(points)
        np.testing.assert_array_equal(record.joints[~record.annotated], 0)
        assert not record.visible[~record.annotated].any()
        for j, (x, y, vis) in points.items():
            np.testing.assert_allclose(record.joints[j], (x - 1, y - 1), atol=1e-4)
            # Empty is_visible (ids 8, 9 in the real file) counts as visible.
            assert record.visible[j] == (np.size(vis) == 0 or int(vis) == 1)
        box = (rect.x1 - 1, rect.y1 - 1, rect.x2 - 1, rect.y2 - 1)
        np.testing.assert_allclose(record.head_box, box)
        diag = np.hypot(rect.x2 - rect.x1, rect.y2 - rect.y1)
        assert record.head_size == pytest.approx(0.6 * diag)
        assert record.objpos == pytest.approx((rect.objpos.x - 1, rect.objpos.y - 1))
        assert record.scale == pytest.approx(rect.scale)
        assert record.category == act.cat_name and record.act_id == act.act_id
        assert record.img_train and record.single_person
        assert record.video_index is None and record.frame_sec is None
    assert records[0].head_size == pytest.approx(117.96, abs=0.01)
    # Real quirks: two persons lack both ankles (absent from the point list); the third has
    # occluded wrists, annotated but not visible.
    assert [r.num_annotated for r in records] == [16, 16, 14, 14, 16]
    assert not records[2].annotated[[0, 5]].any()
    assert records[2].annotated[[10, 11]].all() and not records[2].visible[[10, 11]].any()


def test_writer_matches_the_real_release_layout(tmp_path):
    path = tmp_path / "w.mat"
    mpii_writer.write_release_mat(path, [_image(persons=[_person()])], video_list=["vid"])

    def layout(p):
        release = scipy.io.loadmat(p)["RELEASE"][0, 0]
        image = release["annolist"][0, 0]
        rect = image["annorect"][0, 0]
        return {
            "release": release.dtype.names,
            "annolist": image.dtype.names,
            "image": image["image"].dtype.names,
            "annorect": set(rect.dtype.names),
            "objpos": rect["objpos"].dtype.names,
            "point": rect["annopoints"][0, 0]["point"].dtype.names,
            "act": release["act"].dtype.names,
            "shapes": (release["annolist"].shape[0], release["img_train"].shape[0],
                       release["act"].shape[1], release["single_person"].shape[1]),
        }  # fmt: skip

    assert layout(path) == layout(SAMPLE_MAT)


def test_sample_survives_a_write_read_roundtrip(tmp_path):
    records = mpii.read_release_mat(SAMPLE_MAT)
    raw = _raw_sample()
    images = []
    for record, (_, _, points, act) in zip(records, raw):
        pts = [(j, record.joints[j, 0], record.joints[j, 1], None if np.size(v) == 0 else int(v))
               for j, (_, _, v) in points.items()]  # fmt: skip
        images.append(_image(
            record.image_name, [_person(pts, record.head_box, objpos=record.objpos,
                                        scale=record.scale)],
            act={"cat_name": act.cat_name, "act_name": act.act_name, "act_id": act.act_id},
            single_person=[1]))  # fmt: skip
    again = _roundtrip(tmp_path, images)
    for a, b in zip(records, again):
        for field in ("joints", "annotated", "visible"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-4)
        assert (a.image_name, a.category, a.activities, a.act_id) == (
            b.image_name, b.category, b.activities, b.act_id)
        assert a.head_size == pytest.approx(b.head_size)


# --- quirks of the real file ------------------------------------------------------------------


def test_unsorted_points_and_missing_joints(tmp_path):
    points = [(9, 5.0, 6.0, 1), (2, 7.0, 8.0, 1), (14, 1.5, 2.5, 0)]
    (record,) = _roundtrip(tmp_path, [_image(persons=[_person(points)])])
    assert list(np.flatnonzero(record.annotated)) == [2, 9, 14]
    np.testing.assert_allclose(record.joints[[2, 9, 14]], [[7, 8], [5, 6], [1.5, 2.5]])
    np.testing.assert_array_equal(record.joints[~record.annotated], 0)
    assert record.num_annotated == 3
    assert list(np.flatnonzero(record.visible)) == [2, 9]


@pytest.mark.parametrize(
    "is_visible, expected",
    [(1, True), (0, False), (None, True), ("1", True), ("0", False)],
)
def test_is_visible_number_empty_or_string(tmp_path, is_visible, expected):
    # Two points: with one point, squeeze_me makes `point` a lone struct (covered below).
    points = [(3, 1.0, 1.0, is_visible), (4, 2.0, 2.0, 1)]
    (record,) = _roundtrip(tmp_path, [_image(persons=[_person(points)])])
    assert record.annotated[3] and record.visible[3] == expected


def test_single_point_single_person_and_several_persons(tmp_path):
    images = [
        _image("one.jpg", [_person([(6, 1.0, 2.0, 1)])]),  # lone structs all the way down
        _image("two.jpg", [_person(), _person([(7, 3.0, 4.0, None)])], single_person=[2]),
    ]
    records = _roundtrip(tmp_path, images)
    assert [(r.image_name, r.image_index, r.person_index) for r in records] == [
        ("one.jpg", 0, 0), ("two.jpg", 1, 0), ("two.jpg", 1, 1)]  # fmt: skip
    np.testing.assert_allclose(records[0].joints[6], (1, 2))
    assert [r.single_person for r in records] == [False, False, True]


def test_empty_annorect_and_persons_with_only_scale_and_objpos(tmp_path):
    images = [
        _image("empty.jpg", []),
        _image("test.jpg", [_person(None, None), _person(None, None, objpos=None, scale=None)],
               img_train=0),  # test image: scale + objpos only (and one with nothing)
        _image("mixed.jpg", [_person(None, None), _person()]),
    ]
    annotated = _roundtrip(tmp_path, images)
    assert [(r.image_name, r.person_index) for r in annotated] == [("mixed.jpg", 1)]
    everyone = mpii.read_release_mat(tmp_path / "release.mat", annotated_only=False)
    assert [(r.image_name, r.person_index) for r in everyone] == [
        ("test.jpg", 0), ("test.jpg", 1), ("mixed.jpg", 0), ("mixed.jpg", 1)]  # fmt: skip
    bare = everyone[0]
    assert bare.num_annotated == 0 and not bare.visible.any() and not bare.img_train
    assert bare.head_box is None and bare.head_size is None
    assert bare.objpos == pytest.approx((50.0, 60.0)) and bare.scale == pytest.approx(2.5)
    assert everyone[1].objpos is None and everyone[1].scale is None
    assert everyone[2].head_box is None  # head-box fields present but empty for this person


def test_multi_activity_and_unlabelled_images(tmp_path):
    images = [
        _image("multi.jpg", [_person()], act={
            "cat_name": "home activities", "act_name": "cooking, washing dishes", "act_id": 70}),
        _image("none.jpg", [_person()], act={"cat_name": "", "act_name": "", "act_id": -1}),
    ]  # fmt: skip
    multi, none = _roundtrip(tmp_path, images)
    assert multi.category == "home activities" and multi.act_id == 70
    assert multi.activities == ("cooking", "washing dishes")
    assert (none.category, none.activities, none.act_id) == ("", (), -1)


def test_video_index_frame_sec_and_single_person_forms(tmp_path):
    images = [
        _image("v.jpg", [_person()], vididx=12, frame_sec=34, single_person=[1]),  # scalar
        _image("e.jpg", [_person()], single_person=[]),  # empty
        _image("m.jpg", [_person(), _person(), _person()], single_person=[1, 3]),  # array
    ]
    records = _roundtrip(tmp_path, images)
    assert (records[0].video_index, records[0].frame_sec) == (12, 34)
    assert (records[1].video_index, records[1].frame_sec) == (None, None)
    assert [r.single_person for r in records] == [True, False, True, False, True]


def test_one_image_files_and_an_empty_annolist(tmp_path):
    # With one image, squeeze_me collapses every per-image array to its lone element.
    for single, expected in [([1, 2], [True, True]), ([], [False, False]), ([2], [False, True])]:
        images = [_image(persons=[_person(), _person()], single_person=single, img_train=0)]
        records = _roundtrip(tmp_path, images)
        assert [r.single_person for r in records] == expected
        assert not any(r.img_train for r in records) and records[0].category == "sports"
    assert _roundtrip(tmp_path, []) == []


def test_read_annotations_dispatches_on_suffix(tmp_path):
    assert len(mpii.read_annotations(SAMPLE_MAT)) == 5
    other = tmp_path / "ann.txt"
    other.write_text("x")
    with pytest.raises(DataError, match=r"ann\.txt.*\.mat.*\.json"):
        mpii.read_annotations(other)


# --- bad files --------------------------------------------------------------------------------


def test_missing_truncated_and_garbage_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nothere.mat.*not found"):
        mpii.read_release_mat(tmp_path / "nothere.mat")
    data = SAMPLE_MAT.read_bytes()
    for name, payload in [("truncated.mat", data[: len(data) // 2]), ("header.mat", data[:100]),
                          ("garbage.mat", bytes(range(256)) * 8), ("text.mat", b"hello\n")]:
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(DataError, match=name):
            mpii.read_release_mat(path)


def test_wrong_structure_is_named(tmp_path):
    cases = {
        "norelease.mat": ({"joints": np.zeros((3, 2))}, "no RELEASE.*joints"),
        "notstruct.mat": ({"RELEASE": np.ones((2, 2))}, "RELEASE is a .*not a struct"),
        "noannolist.mat": ({"RELEASE": {"img_train": 1, "version": "12"}}, "no annolist"),
    }
    for name, (content, message) in cases.items():
        scipy.io.savemat(tmp_path / name, content)
        with pytest.raises(DataError, match=f"{name}.*{message}"):
            mpii.read_release_mat(tmp_path / name)
    # A per-image array of the wrong length.
    path = tmp_path / "short.mat"
    mpii_writer.write_release_mat(path, [_image(persons=[_person()]), _image(persons=[_person()])])
    contents = scipy.io.loadmat(path)
    contents["RELEASE"][0, 0]["img_train"] = np.ones((1, 1), np.uint8)
    scipy.io.savemat(path, {"RELEASE": contents["RELEASE"]})
    with pytest.raises(DataError, match="short.mat.*img_train has 1 entries for 2 images"):
        mpii.read_release_mat(path)


@pytest.mark.parametrize(
    "points, message",
    [
        ([(20, 1.0, 1.0, 1), (0, 1.0, 1.0, 1)], "point id 20"),
        ([(3, 1.0, 1.0, 1), (3, 2.0, 2.0, 1)], "joint 3 appears twice"),
        ([(3, 1.0, 1.0, "yes"), (4, 1.0, 1.0, 1)], "joint 3 is_visible is the string 'yes'"),
    ],
)
def test_malformed_person_names_file_image_and_person(tmp_path, points, message):
    images = [_image("ok.jpg", [_person()]), _image("bad.jpg", [_person(), _person(points)])]
    path = tmp_path / "bad.mat"
    mpii_writer.write_release_mat(path, images)
    with pytest.raises(DataError, match=rf"bad\.mat: image 1 \(bad\.jpg\), person 1: {message}"):
        mpii.read_release_mat(path)


@pytest.mark.faults
def test_nonfinite_joints_are_dropped_and_counted(tmp_path):
    """A NaN or infinite coordinate leaves that joint not annotated, the rest of the person
    kept, and the count reaches the reader's (and so the manifest's) dropped_joints."""
    from tfpose.datasets import readers

    points = [(3, float("nan"), 1.0, 1), (4, 5.0, 6.0, 1), (5, 2.0, float("inf"), 0)]
    path = tmp_path / "nonfinite.mat"
    mpii_writer.write_release_mat(path, [_image("a.jpg", [_person(points), _person()])])
    found = readers.read_annotations(path)
    assert found.dropped_joints == 2
    first = found.records[0]
    assert not first.annotated[3] and not first.annotated[5] and first.annotated[4]
    np.testing.assert_allclose(first.joints[4], (5.0, 6.0))  # the writer's points are 0-based
    assert found.records[1].dropped_joints == 0


# --- HRNet / mmpose JSON ----------------------------------------------------------------------


def _sample_json(tmp_path, drop_ankles=False):
    """The sample in the mmpose layout, which keeps the .mat's 1-based pixels."""
    entries = []
    for name, rect, points, _ in _raw_sample():
        # mmpose writes a missing joint as (-1, -1) with joints_vis 0.
        joints = [[float(points[j][0]), float(points[j][1])] if j in points else [-1.0, -1.0]
                  for j in range(16)]  # fmt: skip
        vis = [int(j in points) for j in range(16)]
        if drop_ankles:
            joints[0], vis[0] = [-1.0, -1.0], 0
        entries.append({"joints_vis": vis, "joints": joints, "image": name,
                        "scale": float(rect.scale),
                        "center": [float(rect.objpos.x), float(rect.objpos.y)]})  # fmt: skip
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(entries))
    return path


def test_json_reader_matches_the_mat_reader(tmp_path):
    from_mat = mpii.read_release_mat(SAMPLE_MAT)
    from_json = mpii.read_annotations(_sample_json(tmp_path))
    assert len(from_json) == 5
    for a, b in zip(from_mat, from_json):
        assert (a.image_name, a.image_index, a.person_index) == (
            b.image_name, b.image_index, b.person_index)
        np.testing.assert_allclose(a.joints, b.joints, atol=1e-4)
        np.testing.assert_array_equal(a.annotated, b.annotated)
        np.testing.assert_array_equal(b.visible, b.annotated)
        assert a.objpos == pytest.approx(b.objpos) and a.scale == pytest.approx(b.scale)
        assert (b.head_box, b.head_size, b.category, b.act_id) == (None, None, "", -1)


def test_json_not_annotated_joints_and_bad_json(tmp_path):
    records = mpii.read_json(_sample_json(tmp_path, drop_ankles=True))
    assert not records[0].annotated[0] and not records[0].visible[0]
    np.testing.assert_array_equal(records[0].joints[0], 0)
    zero_based = mpii.read_json(tmp_path / "mpii.json", one_based=False)
    np.testing.assert_allclose(zero_based[0].joints[1], records[0].joints[1] + 1)
    bad = tmp_path / "bad.json"
    for content, message in [("{not json", "not a readable JSON"),
                             ('{"a": 1}', "expected a JSON list"),
                             ('[{"image": "a.jpg"}]', "entry 0: has no joints, joints_vis"),
                             ('[{"image": "a.jpg", "joints": [[1, 2]], "joints_vis": [1],'
                              ' "center": [1, 2], "scale": 1}]', r"entry 0: joints \(1, 2\)")]:
        bad.write_text(content)
        with pytest.raises(DataError, match=f"bad.json.*{message}"):
            mpii.read_json(bad)


# --- the real 14,649-image training annotations (skipped without ../shared) -------------------

EXPECTED_CATEGORIES = {**TRAIN_CATEGORY_COUNTS, "": TRAIN_UNLABELLED}


@pytest.fixture(scope="module")
def train_records():
    if not TRAIN_MAT.is_file():
        pytest.skip(f"{TRAIN_MAT} not present (needs ../shared)")
    return mpii.read_release_mat(TRAIN_MAT)


def test_real_training_annotations_one_record_per_image(train_records):
    records = train_records
    assert len(records) == 14649
    assert sorted(r.image_index for r in records) == list(range(14649))
    assert len({r.image_name for r in records}) == 14649
    assert all(r.num_annotated >= 3 and r.img_train for r in records)
    # Visibility is unknown in this export, so every annotated joint counts visible.
    assert all((r.visible == r.annotated).all() for r in records)
    assert all(r.head_box is None for r in records)


def test_real_training_annotations_category_counts(train_records):
    records = train_records
    assert Counter(r.category for r in records) == EXPECTED_CATEGORIES
    assert {r.act_id for r in records if r.category == ""} == {-1}
    assert all(r.act_id >= 0 for r in records if r.category)
