"""tf.data pipelines on tiny TFRecord shards written here with ``schema.encode_example``."""

import dataclasses
import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfpose import config
from tfpose.input import normalize, pipeline
from tfpose.core import geometry
from tfpose.datasets import shards
from tfpose.datasets import schema
from tfpose.core.errors import ConfigError, DataError
from tfpose.tasks import get_task

STORED = 64
CLASSES = ["walking", "running"]
# (split, label) per record; -1 = unlabelled.
LABELS = {"train": [0, 0, 1, -1, 0, 1, 0, -1], "val": [1, -1, 0]}


def _jpeg(rng, dots):
    image = (rng.uniform(0, 60, (STORED, STORED, 3))).astype(np.uint8)
    for x, y in dots:
        image[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _record(rng, index, label, with_image=True):
    joints = rng.integers(6, STORED - 6, (16, 2)).astype(np.float32)
    annotated = np.ones(16, np.int64)
    annotated[index % 16] = 0  # one unannotated joint per record
    visible = annotated.copy()
    visible[(index + 3) % 16] = 0  # one occluded joint
    keypoints = np.concatenate([joints * annotated[:, None], visible[:, None]], axis=1)
    crop = np.array([100.0 + index, 50.0, 100.0 + index + 128.0, 178.0], np.float32)  # 2x scale
    return schema.encode_example({
        "image/encoded": _jpeg(rng, joints[annotated > 0]) if with_image else b"",
        "image/filename": f"img{index:03d}.jpg",
        "image/height": STORED, "image/width": STORED,
        "image/index": index, "person/index": 0,
        "person/keypoints": keypoints, "person/annotated": annotated, "person/visible": visible,
        "person/head_size": 20.0 + index, "person/crop_box": crop,
        "person/center": [164.0, 114.0], "person/scale": 0.6,
        "action/label": label, "action/name": CLASSES[label] if label >= 0 else "",
    })  # fmt: skip


def _write(folder, with_image=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    index = 0
    for split, labels in LABELS.items():
        shards = 2 if split == "train" else 1
        for s in range(shards):
            path = folder / f"{split}-{s:05d}-of-{shards:05d}.tfrecord"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for label in labels[s::shards]:
                    writer.write(_record(rng, index, label, with_image))
                    index += 1
    counts = {
        split: {c: sum(1 for l in labels if l == i) for i, c in enumerate(CLASSES)}
        for split, labels in LABELS.items()
    }
    manifest = {"classes": CLASSES, "counts": counts, "image_size": STORED,
                "num_records": {k: len(v) for k, v in LABELS.items()}}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("shards"))


def _cfg(data_dir, kind="hourglass", **data):
    values = {
        "data": {"dir": str(data_dir), "input_size": 64, "batch_size": 2, "shuffle_buffer": 8,
                 "deterministic": True, **data},
        "model": {"kind": kind, "num_stacks": 2},
    }  # fmt: skip
    return config.from_dict(values)


def _dataset(cfg, split, training, **kwargs):
    """``pipeline.build_dataset`` for ``cfg``'s task (the pipeline takes the task)."""
    return pipeline.build_dataset(get_task(cfg), split, training, **kwargs)


def _first(ds):
    return next(iter(ds))


def test_hourglass_batches(data_dir):
    inputs, targets, weights = _first(_dataset(_cfg(data_dir), "train", True))
    assert inputs["image"].shape == (2, 64, 64, 3) and inputs["image"].dtype == tf.float32
    assert inputs["joints"].shape == (2, 16, 3) and inputs["joints"].dtype == tf.float32
    assert sorted(targets) == ["heatmaps_1", "heatmaps_2"] == sorted(weights)
    assert targets["heatmaps_1"].shape == (2, 16, 16, 16)
    assert weights["heatmaps_2"].shape == (2, 16)
    np.testing.assert_array_equal(targets["heatmaps_1"].numpy(), targets["heatmaps_2"].numpy())
    assert set(np.unique(inputs["joints"].numpy()[..., 2])) <= {0.0, 1.0}


@pytest.mark.parametrize("frame, bound", [("centered", 24.0), ("unit", 1.0)])
def test_regression_targets_resize_and_frame(data_dir, frame, bound):
    cfg = _cfg(data_dir, "cdrp", input_size=48, coord_frame=frame)
    inputs, targets, weights = _first(_dataset(cfg, "val", False))
    assert inputs["image"].shape == (2, 48, 48, 3)
    assert targets["keypoints"].shape == (2, 16, 2) and weights["keypoints"].shape == (2, 16)
    joints = inputs["joints"].numpy()
    expected = joints[..., :2] - 24.0
    if frame == "unit":
        expected /= 24.0
    np.testing.assert_allclose(targets["keypoints"].numpy(), expected, rtol=1e-6, atol=1e-5)
    labelled = weights["keypoints"].numpy() > 0
    assert np.all(np.abs(targets["keypoints"].numpy()[labelled]) <= bound)
    assert (weights["keypoints"].numpy() == 0).sum() == 2  # one unannotated joint per record


def test_decode_resizes_image_and_keypoints_together(data_dir):
    """The bright squares drawn at the stored joints land on the resized joints."""
    cfg = _cfg(data_dir, "cdrp", input_size=48, normalization="unit")
    inputs, _, weights = _first(_dataset(cfg, "val", False))
    image, joints = inputs["image"].numpy()[0].sum(-1), inputs["joints"].numpy()[0]
    for (x, y, _), w in zip(joints, weights["keypoints"].numpy()[0]):
        if w:
            assert image[int(round(y)), int(round(x))] > 2.0  # bright (max 3.0 in unit scale)


def test_classifier_filters_unlabelled_and_weights_classes(data_dir):
    cfg = _cfg(data_dir, "classifier", class_weights=True, batch_size=1)
    labels, sample_weights = [], []
    for inputs, targets, weights in _dataset(cfg, "train", False):
        assert targets["action"].dtype == tf.int32
        labels += targets["action"].numpy().tolist()
        sample_weights += weights["action"].numpy().tolist()
    assert sorted(labels) == sorted(l for l in LABELS["train"] if l >= 0)
    # train counts: walking 4, running 2 -> n / (C n_c) = 6/8, 6/4.
    expected = {0: 0.75, 1: 1.5}
    np.testing.assert_allclose(sample_weights, [expected[l] for l in labels])
    np.testing.assert_allclose(pipeline.class_weights(shards.read_manifest(data_dir)), [0.75, 1.5])


def test_classifier_without_class_weights_has_ones_and_two_stage_labels(data_dir):
    _, targets, weights = _first(_dataset(_cfg(data_dir, "two_stage"), "train", True))
    assert targets["action"].shape == (2,)
    np.testing.assert_array_equal(weights["action"].numpy(), [1.0, 1.0])


def test_joints_only_classifier_does_not_decode_images(data_dir):
    cfg = config.from_dict({
        "data": {"dir": str(data_dir), "input_size": 64, "batch_size": 2},
        "model": {"kind": "classifier", "image_branch": False},
    })  # fmt: skip
    inputs, targets, _ = _first(_dataset(cfg, "train", True))
    assert list(inputs) == ["joints"] and inputs["joints"].shape == (2, 16, 3)


def test_annotations_only_records_give_a_zero_image(tmp_path):
    folder = _write(tmp_path / "noimg", with_image=False)
    inputs, _, _ = _first(_dataset(_cfg(folder, "cdrp"), "val", False))
    assert inputs["image"].shape == (2, 64, 64, 3)
    assert float(tf.reduce_max(tf.abs(inputs["image"]))) == 0.0


def test_training_is_reproducible_with_seed_and_deterministic(data_dir):
    cfg = _cfg(data_dir, "hourglass")
    a = [b[0]["joints"].numpy() for b in _dataset(cfg, "train", True).take(3)]
    b = [b[0]["joints"].numpy() for b in _dataset(cfg, "train", True).take(3)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    other = config.from_dict({**config.to_dict(cfg), "train": {"seed": 1}})
    c = [b[0]["joints"].numpy() for b in _dataset(other, "train", True).take(3)]
    assert not np.array_equal(np.stack(a), np.stack(c))


def test_training_drops_remainder_and_evaluation_keeps_it(data_dir):
    cfg = _cfg(data_dir, "cdrp", batch_size=4)
    train = _dataset(cfg, "train", True, repeat=False)
    assert train.element_spec[0]["image"].shape[0] == 4
    assert [b[0]["joints"].shape[0] for b in train] == [4, 4]
    sizes = [b[0]["joints"].shape[0] for b in _dataset(cfg, "val", False)]
    assert sizes == [3]


def test_normalizations(data_dir):
    images = {}
    for method in ("zero_center", "imagenet", "unit"):
        cfg = _cfg(data_dir, "cdrp", normalization=method)
        images[method] = _first(_dataset(cfg, "val", False))[0]["image"].numpy()
    np.testing.assert_allclose(images["zero_center"].mean(axis=(1, 2)), 0.0, atol=1e-3)
    raw = images["unit"] * 255.0
    np.testing.assert_allclose(images["zero_center"], raw - raw.mean(axis=(1, 2), keepdims=True),
                               atol=1e-3)  # fmt: skip
    mean, std = np.array(normalize.IMAGENET_MEAN), np.array(normalize.IMAGENET_STD)
    np.testing.assert_allclose(images["imagenet"], (images["unit"] - mean) / std, atol=1e-4)


def _same_eagerly_and_mapped(stage, example):
    eager = stage(example)
    mapped = _first(tf.data.Dataset.from_tensors(example).map(stage))
    assert len(tf.nest.flatten(eager)) == len(tf.nest.flatten(mapped))
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-3)
        if a.dtype != tf.string else None,
        eager, mapped,
    )  # fmt: skip
    return eager


