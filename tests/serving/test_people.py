"""Every person in the photo (``serving/people.py``): each skeleton stays inside its own person
(no chimera), per-person mapping back on a non-square photo, nobody -> no persons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfpose import config as config_lib
from tfpose.core import zoo
from tfpose.serving import people
from tfpose.viz import people as draw
from test_tracks import FIGURE

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "mpii_sample"
DETECTOR = people.DETECTOR


class GivenBoxes:
    """A detector that answers fixed boxes: isolates the per-box pose pass and its mapping."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, np.float32)

    def __call__(self, photos, names=None, min_score=None):
        return [(self.boxes, np.linspace(0.9, 0.5, len(self.boxes)).astype(np.float32))
                for _ in photos]


@pytest.fixture(scope="module")
def two_people():
    """Two real MPII persons side by side on a 640 x 300 photo (non-square): each person's
    square joint box cut from its sample photo, scaled to 280 px, pasted at x = 20 and 340.
    Returns (photo, true joints 2 x 16 x 2, annotated 2 x 16, their boxes 2 x 4)."""
    from tfpose.datasets import mpii

    records = [r for r in mpii.read_annotations(SAMPLES / "mpii_sample.mat")
               if r.image_name in ("005808361.jpg", "060754485.jpg")]
    photo = np.zeros((300, 640, 3), np.uint8)
    joints, boxes = [], []
    for left, rec in zip((20, 340), records):
        xy = rec.joints[rec.annotated]
        centre = (xy.min(0) + xy.max(0)) / 2
        side = 1.25 * np.ptp(xy, 0).max()
        x0, y0 = centre - side / 2
        crop = Image.open(SAMPLES / rec.image_name).convert("RGB").crop(
            (int(x0), int(y0), int(x0 + side), int(y0 + side))).resize((280, 280))
        photo[10:290, left:left + 280] = np.asarray(crop)
        scale = 280 / int(side)
        joints.append((rec.joints - [int(x0), int(y0)]) * scale + [left - 0.5, 9.5] + scale / 2)
        boxes.append([left, 10, left + 280, 290])
    return photo, np.stack(joints), np.stack([r.annotated for r in records]), np.array(boxes)


@pytest.fixture(scope="module")
def pose():
    from tfpose.serving.predict import make_predictor

    return make_predictor("lspet", passes=1)


def _inside(points, box, slack=0.0):
    return ((points >= np.asarray(box[:2]) - slack) & (points <= np.asarray(box[2:]) + slack)).all(1)


@pytest.mark.parametrize("refine", [False, True])
def test_each_skeleton_stays_inside_its_own_person(two_people, pose, refine):
    photo, joints, annotated, boxes = two_people
    result = people.PeoplePredictor(GivenBoxes(boxes), pose, refine=refine)([photo])[0]
    assert len(result) == 2
    np.testing.assert_allclose(result.scores, [0.9, 0.5])  # best first, as the detector said
    for k in range(2):
        confident = result.keypoint_scores[k] > 0.2
        assert confident.sum() >= 10
        assert _inside(result.keypoints[k][confident], boxes[k]).all()  # none on the other one
        # Mapped back to this photo's pixels: most joints near the true ones (PCK-style,
        # 0.2 x the 280 px person box).
        near = np.linalg.norm(result.keypoints[k] - joints[k], axis=1) < 0.2 * 280
        assert near[annotated[k]].mean() >= 0.6


class BrightestPixel:
    """A stand-in pose model: every joint at the brightest pixel of its crop (crop pixels,
    pixel centres at integers), score 1; checks the crop and the mapping back alone."""

    input_size = 48

    def predict_frames(self, frames, boxes):
        np.testing.assert_array_equal(boxes, np.tile([0, 0, 48, 48], (len(frames), 1)))
        flat = np.asarray(frames, np.float64).sum(-1).reshape(len(frames), -1)
        v, u = np.unravel_index(flat.argmax(1), (48, 48))
        points = np.stack([u, v], -1).astype(np.float32)
        return {"keypoints": np.repeat(points[:, None], 16, 1),
                "keypoint_scores": np.ones((len(frames), 16), np.float32)}


