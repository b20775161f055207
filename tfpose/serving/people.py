"""Every person in a photo, top-down: the person detector on the whole photo, then the pose
model's person-centred pass on each box, all of a call's boxes batched together.

    photo -> letterboxed to the detector's input (a JPEG decoded at the DCT scale that needs;
      a photo twice as wide as high also in square tiles: ``detector_frames``)
      -> ``centers`` / ``box_size`` / ``box_offset`` -> the best ``max_people`` boxes at or
      above ``min_score`` (3 x 3 max-pool peaks in the graph, then near-duplicates dropped)
      -> each box's square (``side = max(w, h)``: the boxes are the joints' box x
      ``person_box.MARGIN``, so the square is the pose crops' box) cut from the photo at the
      pose model's input size -> the pose model on those crops (the detector stands in for the
      whole-photo pass 1) -> pass 2 on the square around the joints of each person the first
      crop framed badly (``REFINE_BELOW_IOU``) -> joints mapped back to the photo.

A photo where the detector finds no one gets the pose model's own one-person answer when it
is sure of that person (``whole_photo``): blurred and cut-off people the detector misses.

Each skeleton comes from its own crop, so its joints cannot come from different people the way
one whole-photo skeleton's did (issue 33's "chimera"). ``PeopleResult`` holds one photo's
answer with an instance axis (``N`` persons, best first; ``N = 0`` when nobody is found).

Pixel convention: 0-based original-photo pixels, pixel centres at integers (as ``predict``).
Shapes: ``N`` persons, ``K = 16`` joints.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from tfpose.core.errors import DataError
from tfpose.serving import detector_frames as frames_lib
from tfpose.serving import whole_photo
from tfpose.serving.detector_frames import box_iou, row_iou, to_photo

DETECTOR = "person-detector"  # the shipped detector (``tfpose models``)
MAX_PEOPLE = 20  # persons returned per photo at most (MediaPipe's num_poses is a user choice)
# Detector score a person needs (the centre peak's probability). At 0.1-0.4 on the check set
# (docs/multi_person.md): 0.2 finds someone in 882 of the 900 held-out one-person LSPET photos
# (0.3: 852) and still no one in the 50 person-free images (0.1: one or more).
MIN_SCORE = 0.2
MIN_BOX_SIDE = 4.0  # detector-input px (a heatmap cell): a smaller box is no person, no crop
# Two boxes overlapping beyond this IoU are one person seen twice (two peaks of one large
# person); people side by side or crossing overlap less.
DUPLICATE_IOU = 0.7
# The first crop of a person: the square about the detector's box, grown by this (the detector
# only has to find the person; pass 2 frames the joints).
FIRST_CROP_GROW = 1.0
# ``alone`` (off by default: it costs the whole-photo pass 1 again): a photo with one person
# found gets the pose model's whole-photo answer (pass 1 from a shared trunk or run again) when
# its second box overlaps the person's square by this IoU (no one else's joints in it).
ALONE_IOU = 0.5
# A person's second pass runs when the square about its first answer's joints overlaps the
# first crop by less than this: the detector framed the person badly. On the held-out LSPET
# photos (docs/multi_person.md) a third of the persons fall under 0.8 and gain up to 3 points
# of PCK from it, the rest 0.3-1: refining only those skips 57 % of the second passes for 0.85
# points of limb PCK (58.02 % at 32.9 images/s, always: 58.87 % at 29.2, never: 57.18 % at
# 42.6), and on LSP's tightly framed photos it avoids the second pass's losses. 1.0: always.
REFINE_BELOW_IOU = 0.8


@dataclasses.dataclass
class PeopleResult:
    """One photo's persons, best first: ``boxes`` N x 4 (x0, y0, x1, y1), ``scores`` N
    (detector), ``keypoints`` N x K x 2, ``keypoint_scores`` N x K."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def to_json(self) -> list:
        """``[{"box", "score", "keypoints", "scores"}, ...]``, rounded as ``predict`` rounds."""
        return [{"box": np.round(self.boxes[i].astype(np.float64), 2).tolist(),
                 "score": round(float(self.scores[i]), 4),
                 "keypoints": np.round(self.keypoints[i].astype(np.float64), 2).tolist(),
                 "scores": np.round(self.keypoint_scores[i].astype(np.float64), 4).tolist()}
                for i in range(len(self))]


