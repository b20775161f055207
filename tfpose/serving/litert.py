"""LiteRT (TFLite) export of a pose model, and prediction through the LiteRT interpreter.

``export_tflite`` writes ``FILE.tflite`` and its sidecar ``FILE.json``. The graph:

    crops            float32 [B, S, S, 3]  RGB 0..255: the person crop, or the whole photo
                                           framed as the training data was (see below)
    -> the training pipeline's ``normalize`` -> the network -> keypoint decoding ->
    keypoints        float32 [B, K, 2]     (x, y) in crop input pixels (0..S)
    keypoint_scores  float32 [B, K]        heatmap maxima (ones for regression)

Decoding the photo, the crop / letterbox to S x S and the map back to original pixels stay on
the host: LiteRT has no image decoder and no ``ScaleAndTranslate`` builtin. ``LiteRTPredictor``
does them in numpy and Pillow (``host_crop``: the SavedModel graph's crop, to ~1e-3 of a grey
level; ``geometry.to_original``), without importing TensorFlow, so a ``.tflite`` answers as the
SavedModel does (a first answer seconds sooner: TensorFlow's import alone is ~6 s on the 2-core
box), and ``tfpose predict FILE.tflite`` works like any other model source. The sidecar holds what the
host needs and the graph cannot: the whole-image frame, the input size, the joint names, the
quantisation and the source model. A ``.tflite`` has one input size: both passes run at
``data.input_size`` (``data.whole_image_size``, a smaller pass 1, is the SavedModel's and the
work dir's).

``quantize``: ``none`` (float32), ``float16`` (weights stored as float16, computed in float32 on
CPU), ``int8`` (weights and activations int8 with float32 input and output, calibrated on
``CALIBRATION_CROPS`` images of the training split as the model trained on them: a pose model's
records, a person detector's composed images). Pose models and person detectors only: a
classifier's export is the SavedModel's. The shipped ``person-detector``'s twin is int8 (its
dense 3 x 3 heads run ~2.5x faster so); ``lspet``'s is float32 (int8 lost 0.6-0.9 points).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tfpose.core.errors import ConfigError, DataError

QUANTIZATIONS = ("none", "float16", "int8")
ENGINES = ("auto", "tensorflow", "litert")  # what runs a model (tfpose predict --engine)
CALIBRATION_CROPS = 200
# Threads of each interpreter made without ``num_threads``; None: every core. A worker process
# of ``serving.parallel`` sets its share.
THREADS: Optional[int] = None
# A detector's .tflite decodes this many boxes per image (``tasks.detect.MAX_PEOPLE`` twice:
# some of the best are dropped as duplicates on the host); callers keep those above a score.
DETECTOR_CANDIDATES = 40


def sidecar_path(path) -> Path:
    """``FILE.tflite`` -> ``FILE.json``."""
    return Path(path).with_suffix(".json")


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes (the weights a ``.tflite`` was exported from)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def runtime_available() -> bool:
    """True when the LiteRT interpreter (``ai-edge-litert``, a dependency: absent only
    in an environment that skipped it) imports."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def twin_path(workdir, checkpoint: str = "best") -> Path:
    """Where a work dir's LiteRT twin lives: ``WORKDIR/CHECKPOINT.tflite`` (beside its
    ``CHECKPOINT.keras``; the shipped models carry one)."""
    return Path(workdir) / f"{checkpoint}.tflite"


def matching_twin(workdir, checkpoint: str = "best") -> tuple[Optional[Path], str]:
    """``(twin, "")`` when ``twin_path`` exists and its sidecar says it was exported from the
    weights file the work dir answers with now (SHA-256); else ``(None, why not)``."""
    from tfpose.core.workdir import checkpoint_path

    twin = twin_path(workdir, checkpoint)
    if not twin.is_file():
        return None, f"no {twin.name} in {workdir}"
    try:
        meta = json.loads(sidecar_path(twin).read_text())
        weights = checkpoint_path(Path(workdir), checkpoint)
    except (OSError, json.JSONDecodeError, DataError) as err:
        return None, f"{twin}: unreadable sidecar or weights ({err})"
    if meta.get("checkpoint_sha256") != file_sha256(weights):
        return None, (f"{twin} was exported from other weights than {weights.name}; re-export "
                      f"it: tfpose export {workdir} --format tflite --out {twin} --overwrite")
    return twin, ""


