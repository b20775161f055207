"""Photos as users have them (``serving/images.py``): EXIF orientation, TIFF and WebP, formats
that are refused in one line. Models: the tiny random hourglass and the dot finder of
``test_predict`` (64 px input)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from PIL import Image, ImageOps  # noqa: E402

from test_predict import SIZE, dot_finder_workdir, make_workdir, run_predict  # noqa: E402
from tfpose.core.errors import DataError  # noqa: E402
from tfpose.serving import images  # noqa: E402

HOURGLASS = {"data": {"input_size": SIZE, "whole_image_frame": "letterbox"},
             "model": {"kind": "hourglass", "num_stacks": 1, "num_channels": 8,
                       "hourglass_depth": 1}}
# EXIF orientation -> how the camera stored the displayed photo (the inverse of the turn a
# viewer applies); checked against Pillow's own ImageOps.exif_transpose below.
STORED = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
          6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}
WIDTH, HEIGHT, DOT = 160, 96, (50, 31)


def encode(image, fmt, orientation=None, **kwargs) -> bytes:
    buffer = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[images.EXIF_ORIENTATION] = orientation
        kwargs["exif"] = exif.tobytes()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def displayed_photo() -> Image.Image:
    """A 160 x 96 photo (as a viewer shows it): noise, and a bright 3 x 3 dot at ``DOT``."""
    pixels = np.random.default_rng(3).integers(0, 60, (HEIGHT, WIDTH, 3), np.uint8)
    pixels[DOT[1] - 1:DOT[1] + 2, DOT[0] - 1:DOT[0] + 2] = 255
    return Image.fromarray(pixels)


def phone_file(orientation: int, fmt: str = "PNG", **kwargs) -> bytes:
    """The displayed photo stored as a phone does: pixels in the sensor's frame, plus the EXIF
    tag that turns them back."""
    stored = displayed_photo().transpose(STORED[orientation])
    data = encode(stored, fmt, orientation, **kwargs)
    if fmt != "JPEG":  # lossless: the test's own construction, checked by Pillow's turn
        with Image.open(io.BytesIO(data)) as check:
            assert np.array_equal(np.asarray(ImageOps.exif_transpose(check).convert("RGB")),
                                  np.asarray(displayed_photo()))
    return data


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tfpose.serving.predict import Predictor

    root = tmp_path_factory.mktemp("photos")
    return {"hourglass": Predictor(make_workdir(root / "hourglass", HOURGLASS)),
            "dots": Predictor(dot_finder_workdir(root / "dots", "letterbox")),
            "dots_dir": root / "dots"}


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_exif_turned_photo_answers_as_the_photo_turned_in_its_pixels(models, orientation):
    """Acceptance (issue 37): keypoints of an EXIF-turned photo equal, to 1 px, those of the
    same photo turned in its pixels. Lossless PNG: the same pixels reach the network, so the
    random hourglass's answers agree exactly; the dot finder's are the dot, as displayed."""
    reference = encode(displayed_photo(), "PNG")
    for name in ("hourglass", "dots"):
        out = models[name]([phone_file(orientation), reference])
        np.testing.assert_allclose(out["keypoints"][0], out["keypoints"][1], atol=1e-3)
    np.testing.assert_allclose(out["keypoints"][0], np.tile(DOT, (16, 1)), atol=1.6)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_phone_jpeg_answers_in_the_displayed_photos_pixels(models, orientation):
    """A JPEG with its EXIF turn, as phones write them: the dot where the displayed photo has
    it, as for the upright JPEG (to the dot finder's resolution: one input pixel is 2.5 photo
    pixels, and the two JPEGs' block artefacts differ, so each may land a quarter-step off)."""
    phone = phone_file(orientation, "JPEG", quality=95)
    upright = encode(displayed_photo(), "JPEG", quality=95)
    out = models["dots"]([phone, upright])
    for keypoints in out["keypoints"]:
        np.testing.assert_allclose(keypoints, np.tile(DOT, (16, 1)), atol=1.6)


def test_the_drawing_is_the_displayed_photo(models, tmp_path):
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(phone_file(6, "JPEG", quality=95))
    [rec] = run_predict([models["dots_dir"], photo, "--out", tmp_path / "out"])
    with Image.open(rec["drawing"]) as drawing:
        assert drawing.size == (WIDTH, HEIGHT)  # stored 96 x 160, displayed 160 x 96
    np.testing.assert_allclose(rec["keypoints"], np.tile(DOT, (16, 1)), atol=1.6)


@pytest.mark.parametrize("fmt, kwargs", [("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}),
                                         ("WEBP", {"lossless": True})])
def test_tiff_and_webp_are_read(models, fmt, kwargs):
    """Lossless TIFF and WebP give exactly the PNG's answer."""
    photo = displayed_photo()
    out = models["hourglass"]([encode(photo, fmt, **kwargs), encode(photo, "PNG")])
    np.testing.assert_allclose(out["keypoints"][0], out["keypoints"][1], atol=1e-3)


def test_an_exif_turned_tiff_is_turned():
    stored = displayed_photo().transpose(STORED[8])
    data = encode(stored, "TIFF", 8)
    assert np.array_equal(images.decode_rgb(data), np.asarray(displayed_photo()))


def test_sixteen_bit_and_alpha_become_rgb_as_tensorflow_makes_them():
    import tensorflow as tf

    sixteen = Image.fromarray(
        np.random.default_rng(1).integers(0, 65535, (40, 30)).astype(np.uint16))
    rgba = Image.fromarray(np.random.default_rng(2).integers(0, 255, (40, 30, 4), np.uint8))
    for image in (sixteen, rgba, rgba.convert("P"), rgba.convert("LA")):
        data = encode(image, "PNG")
        expected = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
        assert np.array_equal(images.decode_rgb(data), expected), image.mode
        # turned (so decoded here, not by TensorFlow): the same pixels, turned
        turned = images.prepare_image(encode(image, "PNG", 3))
        assert np.array_equal(images.decode_rgb(turned), expected[::-1, ::-1]), image.mode


def test_an_untouched_photo_reaches_the_network_as_its_own_bytes():
    data = encode(displayed_photo(), "JPEG")
    assert images.prepare_image(data) is data


@pytest.mark.parametrize("data, message", [
    (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(200),
     r"photo: HEIC/HEIF photos are not supported; supported formats: JPEG, PNG, WebP, TIFF"),
    (encode(Image.new("RGB", (8, 8)), "PPM"), "photo: PPM images are not supported; supported"),
    (b"\x00\x01garbage" * 50, r"photo: not an image \(JPEG, PNG, WebP, TIFF, BMP or GIF\)$"),
    (b"", "photo: empty file"),
])
def test_unsupported_formats_are_one_line_naming_the_supported_ones(data, message):
    with pytest.raises(DataError, match=message) as err:
        images.prepare_image(data, "photo")
    assert "\n" not in str(err.value)


def test_the_host_and_the_export_refuse_the_same_pixel_count():
    from tfpose.serving import export

    assert images.MAX_IMAGE_PIXELS == export.MAX_IMAGE_PIXELS


def cli_predict(args):
    """``tfpose predict ARGS`` -> (exit status, JSON lines, stderr lines)."""
    import json

    from click.testing import CliRunner

    import cli

    # The dot finder finds dots, not people: one answer per photo, without the person detector.
    result = CliRunner().invoke(cli.cli, ["predict", *map(str, args), "--detector", "none"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr.splitlines()


def test_a_truncated_jpeg_costs_only_itself(models, tmp_path):
    """Acceptance (issue 37): a JPEG cut short (its header intact, so only the network's
    decoder finds out) among two good photos: two JSON lines and drawings, one error line
    naming it, a count, exit status 3, no traceback."""
    good = [tmp_path / "a.png", tmp_path / "c.jpg"]
    good[0].write_bytes(encode(displayed_photo(), "PNG"))
    good[1].write_bytes(encode(displayed_photo(), "JPEG"))
    cut = tmp_path / "b.jpg"
    cut.write_bytes(encode(displayed_photo(), "JPEG")[:700])
    junk = tmp_path / "d.jpg"
    junk.write_bytes(b"not an image at all")
    status, lines, errors = cli_predict([models["dots_dir"], good[0], cut, good[1], junk,
                                         "--out", tmp_path / "out"])
    assert status == 3
    assert [line["image"] for line in lines] == [str(p) for p in good]
    for line in lines:
        np.testing.assert_allclose(line["keypoints"], np.tile(DOT, (16, 1)), atol=1.6)
        assert Image.open(line["drawing"]).size == (WIDTH, HEIGHT)
    assert errors[0] == f"Error: {cut}: damaged or truncated image, its pixels cannot be " \
                        "decoded: jpeg::Uncompress failed. Invalid JPEG data or crop window."
    assert errors[1].startswith(f"Error: {junk}: not an image (JPEG, PNG, WebP")
    assert errors[2] == "2 of 4 images answered, 2 failed (each named above); exit status 3"
    assert not any("Traceback" in line for line in errors)


def test_the_python_api_raises_or_records_the_bad_file(models, tmp_path):
    from tfpose.serving.predict import predict_files

    good, cut = tmp_path / "good.png", tmp_path / "cut.png"
    good.write_bytes(encode(displayed_photo(), "PNG"))
    cut.write_bytes(encode(displayed_photo(), "PNG")[:300])
    recorded = list(predict_files(None, [cut, good], predictor=models["dots"], errors="record"))
    assert recorded[0]["image"] == str(cut) and "error" in recorded[0]
    assert recorded[1]["image"] == str(good) and len(recorded[1]["keypoints"]) == 16
    with pytest.raises(DataError, match=f"^{cut}: damaged or truncated"):
        list(predict_files(None, [good, cut], predictor=models["dots"]))


def test_a_folder_is_its_photos_in_name_order(models, tmp_path):
    """Acceptance (issue 37): a folder with a sub-folder and a text file. Its photos in name
    order, the text file skipped and counted, the sub-folder searched only with --recursive;
    the two x.jpg drawn under their own relative paths."""
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for relative in ("x.jpg", "b.PNG", "sub/x.jpg", "sub/a.webp"):
        fmt = {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[Path(relative).suffix.lower()]
        (photos / relative).write_bytes(encode(displayed_photo(), fmt))
    (photos / "notes.txt").write_text("not a photo")

    status, lines, errors = cli_predict([models["dots_dir"], photos, "--out", tmp_path / "flat"])
    assert status == 0
    assert [line["image"] for line in lines] == [str(photos / "b.PNG"), str(photos / "x.jpg")]
    assert errors == [f"{photos}: skipped 1 file without a photo extension; "
                      "1 sub-folder not searched (--recursive)"]

    out = tmp_path / "deep"
    status, lines, errors = cli_predict([models["dots_dir"], photos, "--recursive", "--out", out])
    assert status == 0
    assert [line["image"] for line in lines] == [
        str(photos / name) for name in ("b.PNG", "sub/a.webp", "sub/x.jpg", "x.jpg")]
    assert [line["drawing"] for line in lines] == [
        str(out / name) for name in ("b.png", "sub/a.png", "sub/x.png", "x.png")]
    assert all(Path(line["drawing"]).exists() for line in lines)
    assert errors == [f"{photos}: skipped 1 file without a photo extension"]


def test_a_name_drawn_twice_is_numbered(models, tmp_path):
    """x.jpg and x.png in one folder, and a second x.jpg given as a file: three drawings."""
    for name, fmt in (("x.jpg", "JPEG"), ("x.png", "PNG"), ("other/x.jpg", "JPEG")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(encode(displayed_photo(), fmt))
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("x.jpg", "x.png"):
        (folder / name).write_bytes((tmp_path / name).read_bytes())
    status, lines, _ = cli_predict([models["dots_dir"], folder, tmp_path / "other" / "x.jpg",
                                    "--out", tmp_path / "out"])
    assert status == 0
    assert [Path(line["drawing"]).name for line in lines] == ["x.png", "x_2.png", "x_3.png"]


def test_a_folder_without_photos_is_an_error(models, tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    from click.testing import CliRunner

    import cli

    result = CliRunner().invoke(cli.cli, ["predict", str(models["dots_dir"]), str(tmp_path),
                                          "--no-draw"])
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == (f"{tmp_path}: no photos in it "
                                     "(JPEG, PNG, WebP, TIFF, BMP or GIF)")


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_displayed_size_reads_the_turn_from_the_header(orientation):
    """The size a viewer shows, without decoding: what ``decode_rgb`` gives, turned."""
    encoded = phone_file(orientation, "JPEG")
    assert images.displayed_size(encoded) == (WIDTH, HEIGHT)
    assert images.decode_rgb(encoded).shape[:2] == (HEIGHT, WIDTH)
