"""Bad image bytes through predict and the export's bytes signature: an error or a right answer,
never a crash, and a decompression bomb is refused before a pixel is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest

from test_export import make_workdir
from tfpose.core.errors import DataError

pytestmark = pytest.mark.faults

SIZE = 64
POSE = {"name": "tiny_pose", "data": {"input_size": SIZE},
        "model": {"kind": "hourglass", "num_stacks": 1, "num_channels": 8, "hourglass_depth": 1}}


def _encode(image, fmt, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _rgb(width=90, height=120):
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(side: int = 30000) -> bytes:
    """A 2 kB PNG declaring side x side RGB pixels (its data stops after a few rows)."""
    rows = zlib.compress((b"\0" + b"\0" * 3 * side) * 4, 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b""))


def odd_images() -> dict:
    """Formats a photo can arrive in that are not 8-bit RGB."""
    from PIL import Image

    rgb = _rgb()
    sixteen = Image.fromarray(np.random.default_rng(1).integers(0, 65535, (120, 90)).astype(np.uint16))
    return {"cmyk.jpg": _encode(rgb.convert("CMYK"), "JPEG"),
            "gray.jpg": _encode(rgb.convert("L"), "JPEG"),
            "sixteen_bit.png": _encode(sixteen, "PNG"),
            "palette.gif": _encode(rgb.convert("P"), "GIF"),
            "rgb.bmp": _encode(rgb, "BMP")}


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    from tfpose.serving import export

    workdir = make_workdir(tmp_path_factory.mktemp("bad") / "pose", POSE)
    cfg, model, names = export.load_workdir(workdir)
    return workdir, export.ServingModule(model, cfg, names)


def test_the_header_gives_the_pixel_count_of_every_format():
    import tensorflow as tf

    from tfpose.serving.export import encoded_pixels

    rgb = _rgb(90, 120)
    for fmt in ("JPEG", "PNG", "GIF", "BMP"):
        assert int(encoded_pixels(tf.constant(_encode(rgb, fmt)))) == 90 * 120, fmt
    assert int(encoded_pixels(tf.constant(bomb_png()))) == 30000 * 30000
    assert int(encoded_pixels(tf.constant(b"not an image at all"))) == 0


@pytest.mark.parametrize("name", list(odd_images()))
def test_odd_formats_get_a_right_answer(module, name):
    """The served crop equals the crop of the image's 8-bit RGB PNG rendering, and the
    skeleton comes back finite."""
    import tensorflow as tf
    from PIL import Image

    from tfpose.serving.export import crop_batch

    _, serving = module
    data = odd_images()[name]
    decoded = Image.open(io.BytesIO(data))
    if name == "sixteen_bit.png":  # TF keeps the high byte of 16-bit samples
        decoded = Image.fromarray((np.asarray(decoded, np.uint16) >> 8).astype(np.uint8))
    reference = _encode(decoded.convert("RGB"), "PNG")
    crops, _ = crop_batch(tf.constant([data, reference]), None, SIZE, encoded=True)
    difference = np.abs(crops[0].numpy() - crops[1].numpy()).mean()
    # JPEG: TF's and PIL's decoders (IDCT, CMYK inversion, upsampling) round differently.
    assert difference < (3.0 if name.endswith(".jpg") else 1e-3), difference
    out = serving.serving_default(images=tf.constant([data]))
    assert out["keypoints"].shape == (1, 16, 2) and np.isfinite(out["keypoints"].numpy()).all()


@pytest.mark.parametrize("data, message", [
    (b"", "empty|substr|Invalid"),
    (b"\x00\x01garbage bytes, not an image" * 10, "Unknown image file format"),
    (bomb_png(), "larger than 100,000,000 pixels"),
])
def test_the_bytes_signature_answers_bad_bytes_with_an_error_status(module, data, message):
    import tensorflow as tf

    _, serving = module
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serving.serving_default(images=tf.constant([data]))
    good = serving.serving_default(images=tf.constant([odd_images()["rgb.bmp"]]))
    assert good["keypoints"].shape == (1, 16, 2)  # the module still serves


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"\x00\x01garbage" * 50, r"not an image \(JPEG, PNG, WebP, TIFF, BMP or GIF\)$"),
    (bomb_png(), "pixels"),
    (bomb_png(12000), "over the 100,000,000 pixel limit"),  # under PIL's own limit: ours
])
def test_predict_names_the_file_of_bad_bytes(module, tmp_path, data, message):
    from tfpose.serving.predict import predict_files

    workdir, _ = module
    path = tmp_path / "upload.jpg"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as err:
        list(predict_files(workdir, [path]))
    assert str(err.value).startswith(str(path))
