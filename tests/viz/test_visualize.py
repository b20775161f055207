"""Skeleton drawings: colours by side, flags respected, PIL and array inputs, grids."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tfpose.viz import visualize
from tfpose.core import skeleton


def _pose():
    keypoints = np.full((16, 2), 32.0, np.float32)
    keypoints[0] = (10, 10)  # r_ankle
    keypoints[1] = (10, 50)  # r_knee
    keypoints[5] = (54, 10)  # l_ankle
    keypoints[4] = (54, 50)  # l_knee
    return keypoints


def test_draw_skeleton_colours_sides():
    image = np.zeros((64, 64, 3), np.uint8)
    drawing = visualize.draw_skeleton(image, _pose(), line_width=2)
    assert isinstance(drawing, Image.Image) and drawing.size == (64, 64)
    pixels = np.asarray(drawing)
    assert tuple(pixels[30, 10]) == visualize.RIGHT_COLOR  # r_ankle - r_knee bone
    assert tuple(pixels[30, 54]) == visualize.LEFT_COLOR
    assert not image.any()  # input untouched


def test_flags_and_ground_truth():
    image = Image.new("RGB", (64, 64))
    annotated = np.ones(16, bool)
    annotated[1] = False
    visible = np.ones(16, bool)
    visible[4] = False
    drawing = np.asarray(visualize.draw_skeleton(image, _pose(), visible, annotated=annotated,
                                                 line_width=2))  # fmt: skip
    assert not drawing[30, 10].any()  # bone to an unannotated joint is not drawn
    filled = np.asarray(visualize.draw_skeleton(image, _pose(), line_width=2))
    assert filled[51, 55].any() and not drawing[51, 55].any()  # occluded joint: a hollow ring
    assert drawing[50, 50:59].any()
    gt = _pose() + [6, 0]
    drawing = np.asarray(visualize.draw_skeleton(image, _pose(), gt_keypoints=gt, line_width=2))
    assert tuple(drawing[30, 16]) == visualize.GT_COLOR


def test_label_and_grid(tmp_path):
    keypoints = np.concatenate([_pose(), np.ones((16, 1))], axis=1)  # K x 3 accepted
    drawing = visualize.draw_skeleton(np.zeros((64, 64), np.uint8), keypoints, label="walking")
    assert np.asarray(drawing)[2:8, 3:20].max() > 200  # white text on black
    grid = visualize.save_grid([drawing] * 3, tmp_path / "grid.png", columns=2)
    assert grid.size == (128, 128) and (tmp_path / "grid.png").is_file()


def test_every_bone_has_a_colour():
    sides = {visualize._side_color(bone, ("r", "l", "c")) for bone in skeleton.SKELETON}
    assert sides == {"r", "l", "c"}
