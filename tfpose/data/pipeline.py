"""tf.data input pipelines: converted TFRecords -> ``(inputs, targets, sample_weights)`` batches.

Order (training): list shards -> interleave -> parse -> [filter unlabelled] -> [cache] -> shuffle
-> repeat -> per example: decode -> batch (drop_remainder) -> per batch: augment -> normalise ->
make targets -> prefetch. Shuffling and caching act on parsed records (compressed JPEG bytes,
cheap to hold). Everything after the JPEG decode runs once per batch, vectorised, and (with
``data.jit_compile``) XLA-compiled into a few fused loops: per-example ops would pay a kernel
launch each, and ``ImageProjectiveTransformV3`` alone cost several JPEG decodes per example.
When augmenting, ``decode`` keeps the stored pixels (a uint8 *canvas*, zero-padded to S x S when
smaller) and the augmentation folds the stored -> input scale into its one warp matrix, so each
image is resampled once; a stored image larger than S is first resized with antialiasing (a
bilinear warp would alias). Parallel maps and prefetch use AUTOTUNE.

Stages are named functions ``example dict -> example dict`` that give the same result eagerly
and inside ``Dataset.map`` (``parse`` takes the serialised record instead). The example dict:

    encoded      string, the stored JPEG (removed by ``decode``)
    stored_size  float32 [2] (height, width) of the stored image
    image        float32 S x S x 3: 0..255 after ``decode``/``augment``, normalised after
                 ``normalize``; absent for joints-only models (``model.image_branch: false``).
                 ``decode(..., canvas=True)`` gives a uint8 S x S x 3 canvas instead, with
    image_matrix float32 3 x 3, canvas pixels -> input pixels, and
    image_extent float32 [2] (height, width) of the image inside the canvas; ``augment``
                 resamples the canvas to the input and drops both
    keypoints    float32 K x 3 (x, y, visible) in pixels of the current image (stored image
                 after ``parse``, input image after ``decode``); visible in {0, 1}
    annotated    float32 K in {0, 1}; visible implies annotated
    label        int32 action label (-1 = unlabelled)
    crop_box     float32 [4] (x0, y0, x1, y1) original-image pixels; head_size float32
    filename     string; image_index, person_index int64
    seed         int64 [2], augmentation seed of the example or batch (training only)
    targets, weights   dicts keyed by model output name (added by ``make_targets``)

``augment``, ``normalize`` and ``make_targets`` accept one example or a batch (leading ``B``).

Coordinates scale with the image as continuous coordinates (``x * S / W``), the same rule as the
crop box (``schema``), so ``keypoints_to_original`` needs only the crop box and ``S``; the half-pixel
offset of a 256 -> 224 resize (< 0.07 px) is ignored.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfpose.config import CLASSIFIER_KINDS, COORD_FRAMES, HEATMAP_KINDS, REGRESSION_KINDS, Config
from tfpose.data import augment as augment_lib
from tfpose.data import heatmaps as heatmaps_lib
from tfpose.data import schema
from tfpose.data.tfrecords import read_manifest  # noqa: F401  (re-exported for callers)
from tfpose.errors import ConfigError, DataError

NORMALIZATIONS = ("zero_center", "imagenet", "signed", "unit", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUTOTUNE = tf.data.AUTOTUNE


# ----------------------------------------------------------------------------------------------
# Dataset folder: manifest and shards.


def shard_files(data_dir, split: str) -> list[str]:
    """Sorted shard paths ``{split}-00000-of-000NN.tfrecord`` of one split."""
    files = sorted(str(p) for p in Path(data_dir).glob(f"{split}-*-of-*.tfrecord"))
    if not files:
        raise DataError(
            f"{data_dir}: no shards for split {split!r} (expected {split}-00000-of-000NN.tfrecord)"
        )
    return files


def class_weights(manifest: dict, split: str = "train") -> np.ndarray:
    """float32 [C]: ``n / (C * n_c)`` from the manifest's per-class counts (mean weight ~1).

    A class absent from ``split`` gets weight 0 rather than infinity.
    """
    classes = manifest.get("classes")
    counts = manifest.get("counts", {}).get(split)
    if not classes or counts is None:
        raise DataError(f"manifest has no 'classes' or no counts for split {split!r}")
    n = np.array([float(counts.get(c, 0)) for c in classes], np.float64)
    weights = np.where(n > 0, n.sum() / (len(classes) * np.maximum(n, 1.0)), 0.0)
    return weights.astype(np.float32)


def needs_images(cfg: Config) -> bool:
    """False only for a joints-only classifier: then images are never decoded."""
    return not (cfg.model.kind == "classifier" and not cfg.model.image_branch)


def _check(cfg: Config) -> None:
    kinds = REGRESSION_KINDS + HEATMAP_KINDS + CLASSIFIER_KINDS
    if cfg.model.kind not in kinds:
        raise ConfigError(f"model.kind: unknown {cfg.model.kind!r}; expected one of {kinds}")
    if cfg.data.normalization not in NORMALIZATIONS:
        raise ConfigError(
            f"data.normalization: unknown {cfg.data.normalization!r}; expected one of {NORMALIZATIONS}"
        )
    if cfg.data.coord_frame not in COORD_FRAMES:
        raise ConfigError(
            f"data.coord_frame: unknown {cfg.data.coord_frame!r}; expected one of {COORD_FRAMES}"
        )
    if cfg.model.kind in HEATMAP_KINDS and cfg.data.input_size % cfg.data.heatmap_stride:
        raise ConfigError(
            f"data.input_size={cfg.data.input_size} is not a multiple of "
            f"data.heatmap_stride={cfg.data.heatmap_stride}"
        )


# ----------------------------------------------------------------------------------------------
# Stages.


def parse(serialized) -> dict:
    """Parse stage: one serialised ``tf.train.Example`` -> example dict (stored-image pixels)."""
    rec = schema.parse_example(serialized)
    annotated = tf.cast(rec["person/annotated"] > 0, tf.float32)
    keypoints = rec["person/keypoints"]
    visible = tf.cast(keypoints[:, 2] > 0, tf.float32) * annotated
    return {
        "encoded": rec["image/encoded"],
        "stored_size": tf.cast(tf.stack([rec["image/height"], rec["image/width"]]), tf.float32),
        "keypoints": tf.concat([keypoints[:, :2], visible[:, None]], axis=1),
        "annotated": annotated,
        "label": tf.cast(rec["action/label"], tf.int32),
        "crop_box": rec["person/crop_box"],
        "head_size": rec["person/head_size"],
        "filename": rec["image/filename"],
        "image_index": rec["image/index"],
        "person_index": rec["person/index"],
    }


def decode(example: dict, input_size: int, decode_image: bool = True, canvas: bool = False,
           canvas_size: int | None = None) -> dict:
    """Decode stage: JPEG -> float32 ``S x S x 3`` (0..255), resized when the stored size differs.

    Keypoints are scaled by the same resize. An empty ``encoded`` (annotations-only dataset)
    gives a zero image; ``decode_image=False`` drops the image altogether (joints-only models).
    ``canvas=True`` (for ``augment``) leaves the resampling to the augmentation's warp: a uint8
    ``C x C x 3`` canvas holding the stored image (zero-padded; resized with antialiasing and
    rounded only when larger than C) plus ``image_matrix`` and ``image_extent`` (see the module
    docstring). ``canvas_size`` C defaults to S; records stored larger than the input (e.g. 256
    px for a 160 px model) keep their pixels when C is their size, so a zoomed-in person crop
    resamples the stored image once instead of upsampling an already shrunk one.
    """
    example = dict(example)
    encoded = example.pop("encoded")
    size = float(input_size)
    scale = tf.stack([size / example["stored_size"][1], size / example["stored_size"][0]])
    keypoints = example["keypoints"]
    example["keypoints"] = tf.concat([keypoints[:, :2] * scale, keypoints[:, 2:]], axis=1)
    if not decode_image:
        return example
    if canvas:
        return _decode_canvas(example, encoded, input_size, canvas_size or input_size)

    def from_bytes():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        shape = tf.shape(image)
        same = tf.logical_and(tf.equal(shape[0], input_size), tf.equal(shape[1], input_size))
        return tf.cond(
            same,
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(image, [input_size, input_size], antialias=True),
        )

    image = tf.cond(
        tf.strings.length(encoded) > 0,
        from_bytes,
        lambda: tf.zeros([input_size, input_size, 3], tf.float32),
    )
    example["image"] = tf.ensure_shape(image, [input_size, input_size, 3])
    return example


def _decode_canvas(example: dict, encoded, input_size: int, canvas_size: int) -> dict:
    """``decode(..., canvas=True)`` with the image: see there."""
    size = canvas_size
    full = tf.constant([float(size), float(size)])

    def from_bytes():
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        fits = tf.logical_and(height <= size, width <= size)

        def pad():
            return tf.pad(image, [[0, size - height], [0, size - width], [0, 0]])

        def shrink():
            resized = tf.image.resize(image, [size, size], antialias=True)
            return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)

        exact = tf.logical_and(tf.equal(height, size), tf.equal(width, size))
        padded = tf.cond(exact, lambda: image, lambda: tf.cond(fits, pad, shrink))
        extent = tf.where(fits, tf.cast(tf.stack([height, width]), tf.float32), full)
        # Canvas pixel centre i -> input (i + 0.5) * S / n - 0.5: the half-pixel-centre mapping of
        # ``tf.image.resize`` that ``decode`` applies (n: the image's extent in the canvas).
        scale = float(input_size) / extent
        offset = 0.5 * scale - 0.5
        matrix = tf.stack([
            tf.stack([scale[1], 0.0, offset[1]]),
            tf.stack([0.0, scale[0], offset[0]]),
            tf.constant([0.0, 0.0, 1.0]),
        ])  # fmt: skip
        return tf.ensure_shape(padded, [size, size, 3]), matrix, extent

    def empty():
        matrix = tf.linalg.diag(tf.constant([input_size / size, input_size / size, 1.0]))
        return tf.zeros([size, size, 3], tf.uint8), matrix, full

    image, matrix, extent = tf.cond(tf.strings.length(encoded) > 0, from_bytes, empty)
    example["image"] = tf.ensure_shape(image, [size, size, 3])
    example["image_matrix"] = tf.ensure_shape(matrix, [3, 3])
    example["image_extent"] = tf.ensure_shape(extent, [2])
    return example


def augment(example: dict, cfg: Config) -> dict:
    """Augment stage: one random affine (+ flip, colour jitter) per example of one example or a
    batch; resamples a ``decode(..., canvas=True)`` canvas to the input. See ``augment.py``."""
    return augment_lib.augment(example, cfg.data.augment, cfg.data.input_size)


def normalize(example: dict, method: str) -> dict:
    """Normalise stage on ``... x S x S x 3`` images (one example or a batch).

    ``zero_center``: the report's per-image, per-channel mean subtracted, no scaling;
    ``imagenet``: ``(x / 255 - mean) / std`` for pretrained backbones; ``signed``: ``x / 127.5 - 1``
    (TF's own ImageNet checkpoints, EfficientNet-Lite's); ``unit``: ``x / 255``;
    ``none``: raw 0..255 (for models that normalise in-graph, see ``input_normalization``).
    """
    if method not in NORMALIZATIONS:
        raise ConfigError(f"data.normalization: unknown {method!r}; expected one of {NORMALIZATIONS}")
    example = dict(example)
    if "image" not in example:
        return example
    image = tf.cast(example["image"], tf.float32)
    if method == "zero_center":
        image = image - tf.reduce_mean(image, axis=[-3, -2], keepdims=True)
    elif method == "imagenet":
        image = (image / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)
    elif method == "signed":
        image = image / 127.5 - 1.0
    elif method == "unit":
        image = image / 255.0
    example["image"] = image
    return example


def make_targets(example: dict, cfg: Config, weights_per_class=None) -> dict:
    """Targets stage: adds ``targets`` and ``weights`` dicts keyed by the model's output names.

    Regression (cdrp, resnet34): ``keypoints`` ``... x K x 2`` in ``data.coord_frame``, weight
    ``... x K`` = annotated (and inside the input). Hourglass: ``heatmaps_1..N`` ``... x H x W x K``
    with one shared weight ``... x K``. Classifiers: ``action`` int32 label, weight
    ``weights_per_class[label]`` (float32 [C]) or ones.
    """
    example = dict(example)
    kind = cfg.model.kind
    keypoints = example["keypoints"][..., :2]
    annotated = example["annotated"]
    half = cfg.data.input_size / 2.0
    if kind in REGRESSION_KINDS:
        coords = keypoints - half
        if cfg.data.coord_frame == "unit":
            coords = coords / half
        targets, weights = {"keypoints": coords}, {"keypoints": annotated}
    elif kind in HEATMAP_KINDS:
        stride = cfg.data.heatmap_stride
        maps, weight = heatmaps_lib.encode(
            keypoints, annotated, cfg.data.input_size // stride, stride, cfg.data.heatmap_sigma
        )
        names = output_names(cfg)
        targets = {name: maps for name in names}
        weights = {name: weight for name in names}
    elif kind in CLASSIFIER_KINDS:
        label = example["label"]
        if weights_per_class is None:
            weight = tf.ones_like(label, tf.float32)
        else:
            table = tf.constant(weights_per_class, tf.float32)
            weight = tf.gather(table, tf.maximum(label, 0))
        targets, weights = {"action": label}, {"action": weight}
    else:
        raise ConfigError(f"model.kind: unknown {kind!r}")
    example["targets"], example["weights"] = targets, weights
    return example


def output_names(cfg: Config) -> list[str]:
    """The model's output names, the keys of ``targets`` and ``weights``."""
    from tfpose.models.pose import pose_output_names  # the one home of the pose models' names

    return ["action"] if cfg.model.kind in CLASSIFIER_KINDS else pose_output_names(cfg)


