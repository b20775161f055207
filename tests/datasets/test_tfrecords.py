"""The converter: real sample images round trip, manifest, bad input, filters, splits, CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tfpose.datasets import mpii
from tfpose.core import skeleton
from tfpose.core import geometry
from tfpose.datasets import convert
from tfpose.datasets import crops
from tfpose.datasets import inspection
from tfpose.datasets import shards
from tfpose.datasets import splits
from tfpose.core.errors import DataError

REPO = Path(__file__).resolve().parents[2]
from mpii_shared import SHARED_MPII as SHARED
from mpii_shared import TRAIN_ANNOTATIONS
from mpii_shared import TRAIN_CATEGORY_COUNTS as README_COUNTS


@pytest.fixture(scope="module")
def sample():
    """(annotation .mat, image folder) of the 5 real MPII sample images."""
    for folder, images in ((REPO / "tests" / "data" / "mpii_sample", "."), (SHARED / "sample", "images")):
        if (folder / "mpii_sample.mat").is_file():
            return folder / "mpii_sample.mat", (folder / images).resolve()
    pytest.skip("no MPII sample images (tests/data/mpii_sample or ../shared/mpii/sample)")


@pytest.fixture(scope="module")
def sample_records(sample):
    return mpii.read_annotations(sample[0])


@pytest.fixture(scope="module")
def person_dataset(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "person"
    manifest = convert.convert(sample[0], out, sample[1], crop="person", split="val", workers=2,
                         min_class_fraction=0, progress=False)  # fmt: skip
    return out, manifest


def make_record(name, index=0, person=0, category="a", joints=16, video=None, objpos=True):
    rng = np.random.default_rng(index * 31 + person)
    annotated = np.zeros(16, bool)
    annotated[:joints] = True
    xy = (rng.uniform(100, 300, (16, 2)) * annotated[:, None]).astype(np.float32)
    return mpii.PersonRecord(
        image_name=name, image_index=index, person_index=person, joints=xy,
        annotated=annotated, visible=annotated.copy(), head_box=None, head_size=None,
        objpos=(200.0, 200.0) if objpos else None, scale=1.5 if objpos else None,
        category=category, activities=(category,) if category else (), act_id=1 if category else -1,
        img_train=True, single_person=True, video_index=video, frame_sec=None,
    )  # fmt: skip


def examples_by_name(folder):
    return {ex["image/filename"].decode(): ex for ex in shards.iter_examples(folder)}


# -- real sample images ----------------------------------------------------------------------------


def _check_round_trip(folder, records, size=256):
    examples = examples_by_name(folder)
    assert len(examples) == len(records) == 5
    for record in records:
        ex = examples[record.image_name]
        keypoints = ex["person/keypoints"]
        back = geometry.to_original(keypoints[:, :2], ex["person/crop_box"], size)
        # reader joints are the .mat's (1-based) joints - 1
        np.testing.assert_allclose(back[record.annotated], record.joints[record.annotated], atol=0.5)
        np.testing.assert_array_equal(ex["person/annotated"], record.annotated)
        np.testing.assert_array_equal(keypoints[:, 2], record.visible & record.annotated)
        assert ex["person/head_size"] == pytest.approx(record.head_size, rel=1e-5)
        assert ex["image/height"] == ex["image/width"] == size
        assert len(ex["image/encoded"]) > 1000
    return examples


def test_sample_person_crop_round_trip(person_dataset, sample_records):
    folder, _ = person_dataset
    examples = _check_round_trip(folder, sample_records)
    for record in sample_records:
        box = examples[record.image_name]["person/crop_box"]
        side = record.scale * 200 * 1.25
        assert box[2] - box[0] == pytest.approx(side, rel=1e-5)
        assert box[3] - box[1] == pytest.approx(side, rel=1e-5)
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, record.objpos, atol=1e-3)


def test_sample_whole_image_round_trip(sample, sample_records, tmp_path):
    from PIL import Image

    convert.convert(sample[0], tmp_path / "whole", sample[1], crop="whole", split="train", workers=1,
              image_size=128, min_class_fraction=0, progress=False)  # fmt: skip
    examples = _check_round_trip(tmp_path / "whole", sample_records, size=128)
    for name, ex in examples.items():
        width, height = Image.open(sample[1] / name).size
        np.testing.assert_array_equal(ex["person/crop_box"], [0, 0, width, height])
        assert (ex["image/original_width"], ex["image/original_height"]) == (width, height)


def test_stored_pixels_follow_the_crop_box(tmp_path):
    """The picture is resampled on the keypoints' grid: a dot lands where its keypoint does."""
    from PIL import Image

    image = np.zeros((300, 500, 3), np.uint8)
    image[118:123, 318:323] = 255  # dot centred on pixel (x=320, y=120)
    (tmp_path / "img").mkdir()
    Image.fromarray(image).save(tmp_path / "img" / "dot.png")
    record = make_record("dot.png", objpos=False)
    record.joints[:] = 0
    record.joints[0] = (320, 120)
    record.joints[1] = (100, 250)
    convert.convert(tmp_path / "none.mat", tmp_path / "out", tmp_path / "img", records=[record],
              split="train", workers=1, image_size=64, min_joints=2, progress=False)  # fmt: skip
    ex = next(shards.iter_examples(tmp_path / "out"))
    stored = np.asarray(Image.open(__import__("io").BytesIO(ex["image/encoded"])).convert("L"), float)
    y, x = np.unravel_index(np.argmax(stored), stored.shape)
    np.testing.assert_allclose(ex["person/keypoints"][0, :2], [x, y], atol=1.0)


