"""The person detector's frames of a photo: the whole photo letterboxed, and square tiles over
a wide or tall one, each keeping the people centred in its core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tfpose.serving import detector_frames, people

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "mpii_sample"


def test_the_detector_input_maps_back_to_the_photo():
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[120, 70] = 255
    (framed, frame), = detector_frames.detector_inputs(photo, 96)
    assert framed.shape == (96, 96, 3) and framed[:16].max() == 0  # padded above and below
    np.testing.assert_allclose(frame, [0, -50, 300, 250])  # the square about the photo
    v, u = np.unravel_index(framed.sum(-1).argmax(), (96, 96))
    np.testing.assert_allclose(detector_frames.to_photo([[u, v, u, v]], frame, 96)[0, :2],
                               [70, 120], atol=300 / 96 / 2 + 0.01)


def test_a_large_jpeg_is_framed_for_the_detector_without_decoding_it_whole():
    """Bytes and the decoded array give the detector the same input (a JPEG 8 x the input
    decoded at 1/8 in the DCT domain: the same picture, up to the JPEG's own rounding)."""
    import io

    from tfpose.serving.images import decode_rgb

    buffer = io.BytesIO()
    Image.open(SAMPLES / "005808361.jpg").resize((2048, 1152)).save(buffer, "JPEG", quality=95)
    (from_bytes, frame), = detector_frames.detector_inputs(buffer.getvalue(), 192)
    (from_array, same_frame), = detector_frames.detector_inputs(
        decode_rgb(buffer.getvalue()), 192)
    np.testing.assert_array_equal(frame, same_frame)
    assert np.abs(from_bytes - from_array).mean() < 2.0



def test_photos_under_twice_as_wide_as_high_get_no_tiles():
    for width, height in [(640, 480), (1920, 1080), (199, 100), (100, 400)]:  # and tall ones
        boxes, cores = detector_frames.tiles(width, height)
        assert boxes.shape == (0, 4) and cores.shape == (0, 4)


def test_tiles_are_height_squares_overlapping_by_half_from_end_to_end():
    for width, height in [(1000, 256), (512, 256), (2001, 300)]:
        boxes, cores = detector_frames.tiles(width, height)
        np.testing.assert_allclose(boxes[:, 2:] - boxes[:, :2], height, rtol=1e-5)
        np.testing.assert_allclose(boxes[:, 1], 0.0)
        assert boxes[0, 0] == 0 and np.isclose(boxes[-1, 2], width)
        assert (np.diff(boxes[:, 0]) <= height * (1 - detector_frames.TILE_OVERLAP) + 1e-3).all()
        # The cores split the width: each point lies in exactly one, inside its own tile at
        # least a quarter of the height from the tile's sides (or near the photo's ends).
        for x in np.linspace(0, width - 1, 97):
            inside = (cores[:, 0] <= x) & (x < cores[:, 2])
            assert inside.sum() == 1
            t = int(np.flatnonzero(inside)[0])
            room = min(x - boxes[t, 0], boxes[t, 2] - x)
            assert room >= height / 4 - 1e-3 or x < height / 4 or x > width - height / 4


def _centre_detector(size=64):
    """A stand-in detector that finds one person in the middle of every input it is given."""
    detector = object.__new__(people.PersonDetector)
    detector.size, detector.max_people, detector.min_score = size, 20, 0.2
    detector.inputs = 0

    def detect(images):
        detector.inputs += len(images)
        box = np.float32([[size * 0.45, size * 0.45, size * 0.55, size * 0.55]])
        return {"boxes": np.tile(box, (len(images), 1, 1)),
                "scores": np.full((len(images), 1), 0.9, np.float32)}

    detector._detect = detect
    return detector


def test_a_wide_photo_is_read_whole_and_in_tiles_and_each_person_found_once():
    """A 4:1 photo: the whole input plus 7 tiles, each finding a person in its middle. The
    middle tile's person is the whole photo's (inside its box): found once, by the whole
    photo (the same score, and it comes first); the other tiles' people at their places."""
    detector = _centre_detector()
    (boxes, scores), (square_boxes, _) = detector([np.zeros((100, 400, 3), np.uint8),
                                                   np.zeros((100, 100, 3), np.uint8)])
    assert detector.inputs == 1 + 7 + 1
    tiles, _ = detector_frames.tiles(400, 100)
    from_tiles = np.delete(tiles[:, 0] + 45, 3)
    np.testing.assert_allclose(np.sort(boxes[:, 0]), np.sort([*from_tiles, 180]), atol=1e-3)
    sides = np.sort(boxes[:, 3] - boxes[:, 1])
    np.testing.assert_allclose(sides, [10] * 6 + [40], atol=1e-3)  # a tile's scale, the photo's
    assert len(scores) == 7 and len(square_boxes) == 1


def test_tiles_keep_people_in_their_core_and_one_box_of_a_person_seen_twice():
    """On a 400 x 100 photo: a tile keeps its small person centred in its core, not the one
    centred outside it; the whole photo's large person (0.9) outscores the tile's part of them
    (0.5, all inside), the tile's sharper box of a small person (0.8) the whole photo's
    (0.3); two people of the whole photo overlapping each other both stay (one frame)."""
    whole = (np.float32([[100, 0, 170, 100], [300, 40, 340, 90], [290, 30, 330, 80],
                         [120, 10, 160, 90]]), np.float32([0.9, 0.3, 0.35, 0.6]))
    core = np.float32([50, -np.inf, 200, np.inf])
    tile = (np.float32([[70, 30, 100, 70],     # in the core, no one else's: kept
                        [0, 30, 40, 70],       # centred left of the core
                        [110, 10, 150, 60]]),  # inside the whole photo's 0.9 person
            np.float32([0.7, 0.6, 0.5]), core)
    tile2 = (np.float32([[302, 42, 338, 88]]), np.float32([0.8]),
             np.float32([250, -np.inf, 400, np.inf]))
    boxes, scores = detector_frames.combine(whole, [tile, tile2])
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(boxes[1], [302, 42, 338, 88])
    np.testing.assert_allclose(boxes[2], [70, 30, 100, 70])
    same = detector_frames.combine(whole, [])  # not tiled: everything the photo gave
    np.testing.assert_allclose(np.sort(same[1]), [0.3, 0.35, 0.6, 0.9])


def test_inside_share_is_the_share_of_each_box_inside_the_other():
    a = np.float32([[0, 0, 10, 10], [0, 0, 0, 5]])
    b = np.float32([[5, 0, 15, 10], [0, 0, 20, 20]])
    np.testing.assert_allclose(detector_frames.inside_share(a, b), [[0.5, 1.0], [0.0, 0.0]])


def test_a_wide_jpeg_gives_its_tiles_from_one_decode_as_the_array_does():
    import io

    from tfpose.serving.images import decode_rgb

    buffer = io.BytesIO()
    Image.open(SAMPLES / "005808361.jpg").resize((3000, 1000)).save(buffer, "JPEG", quality=95)
    boxes, _ = detector_frames.tiles(3000, 1000)
    from_bytes = detector_frames.detector_inputs(buffer.getvalue(), 192, boxes=boxes)
    from_array = detector_frames.detector_inputs(decode_rgb(buffer.getvalue()), 192,
                                                 boxes=boxes)
    assert len(from_bytes) == len(boxes) == 5
    for (a, frame_a), (b, frame_b), box in zip(from_bytes, from_array, boxes):
        np.testing.assert_array_equal(frame_a, box)
        np.testing.assert_array_equal(frame_b, box)
        assert np.abs(a - b).mean() < 2.0