def drop_duplicates(boxes: np.ndarray, scores: np.ndarray, iou: float = DUPLICATE_IOU):
    """Indices of ``boxes`` (N x 4, best first) kept: each box unless it overlaps an already
    kept one by more than ``iou`` (greedy, in score order)."""
    return frames_lib.keep_greedily(box_iou(boxes, boxes) > iou, scores)


class PersonDetector:
    """A detector work dir, shipped name or ``.tflite`` -> per photo ``(boxes N x 4 photo px,
    scores N)``, best first, at most ``max_people`` with score >= ``min_score``, duplicates
    dropped; a shared-trunk detector (``model.shared_trunk``) adds a third item, the pose
    model's pass 1 on the whole photo (``WholePhotoPose``).

    ``engine`` as ``predict.make_predictor``'s: ``auto`` runs a work dir's LiteRT twin
    (``best.tflite``, decoding in its graph) when it matches the weights, else TensorFlow.
    ``size``: the side photos are letterboxed to (default the detector's ``data.input_size``;
    TensorFlow takes any multiple of 32, the network being fully convolutional; a ``.tflite``
    only its own).
    """

    def __init__(self, source=None, checkpoint: str = "best", size: Optional[int] = None,
                 max_people: int = MAX_PEOPLE, min_score: float = MIN_SCORE,
                 engine: str = "auto"):
        from tfpose.core import zoo
        from tfpose.serving import litert

        source = DETECTOR if source is None else source
        if max_people < 1:
            raise DataError(f"max_people must be >= 1. Received: {max_people}")
        if engine not in litert.ENGINES:
            raise DataError(f"engine must be one of {', '.join(litert.ENGINES)}. "
                            f"Received: {engine!r}")
        self.max_people, self.min_score = max_people, min_score
        path = zoo.resolve(source)
        twin, why = None, f"{source} is not a work dir"
        if path.suffix == ".tflite":
            if engine == "tensorflow":
                raise DataError(f"{source}: a .tflite runs on LiteRT, not TensorFlow (--engine)")
            twin = path
        elif engine != "tensorflow" and path.is_dir():
            twin, why = litert.matching_twin(path, checkpoint)
            if engine == "auto" and not litert.runtime_available():
                twin = None
        if twin is not None:
            runner = litert.LiteRTDetector(twin)
            if size in (None, runner.size):
                self.size, self._detect = runner.size, runner
                self.description = f"LiteRT {twin}"
                return
            if engine == "litert" or path.suffix == ".tflite":
                raise DataError(f"{twin} takes {runner.size} px photos. Received: size {size}")
        elif engine == "litert":
            raise DataError(f"--engine litert: {why}; tfpose export {source} --format tflite "
                            f"--out {litert.twin_path(path, checkpoint)} writes one")
        self._detect = _TensorFlowDetector(path, checkpoint, size, 2 * max_people)
        self.size, self.description = self._detect.size, f"work dir {path}"

    def __call__(self, photos: Sequence, names: Optional[Sequence] = None,
                 min_score: Optional[float] = None):
        """``photos``: H x W x 3 uint8 RGB arrays, or encoded bytes as displayed
        (``images.prepare_image``'s); a DataError naming the photo (``names``) whose pixels
        cannot be decoded. ``min_score``: this call's, instead of the detector's."""
        min_score = self.min_score if min_score is None else min_score
        if not len(photos):
            return []
        names = [f"image {i}" if names is None else names[i] for i in range(len(photos))]
        sizes = [_size(photo, name) for photo, name in zip(photos, names)]
        inputs, frames, owners, cores = [], [], [], []  # per input; cores None: the whole photo
        for i, photo in enumerate(photos):
            tile_boxes, tile_cores = frames_lib.tiles(*sizes[i])
            # The whole photo and its tiles decode apart: the tiles allow a coarser DCT scale.
            framed = frames_lib.detector_inputs(photo, self.size, names[i])
            if len(tile_boxes):
                framed += frames_lib.detector_inputs(photo, self.size, names[i], tile_boxes)
            for (image, frame), core in zip(framed, [None, *tile_cores]):
                inputs.append(image)
                frames.append(frame)
                owners.append(i)
                cores.append(core)
        out = self._detect(np.stack(inputs).astype(np.float32))
        whole, tiled = [None] * len(photos), [[] for _ in photos]
        for n, (i, frame, core) in enumerate(zip(owners, frames, cores)):
            input_boxes = np.asarray(out["boxes"][n], np.float32).reshape(-1, 4)
            sides = np.max(input_boxes[:, 2:] - input_boxes[:, :2], axis=1)
            keep = (np.asarray(out["scores"][n]) >= min_score) & (sides >= MIN_BOX_SIDE)
            found = (to_photo(input_boxes[keep], frame, self.size),
                     np.asarray(out["scores"][n])[keep])
            if core is None:
                whole[i] = found
            else:
                tiled[i].append((*found, core))
        answers = []
        for i in range(len(photos)):
            image_boxes, image_scores = frames_lib.combine(whole[i], tiled[i])
            kept = drop_duplicates(image_boxes, image_scores)[: self.max_people]
            answer = (image_boxes[kept].astype(np.float32), image_scores[kept])
            if "keypoints" in out:  # a shared trunk: the pose model's pass 1 on the photo
                n, frame = owners.index(i), frames[owners.index(i)]
                points = np.asarray(out["keypoints"][n], np.float32)
                points = to_photo(np.tile(points, 2), frame, self.size)[:, :2]
                answer += (WholePhotoPose(points, np.asarray(out["keypoint_scores"][n]),
                                          float(frame[2] - frame[0])),)
            answers.append(answer)
        return answers