def input_normalization(cfg: Config) -> str:
    """The normalisation the dataset applies: the two-stage model takes raw images because each
    of its halves normalises its own copy in-graph (``models/two_stage.py``)."""
    return "none" if cfg.model.kind == "two_stage" else cfg.data.normalization


def model_inputs(example: dict) -> dict:
    """The model's named inputs: ``image`` (when decoded) and ``joints`` = keypoints K x 3."""
    inputs = {"joints": example["keypoints"]}
    if "image" in example:
        inputs["image"] = example["image"]
    return inputs


def to_model_tuple(example: dict):
    """example -> ``(inputs, targets, sample_weights)`` for ``Model.fit``."""
    return model_inputs(example), example["targets"], example["weights"]


# ----------------------------------------------------------------------------------------------
# Coordinates back to the original image.


def keypoints_to_original(keypoints, crop_box, input_size):
    """Input-image pixels -> original-image pixels: ``x0 + x * (x1 - x0) / S`` per axis.

    keypoints: ``... x K x 2`` (extra trailing columns such as visibility are passed through);
    crop_box: ``... x 4`` (x0, y0, x1, y1). Works on numpy arrays and TF tensors alike.
    """
    origin = crop_box[..., None, :2]
    extent = crop_box[..., None, 2:] - crop_box[..., None, :2]
    xy = origin + keypoints[..., :2] * extent / float(input_size)
    if keypoints.shape[-1] == 2:
        return xy
    if isinstance(xy, np.ndarray):
        return np.concatenate([xy, keypoints[..., 2:]], axis=-1)
    return tf.concat([xy, tf.cast(keypoints[..., 2:], xy.dtype)], axis=-1)


