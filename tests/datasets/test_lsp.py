"""LSP / LSPET ``joints.mat``: both layouts, the 14 -> 16 mapping, and conversion of real-style
photos (letterbox crops) through the same converter as MPII."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfpose.datasets import lsp, readers
from tfpose.core.errors import DataError

# Three persons, 14 LSP joints each, 1-based MATLAB pixels of 80 x 48 images.
RNG = np.random.default_rng(3)
XY = RNG.uniform(5, 45, size=(3, 14, 2)).round(1)
# LSPET flags: 1 = labelled; person 1 lacks its left hip and its head top (flag 0, junk xy).
LSPET_FLAGS = np.ones((3, 14))
LSPET_FLAGS[1, [3, 13]] = 0
# LSP flags: 1 = occluded (still labelled); person 2's right knee is occluded.
LSP_FLAGS = np.zeros((3, 14))
LSP_FLAGS[2, 1] = 1


def write(tmp_path, layout, flags, xy=XY):
    path = tmp_path / f"{layout}.mat"
    lsp.write_joints_mat(path, xy, flags, layout)
    return path


def test_lspet_layout_reads_visible_flag_as_labelled(tmp_path):
    xy = XY.copy()
    xy[1, [3, 13]] = 0.0  # LSPET stores junk (0 or negative) where a joint is not labelled
    found = lsp.read_joints_mat(write(tmp_path, "lspet", LSPET_FLAGS, xy))
    assert found.layout == "lspet" and len(found.records) == 3 and found.nonfinite_joints == 0
    assert [r.image_name for r in found.records] == ["im00001.jpg", "im00002.jpg", "im00003.jpg"]
    second = found.records[1]
    # LSP 3 (l hip) -> MPII 3, LSP 13 (head top) -> MPII 9: not annotated; the pelvis needs both
    # hips, so it is not annotated either, and without a head top there is no head size.
    assert not second.annotated[[3, 9, 6]].any()
    assert second.annotated[[0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15]].all()
    assert second.head_size is None
    np.testing.assert_allclose(second.joints[3], 0.0)


def test_lsp_layout_reads_occluded_flag_as_annotated_not_visible(tmp_path):
    found = lsp.read_joints_mat(write(tmp_path, "lsp", LSP_FLAGS))
    assert found.layout == "lsp"
    assert [r.image_name for r in found.records] == ["im0001.jpg", "im0002.jpg", "im0003.jpg"]
    third = found.records[2]
    assert third.annotated.all()  # every LSP joint is labelled, pelvis/thorax derived
    assert not third.visible[1] and third.visible[[0, 2, 3, 4, 5]].all()


@pytest.mark.parametrize("layout, flags", [("lspet", LSPET_FLAGS), ("lsp", LSP_FLAGS)])
def test_joints_map_onto_mpii_ids_in_zero_based_pixels(tmp_path, layout, flags):
    record = lsp.read_joints_mat(write(tmp_path, layout, flags)).records[0]
    zero_based = XY[0] - 1.0
    for lsp_id, mpii_id in enumerate(lsp.LSP_TO_MPII):
        np.testing.assert_allclose(record.joints[mpii_id], zero_based[lsp_id], atol=1e-4)
    # LSP 6..11 are the arms: r wrist (6) -> MPII 10, ..., l wrist (11) -> MPII 15.
    assert lsp.LSP_TO_MPII[6:12] == (10, 11, 12, 13, 14, 15)
    np.testing.assert_allclose(record.joints[6], (zero_based[2] + zero_based[3]) / 2, atol=1e-4)
    np.testing.assert_allclose(record.joints[7], (zero_based[8] + zero_based[9]) / 2, atol=1e-4)
    assert record.head_size == pytest.approx(np.linalg.norm(zero_based[13] - zero_based[12]),
                                             rel=1e-5)
    assert record.objpos is None and record.scale is None


def test_nonfinite_joints_are_dropped_and_counted(tmp_path):
    xy = XY.copy()
    xy[0, 5] = np.nan
    xy[2, 0, 1] = np.inf
    found = lsp.read_joints_mat(write(tmp_path, "lsp", LSP_FLAGS, xy))
    assert found.nonfinite_joints == 2
    assert not found.records[0].annotated[5] and not found.records[2].annotated[0]


def test_format_detection_and_bad_files(tmp_path):
    path = write(tmp_path, "lspet", LSPET_FLAGS)
    assert readers.detect_format(path) == "lsp"
    assert readers.read_annotations(path).format == "lspet"
    bad = tmp_path / "bad.mat"
    import scipy.io

    scipy.io.savemat(str(bad), {"joints": np.zeros((5, 3, 2))})
    with pytest.raises(DataError, match=r"bad.mat: 'joints' must be 14 x 3 x N"):
        lsp.read_joints_mat(bad)
    (tmp_path / "junk.mat").write_bytes(b"not matlab")
    with pytest.raises(DataError, match="junk.mat: not a readable MATLAB .mat file"):
        lsp.read_joints_mat(tmp_path / "junk.mat")


def test_convert_lspet_letterbox_keeps_the_joints_on_the_photo(tmp_path):
    """Through the MPII converter: letterbox crops of non-square photos, joints mapped to the
    stored image, and the manifest naming the source format and head-size rule."""
    from tfpose.core import geometry
    from tfpose.datasets import convert
    from tfpose.datasets import shards

    images = tmp_path / "images"
    images.mkdir()
    width, height = 80, 48
    xy = XY.copy()
    xy[..., 0] = xy[..., 0] * (width - 2) / 46.0  # spread over the wider axis
    for i in range(3):
        canvas = np.full((height, width, 3), 30, np.uint8)
        x, y = np.round(xy[i, 13] - 1).astype(int)  # a bright head top, 0-based
        canvas[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 255
        Image.fromarray(canvas).save(images / f"im{i + 1:05d}.jpg", quality=95)
    mat = write(tmp_path, "lspet", np.ones((3, 14)), xy)
    out = tmp_path / "records"
    manifest = convert.convert(mat, out, images, crop="letterbox", image_size=64, min_joints=4,
                                 split="train", workers=1, progress=False)
    assert manifest["source_format"] == "lspet"
    assert "head top" in manifest["head_size"]
    assert manifest["num_records"] == {"train": 3} and manifest["crop"] == "letterbox"
    stored = json.loads((out / "manifest.json").read_text())
    assert stored["arguments"]["crop"] == "letterbox"
    examples = sorted(shards.iter_examples(out), key=lambda ex: int(ex["image/index"]))
    box = geometry.letterbox_box(width, height)  # (0, -16, 80, 64): 16 px bars above and below
    assert box == (0.0, -16.0, 80.0, 64.0)
    for i, ex in enumerate(examples):
        np.testing.assert_allclose(ex["person/crop_box"], box)
        expected = geometry.to_crop(xy[i] - 1.0, box, 64)
        np.testing.assert_allclose(ex["person/keypoints"][list(lsp.LSP_TO_MPII), :2], expected,
                                   atol=0.05)
        # The bright head top is where its stored keypoint says; the bars are black.
        stored = np.asarray(Image.open(io.BytesIO(ex["image/encoded"])).convert("L"), float)
        y, x = np.unravel_index(np.argmax(stored), stored.shape)
        np.testing.assert_allclose(ex["person/keypoints"][9, :2], [x, y], atol=1.0)
        assert stored[:10].max() < 20 and stored[-10:].max() < 20
