"""Export a trained work dir as a TF Serving SavedModel with the preprocessing inside the graph.

``export_workdir`` writes ``BASE/NAME/VERSION/`` (TF Serving's layout; written to a hidden
temporary sibling and renamed only when complete, so a server watching ``BASE/NAME`` never
loads half a model) holding a ``tf.Module`` with these signatures:

    serving_default       images  string [B] (JPEG/PNG/BMP/GIF bytes, any sizes)
    serving_boxes         images  string [B], boxes float32 [B, 4] (x0, y0, x1, y1 original px)
    predict_images        images  float32 [B, H, W, 3] (RGB 0..255, already decoded)
    predict_images_boxes  images  float32 [B, H, W, 3], boxes float32 [B, 4]

A SavedModel signature has no optional inputs, so "an optional person box" is two signatures:
without a box the whole image is the person crop, framed as the model's training data was
(``data.whole_image_frame``: stretched to the square, or letterboxed). Outputs, by model kind:

    keypoints        float32 [B, 16, 2]  (x, y) in ORIGINAL-image pixels    pose, two_stage
    keypoint_scores  float32 [B, 16]     heatmap maxima (ones for regression) pose, two_stage
    input_boxes      float32 [B, 4]      the box of the original image the   pose, two_stage
                                         input showed (the given box, or the
                                         whole image's frame): a client's
                                         pass 2 grows its box by 1/48 of its
                                         side (``passes.SECOND_PASS_PAD``)
    class_probs      float32 [B, C]                                          classifiers
    class_name       string  [B]         argmax of class_probs               classifiers

In the graph: decode (``tf.io.decode_image``, 3 channels, first frame of a GIF) per image inside
``tf.map_fn`` (images of different sizes in one batch), crop + resize, normalise with the
training pipeline's own ``input.normalize``, the model, keypoint decoding by the model's task,
and the map back to original pixels with ``core.geometry.to_original``. Bytes that are not an image
fail that request with InvalidArgument; the server keeps running.

The crop resamples exactly like the converter (``tfpose.datasets.crops``): input pixel (i, j)
shows original point ``box[:2] + (i, j) * (box[2:] - box[:2]) / S``, bilinear with
antialiasing (``ScaleAndTranslate``, the kernel behind ``tf.image.resize(antialias=True)``),
zero padding outside the image. So a served crop is the picture the model was trained on.

A classifier with a ``joints`` input cannot run from an image alone (nothing predicts the
joints): export refuses it and points to the two-stage model, which chains a pose model.
Assets: ``assets/config.yaml`` (resolved config), ``assets/classes.json`` (classifiers);
TF Serving warmup requests in ``assets.extra/tf_serving_warmup_requests``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpose import config as config_lib
from tfpose.core import geometry
from tfpose.core.errors import ConfigError, DataError
from tfpose.input.normalize import normalize_images
from tfpose.serving.warmup import WARMUP_FILE, write_warmup_requests
from tfpose.tasks import get_task, load_workdir

SIGNATURES = ("serving_default", "serving_boxes", "predict_images", "predict_images_boxes")


# ----------------------------------------------------------------------------------------------
# Work dir.


def inference_network(model, cfg):
    """The Keras model the export calls on normalised B x S x S x 3 images (the task's
    ``inference_network``: pose models and image-only classifiers as they are, the two-stage
    model with its decoded joints exposed; a classifier that takes ``joints`` is refused)."""
    return get_task(cfg).inference_network(model)


def serving_variables(network) -> list:
    """The ``tf.Variable`` behind each of ``network``'s Keras variables, each once.

    Why not the Keras variables themselves (what ``keras.export.ExportArchive`` tracks): saving
    a Keras 3 variable writes a second graph variable, initialised from the first, under the
    object's name (``model_variables/N``). The checkpoint restores that copy, while the traced
    functions read the first one, by the layer's name (``block11_expand_bn/moving_mean``). An
    eager ``tf.saved_model.load`` hides it; a graph-session load (TF Serving's C++
    ``LoadSavedModel``, ``saved_model_cli run``) runs only the restore op and fails with
    "Could not find variable". Tracking the ``tf.Variable`` the functions capture makes the
    restored variable and the read one the same.
    """
    seen, out = set(), []
    for variable in network.variables:
        value = variable.value if isinstance(variable, keras.Variable) else variable
        if id(value) not in seen:
            seen.add(id(value))
            out.append(value)
    return out


def _call(model, images):
    """Calls a Keras model whose only (used) input is ``image``; outputs as a dict."""
    if isinstance(model.input, dict):
        outputs = model({"image": images}, training=False)
    else:
        outputs = model(images, training=False)
    if not isinstance(outputs, dict):
        outputs = dict(zip(model.output_names, tf.nest.flatten(outputs)))
    return outputs


# ----------------------------------------------------------------------------------------------
# In-graph preprocessing (pure TF; also used eagerly by tests and ``tfpose predict``).


def decode_image(encoded):
    """One encoded image (JPEG/PNG/BMP/GIF) -> float32 H x W x 3, 0..255 RGB."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.cast(image, tf.float32)


