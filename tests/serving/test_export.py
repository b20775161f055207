"""The TF Serving export: reloaded in a fresh process, it answers like the Keras model.

Tiny untrained models (64 x 64 input): a 2-stack hourglass, an image-only classifier and the
two-stage model chaining them (hourglass -> conv joint embedding classifier). Each is saved into
a fake work dir, exported once per module, and ONE subprocess (a fresh Python, nothing shared
with this process but the files) loads every export with ``tf.saved_model.load`` and runs all
the signature calls; this process compares with the Keras models on the same crops.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfpose import config as config_lib  # noqa: E402
from tfpose.serving import export  # noqa: E402
from tfpose.serving.detect_signatures import (DETECT_SIGNATURES,  # noqa: E402
                                              export_with_detector)
from tfpose.core.errors import DataError  # noqa: E402

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "mpii_sample"
SAMPLES = sorted(SAMPLE_DIR.glob("*.jpg"))
CLASSES = ["walking", "running", "sitting"]
SIZE = 64
HOURGLASS = {"name": "tiny_hourglass", "data": {"input_size": SIZE},
             "model": {"kind": "hourglass", "num_stacks": 2, "num_channels": 8,
                       "hourglass_depth": 1}}
CLASSIFIER = {"name": "tiny_classifier", "data": {"input_size": SIZE},
              "model": {"kind": "classifier", "num_classes": len(CLASSES)}}
DETECTOR = {"name": "tiny_detector", "data": {"input_size": 64, "normalization": "signed"},
            "model": {"kind": "efficientnet_lite0_centernet", "num_channels": 8}}
# Boxes (x0, y0, x1, y1 original px): inside, partly outside, and non-square.
BOXES = np.array([[300, 100, 700, 500], [-100, -50, 400, 450], [900.5, 200.25, 1400, 700],
                  [100, 50, 500, 300], [0, 0, 1280, 720]], np.float32)

CHILD = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
from tfpose.serving import export
from tfpose.serving.warmup import read_warmup_requests

args = json.loads(sys.argv[1])
images = [open(p, "rb").read() for p in args["images"]]
boxes = tf.constant(np.asarray(args["boxes"], np.float32))
floats = tf.constant(np.load(args["floats"]))
extra = open(args["extra"], "rb").read()
square = np.load(args["square"])

def save(prefix, result, out):
    for key, value in result.items():
        value = value.numpy()
        out[f"{prefix}/{key}"] = value.astype("S") if value.dtype == object else value

def graph_load(path, images, boxes, floats, out, info):
    # Loads the export as TF Serving's C++ LoadSavedModel and `saved_model_cli run` do (a
    # graph, a session, the saver's restore op and no initialisers), then feeds each
    # signature's tensors by name; also replays the warmup file and client requests.
    from tfpose.serving import requests

    warmup = read_warmup_requests(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)

        def run(signature, inputs):
            sig = meta.signature_def[signature]
            assert sorted(inputs) == sorted(sig.inputs), (signature, sorted(sig.inputs))
            feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
            return sess.run({k: t.name for k, t in sig.outputs.items()}, feeds)

        def save(prefix, result):
            for key, value in result.items():
                out[f"{prefix}/{key}"] = value.astype("S") if value.dtype == object else value

        info["graph_signatures"] = sorted(k for k in meta.signature_def
                                          if k != "__saved_model_init_op")
        encoded = np.array(images, dtype=object)
        save("graph_default", run("serving_default", {"images": encoded}))
        save("graph_boxes", run("serving_boxes", {"images": encoded, "boxes": boxes}))
        save("graph_floats", run("predict_images", {"images": floats}))
        save("graph_floats_boxes", run("predict_images_boxes",
                                       {"images": floats, "boxes": boxes[:2]}))
        info["graph_warmup"] = [
            [name, {k: list(v.shape) for k, v in run(name, inputs).items()}]
            for name, inputs in warmup]
        # Client requests, through JSON text as a REST client sends them.
        for prefix, body in (("rest_default", requests.rest_body(images[:2])),
                             ("rest_boxes", requests.rest_body(images[:2], boxes[:2]))):
            body = json.loads(json.dumps(body))
            save(prefix, run(body["signature_name"], requests.rest_inputs(body)))
        request = requests.grpc_request(images[:2], boxes[:2], model_name="m")
        request = type(request).FromString(request.SerializeToString())
        save("grpc_boxes", run(request.model_spec.signature_name, requests.grpc_inputs(request)))
        if "detect_people" in meta.signature_def:
            save("graph_detect", run("detect_people", {"images": encoded}))
            save("graph_detect_square", run("detect_people_images", {"images": square}))


for job in args["jobs"]:
    loaded = tf.saved_model.load(job["export"])
    sig = loaded.signatures
    out, info = {}, {"signatures": sorted(sig.keys())}
    save("default", sig["serving_default"](images=tf.constant(images)), out)
    save("boxes", sig["serving_boxes"](images=tf.constant(images), boxes=boxes), out)
    save("floats", sig["predict_images"](images=floats), out)
    save("floats_boxes", sig["predict_images_boxes"](images=floats, boxes=boxes[:2]), out)
    if "detect_people" in sig:
        save("detect", sig["detect_people"](images=tf.constant(images)), out)
        save("detect_square", sig["detect_people_images"](images=tf.constant(square)), out)
    save("mixed", sig["serving_default"](images=tf.constant([extra, images[3], images[0]])), out)
    save("single", sig["serving_default"](images=tf.constant([extra])), out)
    try:
        sig["serving_default"](images=tf.constant([images[0], b"this is not an image"]))
        info["error"] = None
    except Exception as err:
        info["error"] = type(err).__name__
    save("after_error", sig["serving_default"](images=tf.constant(images[:1])), out)
    try:
        sig["serving_boxes"](images=tf.constant(images[:1]), boxes=tf.constant([[5.0, 5, 5, 9]]))
        info["empty_box_error"] = None
    except Exception as err:
        info["empty_box_error"] = type(err).__name__
    warmup = []
    path = os.path.join(job["export"], "assets.extra", "tf_serving_warmup_requests")
    for record in tf.data.TFRecordDataset(path):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        result = sig[request.model_spec.signature_name](**inputs)
        warmup.append([request.model_spec.name, request.model_spec.signature_name,
                       {k: list(v.shape) for k, v in result.items()}])
    info["warmup"] = warmup
    try:
        graph_load(job["export"], images, boxes.numpy(), floats.numpy(), out, info)
        info["graph_error"] = None
    except Exception as err:  # recorded, so only the graph-load tests fail
        info["graph_error"] = f"{type(err).__name__}: {str(err)[:2000]}"
    np.savez(job["out"] + ".npz", **out)
    open(job["out"] + ".json", "w").write(json.dumps(info))
"""


