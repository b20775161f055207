"""Fuzzing ``tfpose predict`` with damaged photos: seeded truncations and mutations of JPEG, PNG,
WebP and TIFF bytes (``tests/fuzzing.py``), as for the readers (``tests/datasets/test_fuzz.py``).

Every damaged photo is either answered or one error line naming it; never a traceback, and the
good photos around it are always answered, as they would be alone. Through both engines (the
graph's decoder, and Pillow's on the LiteRT path). The default run tries 50 cases per format;
the ``slow`` run 500 (``pytest -m slow tests/serving/test_images_fuzz.py``).
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

import cli  # noqa: E402
from fuzzing import mutate  # noqa: E402
from test_predict import dot_finder_workdir  # noqa: E402

pytestmark = pytest.mark.faults

FAST, SLOW = 50, 500
FORMATS = {"jpg": ("JPEG", {"quality": 90}), "png": ("PNG", {}),
           "webp": ("WEBP", {"quality": 80}), "tif": ("TIFF", {"compression": "tiff_lzw"})}


def photo_bytes(fmt: str, kwargs: dict) -> bytes:
    """A 40 x 56 photo of noise with a bright dot (the dot finder answers it at (12, 30))."""
    pixels = np.random.default_rng(5).integers(0, 60, (56, 40, 3), np.uint8)
    pixels[29:32, 11:14] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The dot finder as a work dir (TensorFlow: the graph decodes) and as a .tflite (LiteRT:
    Pillow decodes, ``host_crop``)."""
    from tfpose.serving.litert import export_tflite

    workdir = dot_finder_workdir(tmp_path_factory.mktemp("fuzz") / "dots", "letterbox")
    return {"tensorflow": workdir,
            "litert": export_tflite(workdir, workdir.parent / "dots.tflite")}


@pytest.mark.parametrize("cases", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
@pytest.mark.parametrize("suffix", sorted(FORMATS))
@pytest.mark.parametrize("engine", ["tensorflow", "litert"])
def test_damaged_photos_never_crash_predict_nor_cost_the_others(models, tmp_path, capfd,
                                                                engine, suffix, cases):
    """One command: a good photo, ``cases`` damaged ones (seeds 0..cases-1) with a good photo
    after every tenth, drawn (the drawing decodes the photo a second time, in Pillow)."""
    original = photo_bytes(*FORMATS[suffix])
    paths, good = [], []
    for seed in range(cases):
        if seed % 10 == 0:
            good.append(tmp_path / f"good{seed:04d}.{suffix}")
            good[-1].write_bytes(original)
            paths.append(good[-1])
        paths.append(tmp_path / f"case{seed:04d}.{suffix}")
        paths[-1].write_bytes(mutate(original, np.random.default_rng(seed)))

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        # --detector none: the dot finder's own decoding (the graph's, or the host's) is fuzzed;
        # the person detector's path decodes as the host does (Pillow).
        result = CliRunner().invoke(cli.cli, ["predict", str(models[engine]), *map(str, paths),
                                              "--out", str(tmp_path / "out"),
                                              "--detector", "none"])
    assert not [str(w.message) for w in warned]  # Python warnings would be more stderr lines
    if engine == "litert":  # what C libraries print (libtiff on a damaged TIFF) is silenced too
        # (the graph's libjpeg still prints "Improper call to JPEG library" on the TF path)
        assert capfd.readouterr().err.splitlines() == []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{suffix}: {type(result.exception).__name__}: "
                             f"{result.exception}") from result.exception
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    # Each photo is answered once or named once, in order.
    named = sorted([line["image"] for line in lines]
                   + [line[len("Error: "):].split(": ")[0] for line in errors])
    assert named == sorted(map(str, paths))
    assert result.exit_code == (3 if errors else 0), result.stderr
    answered = {line["image"]: line for line in lines}
    for path in good:
        np.testing.assert_allclose(answered[str(path)]["keypoints"], np.tile((12, 30), (16, 1)),
                                   atol=1.0)
    for line in lines:
        assert np.isfinite(line["keypoints"]).all()


@pytest.mark.parametrize("cases", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_damaged_photos_get_an_error_status_from_the_export(models, suffix, cases):
    """The SavedModel's ``serving_default`` (as TF Serving runs it): a damaged photo is an
    ``InvalidArgument`` for its own request or a finite answer, and the next request is
    answered. (TIFF is not among the graph's formats: always its error status.)"""
    import tensorflow as tf

    from tfpose.serving import export

    cfg, model, names = export.load_workdir(models["tensorflow"])
    serving = export.ServingModule(model, cfg, names)
    original = photo_bytes(*FORMATS[suffix])
    good = tf.constant([photo_bytes(*FORMATS["png"])])
    for seed in range(cases):
        damaged = mutate(original, np.random.default_rng(seed))
        try:
            answer = serving.serving_default(images=tf.constant([damaged]))
            assert np.isfinite(answer["keypoints"].numpy()).all(), seed
        except tf.errors.InvalidArgumentError:
            pass
        answer = serving.serving_default(images=good)
        np.testing.assert_allclose(answer["keypoints"].numpy()[0], np.tile((12, 30), (16, 1)),
                                   atol=1.0, err_msg=f"seed {seed}")