@pytest.mark.parametrize("input_size", [48, 96])  # stored 64: resized down / folded into the warp
def test_each_stage_same_eagerly_and_in_dataset_map(data_dir, input_size):
    cfg = _cfg(data_dir, "hourglass", input_size=input_size)
    stages = pipeline.stages(get_task(cfg))
    serialized = list(tf.data.TFRecordDataset(pipeline.shard_files(data_dir, "val")))[:2]
    parsed = []
    for record in serialized:
        eager = stages["parse"](record)
        mapped = _first(tf.data.Dataset.from_tensors(record).map(stages["parse"]))
        tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(a.numpy(), b.numpy()),
                              eager, mapped)  # fmt: skip
        parsed.append(eager)
    # Evaluation order: decode (resize) -> normalize -> make_targets, one example.
    example = parsed[0]
    for name in ("decode", "normalize", "make_targets"):
        example = _same_eagerly_and_mapped(stages[name], example)
    assert example["targets"]["heatmaps_1"].shape == (input_size // 4,) * 2 + (16,)
    # Training order: decode (canvas) per example -> batch -> augment -> normalize -> targets,
    # and augment also on one example.
    canvases = [_same_eagerly_and_mapped(stages["decode_canvas"], ex) for ex in parsed]
    assert canvases[0]["image"].dtype == tf.uint8
    one = _same_eagerly_and_mapped(stages["augment"], dict(canvases[0], seed=tf.constant([3, 4])))
    assert one["image"].shape == (input_size, input_size, 3) and "image_matrix" not in one
    keys = ("image", "image_matrix", "image_extent", "keypoints", "annotated", "label")
    example = {k: tf.stack([c[k] for c in canvases]) for k in keys}
    example["seed"] = tf.constant([3, 4], tf.int64)
    for name in ("augment", "normalize", "make_targets"):
        example = _same_eagerly_and_mapped(stages[name], example)
    assert example["image"].shape == (2, input_size, input_size, 3)
    assert example["targets"]["heatmaps_2"].shape == (2,) + (input_size // 4,) * 2 + (16,)


@pytest.mark.parametrize("input_size", [48, 96])
def test_canvas_resampled_without_augmentation_equals_decode(data_dir, input_size):
    """Folding the stored -> input scale into the warp gives decode's resized image."""
    cfg = _cfg(data_dir, "hourglass", input_size=input_size)
    stages = pipeline.stages(get_task(cfg))
    example = stages["parse"](_first(tf.data.TFRecordDataset(pipeline.shard_files(data_dir, "val"))))
    resized = stages["decode"](example)
    folded = pipeline.augment_lib.augment(
        stages["decode_canvas"](example), dataclasses.replace(cfg.data.augment, enabled=False),
        input_size,
    )  # fmt: skip
    np.testing.assert_allclose(folded["keypoints"].numpy(), resized["keypoints"].numpy())
    # Upscaling: one bilinear resample = the resize; downscaling: the canvas is the antialiased
    # resize rounded to uint8.
    atol = 5e-3 if input_size > STORED else 0.5 + 5e-3
    np.testing.assert_allclose(folded["image"].numpy(), resized["image"].numpy(), atol=atol)


def test_compiled_batches_equal_the_plain_tf_stages(data_dir):
    """``data.jit_compile`` (XLA) changes speed, not the batches."""
    batches = {}
    for jit in (True, False):
        cfg = _cfg(data_dir, "hourglass", input_size=96, jit_compile=jit)
        batches[jit] = list(_dataset(cfg, "train", True).take(2))
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-2),  # of 0..255
        batches[True], batches[False],
    )  # fmt: skip


