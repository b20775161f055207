"""tf.data input pipelines: converted TFRecords -> ``(inputs, targets, sample_weights)`` batches.

Order (training): list shards -> interleave -> parse -> [filter unlabelled] -> [cache] ->
shuffle -> repeat -> per example: decode -> batch (drop_remainder) -> per batch: augment ->
normalise -> make targets -> [whole batches of crowd crops mixed in: ``data.crowd.share``,
``input/crowd_crops.py``] -> prefetch. Shuffling and caching act on parsed records (compressed
JPEG bytes, cheap to hold). Everything after the JPEG decode runs once per batch, vectorised,
and (with ``data.jit_compile``) XLA-compiled into a few fused loops: per-example ops would pay a
kernel launch each, and ``ImageProjectiveTransformV3`` alone cost several JPEG decodes per
example. When augmenting, ``decode`` keeps the stored pixels (a uint8 *canvas* of side C = the
larger of S and the datasets' stored size, zero-padded when smaller) and the augmentation folds
the stored -> input scale into its one warp matrix, so each image is resampled once, and a
person crop zooms into stored pixels rather than an already shrunk image; an image larger than C
is first resized with antialiasing. Parallel maps and prefetch use AUTOTUNE.

What depends on the model kind comes from its task (``tfpose/tasks``), passed in as ``task``:
``task.cfg`` (the run config), ``task.needs_images``, ``task.normalization``,
``task.labelled_only``, ``task.output_names`` and ``task.make_targets(example, weights_per_class)``;
this package never imports a task. The stages (``input/stages.py``) are named functions
``example dict -> example dict`` that give the same result eagerly and inside ``Dataset.map``
(``parse`` takes the serialised record instead). The example dict:

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
    targets, weights   dicts keyed by model output name (``task.make_targets``)

``augment``, ``normalize`` and ``make_targets`` accept one example or a batch (leading ``B``).

Coordinates scale with the image as continuous coordinates (``x * S / W``), the same rule as the
crop box (``schema``), so ``core.geometry.to_original`` needs only the crop box and ``S``; the half-pixel
offset of a 256 -> 224 resize (< 0.07 px) is ignored.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from tfpose.core.errors import ConfigError
from tfpose.core.geometry import to_original
from tfpose.datasets.shards import read_manifest, shard_files
from tfpose.input import augment as augment_lib
from tfpose.input import crowd_crops
from tfpose.input import degrade as degrade_lib
from tfpose.input.stages import (  # noqa: F401  (the stages, re-exported by name)
    augment, class_weights, decode, model_inputs, normalize, parse, to_model_tuple,
)
from tfpose.input.normalize import check as check_normalization

AUTOTUNE = tf.data.AUTOTUNE

# ----------------------------------------------------------------------------------------------
# Datasets.


def _options(deterministic: bool) -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = True
    return options


def dataset_dirs(cfg, split: str) -> list[str]:
    """The dataset folders a split reads: ``data.dir``, plus ``data.extra_train_dirs`` for the
    training split (more real photos in the same joint layout, e.g. LSP beside LSPET)."""
    dirs = [cfg.data.dir]
    if split == cfg.data.train_split:
        dirs += list(cfg.data.extra_train_dirs)
    return dirs


def stored_image_size(cfg, split: str) -> int:
    """The largest stored image side among the split's datasets (their manifests' ``image_size``);
    the augmentation's canvas keeps that many pixels."""
    return max(int(read_manifest(d).get("image_size") or 0) for d in dataset_dirs(cfg, split))


def _records(task, split: str, shuffle_files: bool, dirs=None) -> tf.data.Dataset:
    """Interleaved, parsed records of one split (labelled only when ``task.labelled_only``) of
    ``dirs`` (default: ``dataset_dirs``)."""
    cfg = task.cfg
    dirs = dataset_dirs(cfg, split) if dirs is None else dirs
    files = [f for d in dirs for f in shard_files(d, split)]
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files and len(files) > 1:
        ds = ds.shuffle(len(files), seed=cfg.train.seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(files), 8), num_parallel_calls=AUTOTUNE
    )
    ds = ds.map(parse, num_parallel_calls=AUTOTUNE)
    if task.labelled_only:
        ds = ds.filter(lambda ex: ex["label"] >= 0)
    return ds