@pytest.mark.parametrize("refine", [False, True])
def test_person_crops_map_back_to_the_photo(refine):
    """A bright dot in a 300 x 200 photo is found again through each person's crop, whatever
    the box's size, shape, or overlap with the photo's edge."""
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[120, 70] = 255  # pixel centre (70, 120)
    boxes = np.array([[40.0, 90.0, 100.0, 170.0], [-30.0, 60.0, 150.0, 250.0],
                      [60.0, 100.0, 76.0, 132.0]], np.float32)
    result = people.PeoplePredictor(GivenBoxes(boxes), BrightestPixel(), refine=refine)([photo])[0]
    np.testing.assert_array_equal(result.boxes[1], [0, 60, 150, 200])  # shown inside the photo
    for k, box in enumerate(boxes):
        side = np.ptp(box.reshape(2, 2), 0).max()
        np.testing.assert_allclose(result.keypoints[k], np.tile([70, 120], (16, 1)),
                                   atol=side / 48 / 2 + 0.01)


class SpreadByBrightness:
    """A stand-in pose model that counts its calls: joints along a crop's diagonal, spanning 80 %
    of a bright crop (framed well: the joints' square is about the crop) and 20 % of a dark
    one (framed badly: the person is a quarter of it)."""

    input_size = 48

    def __init__(self):
        self.calls = []

    def predict_frames(self, frames, boxes):
        self.calls.append(len(frames))
        spread = np.where(np.asarray(frames, np.float64).mean((1, 2, 3)) > 100, 0.8, 0.2)
        line = np.linspace(-0.5, 0.5, 16)
        points = 24 + spread[:, None, None] * 48 * np.stack([line, line], -1)[None]
        return {"keypoints": points.astype(np.float32),
                "keypoint_scores": np.ones((len(frames), 16), np.float32)}


@pytest.mark.parametrize("refine_below, calls", [(0.0, [2]), (0.8, [2, 1]), (1.0, [2, 2])])
def test_the_second_pass_runs_for_the_persons_the_first_crop_framed_badly(refine_below, calls):
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[:, 100:] = 220  # the second person's crop is bright: framed well
    boxes = np.array([[0, 0, 100, 100], [100, 0, 200, 100]], np.float32)
    pose = SpreadByBrightness()
    people.PeoplePredictor(GivenBoxes(boxes), pose, alone=False,
                           refine_below=refine_below)([photo])
    assert pose.calls == calls