def _calibration_crops(cfg, data_dir: Optional[str], count: int, detector: bool = False):
    """Up to ``count`` float32 1 x S x S x 3 (0..255) calibration inputs, in order: a pose
    model's training-split records; a detector's composed training images (``mosaic``: one to
    four people on a photo's background, as it trained). Calibrated on the records alone (one
    large person each), the shipped detector's first persons on LSP's val photos scored 82.14
    PCK@0.2 against float32's 83.43; on composed images 83.79 (docs/multi_person.md)."""
    import dataclasses

    import tensorflow as tf

    from tfpose.datasets import schema
    from tfpose.datasets.shards import shard_files

    size = cfg.data.input_size
    if detector:
        from tfpose.input.mosaic import composed_images

        if data_dir:
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=data_dir,
                                                                    extra_train_dirs=[]))
        for image in composed_images(cfg, cfg.data.train_split).take(count):
            yield [image[None].numpy()]
        return
    files = shard_files(data_dir or cfg.data.dir, cfg.data.train_split)
    for serialized in tf.data.TFRecordDataset(files).take(count):
        example = schema.parse_example(serialized)
        image = tf.cast(tf.io.decode_jpeg(example["image/encoded"], channels=3), tf.float32)
        if image.shape[0] != size or image.shape[1] != size:
            image = tf.image.resize(image, [size, size], antialias=True)
        yield [image[None].numpy()]


def convert(model, cfg, quantize: str = "none", calibration_data: Optional[str] = None) -> bytes:
    """The ``.tflite`` flatbuffer of a pose ``model`` (see the module docstring)."""
    import keras
    import tensorflow as tf

    from tfpose.config import POSE_KINDS
    from tfpose.input.normalize import normalize_images
    from tfpose.serving.export import _call
    from tfpose.tasks import get_task

    task = get_task(cfg)
    if not (task.is_pose or task.is_detector):
        raise DataError(f"LiteRT export is for pose models ({', '.join(POSE_KINDS)}) and person "
                        f"detectors; model.kind {task.kind!r} exports as a SavedModel")
    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}; "
                          f"received {quantize!r}")
    size, method = cfg.data.input_size, task.normalization

    def serve(crops):
        images = normalize_images(crops, method)
        if task.is_detector:  # the centre peaks, top-k and box reads are builtins: in the graph
            outputs = _call(model, images)
            boxes, scores = task.decode_outputs(outputs, DETECTOR_CANDIDATES)
            answer = {"boxes": boxes, "scores": scores}
            if task.has_pose:  # a shared trunk: the pose model's pass 1 as well
                answer["keypoints"], answer["keypoint_scores"] = task.decode_pose(outputs)
            return answer
        keypoints, scores = task.decode_outputs(_call(model, images))
        return {"keypoints": keypoints, "keypoint_scores": scores}

    # Through Keras's ExportArchive (a SavedModel that tracks the Keras 3 variables): a
    # concrete function handed to the converter directly comes out with NaN weights.
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[
        tf.TensorSpec([None, size, size, 3], tf.float32, name="crops")])
    with tempfile.TemporaryDirectory() as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, ["serving_default"])
        return _convert(converter, tf, cfg, quantize, calibration_data, task.is_detector)