def _streamed(ds, cfg, seed: int, training: bool, repeat: bool) -> tf.data.Dataset:
    """Parsed records -> cached (``data.cache``), shuffled when ``training``, repeated."""
    if cfg.data.cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(cfg.data.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.repeat() if repeat else ds


def _training_records(task, split: str, repeat: bool) -> tf.data.Dataset:
    """The training split's shuffled records. With ``data.train_dir_weights`` (one weight per
    ``dataset_dirs`` entry) and ``repeat``, each dataset repeats on its own and is drawn by its
    weight; a single pass (``repeat=False``) reads every record once either way."""
    cfg = task.cfg
    weights, dirs = cfg.data.train_dir_weights, dataset_dirs(cfg, split)
    if weights and (len(weights) != len(dirs) or min(weights) < 0 or sum(weights) <= 0):
        raise ConfigError(f"data.train_dir_weights={list(weights)}: one non-negative weight per "
                          f"training dataset ({', '.join(dirs)}), not all 0")
    if not (weights and repeat):
        return _streamed(_records(task, split, shuffle_files=True), cfg, cfg.train.seed,
                         True, repeat)
    streams = [_streamed(_records(task, split, shuffle_files=True, dirs=[folder]), cfg,
                         cfg.train.seed + n, True, True) for n, folder in enumerate(dirs)]
    total = float(sum(weights))
    return tf.data.Dataset.sample_from_datasets(streams, [w / total for w in weights],
                                                seed=cfg.train.seed)


# What the per-batch stages read; the rest (strings, ids) is dropped before batching.
_BATCH_KEYS = ("image", "image_matrix", "image_extent", "keypoints", "annotated", "labelled",
               "label")


def build_dataset(task, split: str, training: bool, *, repeat: bool | None = None):
    """Batches of ``(inputs, targets, sample_weights)`` for ``task`` (``tasks.get_task(cfg)``).

    inputs: ``image`` float32 B x S x S x 3 (normalised; absent for a joints-only classifier)
    and ``joints`` float32 B x K x 3 (x, y, visible) in input pixels. Targets and weights: see
    ``task.make_targets``. ``training`` shuffles, augments (``data.augment``), repeats (unless
    ``repeat`` says otherwise) and drops the last partial batch. ``data.deterministic`` with
    ``train.seed`` reproduces order and augmentations.
    """
    cfg = task.cfg
    check_normalization(task.normalization)
    repeat = training if repeat is None else repeat
    seed = cfg.train.seed
    weights_per_class = None
    if task.labelled_only and cfg.data.class_weights:
        weights_per_class = class_weights(read_manifest(cfg.data.dir), cfg.data.train_split)

    if training:
        ds = _training_records(task, split, repeat)
    else:
        ds = _streamed(_records(task, split, shuffle_files=False), cfg, seed, False, repeat)

    size = cfg.data.input_size
    decode_image = task.needs_images
    do_augment = training and cfg.data.augment.enabled

    canvas = do_augment and decode_image
    degrade_images = do_augment and decode_image and degrade_lib.enabled(cfg.data.augment)
    # Joints labelled before the crops and cuts: those they take out of the input are absent.
    keep_labelled = do_augment and task.is_pose and cfg.data.absent_weight > 0
    canvas_size = max(size, stored_image_size(cfg, split)) if canvas else None

    def per_example(example):
        example = decode(example, size, decode_image, canvas=canvas, canvas_size=canvas_size)
        if keep_labelled:
            example["labelled"] = example["annotated"]
        # Only what the batch stages read is batched (no strings: they cannot enter XLA).
        return {key: example[key] for key in _BATCH_KEYS if key in example}

    def warp(example, matrix, flip):
        return augment_lib.apply_affine(example, matrix, flip, size)

    def finish(example, colour=None, degradations=None):
        if colour is not None and "image" in example and cfg.data.augment.color_jitter > 0:
            example = dict(example, image=augment_lib.jitter_colours(example["image"], colour))
        if degradations is not None:
            example = degrade_lib.apply(example, degradations, cfg.data.augment, size)
        example = normalize(example, task.normalization)
        inputs, targets, weights = to_model_tuple(make_targets(example, task, weights_per_class))
        # Every hourglass stack shares one target; only one copy leaves the function (each XLA
        # output is a buffer of its own, so N names would cost N - 1 heatmap copies). Outputs
        # with targets of their own (SimCC's x and y) all leave.
        first = next(iter(targets))
        kept = [n for n in targets if n == first or targets[n] is not targets[first]
                or weights[n] is not weights[first]]
        return inputs, {n: targets[n] for n in kept}, {n: weights[n] for n in kept}

    # Two compiled functions (``augment.apply`` split after the warp), not one: in one, XLA
    # fuses the warp into every later pass over the pixels (the colour and normalisation
    # means, the output) and recomputes it each time; materialising it once is ~20% faster.
    warp = tf.function(warp, jit_compile=cfg.data.jit_compile, autograph=False)
    finish = tf.function(finish, jit_compile=cfg.data.jit_compile, autograph=False)
    names = task.output_names

    def per_batch(position, example):
        if do_augment:
            # The batch position after shuffle/repeat makes every epoch draw fresh augmentations;
            # drawn outside XLA, whose random bits differ from the stateless kernels' ones.
            batch = tf.shape(example["keypoints"])[0]
            matrix, flip, colour = augment_lib.draw(
                tf.stack([tf.constant(seed, tf.int64), position]), batch, size, cfg.data.augment,
                example["keypoints"], example["annotated"],
            )
            degradations = None
            if degrade_images:
                degradations = degrade_lib.draw(tf.stack([tf.constant(seed, tf.int64), position]),
                                                batch, size, cfg.data.augment)
            return named(*finish(warp(example, matrix, flip), colour, degradations))
        return named(*finish(example))

    def named(inputs, targets, weights):
        first = names[0]  # a name left out by ``finish`` shares the first output's target
        return (inputs, {n: targets.get(n, targets[first]) for n in names},
                {n: weights.get(n, weights[first]) for n in names})

    def per_crowd_batch(position, example):
        # Framed already (the detector's square about one person among others): colours and
        # degradations only, drawn from a stream apart from the one-person batches'.
        batch_seed = tf.stack([tf.constant(seed + crowd_crops.CROWD_SEED, tf.int64), position])
        batch = tf.shape(example["keypoints"])[0]
        _, _, colour = augment_lib.draw(batch_seed, batch, size, cfg.data.augment)
        degradations = (degrade_lib.draw(batch_seed, batch, size, cfg.data.augment)
                        if degrade_images else None)
        return named(*finish(example, colour, degradations))

    ds = ds.map(per_example, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(cfg.data.batch_size, drop_remainder=training)
    ds = ds.enumerate().map(per_batch, num_parallel_calls=AUTOTUNE)
    share = cfg.data.crowd.share if do_augment and task.is_pose and decode_image else 0.0
    if share > 0:
        # Whole batches of crowd crops among the one-person batches (data.crowd.share of them).
        crowd = crowd_crops.examples(cfg, split, seed).batch(cfg.data.batch_size,
                                                            drop_remainder=True)
        crowd = crowd.enumerate().map(per_crowd_batch, num_parallel_calls=AUTOTUNE)
        # The crowd stream never ends; the mix ends with the one-person stream (repeat=False).
        ds = tf.data.Dataset.sample_from_datasets([ds, crowd], weights=[1.0 - share, share],
                                                  seed=seed, stop_on_empty_dataset=True)
    ds = ds.prefetch(AUTOTUNE)
    return ds.with_options(_options(cfg.data.deterministic))


def build_inference_dataset(task, split: str, *, batch_size: int | None = None):
    """Batches of ``(inputs, meta)`` in file order, for evaluation and prediction.

    No augmentation, no shuffle, no repeat, last partial batch kept. ``meta``: ``crop_box`` B x 4,
    ``head_size`` B (original px), ``keypoints`` B x K x 3 (x, y, visible; input pixels, as
    annotated: equal to ``inputs["joints"]``), ``keypoints_original`` B x K x 3 (the same in
    original-image pixels), ``annotated`` B x K, ``label`` B (-1 kept except for classifiers),
    ``filename`` B, ``image_index`` B, ``person_index`` B.
    Map predictions in input pixels back with ``geometry.to_original(pred, meta["crop_box"], S)``.
    """
    cfg = task.cfg
    check_normalization(task.normalization)
    decode_image = task.needs_images
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
        meta["keypoints_original"] = to_original(meta["keypoints"], example["crop_box"], size)
        example = decode(example, size, decode_image)
        example = normalize(example, task.normalization)
        return model_inputs(example), meta

    ds = _records(task, split, shuffle_files=False)
    ds = ds.map(per_example, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size or cfg.data.batch_size)
    ds = ds.prefetch(AUTOTUNE)
    return ds.with_options(_options(True))


def make_targets(example: dict, task, weights_per_class=None) -> dict:
    """Targets stage: adds ``targets`` and ``weights`` dicts keyed by ``task.output_names``."""
    example = dict(example)
    example["targets"], example["weights"] = task.make_targets(example, weights_per_class)
    return example


# Partial application helpers so each stage maps with one argument.
def stages(task) -> dict:
    """Named one-argument stages for ``task`` (handy for tests and custom pipelines)."""
    cfg = task.cfg
    return {
        "parse": parse,
        "decode": functools.partial(
            decode, input_size=cfg.data.input_size, decode_image=task.needs_images
        ),
        "decode_canvas": functools.partial(
            decode, input_size=cfg.data.input_size, decode_image=task.needs_images, canvas=True
        ),
        "augment": functools.partial(augment, cfg=cfg),
        "normalize": functools.partial(normalize, method=task.normalization),
        "make_targets": functools.partial(make_targets, task=task),
    }