def test_keypoints_to_original_round_trip():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 224, (3, 16, 2)).astype(np.float32)
    boxes = np.array([[10, 20, 410, 420], [0, 0, 224, 224], [-50, 30, 150, 230]], np.float32)
    original = geometry.to_original(keypoints, boxes, 224)
    np.testing.assert_allclose(original[1], keypoints[1])
    np.testing.assert_allclose(original[0], 10 + keypoints[0] * 400 / 224 + [0, 10], rtol=1e-6)
    back = geometry.to_crop(tf.constant(original), tf.constant(boxes), 224)
    np.testing.assert_allclose(back.numpy(), keypoints, rtol=1e-5, atol=1e-3)
    with_flags = geometry.to_original(tf.ones([3, 16, 3]), tf.constant(boxes), 224)
    assert with_flags.shape == (3, 16, 3)


def test_inference_dataset_keeps_meta_in_order(data_dir):
    cfg = _cfg(data_dir, "cdrp", input_size=48)
    batches = list(pipeline.build_inference_dataset(get_task(cfg), "val", batch_size=2))
    assert [m["filename"].shape[0] for _, m in batches] == [2, 1]
    inputs, meta = batches[0]
    assert set(meta) >= {"crop_box", "head_size", "keypoints_original", "annotated", "label",
                         "filename"}  # fmt: skip
    assert meta["label"].numpy().tolist() == LABELS["val"][:2]
    # Joints in input pixels map back onto the annotated original coordinates.
    back = geometry.to_original(inputs["joints"][..., :2], meta["crop_box"], 48)
    np.testing.assert_allclose(meta["keypoints"].numpy(), inputs["joints"].numpy(), atol=1e-5)
    original = meta["keypoints_original"].numpy()
    np.testing.assert_allclose(back.numpy(), original[..., :2], atol=1e-3)
    # crop box (100+i, 50, 228+i, 178) over a 64 px crop: original = x0 + 2 * stored.
    box = meta["crop_box"].numpy()[:, None, :2]
    stored = (original[..., :2] - box) / 2.0
    assert np.all((stored >= 0) & (stored < STORED))


