"""Photos as users have them, made into what the network decodes: one host-side implementation
for every predictor (``predict.Predictor``, ``litert.LiteRTPredictor``) and the drawings.

``prepare_image`` reads the header with Pillow and

* refuses, in one line naming the file, what is not a photo: empty bytes, an unknown or
  unsupported format (HEIC named as such), more than ``MAX_IMAGE_PIXELS`` pixels (before a
  pixel is decoded), a file whose pixels cannot be decoded;
* applies the EXIF orientation first (phones store the sensor's frame and a tag saying how to
  turn it), so keypoints are in the pixels of the photo as every viewer displays it;
* hands the bytes on unchanged when the network's in-graph decoder (``export.decode_image``,
  ``tf.io.decode_image``) reads them as they are displayed: JPEG, PNG, GIF, BMP, WebP without a
  turn. Everything else (a turned photo, a TIFF) is decoded here and re-encoded losslessly as a
  BMP, which that decoder reads to the same pixels; so both ways the network sees the displayed
  photo, and an untouched photo gets exactly the answer the SavedModel export gives.

Colour: CMYK, grey, palette and alpha photos become RGB as ``tf.io.decode_image(channels=3)``
makes them (alpha dropped); 16-bit samples keep their high byte, as TensorFlow does.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tfpose.core.console import c_stderr_silenced
from tfpose.core.errors import DataError

# Larger images are refused before any pixel is decoded (a 100-megapixel photo decodes to
# 300 MB of uint8): a tiny PNG declaring 30000 x 30000 would otherwise allocate 2.7 GB. The
# export's graph checks the same limit (``export.MAX_IMAGE_PIXELS``).
MAX_IMAGE_PIXELS = 100_000_000

# Pillow's format name -> the name users know. MPO is how Pillow names the JPEG of many phones
# and cameras (a JPEG with a second, preview image appended).
SUPPORTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP",
                     "TIFF": "TIFF", "BMP": "BMP", "GIF": "GIF"}
SUPPORTED = "JPEG, PNG, WebP, TIFF, BMP or GIF"
# What ``tf.io.decode_image`` reads to the pixels Pillow shows (TIFF it does not read at all).
GRAPH_DECODES = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF"}
# File name extensions of the supported formats: what a folder is searched for
# (``photo_files``), and never taken for a video (``video.is_video``).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
                  # phones' formats that are refused with a line naming them, not skipped
                  ".heic", ".heif", ".avif"}

EXIF_ORIENTATION = 0x0112
# ISO BMFF brands (bytes 8..12 of an ``ftyp`` box) of the HEIF family: iPhone photos since 2017.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
               b"avif", b"avis"}


def photo_files(arguments: Sequence, recursive: bool = False):
    """The photos named by command-line ``arguments`` (files, or folders of photos).

    A file stands for itself. A folder stands for its files with a photo extension
    (``IMAGE_SUFFIXES``), sorted by name; ``recursive`` searches its sub-folders too (sorted by
    path). Returns ``(photos, skipped)``: ``photos`` a list of ``(path, name)``, ``name`` the
    path to draw it under (relative to its folder, without the extension: ``a/x`` for
    ``photos/a/x.jpg``; a file's stem), and ``skipped`` a list of ``(folder, files that are not
    photos, sub-folders not searched)``, one per folder.
    """
    photos, skipped = [], []
    for argument in map(Path, arguments):
        if not argument.is_dir():
            photos.append((argument, Path(argument.stem)))
            continue
        found, others, folders = [], 0, 0
        for root, subfolders, files in os.walk(argument):  # symlinked folders not followed
            if not recursive:
                folders += len(subfolders)
                subfolders.clear()
            for name in files:
                path = Path(root) / name
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    found.append(path.relative_to(argument))
                else:
                    others += 1
        found.sort(key=lambda relative: relative.parts)
        photos += [(argument / relative, relative.with_suffix("")) for relative in found]
        skipped.append((argument, others, folders))
    return photos, skipped


def read_photo(path):
    """A photo file's bytes, or a DataError naming it and why it could not be read (returned,
    not raised: a batch answers its other photos)."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        return DataError(f"{path}: cannot read ({err.strerror})")


def prepare_images(encoded: Sequence[bytes], names: Optional[Sequence] = None) -> list:
    """``prepare_image`` of each; a bad one is a DataError naming it (``names[i]``, else
    ``image i``)."""
    return [prepare_image(data, names[i] if names is not None else f"image {i}")
            for i, data in enumerate(encoded)]


def prepare_image(encoded: bytes, name="image") -> bytes:
    """The bytes the network should decode for a photo's ``encoded`` file bytes: the same bytes,
    or (turned by EXIF, or a format the graph cannot read) the displayed photo as a BMP. See
    the module docstring; a DataError naming ``name`` for anything that is not a photo."""
    image = open_image(encoded, name)
    with image:
        orientation = _orientation(image, encoded)
        if image.format in GRAPH_DECODES and orientation == 1:
            return encoded
        pixels = rgb_pixels(image, name)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "BMP")
    return buffer.getvalue()


def decode_rgb(encoded: bytes, name="image") -> np.ndarray:
    """The displayed photo as H x W x 3 uint8 RGB (EXIF orientation applied): what the drawings
    are made on."""
    with open_image(encoded, name) as image:
        return rgb_pixels(image, name)