def original_to_input(keypoints, crop_box, input_size):
    """Inverse of ``keypoints_to_original`` (``... x K x 2``, numpy or TF)."""
    origin = crop_box[..., None, :2]
    extent = crop_box[..., None, 2:] - crop_box[..., None, :2]
    return (keypoints[..., :2] - origin) * float(input_size) / extent


# ----------------------------------------------------------------------------------------------
# Datasets.


def _options(deterministic: bool) -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = True
    return options


def dataset_dirs(cfg: Config, split: str) -> list[str]:
    """The dataset folders a split reads: ``data.dir``, plus ``data.extra_train_dirs`` for the
    training split (more real photos in the same joint layout, e.g. LSP beside LSPET)."""
    dirs = [cfg.data.dir]
    if split == cfg.data.train_split:
        dirs += list(cfg.data.extra_train_dirs)
    return dirs


def stored_image_size(cfg: Config, split: str) -> int:
    """The largest stored image side among the split's datasets (their manifests' ``image_size``);
    the augmentation's canvas keeps that many pixels."""
    return max(int(read_manifest(d).get("image_size") or 0) for d in dataset_dirs(cfg, split))


def _records(cfg: Config, split: str, shuffle_files: bool) -> tf.data.Dataset:
    """Interleaved, parsed records of one split (labelled only, for classifiers)."""
    files = [f for d in dataset_dirs(cfg, split) for f in shard_files(d, split)]
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files and len(files) > 1:
        ds = ds.shuffle(len(files), seed=cfg.train.seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(files), 8), num_parallel_calls=AUTOTUNE
    )
    ds = ds.map(parse, num_parallel_calls=AUTOTUNE)
    if cfg.model.kind in CLASSIFIER_KINDS:
        ds = ds.filter(lambda ex: ex["label"] >= 0)
    return ds