def test_manifest_contents(person_dataset, sample):
    folder, manifest = person_dataset
    assert json.loads((folder / shards.MANIFEST).read_text()) == manifest
    assert manifest["classes"] == ["occupation", "miscellaneous", "sports"]  # count, then name
    assert manifest["counts"] == {"val": {"occupation": 3, "miscellaneous": 1, "sports": 1,
                                          convert.UNLABELLED: 0}}  # fmt: skip
    assert manifest["num_records"] == {"val": 5}
    assert manifest["skipped"] == {}
    assert manifest["image_size"] == 256 and manifest["crop"] == "person"
    assert manifest["joint_names"] == list(skeleton.JOINT_NAMES)
    assert manifest["tfpose_version"]
    assert manifest["arguments"]["split"] == "val" and manifest["arguments"]["workers"] == 2
    import hashlib

    assert manifest["inputs"]["annotations_sha256"] == hashlib.sha256(sample[0].read_bytes()).hexdigest()
    assert len(manifest["inputs"]["images_names_sizes_sha256"]) == 64
    assert manifest["shards"] == {"val": ["val-00000-of-00001.tfrecord"]}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["val-00000-of-00001.tfrecord", shards.MANIFEST, shards.LOG])
    assert not list(folder.parent.glob(".person.*"))  # no temporary folder left


def test_same_output_for_any_worker_count(person_dataset, sample, tmp_path):
    folder, _ = person_dataset
    convert.convert(sample[0], tmp_path / "one", sample[1], split="val", workers=1,
              min_class_fraction=0, progress=False)  # fmt: skip
    name = "val-00000-of-00001.tfrecord"
    assert (tmp_path / "one" / name).read_bytes() == (folder / name).read_bytes()


# -- bad input ---------------------------------------------------------------------------------