def _convert(converter, tf, cfg, quantize, calibration_data, detector=False) -> bytes:
    """Sets ``quantize``'s converter options; the flatbuffer."""
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _calibration_crops(
            cfg, calibration_data, CALIBRATION_CROPS, detector)
        # Integer kernels where they exist, float where not (the decoding's argmax and
        # sub-pixel arithmetic); input and output stay float32 for the host code.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def export_tflite(workdir, out, *, quantize: str = "none", checkpoint: str = "best",
                  calibration_data: Optional[str] = None, overwrite: bool = False) -> Path:
    """Writes ``out`` (.tflite) and its sidecar ``.json`` from a work dir or shipped model."""
    from tfpose.core import zoo
    from tfpose.core.skeleton import JOINT_NAMES
    from tfpose.tasks import get_task, load_workdir
    from tfpose.tasks.workdir import checkpoint_path

    workdir = zoo.resolve(workdir)
    out = Path(out)
    if out.suffix != ".tflite":
        raise DataError(f"{out}: a LiteRT model file must end in .tflite")
    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite")
    cfg, model, _ = load_workdir(workdir, checkpoint)
    flatbuffer = convert(model, cfg, quantize, calibration_data)
    task = get_task(cfg)
    meta = {
        "format": "tfpose-litert/1", "source": str(workdir), "checkpoint": checkpoint,
        "checkpoint_sha256": file_sha256(checkpoint_path(workdir, checkpoint)),
        "model_kind": task.kind, "input_size": cfg.data.input_size,
        "whole_image_frame": cfg.data.whole_image_frame, "quantize": quantize,
    }
    if task.is_detector:
        pose = ["keypoints", "keypoint_scores"] if task.has_pose else []
        meta.update(outputs=["boxes", "scores", *pose], candidates=DETECTOR_CANDIDATES)
    else:
        meta.update(joint_names=list(JOINT_NAMES), outputs=["keypoints", "keypoint_scores"])
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, data in ((sidecar_path(out), json.dumps(meta, indent=1).encode()), (out, flatbuffer)):
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # never a half-written model under the final name
    return out


def read_sidecar(path) -> dict:
    """The sidecar of ``FILE.tflite`` (``export_tflite``'s ``FILE.json``)."""
    meta_path = sidecar_path(path)
    try:
        return json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{meta_path}: the sidecar of {path} is missing or unreadable "
                        f"({err}); re-run `tfpose export --format tflite`") from err