def test_row_iou_pairs_rows_as_box_iou_does_on_its_diagonal():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 6, 6]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [7, 7, 9, 9]], np.float32)
    np.testing.assert_allclose(people.row_iou(a, b), [1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(people.row_iou(a, b), np.diagonal(people.box_iou(a, b)))


def test_a_box_of_no_size_from_the_detector_is_no_person():
    """A size head answering ~0 gives x0 = x1, y0 = y1: dropped (under ``MIN_BOX_SIDE``
    detector-input px), so the photo's other people are answered, not refused."""
    detector = object.__new__(people.PersonDetector)
    detector.size, detector.max_people, detector.min_score = 64, 20, 0.2
    detector._detect = lambda images: {
        "boxes": np.tile(np.float32([[30, 20, 30, 20], [10, 10, 40, 60], [5, 5, 7, 8]]),
                         (len(images), 1, 1)),
        "scores": np.tile(np.float32([0.9, 0.8, 0.7]), (len(images), 1))}
    (boxes, scores), = detector([np.zeros((64, 64, 3), np.uint8)])
    np.testing.assert_allclose(scores, [0.8])
    assert (boxes[:, 2:] > boxes[:, :2]).all()


def test_drop_duplicates_keeps_the_best_of_one_person_and_both_of_two():
    boxes = np.array([[0, 0, 10, 20], [0.5, 0, 10.5, 20], [8, 0, 18, 20]], np.float32)
    kept = people.drop_duplicates(boxes, np.array([0.6, 0.9, 0.8]))
    np.testing.assert_array_equal(kept, [1, 2])


def test_nobody_found_means_no_persons(pose):
    photo = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    result = people.PeoplePredictor(GivenBoxes(np.zeros((0, 4))), pose)([photo, photo[:50]])
    assert [len(r) for r in result] == [0, 0]
    assert result[0].keypoints.shape == (0, 16, 2) and result[0].to_json() == []


@pytest.mark.slow
def test_a_detector_work_dir_below_its_threshold_finds_no_one(tmp_path, pose):
    """``PersonDetector`` end to end on a fresh detector, which answers its 10 % prior
    everywhere: nothing reaches min_score 0.5."""
    from tfpose.tasks import get_task

    cfg = config_lib.from_dict({"data": {"input_size": 64, "normalization": "signed"},
                                "model": {"kind": "efficientnet_lite0_centernet",
                                          "num_channels": 8}})
    get_task(cfg).build().save(tmp_path / "best.keras")
    config_lib.dump(cfg, tmp_path / "config.yaml")
    detector = people.PersonDetector(tmp_path, min_score=0.5)
    photo = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    assert [len(r) for r in people.PeoplePredictor(detector, pose)([photo])] == [0]
    low = people.PersonDetector(tmp_path, min_score=0.0, max_people=3)
    boxes, scores = low([photo])[0]
    assert boxes.shape == (3, 4) and (np.diff(scores) <= 0).all()


def test_files_give_json_lines_with_every_person_and_drawings(two_people, pose, tmp_path):
    from tfpose.serving.predict import predict_files

    photo, _, _, boxes = two_people
    Image.fromarray(photo).save(tmp_path / "two.png")
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    predictor = people.PeoplePredictor(GivenBoxes(boxes), pose)
    records = list(predict_files("lspet", [tmp_path / "two.png", tmp_path / "bad.jpg"],
                                 tmp_path / "out", predictor=pose, people=predictor,
                                 errors="record"))
    good, bad = records
    assert "error" in bad and "bad.jpg" in bad["error"]
    assert [p["score"] for p in good["persons"]] == [0.9, 0.5]
    assert good["keypoints"] == good["persons"][0]["keypoints"]  # today's readers: person 1
    assert len(good["persons"][1]["keypoints"]) == 16 and len(good["persons"][1]["box"]) == 4
    drawn = np.asarray(Image.open(good["drawing"]))
    colours = [draw.person_colours(i)[3] for i in range(2)]
    for (x0, y0, x1, y1), colour in zip(boxes, colours):  # each box outlined in its colour
        assert (drawn[int(y0), int(x0) + 5:int(x1) - 5] == colour).all(-1).mean() > 0.5


shipped_detector = pytest.mark.skipif(DETECTOR not in zoo.names(),
                                      reason="no shipped person detector")


@shipped_detector
def test_shipped_detector_twin_finds_what_tensorflow_finds(two_people):
    """The shipped twin is int8 (``best.json``): the same people as the float32 graph, each
    box within a few pixels of the graph's and its score within a few hundredths (a float32
    twin: to a pixel and 1e-3)."""
    import json

    quantized = json.loads((zoo.resolve(DETECTOR) / "best.json").read_text())["quantize"] != "none"
    photo = two_people[0]
    photos = [photo, np.full((240, 320, 3), 127, np.uint8)]
    litert = people.PersonDetector(DETECTOR, min_score=0.1, engine="litert")(photos)
    graph = people.PersonDetector(DETECTOR, min_score=0.1, engine="tensorflow")(photos)
    for (boxes, scores), (graph_boxes, graph_scores) in zip(litert, graph):
        assert len(scores) == len(graph_scores)
        if quantized:
            # The photo is read in tiles too (640 x 300): a 50 px box found at 0.17 moves by
            # 3-5 px between the two (IoU 0.79); the people's own boxes overlap by 0.89-0.96.
            assert (people.row_iou(boxes, graph_boxes) > 0.75).all()
            np.testing.assert_allclose(scores, graph_scores, atol=0.05)
        else:
            np.testing.assert_allclose(boxes, graph_boxes, atol=1.0)
            np.testing.assert_allclose(scores, graph_scores, atol=1e-3)


@shipped_detector
def test_cli_and_api_answer_every_person(two_people, tmp_path):
    """``tfpose predict lspet`` and ``tfpose.load("lspet")`` find both people (a skeleton inside
    each), nobody in a flat grey photo (no skeleton drawn), and agree; ``--detector none`` and
    ``--box`` answer one skeleton as before."""
    import json
    import sys

    from click.testing import CliRunner

    import tfpose

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import cli

    photo, _, _, boxes = two_people
    Image.fromarray(photo).save(tmp_path / "two.png")
    grey = np.full((240, 320, 3), 127, np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    run = CliRunner().invoke(cli.cli, ["predict", "lspet", str(tmp_path / "two.png"),
                                       str(tmp_path / "grey.png"), "--out", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    two, nobody = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(two["persons"]) >= 2 and two["keypoints"] == two["persons"][0]["keypoints"]
    for box in boxes:  # each true person has one skeleton inside it
        assert any(_inside(np.asarray(p["keypoints"])[np.asarray(p["scores"]) > 0.2], box,
                           10).all() for p in two["persons"])
    assert nobody["persons"] == [] and nobody["keypoints"] is None
    np.testing.assert_array_equal(np.asarray(Image.open(nobody["drawing"])), grey)

    model = tfpose.load("lspet")
    res = model(photo)
    assert res.keypoints.shape == (len(two["persons"]), 16, 2)
    np.testing.assert_allclose(res.keypoints, [p["keypoints"] for p in two["persons"]],
                               atol=0.01)
    assert model(grey).keypoints.shape == (0, 16, 2)

    for extra in (["--detector", "none"], ["--box", "0,0,320,240"]):
        run = CliRunner().invoke(cli.cli, ["predict", "lspet", str(tmp_path / "grey.png"),
                                           "--no-draw", *extra])
        line = json.loads(run.stdout.splitlines()[-1])
        assert "persons" not in line and len(line["keypoints"]) == 16


class CountingPose(BrightestPixel):
    """``BrightestPixel`` with the joints spread on a ring about that pixel (10 crop px: a
    person a second pass can frame), counting the crops it is asked about."""

    def __init__(self):
        self.crops = 0

    def predict_frames(self, frames, boxes):
        self.crops += len(frames)
        out = super().predict_frames(frames, boxes)
        angle = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        out["keypoints"] = out["keypoints"] + 10 * np.stack([np.cos(angle), np.sin(angle)], -1)
        return out


@pytest.mark.parametrize("agrees", [True, False])
def test_a_shared_trunks_pass_one_leaves_one_pose_pass_for_a_lone_person(agrees):
    """One person found, with the pose model's pass 1 from the same network: when its second
    box is about that person, the person is answered by one pose pass on that box (the
    one-person answer at the one-person cost); when it is about something else (a chimera's
    box, elsewhere), the person's own square is used, then refined (two passes)."""
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[120, 70] = 255
    box = np.array([[40.0, 60.0, 100.0, 180.0]], np.float32)
    ring = np.array([[45, 70], [95, 70], [45, 170], [95, 170]], np.float32)  # joints in the box
    joints = np.resize(ring, (16, 2)) if agrees else np.resize(ring + [180, 0], (16, 2))
    pass1 = people.WholePhotoPose(joints, np.ones(16, np.float32), 300.0)

    def detector(photos, names=None, min_score=None):
        return [(box, np.array([0.9], np.float32), pass1) for _ in photos]

    pose = CountingPose()
    result = people.PeoplePredictor(detector, pose, alone=True)([photo])[0]
    assert pose.crops == (1 if agrees else 2)
    np.testing.assert_allclose(result.keypoints[0].mean(0), [70, 120], atol=2.0)


@shipped_detector
def test_alone_gives_a_lone_person_the_one_person_answer_to_the_pixel():
    """``alone``: a photo where the detector finds one person, about whom ``lspet``'s own
    whole-photo answer is: the every-person answer is that answer, as ``--detector none``
    gives it."""
    from tfpose.serving.predict import make_predictor

    data = (SAMPLES / "060754485.jpg").read_bytes()
    pose = make_predictor("lspet", passes=2)
    every = people.every_person(pose, alone=True)([data])[0]
    one = pose([data])
    assert len(every) == 1
    np.testing.assert_array_equal(every.keypoints, one["keypoints"])
    np.testing.assert_array_equal(every.keypoint_scores, one["keypoint_scores"])


@pytest.mark.parametrize("score", [0.1, 0.9])
def test_a_drawing_leaves_out_joints_scoring_under_the_drawing_threshold(score):
    """A joint under ``DRAW_MIN_SCORE`` (mostly cut off by the frame, or misplaced:
    docs/everyday.md) is not drawn, nor its bones; at 0.9 it is."""
    from tfpose.viz.visualize import DRAW_MIN_SCORE

    points = np.array(FIGURE) + [100, 100]
    points[9] = [100, 20]  # the head top, far above the rest
    scores = np.ones(16)
    scores[9] = score
    person = {"box": [60, 10, 140, 170], "keypoints": points.tolist(), "scores": scores.tolist()}
    drawn = np.asarray(draw.draw_people(np.zeros((200, 200, 3), np.uint8), [person]))
    near_head = drawn[14:27, 94:107].max()
    assert (near_head > 0) == (score >= DRAW_MIN_SCORE)
    assert drawn[80:120, 80:120].max() > 0  # the rest of the person is drawn either way


@shipped_detector
def test_a_damaged_photo_among_good_ones_is_named_and_the_others_answered():
    """Every person of a batch of encoded photos (never decoded whole): a JPEG cut short is one
    clear error naming it; the photos around it get their persons."""
    from tfpose.core.errors import DataError
    from tfpose.serving.predict import make_predictor, predict_items

    good = (SAMPLES / "060754485.jpg").read_bytes()
    pose = make_predictor("lspet", passes=2)
    answers = predict_items(pose, ["a.jpg", "cut.jpg", "b.jpg"], [good, good[:4000], good],
                            people=people.every_person(pose))
    assert isinstance(answers[1], DataError) and "cut.jpg" in str(answers[1])
    for record, _ in (answers[0], answers[2]):
        assert len(record["persons"]) >= 1
    assert answers[0][0]["persons"] == answers[2][0]["persons"]


def test_alone_answers_a_lone_person_given_as_an_array_from_the_whole_photo():
    """``alone`` with decoded pixels: the pose model's own whole-photo passes run on the array
    (one call per photo), and their answer is kept when it is about the person found."""
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[120, 70] = 255
    box = np.array([[40.0, 60.0, 100.0, 180.0]], np.float32)

    class WholePhoto(CountingPose):
        def predict_frames(self, frames, boxes=None):
            if boxes is not None:
                return super().predict_frames(frames, boxes)
            self.whole = getattr(self, "whole", 0) + 1
            return {"keypoints": np.full((1, 16, 2), [70.0, 120.0], np.float32),
                    "keypoint_scores": np.ones((1, 16), np.float32),
                    "boxes": np.array([[15.0, 65.0, 125.0, 175.0]], np.float32)}

    pose = WholePhoto()
    result = people.PeoplePredictor(GivenBoxes(box), pose, alone=True)([photo])[0]
    assert pose.whole == 1 and pose.crops == 0  # the whole-photo answer, no crop pass
    np.testing.assert_allclose(result.keypoints[0], np.full((16, 2), [70.0, 120.0]))
