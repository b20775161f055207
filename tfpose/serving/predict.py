"""Predict on image files with a work dir or an export: skeleton drawings and one JSON line each.

A ``.tflite`` (``tfpose export --format tflite``) answers through ``litert.LiteRTPredictor``
with the same host-side crop and map back. The other sources answer through the same code: an
export's ``serving_default`` (whole image) or ``serving_boxes`` signature, or, for a work dir
(or a shipped model's name), the
``ServingModule`` the export would write, built in-process. So ``tfpose predict`` on a work dir
shows exactly what the served model will return.

Coordinates: ``keypoints`` are (x, y) in 0-based pixels of the original image, pixel centres
at integers (the top-left pixel's centre is (0, 0)). A whole photo is framed as the model's
training data was: letterboxed for the shipped ``lspet`` model (longer side fitted, the other
padded), stretched to the square for models converted with ``--crop whole``.

Two passes (``passes=2``, the default for pose models without a box), as top-down pose tools
work: pass 1 finds the person on the whole photo; pass 2 crops the square around pass 1's
joints (``person_box.square_box``, the box the person-centred training crops fill the input
with) and predicts again inside it, so a person who is a fraction of the photo is seen at the
network's full resolution. Both passes go through the source's own signatures (whole image,
then boxes), so a work dir, a SavedModel and a ``.tflite`` do the same; a TF Serving client
does pass 2 itself by sending ``passes.second_pass_boxes`` of pass 1's answer to ``serving_boxes``.
Models with an activity output (two-stage) answer in one pass.

Engine (``make_predictor``'s ``engine``, ``tfpose predict --engine``): a work dir or shipped
model with a LiteRT twin (``best.tflite`` beside ``best.keras``, exported from those very
weights: the shipped ``lspet`` carries one) runs on LiteRT by default, whose XNNPACK kernels are
faster on a CPU; it answers as the work dir does (same crops, decoding and map back) except
that pass 1 runs at ``data.input_size``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from tfpose.core.errors import DataError
from tfpose.serving.images import check_frames, decode_rgb, prepare_images, undecodable
from tfpose.serving.litert import ENGINES
from tfpose.serving.passes import check_passes, run_passes

BATCH = 8


class Predictor:
    """Encoded images (+ optional boxes) -> numpy outputs of the export's signatures.

    ``source``: a work dir (``config.yaml`` inside), a SavedModel folder, or a TF Serving model
    folder ``BASE/NAME`` (its highest version is used). ``input_size``: the side its boxes are
    cropped to; ``is_pose``: it answers joints and no activity (the model every person's
    crop goes through, ``people.PeoplePredictor``).
    """

    def __init__(self, source, checkpoint: str = "best", passes: int = 2):
        import tensorflow as tf

        from tfpose.serving import export

        from tfpose.core import zoo

        source = zoo.resolve(source)
        if (source / "config.yaml").exists() and not export.is_export(source):
            cfg, model, class_names = export.load_workdir(source, checkpoint)
            if export.get_task(cfg).is_detector:
                raise DataError(f"{source}: a person detector, not a pose model; pass it as "
                                "the detector (tfpose predict --detector)")
            module = export.ServingModule(model, cfg, class_names)
            self._whole, self._fn = module.serving_default, module.serving_boxes
            self._whole_frames, self._frames_fn = module.predict_images, module.predict_images_boxes
            self.description = f"work dir {source} ({module.task.kind})"
            self.input_size = cfg.data.input_size
            self.is_pose = module.has_keypoints and not module.has_classes
        elif source.is_dir():
            path = export.latest_version(source)
            self._loaded = tf.saved_model.load(str(path))
            self._whole = self._loaded.signatures["serving_default"]
            self._fn = self._loaded.signatures["serving_boxes"]
            self._whole_frames = self._loaded.signatures["predict_images"]
            self._frames_fn = self._loaded.signatures["predict_images_boxes"]
            self.description = f"export {path}"
            # The boxes' crop size (what the every-person pass cuts persons at): the export
            # keeps the training config among its assets.
            from tfpose import config as config_lib

            self.input_size = config_lib.load(path / "assets" / "config.yaml").data.input_size
            outputs = self._whole.structured_outputs
            self.is_pose = "keypoints" in outputs and "class_probs" not in outputs
        else:
            raise DataError(f"{source}: neither a work dir (config.yaml) nor a SavedModel")
        self._tf = tf
        self.passes = check_passes(passes)

    def __call__(self, encoded: Sequence[bytes], boxes: Optional[np.ndarray] = None,
                 names: Optional[Sequence] = None) -> dict:
        """``encoded`` B bytes; ``boxes`` B x 4 (x0, y0, x1, y1 original px), or None: each
        whole image, framed as the model's training data (``data.whole_image_frame``), in
        ``self.passes`` passes. Photos are read by ``images.prepare_images`` (EXIF orientation
        first: keypoints in the displayed photo's pixels); ``names`` (B, e.g. the files) name a
        bad image in the error."""
        encoded = prepare_images(encoded, names)
        try:
            return run_passes(self._one_pass, encoded, boxes, self.passes)
        except self._tf.errors.InvalidArgumentError as err:  # pixels the graph cannot decode
            raise undecodable(err, names) from err

    def predict_frames(self, frames: np.ndarray, boxes: Optional[np.ndarray] = None) -> dict:
        """Decoded frames (a video's): ``frames`` B x H x W x 3 RGB 0..255 (uint8 or float), one
        size; ``boxes`` as in ``__call__``. Same passes and outputs, through the float
        signatures (``predict_images``, ``predict_images_boxes``): no encode and decode."""
        return run_passes(self._one_pass, check_frames(frames), boxes, self.passes)

    def _one_pass(self, images, boxes: Optional[np.ndarray]) -> dict:
        """``images``: a list of encoded bytes (string signatures) or a B x H x W x 3 array of
        decoded pixels (float signatures)."""
        tf = self._tf
        if isinstance(images, np.ndarray):
            images = tf.constant(images, tf.float32)
            whole, fn = self._whole_frames, self._frames_fn
        else:
            images = tf.constant(images, tf.string)
            whole, fn = self._whole, self._fn
        if boxes is None:
            outputs = whole(images=images)
        else:
            outputs = fn(images=images, boxes=tf.constant(boxes, tf.float32))
        return {k: v.numpy() for k, v in outputs.items()}


def parse_box(text: str) -> np.ndarray:
    """``"x0,y0,x1,y1"`` -> float32 [4], checking x1 > x0 and y1 > y0."""
    try:
        box = np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        box = np.zeros(0)
    if box.shape != (4,) or not (box[2] > box[0] and box[3] > box[1]):
        raise DataError(f"--box expects x0,y0,x1,y1 with x1 > x0 and y1 > y0. Received: {text!r}")
    return box


def record(path, outputs: dict, i: int) -> dict:
    """The JSON line of image ``i`` of a batch."""
    rec = {"image": str(path), "keypoints": None, "scores": None, "class": None,
           "probability": None}
    if "keypoints" in outputs:
        rec["keypoints"] = np.round(outputs["keypoints"][i].astype(np.float64), 2).tolist()
        rec["scores"] = np.round(outputs["keypoint_scores"][i].astype(np.float64), 4).tolist()
    if "class_probs" in outputs:
        probs = outputs["class_probs"][i]
        rec["class"] = outputs["class_name"][i].decode()
        rec["probability"] = round(float(probs.max()), 4)
    return rec


def draw(encoded: bytes, rec: dict, box: Optional[np.ndarray] = None):
    """The photo as displayed (EXIF orientation applied, as the keypoints are) with the
    predicted skeleton, the activity and its probability."""
    return draw_on(decode_rgb(encoded, rec["image"]), rec, box)


def draw_on(image, rec: dict, box: Optional[np.ndarray] = None):
    """``draw`` on a decoded RGB image (PIL, or H x W x 3 uint8: a video frame); returns PIL."""
    from PIL import Image, ImageDraw

    from tfpose.viz.visualize import draw_skeleton, shown_joints

    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.asarray(image, np.uint8))
    if "persons" in rec:
        from tfpose.viz.people import draw_people

        return draw_people(image, rec["persons"])
    if box is not None:
        ImageDraw.Draw(image).rectangle([float(v) for v in box], outline=(255, 255, 0),
                                        width=max(1, min(image.size) // 200))
    named = rec.get("activity") or (rec if rec["class"] is not None else None)
    label = f"{named['class']} {named['probability']:.2f}" if named else None
    if rec["keypoints"] is None:
        return draw_skeleton(image, np.zeros([16, 2]), annotated=np.zeros(16, bool), label=label)
    return draw_skeleton(image, np.asarray(rec["keypoints"]), label=label,
                         annotated=shown_joints(rec.get("scores")))


def make_predictor(source, checkpoint: str = "best", passes: int = 2, engine: str = "auto",
                   before_tensorflow: Optional[Callable[[], None]] = None):
    """A ``Predictor`` (TensorFlow), or a ``LiteRTPredictor`` (same call and outputs; it never
    imports TensorFlow). ``before_tensorflow`` is called when the answer is a ``Predictor``,
    before TensorFlow is imported (the CLI silences its start-up lines there).

    ``engine``: ``tensorflow``; ``litert`` (a ``.tflite``, or a work dir's LiteRT twin
    ``CHECKPOINT.tflite`` exported from its current weights: ``litert.matching_twin``);
    ``auto`` (default): LiteRT for a ``.tflite``, and for a work dir or shipped model with a
    matching twin when the runtime is installed; TensorFlow otherwise. XNNPACK's float32
    kernels are faster on a CPU (``lspet`` on the 2-core box: two passes at 192 73.7 images/s
    against TensorFlow's 63.1 with pass 1 at 160; tracked video 72-80 frames/s against 45-48:
    README, Performance; docs/video_history.md); a ``.tflite`` has one input size, so both
    passes run at ``data.input_size``.
    """
    from tfpose.serving import litert

    if engine not in ENGINES:
        raise DataError(f"engine must be one of {', '.join(ENGINES)}. Received: {engine!r}")
    if str(source).endswith(".tflite"):
        if engine == "tensorflow":
            raise DataError(f"{source}: a .tflite runs on LiteRT, not TensorFlow (--engine)")
        return litert.LiteRTPredictor(source, passes=passes)
    if engine != "tensorflow":
        from tfpose.core import zoo

        folder = zoo.resolve(source)
        twin, why = litert.matching_twin(folder, checkpoint) if folder.is_dir() else (None, "")
        if engine == "litert":
            if twin is None:
                raise DataError(f"--engine litert: {why or f'{source} is not a work dir'}; "
                                f"tfpose export {source} --format tflite --out "
                                f"{litert.twin_path(folder, checkpoint)} writes one")
            return litert.LiteRTPredictor(twin, passes=passes)
        if twin is not None and litert.runtime_available():
            return litert.LiteRTPredictor(twin, passes=passes)
        if twin is None and litert.twin_path(folder, checkpoint).exists():
            warnings.warn(f"{why}; predicting with TensorFlow", stacklevel=2)  # a stale twin
    if before_tensorflow is not None:
        before_tensorflow()
    return Predictor(source, checkpoint, passes)


ERROR_HANDLING = ("raise", "record")


def predict_files(source, images: Iterable, out_dir=None, *, box: Optional[np.ndarray] = None,
                  boxes: Optional[Sequence] = None, checkpoint: str = "best",
                  predictor: Optional[Predictor] = None, batch_size: int = BATCH,
                  passes: int = 2, engine: str = "auto", errors: str = "raise",
                  drawing_names: Optional[Sequence] = None, activity=None, people=None):
    """Predicts the image files in batches; yields one JSON record per image, in order.

    ``box`` (x0, y0, x1, y1 original px) applies to every image, ``boxes`` (N x 4) gives one per
    image; neither: whole images, in ``passes`` passes (see the module docstring). ``out_dir``:
    also write the drawing ``OUT/<name>.png`` (its path in the record's ``drawing``; the
    second pass's box in yellow); None draws nothing. ``drawing_names``: one relative path
    (without extension) per image, e.g. ``images.photo_files``'s, which keeps a folder's
    sub-folders; default each file's stem. A name given twice gets ``_2``, ``_3``: no drawing
    overwrites another of the same command.

    A file that cannot be read or decoded (``images.prepare_image``; a truncated JPEG) costs
    only itself: ``errors="raise"`` raises its DataError (naming it) when its turn comes,
    ``"record"`` yields ``{"image": path, "error": message}`` in its place and goes on.

    ``activity`` (a ``serving.activity.ActivityModel``) adds each line's ``"activity"``
    (``serving.activity.attach``: class, probability and top 3 from the joints), drawn as its
    label.

    ``people`` (a ``people.PeoplePredictor`` on ``predictor``): every person of each photo
    without a box, best first in the line's ``persons`` (the top-level keypoints are the first
    person's), each drawn in its own colour.
    """
    if errors not in ERROR_HANDLING:
        raise DataError(f"errors must be one of {', '.join(ERROR_HANDLING)}. Received: {errors!r}")
    predictor = predictor or make_predictor(source, checkpoint, passes, engine)
    paths = [Path(p) for p in images]
    if boxes is not None and len(boxes) != len(paths):
        raise DataError(f"{len(boxes)} boxes for {len(paths)} images")
    if boxes is None and box is not None:
        boxes = [box] * len(paths)
    if boxes is not None:
        boxes = np.asarray(boxes, np.float32).reshape(len(paths), 4)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if drawing_names is not None and len(drawing_names) != len(paths):
            raise DataError(f"{len(drawing_names)} drawing names for {len(paths)} images")
        targets = drawing_paths(out_dir, drawing_names or [Path(p.stem) for p in paths])
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        chunk_boxes = None if boxes is None else boxes[start:start + batch_size]
        for k, (path, answer) in enumerate(_predict_chunk(predictor, chunk, chunk_boxes, people)):
            if isinstance(answer, DataError):
                if errors == "raise":
                    raise answer
                yield {"image": str(path), "error": str(answer)}
                continue
            rec, encoded, drawn_box = answer
            if activity is not None:
                from tfpose.serving.activity import attach

                attach(rec, activity)
            if out_dir is not None:
                target = targets[start + k]
                try:
                    drawing = draw(encoded, rec, drawn_box)
                except DataError as err:
                    if errors == "raise":
                        raise
                    yield {"image": str(path), "error": str(err)}
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                drawing.save(target)
                rec["drawing"] = str(target)
            yield rec


def drawing_paths(out_dir: Path, names: Sequence) -> list:
    """``OUT/<name>.png`` for each relative ``name``; a name seen before gets ``_2``, ``_3``."""
    seen, paths = set(), []
    for name in map(Path, names):
        target, n = name, 1
        while str(target).lower() in seen:  # lower: one file on case-blind disks (macOS)
            n += 1
            target = name.with_name(f"{name.name}_{n}")
        seen.add(str(target).lower())
        paths.append(out_dir / f"{target}.png")
    return paths


def _predict_chunk(predictor, paths: list, boxes: Optional[np.ndarray], people=None):
    """``(path, (record, encoded, drawn box) or DataError)`` for each of ``paths``, in order:
    each file read alone, then ``predict_items``."""
    from tfpose.serving.images import read_photo

    items = [read_photo(path) for path in paths]
    answers = predict_items(predictor, paths, items, boxes, people)
    for path, data, answer in zip(paths, items, answers):
        yield path, answer if isinstance(answer, DataError) else (answer[0], data, answer[1])


def predict_items(predictor, names: Sequence, items: Sequence,
                  boxes: Optional[np.ndarray] = None, people=None) -> list:
    """``(record, drawn box)`` or a DataError naming the item, for each of ``items``, in order.

    ``people`` (a ``people.PeoplePredictor``): every person of each photo, its record with
    ``persons`` (``people.people_record``); a given box still skips the search (``boxes``).

    ``items``: encoded photos (bytes), decoded H x W x 3 RGB arrays, or a DataError already
    (a file that could not be read); ``names`` name them in the records and errors; ``boxes``
    B x 4 or None. Each photo is prepared alone (``images.prepare_image``); the good ones go to
    the network in one call, and when that call refuses the batch (a file whose header was fine
    but whose pixels are not), one call each, so the bad one is named and the others answered.
    Arrays go one at a time (``predict_frames`` takes one size per call).
    """
    answers = {}
    photos = _checked_items(names, items, answers)
    if people is not None and boxes is None:
        from tfpose.serving.people import people_record

        def every_person(group):
            results = people([photo for _, photo in group], [names[i] for i, _ in group])
            return [(people_record(names[i], result), None)
                    for (i, _), result in zip(group, results)]

        _one_call_else_each(photos, every_person, answers)
        return [answers[i] for i in range(len(items))]
    for i, frame in [(i, photo) for i, photo in photos if isinstance(photo, np.ndarray)]:
        outputs = predictor.predict_frames(frame[None], None if boxes is None else boxes[[i]])
        answers[i] = (record(names[i], outputs, 0), _drawn_box(outputs, 0, boxes, i))

    def one_skeleton(group):
        indices = [i for i, _ in group]
        outputs = predictor([data for _, data in group],
                            None if boxes is None else boxes[indices],
                            names=[names[i] for i in indices])
        return [(record(names[i], outputs, k), _drawn_box(outputs, k, boxes, i))
                for k, i in enumerate(indices)]

    _one_call_else_each([(i, p) for i, p in photos if not isinstance(p, np.ndarray)],
                        one_skeleton, answers)
    return [answers[i] for i in range(len(items))]


def _checked_items(names: Sequence, items: Sequence, answers: dict) -> list:
    """``(i, photo)`` for each item that can be answered: an array as it is, encoded bytes as
    ``images.prepare_image`` gives them; the others' DataErrors go into ``answers[i]``."""
    from tfpose.serving.images import prepare_image

    photos = []
    for i, item in enumerate(items):
        error = item_error(item, names[i])
        if error is not None:
            answers[i] = error
        elif isinstance(item, np.ndarray):
            photos.append((i, np.asarray(item, np.uint8)))
        else:
            try:
                photos.append((i, prepare_image(item, names[i])))
            except DataError as err:
                answers[i] = err
    return photos


def _one_call_else_each(photos: list, call, answers: dict) -> None:
    """``answers[i]`` for each ``(i, photo)`` of ``photos``: ``call(group)`` answers a group in
    one call (a list, in order); when it refuses the group with a DataError (a file whose
    header was fine but whose pixels are not), one call each, so the bad one is named and the
    others answered."""
    groups = [photos] if photos else []
    while groups:
        group = groups.pop()
        try:
            results = call(group)
        except DataError as err:
            if len(group) == 1:
                answers[group[0][0]] = err
            else:
                groups.extend([member] for member in group)
            continue
        answers.update(zip([i for i, _ in group], results))


def item_error(item, name) -> Optional[DataError]:
    """The error of an item that cannot be answered: a DataError already (a file that could not
    be read), or an array that is no H x W x 3 RGB image (named ``name``); else None."""
    if isinstance(item, DataError):
        return item
    if isinstance(item, np.ndarray) and (item.ndim != 3 or item.shape[-1] != 3
                                         or 0 in item.shape):
        return DataError(f"{name}: an image array must be H x W x 3 RGB; received shape "
                         f"{item.shape}")
    return None


def _drawn_box(outputs: dict, k: int, boxes: Optional[np.ndarray], i: int):
    """The box answer ``k`` (item ``i``) was predicted in: the given box, or the second pass's
    when it ran; None for the whole image."""
    if boxes is not None:
        return boxes[i]
    if "boxes" in outputs and np.isfinite(outputs["boxes"][k]).all():
        return outputs["boxes"][k]
    return None
