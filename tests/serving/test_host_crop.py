"""``serving/host_crop.py``: the LiteRT path's numpy crop gives the SavedModel graph's crop."""

from __future__ import annotations

import io

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from PIL import Image  # noqa: E402

from test_export import SAMPLES  # noqa: E402
from tfpose.serving import export, host_crop  # noqa: E402

SIZE = 64
# Inside, partly outside, sub-pixel, tiny (upsampling), much larger than the image: every
# branch of the kernel and the padding.
BOXES = [[0, 0, 120, 90], [-30, 10, 100, 140], [20.3, 10.7, 61.2, 52.9], [40, 30, 48, 38],
         [-400, -300, 500, 400]]


@pytest.mark.parametrize("box", BOXES)
def test_the_numpy_crop_is_the_graphs(box):
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3)).astype(np.float32)
    graph = export.crop_and_resize(tf.constant(image), tf.constant(box, tf.float32), SIZE)
    np.testing.assert_allclose(host_crop.crop_and_resize(image, box, SIZE), graph.numpy(),
                               atol=3e-3)  # float32 sums in another order: of 255 levels


def test_a_box_wholly_outside_the_image_is_all_padding():
    # (The graph's crop fails there: "Paddings must be non-negative".)
    image = np.full((90, 120, 3), 200, np.float32)
    assert not host_crop.crop_and_resize(image, [200, 200, 260, 260], SIZE).any()


@pytest.mark.parametrize("box", [None, [300, 100, 700, 500], [500, 200, 640, 340]])
def test_a_jpeg_is_decoded_and_cropped_as_in_the_graph(box):
    """Whole photo (1/8 DCT scale at 64 px), a box 6 x the crop (1/4), 2.2 x (1/2): the same
    scale, the same decoder (the accurate IDCT), the same crop."""
    data = SAMPLES[0].read_bytes()
    boxes = None if box is None else tf.constant([box], tf.float32)
    graph, graph_box = export.crop_batch(tf.constant([data]), boxes, SIZE, encoded=True,
                                         frame="letterbox")
    crop, used = host_crop.crop_photo(data, None if box is None else np.float32(box), SIZE,
                                      "letterbox")
    np.testing.assert_allclose(used, graph_box.numpy()[0])
    np.testing.assert_allclose(crop, graph.numpy()[0], atol=3e-3)


def test_png_and_frames_crop_as_in_the_graph():
    pixels = np.random.default_rng(1).integers(0, 256, (50, 70, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    graph, _ = export.crop_batch(tf.constant([buffer.getvalue()]), None, SIZE, encoded=True,
                                 frame="stretch")
    crop, used = host_crop.crop_photo(buffer.getvalue(), None, SIZE, "stretch")
    np.testing.assert_allclose(used, [0, 0, 70, 50])
    np.testing.assert_allclose(crop, graph.numpy()[0], atol=3e-3)
    frame_crop, _ = host_crop.crop_frame(pixels, None, SIZE, "stretch")
    np.testing.assert_allclose(frame_crop, crop, atol=1e-4)