WHOLE_IMAGE_FRAMES = ("stretch", "letterbox")


def whole_image_box(width, height, frame: str = "stretch"):
    """float32 [4], the converter's box for a whole W x H image: ``stretch`` (0, 0, W, H)
    (``--crop whole``) or ``letterbox``: the centred square of side max(W, H)
    (``--crop letterbox``, ``geometry.letterbox_box``), padded with zeros by the crop."""
    width, height = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    if frame == "stretch":
        return tf.stack([0.0, 0.0, width, height])
    if frame != "letterbox":
        raise ValueError(f"whole_image_frame must be one of {WHOLE_IMAGE_FRAMES}. "
                         f"Received: {frame!r}")
    side = tf.maximum(width, height)
    x0, y0 = (width - side) / 2.0, (height - side) / 2.0
    return tf.stack([x0, y0, x0 + side, y0 + side])


def _image_box(image, frame: str):
    shape = tf.shape(image)
    return whole_image_box(shape[1], shape[0], frame)


def _axis_window(start, length, size: int, extent, reduction=1.0):
    """Integer window (begin, end) covering the resampling support of one axis, and the
    continuous offset of the box inside it; see ``crop_and_resize``."""
    step = length / float(size)
    # Continuous coordinate where output pixel 0's cell starts, in the (reduced) image.
    c0 = (start + 0.5 - 0.5 * step) / reduction
    length, step = length / reduction, step / reduction
    support = tf.maximum(step, 1.0) + 1.0  # triangle kernel radius (antialiased) + margin
    i0 = tf.cast(tf.floor(c0 - support), tf.int32)
    i1 = tf.cast(tf.math.ceil(c0 + length + support), tf.int32)
    lo = tf.clip_by_value(i0, 0, extent)
    hi = tf.clip_by_value(i1, 0, extent)
    return i0, i1, lo, hi, c0 - tf.cast(i0, tf.float32)


def _padding(i0, i1, lo, hi):
    """Zeros before and after the image's part ``lo .. hi`` of the window ``i0 .. i1`` so that
    the padded region spans the whole window, also when the window lies wholly outside the
    image (``lo == hi`` at an edge: all zeros, never a negative padding)."""
    before = tf.clip_by_value(lo - i0, 0, i1 - i0)
    return tf.stack([before, (i1 - i0) - (hi - lo) - before])


def crop_and_resize(image, box, size: int, reduction=1):
    """H x W x 3 float image, box (x0, y0, x1, y1) original px -> S x S x 3 float32.

    Output pixel (i, j) samples original point ``(x0, y0) + (i, j) * (x1 - x0, y1 - y0) / S``
    (the converter's convention), bilinear with antialiasing; outside the image is zero.
    ``reduction``: ``image`` was decoded at 1/reduction of the original size (JPEG DCT scaling,
    as the converter does); the box stays in original pixels. Raises InvalidArgument for an
    empty box.
    """
    image = tf.convert_to_tensor(image, tf.float32)
    box = tf.cast(box, tf.float32)
    width_box, height_box = box[2] - box[0], box[3] - box[1]
    check = tf.debugging.assert_positive(
        tf.stack([width_box, height_box]), message="box must have x1 > x0 and y1 > y0")
    with tf.control_dependencies([check]):
        shape = tf.shape(image)
    reduction = tf.cast(reduction, tf.float32)
    xi0, xi1, xlo, xhi, xoff = _axis_window(box[0], width_box, size, shape[1], reduction)
    yi0, yi1, ylo, yhi, yoff = _axis_window(box[1], height_box, size, shape[0], reduction)
    region = image[ylo:yhi, xlo:xhi]
    region = tf.pad(region, [_padding(yi0, yi1, ylo, yhi), _padding(xi0, xi1, xlo, xhi), [0, 0]])
    scale = tf.stack([size / height_box, size / width_box]) * reduction
    out = tf.raw_ops.ScaleAndTranslate(
        images=region[None], size=tf.constant([size, size], tf.int32), scale=scale,
        translation=-tf.stack([yoff, xoff]) * scale, kernel_type="triangle", antialias=True)
    return tf.ensure_shape(out[0], [size, size, 3])