def test_bad_images_are_skipped_counted_and_logged(sample, sample_records, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(sample[1], images, ignore=shutil.ignore_patterns("*.mat", "LICENSE*"))
    names = sorted(r.image_name for r in sample_records)
    (images / names[0]).unlink()  # missing
    data = (images / names[1]).read_bytes()
    (images / names[1]).write_bytes(data[: len(data) // 3])  # truncated JPEG
    (images / names[2]).write_bytes(b"not an image")  # unreadable
    outside = tmp_path / "outside.jpg"
    shutil.copy(sample[1] / names[3], outside)
    by_name = {r.image_name: r for r in sample_records}
    records = [by_name[n] for n in names] + [
        dataclasses.replace(by_name[names[3]], image_name="../outside.jpg", image_index=10),
        dataclasses.replace(by_name[names[3]], image_name=str(outside), image_index=11),
    ]
    manifest = convert.convert(sample[0], tmp_path / "out", images, records=records, split="train",
                         workers=2, min_class_fraction=0, progress=False)  # fmt: skip
    assert manifest["skipped"] == {crops.MISSING_IMAGE: 1, crops.CORRUPT_IMAGE: 2, convert.UNSAFE_PATH: 2}
    assert manifest["num_records"] == {"train": 2}
    log = (tmp_path / "out" / shards.LOG).read_text()
    for name, reason in [(names[0], crops.MISSING_IMAGE), (names[1], crops.CORRUPT_IMAGE),
                         (names[2], crops.CORRUPT_IMAGE), ("../outside.jpg", convert.UNSAFE_PATH),
                         (str(outside), convert.UNSAFE_PATH)]:  # fmt: skip
        assert f"skip {name} person 0: {reason}" in log


def test_safe_image_path(tmp_path):
    assert crops.safe_image_path(tmp_path, "a/b.jpg") == tmp_path / "a" / "b.jpg"
    for bad in ("/etc/passwd", "../x.jpg", "a/../../x.jpg", "C:\\x.jpg", "..\\x.jpg", ""):
        assert crops.safe_image_path(tmp_path, bad) is None, bad
    (tmp_path / "link").symlink_to("/")
    assert crops.safe_image_path(tmp_path, "link/etc/passwd") is None


def test_interrupted_run_leaves_no_dataset(sample, tmp_path, monkeypatch):
    from tfpose.datasets import schema

    calls = []
    real = schema.encode_example

    def failing(fields):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption")
        return real(fields)

    monkeypatch.setattr(schema, "encode_example", failing)
    with pytest.raises(KeyboardInterrupt):
        convert.convert(sample[0], tmp_path / "out", sample[1], split="train", workers=2,
                  min_class_fraction=0, progress=False)  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary folder


def test_existing_output_needs_overwrite(sample, sample_records, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x")
    kwargs = dict(records=sample_records, split="train", workers=1, progress=False)
    with pytest.raises(DataError, match="overwrite"):
        convert.convert(sample[0], out, annotations_only=True, **kwargs)
    convert.convert(sample[0], out, annotations_only=True, overwrite=True, **kwargs)
    assert not (out / "old.txt").exists() and (out / shards.MANIFEST).is_file()
    with pytest.raises(DataError, match="--images"):
        convert.convert(sample[0], tmp_path / "o2", progress=False)


# -- filters, labels ---------------------------------------------------------------------------


def test_select_classes_rules():
    counts = {"a": 100, "b": 50, "c": 5, "d": 4, "e": 50, "": 7}
    assert splits.select_classes(counts) == ["a", "b", "e", "c"]  # 5 >= 0.05 x 100 > 4
    assert splits.select_classes(counts, 0) == ["a", "b", "e", "c", "d"]
    assert splits.select_classes(counts, top_classes=2) == ["a", "b"]  # tie broken by name
    assert splits.select_classes(counts, 0.5) == ["a", "b", "e"]


def test_filters_in_convert(tmp_path):
    records = (
        [make_record(f"a{i}.jpg", i, category="big") for i in range(40)]
        + [make_record(f"b{i}.jpg", 100 + i, category="mid") for i in range(10)]
        + [make_record(f"c{i}.jpg", 200 + i, category="rare") for i in range(1)]
        + [make_record(f"d{i}.jpg", 300 + i, category="big", joints=3) for i in range(5)]
        + [make_record(f"u{i}.jpg", 400 + i, category="") for i in range(2)]
    )
    common = dict(records=records, annotations_only=True, split="train", workers=1, progress=False)
    manifest = convert.convert(tmp_path / "x.mat", tmp_path / "d", min_joints=4, **common)
    assert manifest["classes"] == ["big", "mid"]  # rare: 1 < 0.05 x 40
    assert manifest["skipped"] == {convert.TOO_FEW_JOINTS: 5, convert.RARE_CLASS: 1}
    assert manifest["counts"]["train"] == {"big": 40, "mid": 10, convert.UNLABELLED: 2}
    labels = Counter((ex["action/label"], ex["action/name"].decode()) for ex in shards.iter_examples(tmp_path / "d"))
    assert labels == {(0, "big"): 40, (1, "mid"): 10, (-1, ""): 2}
    manifest = convert.convert(tmp_path / "x.mat", tmp_path / "e", min_joints=0, top_classes=1, **common)
    assert manifest["classes"] == ["big"] and manifest["counts"]["train"]["big"] == 45
    assert manifest["skipped"] == {convert.RARE_CLASS: 11}
    # annotations only: empty images, keypoints in the person-crop frame
    ex = next(shards.iter_examples(tmp_path / "e"))
    assert ex["image/encoded"] == b""
    np.testing.assert_allclose(ex["person/crop_box"], [200 - 187.5, 200 - 187.5, 387.5, 387.5])


def test_fallback_crop_from_joints_bbox():
    record = make_record("x.jpg", objpos=False)
    record.annotated[:] = False
    record.annotated[:2] = True
    record.joints[:2] = [(10, 20), (50, 100)]
    assert crops.crop_box(record, margin=1.5) == (30 - 60, 60 - 60, 30 + 60, 60 + 60)
    record.annotated[:] = False
    assert crops.crop_box(record) is None


# -- splits ------------------------------------------------------------------------------------


def test_splits_group_aware_and_deterministic():
    records = [make_record(f"v{v}_{f}.jpg", v * 10 + f, video=v) for v in range(60) for f in range(5)]
    records += [make_record(f"still{i}.jpg", 1000 + i, person=p) for i in range(100) for p in range(2)]
    assigned = splits.assign_splits(records, (0.8, 0.1, 0.1), seed=3)
    assert assigned == splits.assign_splits(records, (0.8, 0.1, 0.1), seed=3)
    assert assigned != splits.assign_splits(records, (0.8, 0.1, 0.1), seed=4)
    groups = {}
    for record, split in zip(records, assigned):
        groups.setdefault(splits.group_key(record), set()).add(split)
    assert all(len(s) == 1 for s in groups.values())  # no video/image in two splits
    shares = Counter(assigned)
    assert abs(shares["train"] / len(records) - 0.8) < 0.05
    assert abs(shares["val"] / len(records) - 0.1) < 0.05
    assert set(splits.assign_splits(records, (1, 0, 0))) == {"train"}
    assert set(splits.assign_splits(records, split="test")) == {"test"}


def test_validation_list(tmp_path):
    records = [make_record(f"i{i}.jpg", i, person=p) for i in range(20) for p in range(2)]
    listing = tmp_path / "val.txt"
    listing.write_text("# image [person]\ni3.jpg 1\ni5.jpg\n")
    assigned = splits.assign_splits(records, validation=splits.read_validation_list(listing))
    val = {(r.image_name, r.person_index) for r, s in zip(records, assigned) if s == "val"}
    assert val == {("i3.jpg", 1), ("i5.jpg", 0), ("i5.jpg", 1)}
    assert set(assigned) - {"val"} <= {"train", "test"}
    official = SHARED / "eval" / "valid_index.mat"
    if official.is_file():
        entries = splits.read_validation_list(official)
        assert len(entries) == 2958 and (6, 0) in entries  # RELEASE_img_index 7, person 1
        with pytest.raises(DataError, match="matched no person"):
            splits.assign_splits(records[:2], validation={(999, 0)})


# -- real annotations, no images -----------------------------------------------------------------


@pytest.fixture(scope="module")
def train_records():
    if not TRAIN_ANNOTATIONS.is_file():
        pytest.skip(f"{TRAIN_ANNOTATIONS} absent")
    return mpii.read_annotations(TRAIN_ANNOTATIONS)


def _category_totals(manifest):
    totals = Counter()
    for per_class in manifest["counts"].values():
        totals.update(per_class)
    return totals


def test_real_train_file_classes(train_records, tmp_path):
    assert len(train_records) == 14649
    categories = Counter(r.category for r in train_records)
    assert {k: v for k, v in categories.items() if k} == README_COUNTS and categories[""] == 35
    kept = Counter(r.category for r in train_records if r.num_annotated >= 4)
    top15 = splits.select_classes(kept, top_classes=15)
    assert top15 == sorted(README_COUNTS, key=README_COUNTS.get, reverse=True)[:15]
    default = splits.select_classes(kept)  # the 0.05 rule: 155 >= 0.05 x 2842
    assert len(default) == 16 and default[-1] == "inactivity quiet/light"
    # The converter on a slice (the whole file: the slow test below), filters off.
    subset = train_records[:1500]
    manifest = convert.convert(TRAIN_ANNOTATIONS, tmp_path / "part", annotations_only=True,
                         records=subset, min_joints=0, min_class_fraction=0, workers=1,
                         progress=False)  # fmt: skip
    expected = Counter(r.category or convert.UNLABELLED for r in subset)
    assert +_category_totals(manifest) == expected
    assert manifest["classes"] == sorted(expected.keys() - {convert.UNLABELLED},
                                         key=lambda c: (-expected[c], c))  # fmt: skip


@pytest.mark.slow
def test_annotations_only_real_train_file(train_records, tmp_path):
    manifest = convert.convert(TRAIN_ANNOTATIONS, tmp_path / "all", annotations_only=True,
                         records=train_records, min_joints=0, min_class_fraction=0, workers=1,
                         progress=False)  # fmt: skip
    assert sum(manifest["num_records"].values()) == 14649
    totals = _category_totals(manifest)
    assert {k: v for k, v in totals.items() if k != convert.UNLABELLED} == README_COUNTS
    assert totals[convert.UNLABELLED] == 35
    assert set(manifest["num_records"]) == {"train", "val", "test"}
    manifest = convert.convert(TRAIN_ANNOTATIONS, tmp_path / "top", annotations_only=True,
                         records=train_records, top_classes=15, workers=1, progress=False)
    assert len(manifest["classes"]) == 15


# -- synthetic data, inspect, CLI ----------------------------------------------------------------


def test_synthetic_convert_reads_back_ground_truth(tmp_path):
    synthetic = pytest.importorskip("tfpose.datasets.synthetic")
    synthetic.generate(tmp_path / "synth", num_images=6, seed=1, workers=1)
    mat = tmp_path / "synth" / "mpii_synthetic.mat"
    manifest = convert.convert(mat, tmp_path / "ds", tmp_path / "synth" / "images", min_joints=1,
                         min_class_fraction=0, image_size=96, workers=1, progress=False)  # fmt: skip
    truth = {(r.image_name, r.person_index): r for r in mpii.read_annotations(mat)}
    seen = 0
    for ex in shards.iter_examples(tmp_path / "ds"):
        record = truth[(ex["image/filename"].decode(), int(ex["person/index"]))]
        back = geometry.to_original(ex["person/keypoints"][:, :2], ex["person/crop_box"], 96)
        np.testing.assert_allclose(back[record.annotated], record.joints[record.annotated], atol=0.01)
        np.testing.assert_array_equal(ex["person/visible"], record.visible & record.annotated)
        assert ex["action/name"].decode() == record.category
        seen += 1
    assert seen == sum(manifest["num_records"].values()) > 0


def test_inspect_writes_pngs(person_dataset, tmp_path):
    from PIL import Image

    folder, _ = person_dataset
    report = inspection.inspect_dataset(folder, examples=2, out_dir=tmp_path / "png")
    assert len(report["pngs"]) == 2
    assert Image.open(report["pngs"][0]).size == (256, 256)
    assert report["coverage"]["head_top"] == {"annotated": 1.0, "visible": 1.0}
    assert report["coverage"]["r_ankle"]["annotated"] == pytest.approx(0.6)
    text = inspection.format_inspection(report)
    assert "occupation" in text and "r_ankle" in text


def test_cli_convert_and_inspect(sample, tmp_path):
    from click.testing import CliRunner

    from cli import cli

    runner = CliRunner()
    out = tmp_path / "ds"
    args = ["convert", str(sample[0]), "--images", str(sample[1]), "--out", str(out),
            "--workers", "1", "--image-size", "64", "--split-ratios", "0.6,0.2,0.2"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "wrote 5 records" in result.output
    result = runner.invoke(cli, ["inspect", str(out), "--examples", "1", "--out", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    assert "joint" in result.output and len(list((tmp_path / "png").glob("*.png"))) == 1
    result = runner.invoke(cli, ["convert", str(sample[0]), "--annotations-only", "--images",
                                 str(sample[1]), "--out", str(tmp_path / "x")])  # fmt: skip
    assert result.exit_code != 0 and "exactly one" in result.output
    result = runner.invoke(cli, args)  # exists, no --overwrite
    assert isinstance(result.exception, DataError)


# -- fixed classes (--classes) -------------------------------------------------------------------


def test_given_classes_fix_the_kept_classes_and_their_order(tmp_path):
    records = ([make_record(f"a{i}.jpg", i, category="a") for i in range(3)]
               + [make_record(f"b{i}.jpg", 10 + i, category="b") for i in range(2)]
               + [make_record("c.jpg", 20, category="c"), make_record("u.jpg", 30, category="")])
    common = dict(records=records, annotations_only=True, split="train", workers=1, progress=False)
    by_count = convert.convert(tmp_path / "x.mat", tmp_path / "count", **common)
    assert by_count["classes"] == ["a", "b", "c"]  # the dataset's own (frequency) order
    # "z" has no person here and is kept, with count 0: the order is the list's, not the data's.
    manifest = convert.convert(tmp_path / "x.mat", tmp_path / "fixed", classes=["z", "c", "a"], **common)
    assert manifest["classes"] == ["z", "c", "a"] and manifest["label_order"] == "as given (classes)"
    assert manifest["skipped"] == {convert.RARE_CLASS: 2}  # the b persons
    assert manifest["counts"]["train"] == {"z": 0, "c": 1, "a": 3, convert.UNLABELLED: 1}
    labels = Counter((int(ex["action/label"]), ex["action/name"].decode())
                     for ex in shards.iter_examples(tmp_path / "fixed"))
    assert labels == {(1, "c"): 1, (2, "a"): 3, (-1, ""): 1}
    assert "skip b0.jpg person 0: dropped_class (b not in the given classes)" in (
        tmp_path / "fixed" / shards.LOG).read_text()
    # A file: a work dir's classes.json, a manifest, or one name per line, in that order.
    (tmp_path / "classes.json").write_text(json.dumps(["b", "a"]))
    (tmp_path / "names.txt").write_text("# kept classes\nc\n\nb \n")
    for source, expected in ((tmp_path / "classes.json", ["b", "a"]),
                             (tmp_path / "fixed" / shards.MANIFEST, ["z", "c", "a"]),
                             (tmp_path / "names.txt", ["c", "b"])):
        manifest = convert.convert(tmp_path / "x.mat", tmp_path / "f", classes=source, overwrite=True,
                             **common)
        assert manifest["classes"] == expected, source
        assert manifest["arguments"]["classes"] == str(source)
    with pytest.raises(DataError, match=r"no person of the given classes \['y'\]"):
        convert.convert(tmp_path / "x.mat", tmp_path / "none", classes=["y"], **common)
    with pytest.raises(DataError, match="not both"):
        convert.convert(tmp_path / "x.mat", tmp_path / "none", classes=["a"], top_classes=1, **common)
    (tmp_path / "twice.txt").write_text("a\na\n")
    with pytest.raises(DataError, match=r"twice.txt: class names repeat \(a\)"):
        convert.convert(tmp_path / "x.mat", tmp_path / "none", classes=tmp_path / "twice.txt", **common)


def test_cli_convert_with_classes(sample, tmp_path):
    from click.testing import CliRunner

    from cli import cli

    names = tmp_path / "names.txt"
    names.write_text("sports\noccupation\n")
    result = CliRunner().invoke(cli, ["convert", str(sample[0]), "--annotations-only", "--out",
                                      str(tmp_path / "ds"), "--split", "val", "--classes",
                                      str(names)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 4 records (val 4), 2 classes" in result.output
    manifest = shards.read_manifest(tmp_path / "ds")
    assert manifest["classes"] == ["sports", "occupation"]  # not the frequency order
    assert manifest["skipped"] == {convert.RARE_CLASS: 1}  # the miscellaneous person