def make_workdir(folder: Path, values: dict, classes=None, model=None) -> Path:
    """A fake ``tfpose train`` work dir: config.yaml, model.keras and classes.json."""
    from tfpose.training.train import build_model

    folder.mkdir(parents=True, exist_ok=True)
    cfg = config_lib.from_dict(values)
    config_lib.dump(cfg, folder / "config.yaml")
    model = model or build_model(cfg, num_classes=len(classes) if classes else None)
    model.save(str(folder / "model.keras"))
    if classes:
        (folder / "classes.json").write_text(json.dumps(classes))
    return folder


def png_bytes(width=200, height=300) -> bytes:
    """A grayscale PNG of another size and format than the JPEG samples."""
    from PIL import Image

    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width), np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Work dirs, exports and the fresh-process results of every signature call."""
    assert len(SAMPLES) == 5, f"expected the 5 sample images in {SAMPLE_DIR}"
    root = tmp_path_factory.mktemp("export")
    hourglass = make_workdir(root / "hourglass", HOURGLASS)
    classifier = make_workdir(root / "classifier", CLASSIFIER, CLASSES)
    two_stage_values = {"name": "tiny_two_stage", "data": {"input_size": SIZE},
                        "model": {"kind": "two_stage", "joint_embedding": "conv",
                                  "num_classes": len(CLASSES), "pose_workdir": str(hourglass)}}
    two_stage = make_workdir(root / "two_stage", two_stage_values, CLASSES)
    workdirs = {"hourglass": hourglass, "classifier": classifier, "two_stage": two_stage}
    base = root / "serving"
    detector = make_workdir(root / "detector", DETECTOR)
    exports = {name: export.export_workdir(wd, base, name, 1) for name, wd in workdirs.items()
               if name != "hourglass"}
    exports["hourglass"] = export_with_detector(hourglass, base, "hourglass", 1, detector)
    square = np.random.default_rng(2).integers(0, 255, (1, DETECTOR["data"]["input_size"],
                                                        DETECTOR["data"]["input_size"], 3))
    np.save(root / "square.npy", square.astype(np.float32))

    (root / "extra.png").write_bytes(png_bytes())
    floats = np.stack([export.decode_image(SAMPLES[i].read_bytes()).numpy() for i in (0, 1)])
    np.save(root / "floats.npy", floats)
    jobs = [{"export": str(path), "out": str(root / f"result-{name}")}
            for name, path in exports.items()]
    args = {"images": [str(p) for p in SAMPLES], "boxes": BOXES.tolist(),
            "floats": str(root / "floats.npy"), "extra": str(root / "extra.png"),
            "square": str(root / "square.npy"), "jobs": jobs}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {}
    for name in exports:
        with np.load(root / f"result-{name}.npz") as data:
            arrays = dict(data)
        info = json.loads((root / f"result-{name}.json").read_text())
        results[name] = (arrays, info)
    return {"root": root, "base": base, "workdirs": workdirs, "exports": exports,
            "results": results, "detector": detector, "square": square}


@functools.lru_cache(maxsize=None)
def _load(workdir: Path):
    return export.load_workdir(workdir)


def expected(workdir: Path, images, boxes=None, encoded=True) -> dict:
    """The Keras model of ``workdir`` on the same crops, decoded and mapped back, eagerly."""
    from tfpose.codecs.heatmap import decode as decode_heatmaps
    from tfpose.models import two_stage

    cfg, model, class_names = _load(workdir)
    crops, used = export.crop_batch(tf.constant(images), None if boxes is None else
                                    tf.constant(boxes), SIZE, encoded=encoded)
    used = used.numpy()
    out = {}
    if cfg.model.kind == "hourglass":
        images = export.normalize_images(crops, cfg.data.normalization)
        maps = model({"image": images}, training=False)[f"heatmaps_{cfg.model.num_stacks}"]
        keypoints, out["keypoint_scores"] = decode_heatmaps(maps)
        keypoints = keypoints.numpy() * cfg.data.heatmap_stride
    elif cfg.model.kind == "classifier":
        images = export.normalize_images(crops, cfg.data.normalization)
        out["class_probs"] = model({"image": images}, training=False)
        keypoints = None
    else:  # two_stage: raw crops in, normalisation inside the graph
        outputs = two_stage.inference_model(model)(crops, training=False)
        out["class_probs"], out["keypoint_scores"] = outputs["action"], outputs["keypoint_scores"]
        keypoints = outputs["joints"].numpy()[..., :2]
    if keypoints is not None:
        scale = (used[:, None, 2:] - used[:, None, :2]) / SIZE
        out["keypoints"] = used[:, None, :2] + keypoints * scale
        out["input_boxes"] = used  # the given boxes, or each whole image's frame
    if "class_probs" in out:
        out["class_name"] = np.array(class_names, "S")[np.argmax(out["class_probs"], -1)]
    return {k: np.asarray(v) for k, v in out.items()}


def assert_outputs_close(got: dict, prefix: str, want: dict, atol=1e-4):
    keys = sorted(k[len(prefix) + 1:] for k in got if k.startswith(prefix + "/"))
    assert keys == sorted(want), f"{prefix}: outputs {keys}, expected {sorted(want)}"
    for key, value in want.items():
        if value.dtype.kind == "S":
            np.testing.assert_array_equal(got[f"{prefix}/{key}"], value)
        else:
            np.testing.assert_allclose(got[f"{prefix}/{key}"], value, atol=atol, rtol=0,
                                       err_msg=f"{prefix}/{key}")


KINDS = ["hourglass", "classifier", "two_stage"]


@pytest.mark.parametrize("name", KINDS)
def test_serving_default_in_fresh_process_matches_keras(exported, name):
    arrays, _ = exported["results"][name]
    encoded = [p.read_bytes() for p in SAMPLES]  # 1280x720 and 854x480 in one batch
    want = expected(exported["workdirs"][name], encoded)
    assert_outputs_close(arrays, "default", want)
    if "keypoints" in want:
        assert arrays["default/keypoints"].shape == (5, 16, 2)
        assert arrays["default/keypoint_scores"].shape == (5, 16)
    if "class_probs" in want:
        np.testing.assert_allclose(arrays["default/class_probs"].sum(-1), 1.0, atol=1e-5)
        assert set(arrays["default/class_name"].astype(str)) <= set(CLASSES)


@pytest.mark.parametrize("name", KINDS)
def test_boxes_signature_matches_keras(exported, name):
    arrays, _ = exported["results"][name]
    want = expected(exported["workdirs"][name], [p.read_bytes() for p in SAMPLES], BOXES)
    assert_outputs_close(arrays, "boxes", want)


def test_keypoints_are_in_original_pixels_of_the_box(exported):
    arrays, _ = exported["results"]["hourglass"]
    keypoints = arrays["boxes/keypoints"]  # heatmap peaks lie inside the 64 x 64 crop
    assert np.all(keypoints >= BOXES[:, None, :2] - 1e-3)
    assert np.all(keypoints <= BOXES[:, None, 2:] + 1e-3)
    whole = arrays["default/keypoints"]
    sizes = np.array([[1280, 720]] * 3 + [[854, 480]] + [[1280, 720]], np.float32)
    assert np.all(whole >= 0) and np.all(whole <= sizes[:, None, :])


@pytest.mark.parametrize("name", KINDS)
def test_float_image_signatures_match_keras(exported, name):
    arrays, _ = exported["results"][name]
    floats = np.load(exported["root"] / "floats.npy")
    workdir = exported["workdirs"][name]
    assert_outputs_close(arrays, "floats", expected(workdir, floats, encoded=False))
    assert_outputs_close(arrays, "floats_boxes", expected(workdir, floats, BOXES[:2], False))


def test_batch_of_mixed_sizes_and_formats(exported):
    """PNG 200x300 grayscale + JPEG 854x480 + JPEG 1280x720 in one batch = one at a time."""
    arrays, _ = exported["results"]["two_stage"]
    np.testing.assert_allclose(arrays["mixed/keypoints"][0], arrays["single/keypoints"][0],
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(arrays["mixed/class_probs"][1:], arrays["default/class_probs"][[3, 0]],
                               atol=1e-4, rtol=0)
    assert np.all(arrays["mixed/keypoints"][0] <= np.array([200, 300]) + 1e-3)


@pytest.mark.parametrize("name", KINDS)
def test_bytes_that_are_not_an_image_give_an_error_not_a_crash(exported, name):
    arrays, info = exported["results"][name]
    assert info["error"] == "InvalidArgumentError"
    assert info["empty_box_error"] == "InvalidArgumentError"
    # The same loaded model keeps answering after the failed request.
    for key in [k for k in arrays if k.startswith("after_error/")]:
        ref = arrays["default/" + key.split("/", 1)[1]][:1]
        if ref.dtype.kind != "S":
            np.testing.assert_allclose(arrays[key], ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", KINDS)
def test_serving_layout_assets_and_warmup(exported, name):
    path = exported["exports"][name]
    assert path == exported["base"] / name / "1"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]
    cfg = config_lib.load(path / "assets" / "config.yaml")
    assert cfg == config_lib.load(exported["workdirs"][name] / "config.yaml")
    classes = path / "assets" / "classes.json"
    if name == "hourglass":
        assert not classes.exists()
    else:
        assert json.loads(classes.read_text()) == CLASSES
    _, info = exported["results"][name]
    extra = DETECT_SIGNATURES if name == "hourglass" else ()  # exported with a detector
    assert sorted(info["signatures"]) == sorted(export.SIGNATURES + extra)
    # Every warmup request replays against the reloaded model (as TF Serving does at load).
    assert [w[:2] for w in info["warmup"]] == [[name, "serving_default"], [name, "serving_boxes"]]
    assert info["warmup"][1][2][next(iter(info["warmup"][1][2]))][0] == 2


@pytest.mark.parametrize("name", KINDS)
def test_graph_session_load_as_tf_serving_answers_like_the_eager_load(exported, name):
    """TF Serving loads in a graph session and runs only the restore op: every variable the
    signatures read must be the one the checkpoint restores (a Keras 3 export through a
    ``tf.Module`` failed here with "Could not find variable ...")."""
    arrays, info = exported["results"][name]
    assert info["graph_error"] is None, info["graph_error"]
    extra = DETECT_SIGNATURES if name == "hourglass" else ()
    assert info["graph_signatures"] == sorted(export.SIGNATURES + extra)
    for prefix in ("default", "boxes", "floats", "floats_boxes"):
        eager = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + "/")}
        assert_outputs_close(arrays, "graph_" + prefix, eager)


@pytest.mark.parametrize("name", KINDS)
def test_warmup_requests_replay_against_the_graph_loaded_model(exported, name):
    _, info = exported["results"][name]
    assert info["graph_error"] is None, info["graph_error"]
    assert [w[0] for w in info["graph_warmup"]] == ["serving_default", "serving_boxes"]
    assert [next(iter(w[1].values()))[0] for w in info["graph_warmup"]] == [1, 2]


@pytest.mark.parametrize("name", KINDS)
def test_rest_and_grpc_requests_feed_the_signatures(exported, name):
    """A REST body (through JSON text) and a gRPC request, read as TF Serving reads them, give
    the signatures' answers on the same photos."""
    arrays, info = exported["results"][name]
    assert info["graph_error"] is None, info["graph_error"]
    for prefix, reference in (("rest_default", "default"), ("rest_boxes", "boxes"),
                              ("grpc_boxes", "boxes")):
        want = {k.split("/", 1)[1]: v[:2] for k, v in arrays.items()
                if k.startswith(reference + "/")}
        assert_outputs_close(arrays, prefix, want)