def test_errors_name_the_problem(data_dir, tmp_path):
    with pytest.raises(DataError, match="no shards for split 'test'"):
        _dataset(_cfg(data_dir), "test", False)
    with pytest.raises(ConfigError, match="normalization"):
        _dataset(_cfg(data_dir, normalization="zscore"), "train", False)
    with pytest.raises(DataError, match="manifest"):
        shards.read_manifest(tmp_path)


def test_canvas_at_the_stored_size_keeps_the_stored_pixels(data_dir):
    """Records stored larger than the input (64 px for a 32 px model): the canvas holds them
    as decoded, and one resample maps them to the input (the person crops zoom into these)."""
    cfg = _cfg(data_dir, "hourglass", input_size=32)
    stages = pipeline.stages(get_task(cfg))
    example = stages["parse"](_first(tf.data.TFRecordDataset(pipeline.shard_files(data_dir, "val"))))
    stored = tf.io.decode_jpeg(example["encoded"]).numpy()
    canvas = pipeline.decode(example, 32, canvas=True, canvas_size=STORED)
    np.testing.assert_array_equal(canvas["image"].numpy(), stored)
    np.testing.assert_allclose(canvas["image_matrix"].numpy(),
                               [[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]])
    resized = stages["decode"](example)
    np.testing.assert_allclose(canvas["keypoints"].numpy(), resized["keypoints"].numpy())
    folded = pipeline.augment_lib.augment(
        canvas, dataclasses.replace(cfg.data.augment, enabled=False), 32)
    bilinear = tf.image.resize(tf.cast(stored, tf.float32), [32, 32], antialias=False)
    np.testing.assert_allclose(folded["image"].numpy(), bilinear.numpy(), atol=1e-3)
    assert pipeline.stored_image_size(cfg, "train") == STORED