@dataclasses.dataclass
class WholePhotoPose:
    """A shared-trunk detector's pose pass 1 on the whole photo: ``keypoints`` K x 2 photo px,
    ``scores`` K, ``side`` the photo px the input's side spans (its second box grows by
    ``passes.SECOND_PASS_PAD`` of it)."""

    keypoints: np.ndarray
    scores: np.ndarray
    side: float


class _TensorFlowDetector:
    """A detector work dir through TensorFlow: letterboxed photos B x S x S x 3 (0..255) ->
    {``boxes`` B x N x 4 input px, ``scores`` B x N} (N = ``candidates``), and for a shared
    trunk ``keypoints`` B x K x 2 input px and ``keypoint_scores`` B x K."""

    def __init__(self, path, checkpoint: str, size: Optional[int], candidates: int):
        import tensorflow as tf

        from tfpose.input.normalize import normalize_images
        from tfpose.tasks import get_task, load_workdir

        cfg, model, _ = load_workdir(path, checkpoint)
        task = get_task(cfg)
        if not task.is_detector:
            raise DataError(f"{path}: a person detector is needed (model.kind "
                            f"efficientnet_lite0_centernet). Received: a {task.kind} model")
        self.size = size or cfg.data.input_size
        network = task.network_at_size(model, self.size)

        @tf.function(reduce_retracing=True)
        def detect(images):
            inputs = normalize_images(images, cfg.data.normalization)
            outputs = network({"image": inputs}, training=False)
            boxes, scores = task.decode_outputs(outputs, candidates)
            answer = {"boxes": boxes, "scores": scores}
            if task.has_pose:
                answer["keypoints"], answer["keypoint_scores"] = task.decode_pose(outputs)
            return answer

        self._detect = detect

    def __call__(self, images: np.ndarray) -> dict:
        return {k: v.numpy() for k, v in self._detect(images).items()}