class SignatureRunner:
    """A ``.tflite``'s ``serving_default`` on all cores: ``run(crops)`` -> its outputs as numpy."""

    def __init__(self, path, num_threads: Optional[int] = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise DataError("predicting with a .tflite needs the LiteRT runtime: "
                            "pip install ai-edge-litert (a dependency of tfpose)") from err
        # All cores, as TensorFlow uses: the interpreter's default is one thread (measured on
        # the 2-core box, lspet at 192, batch 8, two passes: 47 images/s, 80 with 2 threads);
        # a worker of ``parallel`` its share (``THREADS``).
        self.interpreter = Interpreter(model_path=str(path),
                                       num_threads=num_threads or THREADS or os.cpu_count() or 1)
        self.runner = self.interpreter.get_signature_runner()
        self._first_call = True

    def run(self, crops: np.ndarray) -> dict:
        """Crops B x S x S x 3 float32 (0..255) -> the graph's outputs."""
        crops = np.ascontiguousarray(crops, np.float32)
        if self._first_call:
            # The first call applies XNNPACK, and LiteRT's C++ says so on stderr ("INFO:
            # Created TensorFlow Lite XNNPACK delegate for CPU."): a line on every predict
            # that tells a user nothing. Errors still raise.
            from tfpose.core.console import c_stderr_silenced

            with c_stderr_silenced():
                outputs = self.runner(crops=crops)
            self._first_call = False
        else:
            outputs = self.runner(crops=crops)
        return {k: np.asarray(v) for k, v in outputs.items()}


class LiteRTDetector:
    """A person detector's ``.tflite``: letterboxed photos ``B x S x S x 3`` (0..255) ->
    {``boxes`` B x N x 4 input px, ``scores`` B x N}, best first, ``N`` = the sidecar's
    ``candidates`` (``tasks.detect``'s decoding is in the graph); a shared trunk's also
    ``keypoints`` B x K x 2 input px and ``keypoint_scores`` B x K (its pose pass 1)."""

    def __init__(self, path, num_threads: Optional[int] = None):
        self.meta = read_sidecar(path)
        if self.meta.get("outputs", [])[:2] != ["boxes", "scores"]:
            raise DataError(f"{path}: not a person detector's .tflite (outputs "
                            f"{self.meta.get('outputs')})")
        self.size = int(self.meta["input_size"])
        self.candidates = int(self.meta["candidates"])
        self._runner = SignatureRunner(path, num_threads)

    def __call__(self, images: np.ndarray) -> dict:
        return self._runner.run(images)


class LiteRTPredictor:
    """``tfpose predict`` through ``ai_edge_litert``: encoded images (+ boxes) -> numpy outputs
    with the SavedModel's keys (``keypoints`` in original pixels, ``keypoint_scores``)."""

    def __init__(self, path, num_threads: Optional[int] = None, passes: int = 2):
        from tfpose.serving.passes import check_passes

        self.passes = check_passes(passes)
        path = Path(path)
        self.meta = read_sidecar(path)
        if "keypoints" not in self.meta.get("outputs", ["keypoints"]):
            raise DataError(f"{path}: a person detector, not a pose model; pass it as the "
                            "detector (tfpose predict --detector)")
        self._runner = SignatureRunner(path, num_threads)
        self.size = self.input_size = int(self.meta["input_size"])
        self.is_pose = True
        self.frame = self.meta["whole_image_frame"]
        self.description = f"LiteRT {path} ({self.meta['quantize']})"

    def infer(self, crops: np.ndarray) -> dict:
        """Crops B x S x S x 3 float32 (0..255) -> keypoints B x K x 2 (input px), scores."""
        return self._runner.run(crops)

    # Crops are cut on the host, so pass 2 can turn a person lying across the photo upright
    # (``passes.quarter_turns``); a SavedModel's graph crops as it is.
    turns_crops = True

    def __call__(self, encoded: Sequence[bytes], boxes: Optional[np.ndarray] = None,
                 names: Optional[Sequence] = None, turns: Optional[np.ndarray] = None) -> dict:
        """``predict.Predictor.__call__``, TensorFlow-free: photos prepared, decoded and cropped
        on the host (``serving.host_crop``, the graph's crop in numpy). ``turns`` (with
        ``boxes``): counter-clockwise quarter turns of each box's crop before the model."""
        from tfpose.serving.images import prepare_images
        from tfpose.serving.passes import run_passes

        names = list(names) if names is not None else [f"image {i}" for i in range(len(encoded))]
        photos = list(zip(names, prepare_images(encoded, names)))
        return run_passes(self._one_pass, photos, boxes, self.passes, turns, upright=True)

    def predict_frames(self, frames: np.ndarray, boxes: Optional[np.ndarray] = None,
                       turns: Optional[np.ndarray] = None) -> dict:
        """Decoded frames B x H x W x 3 (RGB 0..255): ``predict.Predictor.predict_frames``."""
        from tfpose.serving.images import check_frames
        from tfpose.serving.passes import run_passes

        return run_passes(self._one_pass, check_frames(frames), boxes, self.passes, turns,
                          upright=True)

    def _one_pass(self, images, boxes: Optional[np.ndarray],
                  turns: Optional[np.ndarray] = None) -> dict:
        """``images``: ``(name, encoded)`` pairs, or a B x H x W x 3 array of decoded frames;
        ``turns``: quarter turns of each crop (``passes.turn_crops``), undone on the joints."""
        from tfpose.core.geometry import to_original
        from tfpose.serving.host_crop import crop_frame, crop_photo
        from tfpose.serving.passes import turn_crops, unturn_points

        crops, used = [], []
        for i, item in enumerate(images):
            box = None if boxes is None else boxes[i]
            if isinstance(images, np.ndarray):
                crop, box_used = crop_frame(item, box, self.size, self.frame)
            else:
                crop, box_used = crop_photo(item[1], box, self.size, self.frame, item[0])
            crops.append(crop)
            used.append(box_used)
        used = np.stack(used).astype(np.float32)
        if turns is None:
            out = self.infer(np.stack(crops))
        else:
            out = self.infer(turn_crops(np.stack(crops), turns))
            out["keypoints"] = unturn_points(out["keypoints"], turns, self.size)
        keypoints = to_original(out["keypoints"], used, self.size).astype(np.float32)
        return {"keypoints": keypoints, "keypoint_scores": out["keypoint_scores"],
                "input_boxes": used}