def test_extra_train_dirs_add_their_training_split_only(data_dir, tmp_path):
    extra = _write(tmp_path / "extra")
    plain, more = _cfg(data_dir), _cfg(data_dir, extra_train_dirs=[str(extra)])

    def count(cfg, split, training):
        ds = _dataset(cfg, split, training, repeat=False)
        return sum(int(inputs["image"].shape[0]) for inputs, _, _ in ds)

    assert count(plain, "train", True) == 8 and count(more, "train", True) == 16
    assert count(more, "val", False) == count(plain, "val", False) == 3
    assert pipeline.dataset_dirs(more, "val") == [str(data_dir)]


def test_an_epoch_counts_the_extra_training_sets(data_dir, tmp_path):
    from tfpose.training import common as train

    extra = _write(tmp_path / "extra")
    more = _cfg(data_dir, extra_train_dirs=[str(extra)])
    manifest = shards.read_manifest(data_dir)
    assert train.steps_per_epoch(more, manifest, "train") == 8  # 16 records, batches of 2
    assert train.steps_per_epoch(more, manifest, "val") == 2  # 3 records, the last batch kept


def test_crowd_batches_are_the_crowd_crops_with_their_targets(data_dir):
    """``data.crowd.share``: whole batches of crowd crops (``input/crowd_crops.py``) among the
    one-person batches; each holds the crops' pixels, and its heatmap targets weigh the cropped
    person's labelled joints, those cut off too (``absent_weight``)."""
    from tfpose.input import crowd_crops

    crowd = {"share": 1.0, "canvas": 64}
    cfg = _cfg(data_dir, normalization="unit", absent_weight=1.0, crowd=crowd,
               mosaic={"max_persons": 2, "truncation": 0.5},
               augment={"color_jitter": 0.0})
    inputs, targets, weights = _first(_dataset(cfg, "train", True))
    expected = list(crowd_crops.examples(cfg, "train", cfg.train.seed).take(2))
    for b, crop in enumerate(expected):
        np.testing.assert_allclose(inputs["image"][b].numpy(), crop["image"].numpy() / 255.0,
                                   atol=1e-5)
        weight = weights["heatmaps_1"][b].numpy()
        np.testing.assert_array_equal(weight > 0, crop["labelled"].numpy() > 0)
    one_person = _cfg(data_dir, normalization="unit", absent_weight=1.0,
                      augment={"color_jitter": 0.0})
    plain, _, _ = _first(_dataset(one_person, "train", True))
    assert not np.allclose(plain["image"].numpy(), inputs["image"].numpy())
    # The mix ends with the one-person stream when it does not repeat.
    half = _cfg(data_dir, absent_weight=1.0, crowd={"share": 0.5, "canvas": 64},
                mosaic={"max_persons": 2})
    # 4 one-person batches (8 records, batches of 2) and the crowd batches drawn among them.
    assert 4 <= sum(1 for _ in _dataset(half, "train", True, repeat=False)) <= 16


def test_train_dir_weights_draw_each_training_dataset_by_its_weight(data_dir, tmp_path):
    """``data.train_dir_weights``: each training dataset repeats on its own and is drawn by
    its weight (LSP beside LSPET); the examples are told apart by their joints."""
    extra = _write(tmp_path / "extra", seed=1)

    def joints_of(folder):
        cfg = _cfg(folder)
        return {tuple(np.round(j, 2).ravel()) for inputs, _, _ in _dataset(cfg, "train", False)
                for j in inputs["joints"].numpy()[..., :2]}

    own, other = joints_of(data_dir), joints_of(extra)
    assert own and other and not own & other

    def drawn(weights, batches):
        cfg = _cfg(data_dir, extra_train_dirs=[str(extra)], train_dir_weights=weights,
                   augment={"enabled": False})
        counts = [0, 0]
        for inputs, _, _ in _dataset(cfg, "train", True).take(batches):
            for j in inputs["joints"].numpy()[..., :2]:
                key = tuple(np.round(j, 2).ravel())
                assert key in own or key in other
                counts[key in other] += 1
        return counts

    assert drawn([0.0, 1.0], 10) == [0, 20]
    own_count, other_count = drawn([1.0, 3.0], 40)  # 80 examples, 60 expected from extra
    assert 45 <= other_count <= 75 and own_count + other_count == 80
    with pytest.raises(ConfigError, match="train_dir_weights"):
        drawn([1.0], 1)