def square_of(boxes: np.ndarray, grow: float = 1.0) -> np.ndarray:
    """Boxes N x 4 -> the squares about their centres, side ``grow`` x max(w, h): N x 4."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = grow * np.max(boxes[:, 2:] - boxes[:, :2], axis=1, keepdims=True) / 2
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def every_person(pose, detector=DETECTOR, *, max_people: int = MAX_PEOPLE,
                 min_score: float = MIN_SCORE, engine: str = "auto",
                 alone: bool = False, refine_below: float = REFINE_BELOW_IOU,
                 nobody_found: bool = True):
    """The ``PeoplePredictor`` ``tfpose predict`` and ``tfpose.load`` put before ``pose``
    (``predict.make_predictor``'s predictor): ``detector`` with its options, the second pass
    when ``pose`` runs two passes (for the persons framed worse than ``refine_below``),
    with ``alone`` and two passes the one-person answer for a lone person, and with
    ``nobody_found`` the sure one-person answer where the detector finds no one. None when
    there is to be no search: ``detector`` None or ``"none"``, or ``pose`` no pose model."""
    if detector is None or str(detector).lower() == "none" or not pose.is_pose:
        return None
    two = pose.passes == 2
    return PeoplePredictor(PersonDetector(detector, max_people=max_people, min_score=min_score,
                                          engine=engine), pose, refine=two,
                           alone=alone and two, refine_below=refine_below,
                           nobody_found=nobody_found)


class PeoplePredictor:
    """Photos -> one ``PeopleResult`` each: ``detector`` (a ``PersonDetector``, or any callable
    with its call, ``min_score`` included) then ``pose`` (``predict.make_predictor``'s
    predictor, through its ``predict_frames`` on person crops).

    Each person is cut from the photo at the pose model's input size (``pose.input_size``) as
    its own pass 2 would be (``host_crop.crop_and_resize``, the graph's crop in numpy), from
    the square about the detector's box grown by ``grow``: the detector's box only has to find
    the person. ``refine`` (default): predict each person again on the square around its first
    answer's confident joints (``passes.second_pass_boxes``, grown by one heatmap cell of the
    first crop), as the one-person two passes do after the whole photo, when that square
    overlaps the first crop by less than ``refine_below`` (IoU). A person without two
    confident joints keeps its first answer. ``alone``: see ``ALONE_IOU``. ``nobody_found``
    (default): a photo where the detector finds no one gets the pose model's one-person
    answer when it is sure of that person (``whole_photo``).
    """

    def __init__(self, detector, pose, batch_size: int = 16, refine: bool = True,
                 grow: float = FIRST_CROP_GROW, alone: bool = False,
                 refine_below: float = REFINE_BELOW_IOU, nobody_found: bool = True):
        self.detector, self.pose, self.batch_size = detector, pose, batch_size
        self.nobody_found = nobody_found
        self.refine, self.grow, self.alone = refine, grow, alone
        self.refine_below = refine_below
        self.size = int(pose.input_size)

    def __call__(self, photos: Sequence, names: Optional[Sequence] = None) -> list:
        """``photos``: decoded H x W x 3 uint8 RGB arrays (EXIF orientation applied), or
        encoded bytes as displayed (``images.prepare_image``'s): these are never decoded whole
        (the detector and each person's crop decode them at the DCT scale they need), and a
        lone person's whole-photo answer decodes them as ``--detector none`` does. A DataError
        naming the photo (``names``) whose pixels cannot be decoded."""
        from tfpose.serving.passes import SECOND_PASS_PAD, second_pass_boxes

        from tfpose.serving.images import prepare_image

        names = [f"image {i}" for i in range(len(photos))] if names is None else list(names)
        photos = [prepare_image(bytes(p), names[i]) if isinstance(p, (bytes, bytearray))
                  else np.asarray(p, np.uint8) for i, p in enumerate(photos)]
        min_score = getattr(self.detector, "min_score", MIN_SCORE)
        if self.nobody_found:  # one detector run gives the people and the hints under them
            detections, hints = whole_photo.split_hints(self.detector(
                photos, names, min_score=min(min_score, whole_photo.HINT_SCORE)), min_score)
        else:
            detections = self.detector(photos, names)
        squares = [square_of(found[0], self.grow) for found in detections]
        settled = set()  # one person, whose square is pass 2's already
        lone = [i for i in range(len(photos)) if self.alone and len(squares[i]) == 1]
        for i in [i for i in lone if len(detections[i]) > 2]:
            # A shared trunk: the pose model's pass 1 came with the people.
            box = self._second_box(detections[i][2])
            if box is not None and box_iou(box[None], squares[i])[0, 0] >= ALONE_IOU:
                squares[i], settled = box[None], settled | {i}
        whole = self._whole_photo_answers(photos, names, squares,
                                          [i for i in lone if len(detections[i]) == 2])
        squares = [np.zeros((0, 4), np.float32) if i in whole else boxes
                   for i, boxes in enumerate(squares)]
        owners = np.concatenate([np.full(len(boxes), i, np.int64)
                                 for i, boxes in enumerate(squares)] or [np.zeros(0, np.int64)])
        first = np.concatenate(squares) if squares else np.zeros((0, 4), np.float32)
        keypoints, joint_scores = self._pose_on_boxes(photos, names, owners, first)
        if self.refine and len(keypoints):
            sides = first[:, 2] - first[:, 0]
            second, valid = second_pass_boxes(keypoints, joint_scores, pad=SECOND_PASS_PAD * sides)
            moved = row_iou(second, first) < self.refine_below
            again = np.flatnonzero(valid & moved & ~np.isin(owners, list(settled)))
            if len(again):
                keypoints[again], joint_scores[again] = self._pose_on_boxes(
                    photos, names, owners[again], second[again])
            if getattr(self.pose, "turns_crops", False):
                self._upright(photos, names, owners, keypoints, joint_scores, settled)
        nobody = [i for i, found in enumerate(detections) if not len(found[1])]
        rescued = whole_photo.sure_people(self.pose, photos, names, nobody, hints, min_score) \
            if self.nobody_found and nobody else {}
        results = []
        for i, found in enumerate(detections):
            mine = owners == i
            boxes, scores = found[:2]
            image_keypoints, image_scores = whole.get(i, (keypoints[mine], joint_scores[mine]))
            if i in rescued:  # box 1 x 4, score 1, keypoints 1 x K x 2, scores 1 x K
                boxes, scores, image_keypoints, image_scores = rescued[i]
            width, height = _size(photos[i], names[i])
            shown = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
            results.append(PeopleResult(shown, scores.astype(np.float32),
                                        image_keypoints.astype(np.float32),
                                        image_scores.astype(np.float32)))
        return results

    def _upright(self, photos, names, owners, keypoints, joint_scores, settled) -> None:
        """Each person lying across the photo (``passes.quarter_turns`` of its joints) is
        predicted again on the square around its joints turned upright, that answer kept
        (in place) where its mean joint score is higher, as ``passes.run_passes`` does."""
        from tfpose.serving.passes import (SECOND_PASS_PAD, keep_surer, quarter_turns,
                                           second_pass_boxes)

        turns = quarter_turns(keypoints, joint_scores)
        boxes, valid = second_pass_boxes(keypoints, joint_scores)
        cell = SECOND_PASS_PAD * (boxes[:, 2:3] - boxes[:, 0:1])  # grown by a cell of itself
        boxes = boxes + cell * np.float32([-1, -1, 1, 1])
        which = np.flatnonzero((turns > 0) & valid & ~np.isin(owners, list(settled)))
        if len(which):
            points, scores = self._pose_on_boxes(photos, names, owners[which], boxes[which],
                                                 turns[which])
            keep_surer(keypoints, joint_scores, which, points, scores)

    @staticmethod
    def _second_box(pass1: "WholePhotoPose"):
        """Pass 2's box (4) from a shared trunk's pass 1, as ``passes.run_passes`` makes it;
        None without two confident joints."""
        from tfpose.serving.passes import SECOND_PASS_PAD, second_pass_boxes

        boxes, valid = second_pass_boxes(pass1.keypoints[None], pass1.scores[None],
                                         pad=SECOND_PASS_PAD * pass1.side)
        return boxes[0] if valid[0] else None

    def _whole_photo_answers(self, photos: list, names: list, squares: list,
                             lone: list) -> dict:
        """``{i: (keypoints 1 x K x 2, scores 1 x K)}``: the pose model's own two passes on
        each photo ``i`` of ``lone`` (one person found by a detector without the pose model's
        trunk), kept when their second box overlaps that person's square (``squares[i]``)
        by ``ALONE_IOU``: then no one else can have lent it joints, and the answer is the
        one-person answer to the joint."""
        kept = {}
        for i, out in whole_photo.answers(self.pose, photos, names, lone).items():
            box = out.get("boxes", np.full((1, 4), np.nan))[0]
            if np.isfinite(box).all() and box_iou(box[None], squares[i])[0, 0] >= ALONE_IOU:
                kept[i] = (out["keypoints"][:1], out["keypoint_scores"][:1])
        return kept

    def _pose_on_boxes(self, photos: list, names: list, owners: np.ndarray, boxes: np.ndarray,
                       turns: Optional[np.ndarray] = None):
        """The pose model on each square ``boxes[n]`` (N x 4, pixel centres at integers) of
        ``photos[owners[n]]``, turned ``turns[n]`` counter-clockwise quarter turns (undone on
        the joints): keypoints N x K x 2 in photo pixels, scores N x K.

        Encoded photos go to the pose model with their boxes, as ``--box`` does: each crop is
        decoded at the reduced DCT scale its box allows (a person a tenth of a large JPEG
        needs none of its full-resolution pixels). Arrays are cropped here: crop pixel u
        samples photo point ``x0 + u * side / S`` (``host_crop``, the same crop), the pose
        model sees each crop whole (box ``(0, 0, S, S)``: its own crop is then the identity),
        so its keypoints come back in crop pixels."""
        from tfpose.serving.host_crop import crop_and_resize
        from tfpose.serving.images import pixels_of
        from tfpose.serving.passes import turn_crops, unturn_points

        turns = np.zeros(len(boxes), np.int64) if turns is None else np.asarray(turns)
        encoded = np.array([isinstance(photos[i], bytes) for i in owners], bool)
        if turns.any() and not getattr(self.pose, "turns_crops", False):
            encoded[:] = False  # turned here, from the pixels
        answers = {}
        if encoded.any():
            rows = np.flatnonzero(encoded)
            try:
                points, scores = self._pose_on_encoded([photos[owners[n]] for n in rows],
                                                       boxes[rows], turns[rows])
                answers.update({n: (points[k], scores[k]) for k, n in enumerate(rows)})
            except DataError:  # pixels Pillow read and the pose model's decoder did not
                pass
        rows = [n for n in range(len(boxes)) if n not in answers]
        size = self.size
        crops = [crop_and_resize(pixels_of(photos[owners[n]], names[owners[n]]), boxes[n], size)
                 for n in rows]
        crops = np.stack(crops) if crops else np.zeros((0, size, size, 3))
        points, scores = self._pose(turn_crops(crops, turns[rows]))
        points = unturn_points(points, turns[rows], size)
        scale = (boxes[rows, 2] - boxes[rows, 0]) / size
        points = boxes[rows, None, :2] + points * scale[:, None, None]
        answers.update({n: (points[k], scores[k]) for k, n in enumerate(rows)})
        if not answers:
            return points.astype(np.float32), scores
        return (np.stack([answers[n][0] for n in range(len(boxes))]).astype(np.float32),
                np.stack([answers[n][1] for n in range(len(boxes))]))

    def _pose_on_encoded(self, encoded: list, boxes: np.ndarray, turns: np.ndarray):
        """The pose model on ``boxes`` (N x 4) of the ``encoded`` photos (N), each crop turned
        ``turns`` (N; all 0 for a model that cannot turn them), in batches: keypoints N x K x 2
        in photo pixels, scores N x K."""
        keypoints, scores = [], []
        for start in range(0, len(boxes), self.batch_size):
            part = slice(start, start + self.batch_size)
            out = (self.pose(encoded[part], boxes[part], turns=turns[part]) if turns.any()
                   else self.pose(encoded[part], boxes[part]))
            keypoints.append(out["keypoints"])
            scores.append(out["keypoint_scores"])
        return np.concatenate(keypoints), np.concatenate(scores)

    def _pose(self, crops: np.ndarray):
        """The pose model on every crop (its whole square), in batches: keypoints N x K x 2 in
        crop pixels and their scores N x K."""
        whole = np.array([0, 0, self.size, self.size], np.float32)
        keypoints, scores = [], []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start:start + self.batch_size]
            out = self.pose.predict_frames(batch, np.tile(whole, (len(batch), 1)))
            keypoints.append(out["keypoints"])
            scores.append(out["keypoint_scores"])
        if not keypoints:
            return np.zeros((0, 16, 2), np.float32), np.zeros((0, 16), np.float32)
        return np.concatenate(keypoints), np.concatenate(scores)


def _size(photo, name) -> tuple:
    """A photo's (width, height): an array's shape, encoded bytes' header."""
    from tfpose.serving.images import displayed_size

    if isinstance(photo, bytes):
        return displayed_size(photo, name)
    return photo.shape[1], photo.shape[0]


def people_record(name, result: PeopleResult) -> dict:
    """The JSON line of one photo: ``persons`` best first (``PeopleResult.to_json``), and the
    top-level ``keypoints`` / ``scores`` of the first person (None when nobody is found), so
    readers of one-person lines keep working."""
    persons = result.to_json()
    first = persons[0] if persons else {"keypoints": None, "scores": None}
    return {"image": str(name), "keypoints": first["keypoints"], "scores": first["scores"],
            "class": None, "probability": None, "persons": persons}