def crop_batch(images, boxes, size: int, *, encoded: bool, frame: str = "stretch"):
    """B images (encoded strings, or a float B x H x W x 3 tensor) -> (B x S x S x 3, boxes B x 4).

    ``boxes`` None: each whole image, framed by ``frame`` (``whole_image_box``). The boxes
    returned are those used (for the map back).
    """

    def one(args):
        item, box = args
        if not encoded:
            image = tf.cast(item, tf.float32)
            box = _image_box(image, frame) if box is None else box
            return crop_and_resize(image, box, size), tf.cast(box, tf.float32)
        return _decode_crop(item, box, size, frame)

    if boxes is None:
        fn = lambda item: one((item, None))  # noqa: E731
        elems = images
    else:
        fn, elems = one, (images, boxes)
    return tf.map_fn(
        fn, elems,
        fn_output_signature=(tf.TensorSpec([size, size, 3], tf.float32),
                             tf.TensorSpec([4], tf.float32)))


# Larger images are refused before any pixel is decoded (a 100-megapixel photo decodes to
# 300 MB of uint8): a tiny PNG declaring 30000 x 30000 would otherwise allocate 2.7 GB.
MAX_IMAGE_PIXELS = 100_000_000


def _unsigned_at(encoded, start: int, count: int, little_endian: bool):
    """The unsigned integer in bytes ``start .. start + count`` (int64); too short bytes fail
    with InvalidArgument."""
    raw = tf.io.decode_raw(tf.strings.substr(encoded, start, count), tf.uint8)
    b = tf.cast(tf.ensure_shape(raw, [count]), tf.int64)
    value = tf.constant(0, tf.int64)
    for i in (reversed(range(count)) if little_endian else range(count)):
        value = value * 256 + b[i]
    return value


