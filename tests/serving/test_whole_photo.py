"""Where the detector finds no one, the pose model's own sure one-person answer
(``serving/whole_photo.py``): a real person is answered, noise is not, the box is the joints'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfpose.core.joint_frame import MARGIN
from tfpose.serving import people, whole_photo

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "mpii_sample"
NOBODY = np.zeros((0, 4), np.float32)


class NoOne:
    """A detector that finds no one at its min score; under it (a call's ``min_score``), the
    ``hint`` box with score ``hint_score`` when given."""

    min_score = people.MIN_SCORE

    def __init__(self, hint=None, hint_score=0.1):
        self.hint, self.hint_score = hint, hint_score

    def __call__(self, photos, names=None, min_score=None):
        below = min_score is not None and self.hint is not None and self.hint_score >= min_score
        found = ((np.float32([self.hint]), np.float32([self.hint_score])) if below
                 else (NOBODY, np.zeros(0, np.float32)))
        return [found for _ in photos]


class WholePhotoOnly:
    """A stand-in pose model answering whole photos only: joints on a 40 x 80 px rectangle's
    outline at (100, 50), every limb scoring ``score``, head and torso 0.05."""

    input_size = 48
    passes = 2

    def __init__(self, score):
        self.score, self.calls = score, 0

    def predict_frames(self, frames, boxes=None):
        assert boxes is None, "a whole-photo answer only"
        self.calls += 1
        xs = np.resize([100.0, 140.0], 16)
        ys = np.repeat(np.linspace(50.0, 130.0, 8), 2)
        scores = np.full(16, self.score, np.float32)
        scores[[6, 7, 8, 9]] = 0.05  # pelvis, thorax, neck, head top: not in the box
        return {"keypoints": np.stack([xs, ys], -1)[None].astype(np.float32),
                "keypoint_scores": scores[None]}


def test_sure_person_needs_sure_limbs_a_hint_there_and_boxes_the_joints_it_trusts():
    keypoints = np.stack([np.linspace(10, 40, 16), np.linspace(100, 20, 16)], -1)
    scores = np.full(16, 0.6, np.float32)
    scores[[0, 15]] = 0.05  # under BOX_MIN_SCORE: not in the box
    used = keypoints[1:15]
    low, high = used.min(0), used.max(0)
    expected = np.concatenate([(low + high) / 2 - (high - low) * MARGIN / 2,
                               (low + high) / 2 + (high - low) * MARGIN / 2])
    hint, elsewhere = np.float32([[15, 30, 45, 95]]), np.float32([[200, 30, 230, 95]])
    at = np.float32([whole_photo.HINT_SCORE])
    box, score = whole_photo.sure_person(keypoints, scores, hint, at)
    np.testing.assert_allclose(box, expected, rtol=1e-5)
    limbs = list(whole_photo.LIMB_JOINTS)
    assert score == pytest.approx(float(scores[limbs].mean()))
    unsure = np.full(16, whole_photo.SURE_LIMBS - 0.01, np.float32)
    assert whole_photo.sure_person(keypoints, unsure, hint, at) is None
    assert whole_photo.sure_person(keypoints, scores, hint, at, min_score=0.9) is None
    assert whole_photo.sure_person(keypoints, scores, elsewhere, at) is None  # not there
    assert whole_photo.sure_person(keypoints, scores, hint, at - 0.01) is None  # too faint
    assert whole_photo.sure_person(keypoints, scores, NOBODY, np.zeros(0)) is None


@pytest.mark.parametrize("score, hint, switched_on, persons", [
    (0.6, [90, 40, 150, 140], True, 1), (0.1, [90, 40, 150, 140], True, 0),
    (0.6, None, True, 0), (0.6, [90, 40, 150, 140], False, 0)])
def test_a_photo_where_no_one_is_found_gets_the_sure_one_person_answer(score, hint, switched_on,
                                                                       persons):
    photo = np.zeros((200, 300, 3), np.uint8)
    pose = WholePhotoOnly(score)
    result = people.PeoplePredictor(NoOne(hint), pose, nobody_found=switched_on)([photo])[0]
    # Without a hint the answer could not be taken: the pose model is not asked.
    assert len(result) == persons and pose.calls == int(switched_on and hint is not None)
    if persons:
        np.testing.assert_allclose(result.keypoints[0, 0], [100.0, 50.0])
        np.testing.assert_allclose(result.scores, [score], rtol=1e-6)
        centre, half = np.array([120.0, 90.0]), np.array([20.0, 40.0]) * MARGIN
        np.testing.assert_allclose(result.boxes[0], np.concatenate([centre - half,
                                                                    centre + half]))


def test_a_real_person_the_detector_missed_is_answered_and_noise_is_not():
    """``lspet`` (two passes, its LiteRT twin) behind a detector that finds no one but hints at
    the whole photo: the real MPII person is one sure person whose joints are the one-person
    answer's; uniform noise stays empty (its limbs score far under ``SURE_LIMBS``)."""
    from PIL import Image

    from tfpose.serving.predict import make_predictor

    pose = make_predictor("lspet", passes=2)
    data = (SAMPLES / "060754485.jpg").read_bytes()
    width, height = Image.open(SAMPLES / "060754485.jpg").size
    noise = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    finder = people.PeoplePredictor(NoOne([0, 0, width, height]), pose)
    person, nothing = finder([data, noise], ["mpii", "noise"])
    one = pose([data])
    assert len(person) == 1 and len(nothing) == 0
    np.testing.assert_array_equal(person.keypoints, one["keypoints"])
    assert person.scores[0] >= whole_photo.SURE_LIMBS
    box = person.boxes[0]
    sure = one["keypoint_scores"][0] >= whole_photo.BOX_MIN_SCORE
    inside = (one["keypoints"][0][sure] >= box[:2]) & (one["keypoints"][0][sure] <= box[2:])
    assert inside.all()
