"""Encoded images checked before TensorFlow decodes them, for every predictor (``predict.py``,
``litert.py``): a bad or oversized file is a DataError that names it, not a TF crash."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from tfpose.core.errors import DataError


def check_images(encoded: Sequence[bytes], names: Optional[Sequence] = None) -> list:
    """``encoded`` as a list, each checked by ``image_size`` before TF decodes it: a bad one is a
    DataError naming it (``names[i]``, else ``image i``)."""
    encoded = list(encoded)
    for i, data in enumerate(encoded):
        image_size(data, names[i] if names is not None else f"image {i}")
    return encoded


def image_size(encoded: bytes, name="image") -> tuple[int, int]:
    """(W, H) read from the header without decoding pixels; DataError naming ``name`` if the
    bytes are not an image."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    from tfpose.serving.export import MAX_IMAGE_PIXELS

    if not encoded:
        raise DataError(f"{name}: empty file, not an image")
    try:
        with warnings.catch_warnings():  # PIL warns above 89 MP; the limit below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(encoded)) as image:
                width, height = image.size
    except Image.DecompressionBombError as err:  # PIL's own limit, above ours
        raise DataError(f"{name}: {err}") from err
    except (UnidentifiedImageError, OSError) as err:
        detail = "" if isinstance(err, UnidentifiedImageError) else f": {err}"
        raise DataError(f"{name}: not an image (JPEG, PNG, BMP or GIF){detail}") from err
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{name}: {width} x {height} pixels is over the {MAX_IMAGE_PIXELS:,} "
                        "pixel limit (a decompression bomb?); refused before decoding")
    return width, height


def check_frames(frames) -> np.ndarray:
    """Decoded frames as a B x H x W x 3 array (a DataError otherwise)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise DataError(f"frames must be B x H x W x 3 RGB. Received shape {frames.shape}")
    return frames