# What the per-batch stages read; the rest (strings, ids) is dropped before batching.
_BATCH_KEYS = ("image", "image_matrix", "image_extent", "keypoints", "annotated", "label")


def build_dataset(cfg: Config, split: str, training: bool, *, repeat: bool | None = None):
    """Batches of ``(inputs, targets, sample_weights)`` for ``cfg.model.kind``.

    inputs: ``image`` float32 B x S x S x 3 (normalised; absent for a joints-only classifier)
    and ``joints`` float32 B x K x 3 (x, y, visible) in input pixels. Targets and weights: see
    ``make_targets``. ``training`` shuffles, augments (``data.augment``), repeats (unless
    ``repeat`` says otherwise) and drops the last partial batch. ``data.deterministic`` with
    ``train.seed`` reproduces order and augmentations.
    """
    _check(cfg)
    repeat = training if repeat is None else repeat
    seed = cfg.train.seed
    weights_per_class = None
    if cfg.model.kind in CLASSIFIER_KINDS and cfg.data.class_weights:
        weights_per_class = class_weights(read_manifest(cfg.data.dir), cfg.data.train_split)

    ds = _records(cfg, split, shuffle_files=training)
    if cfg.data.cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(cfg.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    size = cfg.data.input_size
    decode_image = needs_images(cfg)
    do_augment = training and cfg.data.augment.enabled

    canvas = do_augment and decode_image
    canvas_size = max(size, stored_image_size(cfg, split)) if canvas else None

    def per_example(example):
        example = decode(example, size, decode_image, canvas=canvas, canvas_size=canvas_size)
        # Only what the batch stages read is batched (no strings: they cannot enter XLA).
        return {key: example[key] for key in _BATCH_KEYS if key in example}

    def warp(example, matrix, flip):
        return augment_lib.apply_affine(example, matrix, flip, size)

    def finish(example, colour=None):
        if colour is not None and "image" in example and cfg.data.augment.color_jitter > 0:
            example = dict(example, image=augment_lib.jitter_colours(example["image"], colour))
        example = normalize(example, input_normalization(cfg))
        inputs, targets, weights = to_model_tuple(make_targets(example, cfg, weights_per_class))
        # Every hourglass stack shares one target; only one copy leaves the function (each XLA
        # output is a buffer of its own, so N names would cost N - 1 heatmap copies).
        return inputs, dict(list(targets.items())[:1]), dict(list(weights.items())[:1])

    # Two compiled functions (``augment.apply`` split after the warp), not one: in one, XLA
    # fuses the warp into every later pass over the pixels (the colour and normalisation
    # means, the output) and recomputes it each time; materialising it once is ~20% faster.
    warp = tf.function(warp, jit_compile=cfg.data.jit_compile, autograph=False)
    finish = tf.function(finish, jit_compile=cfg.data.jit_compile, autograph=False)
    names = output_names(cfg)

    def per_batch(position, example):
        if do_augment:
            # The batch position after shuffle/repeat makes every epoch draw fresh augmentations;
            # drawn outside XLA, whose random bits differ from the stateless kernels' ones.
            batch = tf.shape(example["keypoints"])[0]
            matrix, flip, colour = augment_lib.draw(
                tf.stack([tf.constant(seed, tf.int64), position]), batch, size, cfg.data.augment,
                example["keypoints"], example["annotated"],
            )
            inputs, targets, weights = finish(warp(example, matrix, flip), colour)
        else:
            inputs, targets, weights = finish(example)
        (target,), (weight,) = targets.values(), weights.values()
        return inputs, {n: target for n in names}, {n: weight for n in names}

    ds = ds.map(per_example, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(cfg.data.batch_size, drop_remainder=training)
    ds = ds.enumerate().map(per_batch, num_parallel_calls=AUTOTUNE)
    ds = ds.prefetch(AUTOTUNE)
    return ds.with_options(_options(cfg.data.deterministic))


def build_inference_dataset(cfg: Config, split: str, *, batch_size: int | None = None):
    """Batches of ``(inputs, meta)`` in file order, for evaluation and prediction.

    No augmentation, no shuffle, no repeat, last partial batch kept. ``meta``: ``crop_box`` B x 4,
    ``head_size`` B (original px), ``keypoints`` B x K x 3 (x, y, visible; input pixels, as
    annotated: equal to ``inputs["joints"]``), ``keypoints_original`` B x K x 3 (the same in
    original-image pixels), ``annotated`` B x K, ``label`` B (-1 kept except for classifiers),
    ``filename`` B, ``image_index`` B, ``person_index`` B.
    Map predictions in input pixels back with ``keypoints_to_original(pred, meta["crop_box"], S)``.
    """
    _check(cfg)
    decode_image = needs_images(cfg)
    size = cfg.data.input_size

    def per_example(example):
        meta = {
            key: example[key]
            for key in ("crop_box", "head_size", "annotated", "label", "filename", "image_index",
                        "person_index")
        }  # fmt: skip
        stored = example["keypoints"]
        in_input = stored[:, :2] * tf.stack([size / example["stored_size"][1],
                                              size / example["stored_size"][0]])  # fmt: skip
        meta["keypoints"] = tf.concat([in_input, stored[:, 2:]], axis=1)
        meta["keypoints_original"] = keypoints_to_original(
            meta["keypoints"], example["crop_box"], size
        )
        example = decode(example, size, decode_image)
        example = normalize(example, input_normalization(cfg))
        return model_inputs(example), meta

    ds = _records(cfg, split, shuffle_files=False)
    ds = ds.map(per_example, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size or cfg.data.batch_size)
    ds = ds.prefetch(AUTOTUNE)
    return ds.with_options(_options(True))


# Partial application helpers so each stage maps with one argument.
def stages(cfg: Config) -> dict:
    """Named one-argument stages for ``cfg`` (handy for tests and custom pipelines)."""
    return {
        "parse": parse,
        "decode": functools.partial(
            decode, input_size=cfg.data.input_size, decode_image=needs_images(cfg)
        ),
        "decode_canvas": functools.partial(
            decode, input_size=cfg.data.input_size, decode_image=needs_images(cfg), canvas=True
        ),
        "augment": functools.partial(augment, cfg=cfg),
        "normalize": functools.partial(normalize, method=input_normalization(cfg)),
        "make_targets": functools.partial(make_targets, cfg=cfg),
    }