def test_export_stores_each_variable_once(exported):
    """One checkpoint entry per model variable: no second copy under another name."""
    path = exported["exports"]["hourglass"]
    cfg, model, _ = _load(exported["workdirs"]["hourglass"])
    stored = [name for name, _ in tf.train.list_variables(str(path / "variables" / "variables"))
              if name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")]
    detector = [name for name in stored if name.startswith("detector_variables/")]
    _, detector_model, _ = _load(exported["detector"])
    assert len(detector) == len(detector_model.variables)  # the detector's, once too
    stored = [name for name in stored if name not in detector]
    assert len(stored) == len(export.serving_variables(model)) == len(model.variables)


def test_existing_version_is_refused_unless_overwrite(exported):
    workdir, base = exported["workdirs"]["classifier"], exported["base"]
    with pytest.raises(DataError, match="already exists"):
        export.export_workdir(workdir, base, "classifier", 1)
    marker = exported["exports"]["classifier"] / "marker"
    marker.write_text("old")
    path = export.export_workdir(workdir, base, "classifier", 1, overwrite=True)
    assert (path / "saved_model.pb").exists() and not marker.exists()


def test_bad_name_or_version_is_refused(tmp_path):
    with pytest.raises(DataError, match="positive"):
        export.export_dir(tmp_path, "m", 0)
    with pytest.raises(DataError, match="plain folder"):
        export.export_dir(tmp_path, "a/b", 1)


def test_joints_classifier_is_refused_with_a_clear_message(tmp_path):
    from tfpose.training.train import build_model

    cfg = config_lib.from_dict({"data": {"input_size": SIZE},
                                "model": {"kind": "classifier", "joint_embedding": "linear",
                                          "num_classes": 3}})
    with pytest.raises(DataError, match="two_stage"):
        export.ServingModule(build_model(cfg), cfg, CLASSES)


def test_in_graph_crop_resamples_like_the_converter():
    """Served crops are the pictures the model trained on (converter: PIL, same geometry)."""
    from PIL import Image

    from tfpose.datasets.crops import crop_resize as _crop_resize

    with Image.open(SAMPLES[0]) as image:
        image = image.convert("RGB")
    pixels = np.asarray(image, np.float32)
    for box in [(300.3, 100.7, 700.2, 500.6), (-100, -50, 400, 450), (40.5, 60.25, 72.5, 92.25)]:
        ref = np.asarray(_crop_resize(image, box, SIZE, 1), np.float32)
        got = export.crop_and_resize(pixels, box, SIZE).numpy()
        inner = np.abs(ref - got)[2:-2, 2:-2]  # border pixels differ by the kernel's edge rule
        assert inner.mean() < 1.0 and np.percentile(inner, 99) < 8.0, box
    # A misalignment would show: the same box shifted by 2 input pixels differs far more.
    box = (300.3, 100.7, 700.2, 500.6)
    shifted = export.crop_and_resize(pixels, (box[0] + 12.5, box[1], box[2] + 12.5, box[3]), SIZE)
    ref = np.asarray(_crop_resize(image, box, SIZE, 1), np.float32)
    assert np.abs(ref - shifted.numpy())[2:-2, 2:-2].mean() > 2.0


@pytest.mark.parametrize("box", [(2000, 100, 2400, 500), (-900, -800, -500, -400),
                                 (100, 900, 500, 1300)])
def test_a_box_wholly_outside_the_photo_crops_zeros_not_an_error(box):
    """Outside the image is zero padding, also when the box misses the image entirely (a
    negative padding used to fail the request)."""
    pixels = np.full((720, 1280, 3), 200.0, np.float32)
    crop = export.crop_and_resize(pixels, box, SIZE).numpy()
    assert crop.shape == (SIZE, SIZE, 3) and np.all(crop == 0)
    half = export.crop_and_resize(pixels, (1000, 100, 1560, 660), SIZE).numpy()
    assert half[:, : SIZE // 4].min() > 150 and half[:, -SIZE // 4:].max() == 0


def test_jpeg_dct_scaled_decode_matches_the_converter():
    """Large boxes decode the JPEG at 1/2..1/8 scale, as the converter's ``draft`` does."""
    import math

    from PIL import Image

    from tfpose.datasets.crops import crop_resize as _crop_resize

    encoded = SAMPLES[0].read_bytes()
    boxes = [(0.0, 0.0, 1280.0, 720.0), (300.3, 100.7, 700.2, 500.6)]  # ratio 11 and 6
    crops, _ = export.crop_batch(tf.constant([encoded] * 2), tf.constant(boxes), SIZE,
                                 encoded=True)
    for got, box in zip(crops.numpy(), boxes):
        with Image.open(SAMPLES[0]) as image:  # the converter's crop_image, without the JPEG
            ratio = min(box[2] - box[0], box[3] - box[1]) / SIZE
            image.draft("RGB", (math.ceil(1280 / ratio), math.ceil(720 / ratio)))
            reduction = int(round(1280 / image.size[0]))
            assert reduction in (4, 8)
            ref = np.asarray(_crop_resize(image.convert("RGB"), box, SIZE, reduction), np.float32)
        inner = np.abs(ref - got)[2:-2, 2:-2]
        assert inner.mean() < 1.0 and np.percentile(inner, 99) < 8.0, (box, inner.mean())


def test_letterbox_frame_pads_the_short_side_like_the_converter():
    """frame="letterbox": the box is the converter's ``letterbox_box`` and the bars are black,
    for encoded JPEGs (the DCT-reduced path included) and decoded images alike."""
    from tfpose.core.geometry import letterbox_box

    wide = np.full((48, 160, 3), 200, np.uint8)
    jpeg = tf.io.encode_jpeg(tf.constant(wide)).numpy()
    for images, encoded in (([jpeg], True), (wide[None].astype(np.float32), False)):
        crops, used = export.crop_batch(tf.constant(images), None, 32, encoded=encoded,
                                        frame="letterbox")
        np.testing.assert_allclose(used.numpy()[0], letterbox_box(160, 48))
        crop = crops.numpy()[0]
        # 48 of 160 rows are the photo: at 32 px, rows 11..20 bright, the outer rows black.
        assert crop[:9].max() < 5 and crop[-9:].max() < 5
        assert crop[13:19, 1:-1].min() > 150  # (column 0: the kernel half outside, zeros)
        stretched, box = export.crop_batch(tf.constant(images), None, 32, encoded=encoded)
        np.testing.assert_allclose(box.numpy()[0], [0, 0, 160, 48])
        assert stretched.numpy()[0][2:-2, 2:-2].min() > 150


def test_the_detector_signatures_load_in_a_graph_session_and_answer_as_the_host(exported):
    """``detect_people`` (a pose export with ``detector=``) in TF Serving's graph load equals the
    eager load, and on a photo the detector's own size (letterbox = identity) finds the boxes
    and scores ``people.PersonDetector`` finds on the host."""
    from tfpose.serving.detect_signatures import DETECT_SIGNATURES
    from tfpose.serving.litert import DETECTOR_CANDIDATES
    from tfpose.serving.people import PersonDetector

    arrays, info = exported["results"]["hourglass"]
    assert info["graph_error"] is None, info["graph_error"]
    assert set(DETECT_SIGNATURES) <= set(info["graph_signatures"])
    assert not set(DETECT_SIGNATURES) & set(exported["results"]["classifier"][1]["signatures"])
    for name in ("detect", "detect_square"):
        assert arrays[f"{name}/boxes"].shape[1:] == (DETECTOR_CANDIDATES, 4)
        for key in ("boxes", "scores"):
            np.testing.assert_allclose(arrays[f"graph_{name}/{key}"], arrays[f"{name}/{key}"],
                                       atol=1e-4)
        scores = arrays[f"{name}/scores"]
        assert (np.diff(scores, axis=1) <= 0).all()  # best first, suppressed (0) last
    host_boxes, host_scores = PersonDetector(exported["detector"], min_score=0.0,
                                             engine="tensorflow")([exported["square"][0]])[0]
    served = arrays["detect_square/scores"][0] > 0
    top = min(5, len(host_scores))
    np.testing.assert_allclose(arrays["detect_square/scores"][0][served][:top], host_scores[:top],
                               atol=1e-4)
    np.testing.assert_allclose(arrays["detect_square/boxes"][0][served][:top], host_boxes[:top],
                               atol=0.05)


def test_suppression_in_the_graph_keeps_what_the_host_keeps():
    from tfpose.serving.detect_signatures import suppress_duplicates
    from tfpose.serving.litert import DETECTOR_CANDIDATES
    from tfpose.serving.people import drop_duplicates

    rng = np.random.default_rng(0)
    half = DETECTOR_CANDIDATES // 2
    corner = rng.uniform(0, 60, (3, half, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(10, 40, corner.shape)], -1)
    # Each box and a near copy of it (IoU about 0.8), shuffled: duplicates among the 40.
    boxes = np.concatenate([boxes, boxes + rng.uniform(-1, 1, boxes.shape)], 1)
    boxes = np.stack([b[rng.permutation(DETECTOR_CANDIDATES)] for b in boxes])
    scores = -np.sort(-rng.uniform(0, 1, (3, DETECTOR_CANDIDATES)), axis=1)
    kept_boxes, kept_scores = suppress_duplicates(tf.constant(boxes, tf.float32),
                                                  tf.constant(scores, tf.float32))
    for b in range(3):
        keep = drop_duplicates(boxes[b], scores[b])
        assert 0 < len(keep) < DETECTOR_CANDIDATES  # some of 40 random boxes overlap
        count = int((kept_scores[b].numpy() > 0).sum())
        np.testing.assert_allclose(kept_scores[b, :count], scores[b, keep], rtol=1e-6)
        np.testing.assert_allclose(kept_boxes[b, :count], boxes[b, keep], rtol=1e-5)


def test_an_export_answers_every_person_through_its_box_signature(exported):
    """A pose export as the pose model of ``people.PeoplePredictor``: it knows its crop size
    (from its assets' config) and that it is a pose model, and answers each given person."""
    from tfpose.serving.people import PeoplePredictor
    from tfpose.serving.predict import Predictor

    pose = Predictor(exported["exports"]["hourglass"])
    assert pose.is_pose and pose.input_size == SIZE
    assert not Predictor(exported["exports"]["classifier"]).is_pose
    boxes = np.array([[10, 10, 60, 90], [70, 20, 110, 80]], np.float32)

    def two_people(photos, names=None, min_score=None):
        return [(boxes, np.array([0.9, 0.8], np.float32)) for _ in photos]

    photo = np.random.default_rng(0).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    result = PeoplePredictor(two_people, pose)([photo])[0]
    assert result.keypoints.shape == (2, 16, 2) and np.isfinite(result.keypoints).all()