def pixels_of(photo, name="image") -> np.ndarray:
    """A photo's H x W x 3 uint8 RGB pixels: an array as it is, encoded bytes decoded whole."""
    return decode_rgb(photo, name) if isinstance(photo, bytes) else photo


def displayed_size(encoded: bytes, name="image") -> tuple:
    """(width, height) of the photo as displayed (EXIF orientation 5-8 swaps them), from its
    header: no pixel is decoded."""
    with open_image(encoded, name) as image:
        width, height = image.size
        return (height, width) if _orientation(image, encoded) >= 5 else (width, height)


def open_image(encoded: bytes, name="image"):
    """A lazily decoded PIL image of a supported format and size; DataError naming ``name``."""
    if not encoded:
        raise DataError(f"{name}: empty file, not an image")
    try:
        with _quiet_pillow():
            image = Image.open(io.BytesIO(encoded))
    except Image.DecompressionBombError as err:  # PIL's own limit, above ours
        raise DataError(f"{name}: {err}") from err
    except UnidentifiedImageError as err:
        if _is_heif(encoded):
            raise DataError(f"{name}: HEIC/HEIF photos are not supported; supported formats: "
                            f"{SUPPORTED} (convert it, or export it as JPEG)") from err
        raise DataError(f"{name}: not an image ({SUPPORTED})") from err
    except Exception as err:  # noqa: BLE001 - Pillow's header parsers raise many types
        raise DataError(f"{name}: not a readable image ({SUPPORTED}): {_reason(err)}") from err
    if image.format not in SUPPORTED_FORMATS:
        image.close()
        raise DataError(f"{name}: {image.format} images are not supported; supported formats: "
                        f"{SUPPORTED}")
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise DataError(f"{name}: {width} x {height} pixels is over the {MAX_IMAGE_PIXELS:,} "
                        "pixel limit (a decompression bomb?); refused before decoding")
    return image


def rgb_pixels(image, name="image") -> np.ndarray:
    """A PIL image's pixels, turned by its EXIF orientation, as H x W x 3 uint8 RGB; DataError
    naming ``name`` when they cannot be decoded (a truncated or damaged file)."""
    try:
        # libtiff prints its complaints about a damaged TIFF straight to the C stderr, under
        # the name "tempfile.tif": lines that name no file; this one's DataError says it.
        with _quiet_pillow(), (c_stderr_silenced() if image.format == "TIFF"
                               else contextlib.nullcontext()):
            image.load()
        try:
            # Pillow's own table, and its knowledge of which loaders turn the pixels already
            # (its TIFF loader does, and drops the tag).
            with _quiet_pillow():
                image = ImageOps.exif_transpose(image)
        except Exception:  # noqa: BLE001 - damaged EXIF: the photo as stored, as viewers do
            pass
        if image.mode.startswith("I;16") or image.mode in ("I", "F"):
            # 16-bit grey: the high byte, as tf.io.decode_image keeps it.
            grey = np.asarray(image).astype(np.float64)
            if image.mode != "F":
                grey = np.floor(grey / 256.0)
            image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
        return np.asarray(image.convert("RGB"), np.uint8)
    except Exception as err:  # noqa: BLE001 - Pillow's decoders raise many types on bad data
        raise DataError(f"{name}: damaged or truncated image, its pixels cannot be decoded: "
                        f"{_reason(err)}") from err


def undecodable(err: Exception, names: Optional[Sequence] = None) -> DataError:
    """The DataError for bytes whose header passed ``open_image`` but whose pixels the network's
    decoder refused (TensorFlow's InvalidArgument on a truncated JPEG): named when the call
    had one image; for several, ``predict.predict_files`` asks again one at a time."""
    # TF's text carries the op and graph node: "{{function_node ...}} jpeg::Uncompress failed.
    # Invalid JPEG data or crop window. [Op:DecodeImage]".
    reason = re.sub(r"\{\{[^}]*\}\}|\[Op:[^\]]*\]", "", _reason(err)).strip()
    who = f"{names[0]}" if names is not None and len(names) == 1 else "one of the images"
    return DataError(f"{who}: damaged or truncated image, its pixels cannot be decoded: "
                     f"{reason}")


def check_frames(frames) -> np.ndarray:
    """Decoded frames as a B x H x W x 3 array (a DataError otherwise)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise DataError(f"frames must be B x H x W x 3 RGB. Received shape {frames.shape}")
    return frames


def _orientation(image, encoded: bytes) -> int:
    """The EXIF orientation read from the header (1..8; 1 = as stored): whether the stored
    pixels need a turn. A missing, unreadable or out-of-range tag is 1: a viewer that cannot
    read it shows the photo as stored too."""
    if image.format == "PNG" and b"eXIf" not in encoded:
        return 1  # Pillow would decode a whole PNG to look for a chunk it does not have
    try:
        with _quiet_pillow():
            value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - damaged EXIF: the photo as stored, as viewers do
        return 1
    return value if 1 <= value <= 8 else 1


@contextlib.contextmanager
def _quiet_pillow():
    """Pillow's warnings off: on a damaged file it warns about each tag it skips ("Corrupt EXIF
    data", several lines of stderr), and above 89 MP about a possible bomb; what matters is
    said in our one line (a DataError) or, for a photo answered, not at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _is_heif(encoded: bytes) -> bool:
    return encoded[4:8] == b"ftyp" and encoded[8:12] in HEIF_BRANDS


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