def encoded_pixels(encoded):
    """Width x height declared by an encoded image's header (JPEG, PNG, GIF, BMP; 0 for any
    other bytes, which the decoder then refuses). Reads no pixel data."""
    magic = tf.strings.substr(encoded, 0, 4)

    def jpeg():
        shape = tf.cast(tf.io.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    def png():  # IHDR: width, height as big-endian uint32 at bytes 16 and 20
        return _unsigned_at(encoded, 16, 4, False) * _unsigned_at(encoded, 20, 4, False)

    def gif():  # logical screen: little-endian uint16 at bytes 6 and 8
        return _unsigned_at(encoded, 6, 2, True) * _unsigned_at(encoded, 8, 2, True)

    def bmp():  # BITMAPINFOHEADER: little-endian int32 at 18 and 22 (height < 0: top-down)
        width, height = (_unsigned_at(encoded, at, 4, True) for at in (18, 22))
        height = tf.where(height >= 2**31, 2**32 - height, height)
        return width * height

    return tf.case([
        (tf.io.is_jpeg(encoded), jpeg),
        (tf.equal(magic, b"\x89PNG"), png),
        (tf.equal(tf.strings.substr(magic, 0, 3), b"GIF"), gif),
        (tf.equal(tf.strings.substr(magic, 0, 2), b"BM"), bmp),
    ], default=lambda: tf.constant(0, tf.int64), exclusive=False)


def _decode_crop(encoded, box, size: int, frame: str = "stretch"):
    """Decode + crop one encoded image; a JPEG whose box is >= 2x the output is decoded at
    1/2, 1/4 or 1/8 scale in the DCT domain (the converter's ``draft``): same picture after
    the antialiased resize, several times cheaper. Images over ``MAX_IMAGE_PIXELS`` fail with
    InvalidArgument before decoding."""
    check = tf.debugging.assert_less_equal(
        encoded_pixels(encoded), tf.constant(MAX_IMAGE_PIXELS, tf.int64),
        message=f"image larger than {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)")
    with tf.control_dependencies([check]):
        encoded = tf.identity(encoded)

    def full():
        image = decode_image(encoded)
        used = _image_box(image, frame) if box is None else tf.cast(box, tf.float32)
        return crop_and_resize(image, used, size), used

    def reduced():
        height_width = tf.cast(tf.io.extract_jpeg_shape(encoded)[:2], tf.float32)
        used = (whole_image_box(height_width[1], height_width[0], frame) if box is None
                else tf.cast(box, tf.float32))
        ratio = tf.minimum(used[2] - used[0], used[3] - used[1]) / float(size)
        branch = tf.cast(ratio >= 2.0, tf.int32) + tf.cast(ratio >= 4.0, tf.int32) + tf.cast(
            ratio >= 8.0, tf.int32)

        def at(r):
            # The accurate integer IDCT: libjpeg's default, which Pillow uses, so the host path
            # (``host_crop``, LiteRT) decodes the same pixels (TF's default, the fast IDCT,
            # differs by up to 5 grey levels: enough to move a keypoint a quarter heatmap cell).
            return lambda: tf.cast(tf.io.decode_jpeg(encoded, channels=3, ratio=r,
                                                     dct_method="INTEGER_ACCURATE"), tf.float32)

        image = tf.switch_case(branch, [at(1), at(2), at(4), at(8)])
        image.set_shape([None, None, 3])
        reduction = tf.gather([1.0, 2.0, 4.0, 8.0], branch)
        return crop_and_resize(image, used, size, reduction), used

    return tf.cond(tf.io.is_jpeg(encoded), reduced, full)


# ----------------------------------------------------------------------------------------------
# The exported module.


class ServingModule(tf.Module):
    """Preprocessing + model + decoding for TF Serving; see the module docstring.

    Also used in-process by ``tfpose predict`` on a work dir, so a work dir and its export
    answer identically.
    """

    def __init__(self, model, cfg, class_names=None, asset_paths=()):
        super().__init__(name="tfpose_serving")
        network = inference_network(model, cfg)
        # Track the variables only: tracking the Keras model itself makes tf.saved_model.save
        # walk (and trace) every layer, several times slower. One traced network function
        # shared by the four signatures: the graph is built and stored once, not four times.
        self.model_variables = serving_variables(network)
        self._network = tf.function(
            lambda images: _call(network, images), autograph=False,
            input_signature=[tf.TensorSpec([None, cfg.data.input_size, cfg.data.input_size, 3],
                                           tf.float32)])
        self.task = get_task(cfg)
        self.size = cfg.data.input_size
        # Pass 1 on a whole photo may run smaller (``data.whole_image_size``), on the same
        # weights: one set of variables in the SavedModel.
        self.whole_size = cfg.data.whole_image_size or self.size
        if self.whole_size == self.size:
            self._whole_network = self._network
        else:
            whole_network = self.task.network_at_size(model, self.whole_size)
            self._whole_network = tf.function(
                lambda images: _call(whole_network, images), autograph=False,
                input_signature=[tf.TensorSpec([None, self.whole_size, self.whole_size, 3],
                                               tf.float32)])
        # The two-stage graph normalises inside (each half its own way): it takes raw 0..255.
        self.normalization = self.task.normalization
        self.class_names = list(class_names) if class_names else None
        self.assets = [tf.saved_model.Asset(str(p)) for p in asset_paths]
        self.has_keypoints = self.task.has_keypoints
        self.has_classes = self.class_names is not None

        size, whole_size, frame = self.size, self.whole_size, cfg.data.whole_image_frame
        if frame not in WHOLE_IMAGE_FRAMES:
            raise ConfigError(f"data.whole_image_frame must be one of "
                              f"{', '.join(WHOLE_IMAGE_FRAMES)}; received {frame!r}")
        strings = tf.TensorSpec([None], tf.string, name="images")
        floats = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
        boxes = tf.TensorSpec([None, 4], tf.float32, name="boxes")

        def whole(encoded: bool):
            """Each whole image, framed by ``data.whole_image_frame``."""
            return lambda images: self._run(
                *crop_batch(images, None, whole_size, encoded=encoded, frame=frame), whole=True)

        def boxed(encoded: bool):
            """The ``boxes`` B x 4 (x0, y0, x1, y1) of the original images."""
            return lambda images, boxes: self._run(*crop_batch(images, boxes, size,
                                                               encoded=encoded))

        # The four signatures: encoded bytes or decoded pixels, whole images or boxes.
        for name, fn, spec in (("serving_default", whole(True), [strings]),
                               ("serving_boxes", boxed(True), [strings, boxes]),
                               ("predict_images", whole(False), [floats]),
                               ("predict_images_boxes", boxed(False), [floats, boxes])):
            setattr(self, name, tf.function(fn, input_signature=spec, autograph=False))

    def signatures(self) -> dict:  # plus a detector's (``detect_signatures.attach_detector``)
        names = SIGNATURES + tuple(getattr(self, "extra_signatures", ()))
        return {name: getattr(self, name) for name in names}

    def infer(self, crops, boxes):
        """Un-normalised crops B x S x S x 3 (0..255) and their boxes -> output dict."""
        return self._run(crops, boxes)

    def _run(self, crops, boxes, whole: bool = False):
        """Crops B x S x S x 3 (0..255; S = ``whole_size`` for ``whole`` images, else ``size``)."""
        images = normalize_images(crops, self.normalization)
        outputs = (self._whole_network if whole else self._network)(images)
        result = {}
        if self.has_keypoints:
            keypoints, scores = self.task.decode_outputs(outputs)
            size = self.whole_size if whole else self.size
            result["keypoints"] = geometry.to_original(keypoints, boxes, size)
            result["keypoint_scores"] = scores
            result["input_boxes"] = boxes
        if self.has_classes:
            probs = tf.cast(outputs["action"], tf.float32)
            names = tf.constant(self.class_names, tf.string)
            result["class_probs"] = probs
            result["class_name"] = tf.gather(names, tf.argmax(probs, axis=-1, output_type=tf.int32))
        return result


# ----------------------------------------------------------------------------------------------
# The export itself.


def export_dir(base, name: str, version: int) -> Path:
    """``BASE/NAME/VERSION``, checking NAME and VERSION suit TF Serving."""
    if not name or "/" in name or name.startswith("."):
        raise DataError(f"--name must be a plain folder name. Received: {name!r}")
    if int(version) < 1:
        raise DataError(f"--version must be a positive integer (TF Serving). Received: {version}")
    return Path(base) / name / str(int(version))


def export_workdir(workdir, base, name: str, version: int, *, checkpoint: str = "best",
                   overwrite: bool = False, extend=None) -> Path:
    """Exports the model of ``workdir`` to ``BASE/NAME/VERSION``; returns that path.
    ``extend(module)`` adds to the ``ServingModule`` first (``detect_signatures``)."""
    target = export_dir(base, name, version)
    if target.exists() and not overwrite:
        raise DataError(f"{target}: version {version} already exists; pass --overwrite or "
                        "choose another --version")
    cfg, model, class_names = load_workdir(workdir, checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A hidden, non-numeric sibling: TF Serving only loads numeric version folders.
    tmp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory() as staging:
            staging = Path(staging)
            assets = [staging / "config.yaml"]
            config_lib.dump(cfg, assets[0])
            if class_names is not None:
                assets.append(staging / "classes.json")
                assets[1].write_text(json.dumps(class_names, indent=1))
            module = ServingModule(model, cfg, class_names, assets)
            if extend is not None:
                extend(module)
            tf.saved_model.save(module, str(tmp), signatures=module.signatures())
        write_warmup_requests(tmp / "assets.extra" / WARMUP_FILE, name)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def is_export(path) -> bool:
    """True for a SavedModel folder (``saved_model.pb`` inside)."""
    return (Path(path) / "saved_model.pb").exists()


def latest_version(path) -> Path:
    """``path`` itself when it is a SavedModel, else its highest numeric version subfolder."""
    path = Path(path)
    if is_export(path):
        return path
    versions = [p for p in path.glob("*") if p.name.isdigit() and is_export(p)]
    if not versions:
        raise DataError(f"{path}: neither a SavedModel nor a folder of numeric versions")
    return max(versions, key=lambda p: int(p.name))
