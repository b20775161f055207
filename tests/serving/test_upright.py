"""A person lying across the photo is turned upright for pass 2 (``passes.quarter_turns``):
which way to turn, exact quarter turns of the crop undone on the joints, and the turned answer
kept only where the model is surer of it."""

from __future__ import annotations

import numpy as np
import pytest

from tfpose.serving import passes


def body(head_direction):
    """One person (1 x 16 x 2): hips at (50, 50), shoulders 40 px towards ``head_direction``."""
    points = np.full((1, 16, 2), 50.0)
    points[0, list(passes.SHOULDERS)] = np.array([50.0, 50.0]) + 40 * np.asarray(head_direction)
    return points


@pytest.mark.parametrize("head, turns", [((0, -1), 0), ((1, 0), 1), ((-1, 0), 3),
                                         ((0, 1), 0), ((0.5, -1), 0), ((1, -0.5), 1)])
def test_quarter_turns_stand_a_lying_person_up(head, turns):
    np.testing.assert_array_equal(passes.quarter_turns(body(head), np.ones((1, 16))), [turns])


def test_unsure_shoulders_or_hips_turn_nobody():
    scores = np.ones((1, 16))
    scores[0, passes.HIPS[0]] = passes.UPRIGHT_MIN_SCORE / 2
    np.testing.assert_array_equal(passes.quarter_turns(body((1, 0)), scores), [0])


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_a_point_found_in_a_turned_crop_maps_back_to_its_pixel(turns):
    crop = np.zeros((1, 8, 8, 3))
    crop[0, 2, 5] = 1  # row 2, column 5: (x, y) = (5, 2)
    turned = passes.turn_crops(crop, [turns])
    y, x = np.argwhere(turned[0, ..., 0])[0]
    back = passes.unturn_points(np.array([[[x, y]]], np.float32), [turns], 8)
    np.testing.assert_array_equal(back, [[[5, 2]]])


class LikesTurns:
    """A stand-in ``one_pass``: every joint at (10, 20), scored ``turned_score`` when asked to
    turn the crop and 0.5 otherwise; pass 1 sees a body whose head points right."""

    def __init__(self, turned_score):
        self.turned_score, self.calls = turned_score, []

    def __call__(self, images, boxes, turns=None):
        self.calls.append(None if turns is None else list(turns))
        n = len(images)
        if boxes is None:  # pass 1: a body lying with its head to the right
            return {"keypoints": np.repeat(body((1, 0)), n, 0).astype(np.float32),
                    "keypoint_scores": np.ones((n, 16), np.float32)}
        score = self.turned_score if turns is not None else 0.5
        return {"keypoints": np.full((n, 16, 2), 10.0 + (turns is not None), np.float32),
                "keypoint_scores": np.full((n, 16), score, np.float32)}


@pytest.mark.parametrize("turned_score, kept", [(0.9, 11.0), (0.3, 10.0)])
def test_pass_two_keeps_the_upright_answer_only_where_it_is_surer(turned_score, kept):
    one_pass = LikesTurns(turned_score)
    out = passes.run_passes(one_pass, np.zeros((1, 100, 100, 3)), None, 2, upright=True)
    assert one_pass.calls == [None, None, [1]]  # pass 1, pass 2, pass 2 turned upright
    np.testing.assert_array_equal(out["keypoints"][0], np.full((16, 2), kept))


def test_without_upright_pass_two_never_turns():
    one_pass = LikesTurns(0.9)
    passes.run_passes(one_pass, np.zeros((1, 100, 100, 3)), None, 2)
    assert one_pass.calls == [None, None]


class BarPose:
    """A stand-in pose model that sees a bright bar in its crop: a vertical bar is a standing
    body (scored 0.9), a horizontal one a body lying with its head to the right (scored 0.5);
    the joints lie along the bar, shoulders at the head's end."""

    input_size = 48
    is_pose, passes, turns_crops = True, 2, True

    def predict_frames(self, frames, boxes):
        out_points, out_scores = [], []
        for frame in np.asarray(frames, np.float64).sum(-1):
            rows, cols = np.nonzero(frame > frame.max() / 2)
            along = np.linspace(10, 38, 16)
            if np.ptp(rows) > np.ptp(cols):  # standing: head at the top
                points = np.stack([np.full(16, cols.mean()), along[::-1]], -1)
                points[list(passes.SHOULDERS)], points[list(passes.HIPS)] = [cols.mean(), 14], [
                    cols.mean(), 34]
                out_scores.append(np.full(16, 0.9))
            else:  # lying, head to the right
                points = np.stack([along, np.full(16, rows.mean())], -1)
                points[list(passes.SHOULDERS)], points[list(passes.HIPS)] = [34, rows.mean()], [
                    14, rows.mean()]
                out_scores.append(np.full(16, 0.5))
            out_points.append(points)
        return {"keypoints": np.asarray(out_points, np.float32),
                "keypoint_scores": np.asarray(out_scores, np.float32)}


def test_every_person_turns_a_lying_person_upright_and_maps_the_joints_back():
    from tfpose.serving import people

    photo = np.zeros((200, 300, 3), np.uint8)
    photo[95:106, 60:241] = 255  # a person lying across the photo
    box = np.array([[50.0, 0.0, 250.0, 200.0]], np.float32)

    def detector(photos, names=None, min_score=None):
        return [(box, np.array([0.9], np.float32)) for _ in photos]

    result = people.PeoplePredictor(detector, BarPose())([photo])[0]
    np.testing.assert_allclose(result.keypoint_scores[0], 0.9)  # the upright answer
    assert (np.abs(result.keypoints[0, :, 1] - 100) < 8).all()  # on the bar, as the photo has it
    shoulders, hips = (result.keypoints[0, list(idx)].mean(0)
                       for idx in (passes.SHOULDERS, passes.HIPS))
    assert shoulders[0] > hips[0] + 40  # the head still points right in the photo
