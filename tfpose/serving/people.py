"""Every person in a photo, top-down: the person detector on the whole photo, then the pose
model's person-centred pass on each box, all of a call's boxes batched together.

    photo -> letterboxed to the detector's input -> ``centers`` / ``box_size`` / ``box_offset``
      -> the best ``max_people`` boxes at or above ``min_score`` (3 x 3 max-pool peaks in the
      graph, then near-duplicates dropped) -> each box's square (``side = max(w, h)``: the boxes
      are the joints' box x ``person_box.MARGIN``, so the square is the pose crops' box) cut
      from the photo at ``CROP_SIDE`` px -> the pose model on those crops (one pass: the
      detector stands in for pass 1) -> joints mapped back to the photo.

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
from tfpose.core.geometry import letterbox_box

DETECTOR = "person_detector"  # the shipped detector's name (``tfpose models``), once shipped
MAX_PEOPLE = 20  # persons returned per photo at most (MediaPipe's num_poses is a user choice)
# Detector score a person needs (the centre peak's probability): docs/multi_person.md gives
# people recovered and skeletons matched to nobody on the check set at several thresholds.
MIN_SCORE = 0.3
# Two boxes overlapping beyond this IoU are one person seen twice (two centre peaks of one
# large person); people side by side or crossing overlap less than this.
DUPLICATE_IOU = 0.7
# Crops for the pose pass: twice the shipped pose input (192), so its own resize is a downscale.
CROP_SIDE = 384


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
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(_iou(boxes[i], boxes[j]) <= iou for j in kept):
            kept.append(int(i))
    return np.asarray(kept, np.int64)


def _iou(a, b) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0


def letterbox(photo: np.ndarray, size: int):
    """``photo`` H x W x 3 uint8 -> (``size`` x ``size`` x 3 uint8 letterboxed: the longer
    side fitted, the other padded with zeros on both sides, as ``convert --crop letterbox``;
    its box ``(x0, y0, x1, y1)`` in photo pixels: input x maps to ``x0 + x (x1 - x0) / size``)."""
    from PIL import Image

    height, width = photo.shape[:2]
    box = letterbox_box(width, height)
    scale = size / (box[2] - box[0])
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = np.zeros((size, size, 3), np.uint8)
    resized = np.asarray(Image.fromarray(photo).resize(inner, Image.BILINEAR))
    left, top = round(-box[0] * scale), round(-box[1] * scale)
    canvas[top:top + inner[1], left:left + inner[0]] = resized[:size - top, :size - left]
    return canvas, np.asarray(box, np.float32)


def to_photo(boxes: np.ndarray, frame: np.ndarray, size: int) -> np.ndarray:
    """Boxes N x 4 in the pixels of a ``size`` input framing the photo's ``frame`` (x0, y0, x1,
    y1 photo px, ``letterbox``'s box) -> photo pixels: ``x0 + x (x1 - x0) / size`` per axis."""
    scale = np.tile((frame[2:] - frame[:2]) / size, 2)
    return np.tile(frame[:2], 2) + np.asarray(boxes, np.float32) * scale


def square_crops(photo: np.ndarray, boxes: np.ndarray, side: int = CROP_SIDE):
    """Each box's square (side ``max(w, h)`` about its centre) cut from ``photo`` and resized to
    ``side`` px (zeros outside the photo). Returns ``(crops N x side x side x 3 uint8, origin
    N x 2, scale N)``: crop pixel ``u`` (pixel centres at integers) is photo pixel
    ``origin + (u + 0.5) * scale``."""
    from PIL import Image

    image = Image.fromarray(photo)
    crops, origin, scale = [], [], []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64):
        width = max(1, int(round(max(x1 - x0, y1 - y0))))
        # PIL's pixel i spans [i, i + 1): the square's left edge x - side / 2 (pixel-centre
        # coordinates) is PIL's x - side / 2 + 0.5, rounded to whole pixels.
        left = int(round((x0 + x1) / 2 - width / 2 + 0.5))
        top = int(round((y0 + y1) / 2 - width / 2 + 0.5))
        crop = image.crop((left, top, left + width, top + width)).resize((side, side),
                                                                         Image.BILINEAR)
        crops.append(np.asarray(crop))
        origin.append((left - 0.5, top - 0.5))
        scale.append(width / side)
    if not crops:
        return np.zeros((0, side, side, 3), np.uint8), np.zeros((0, 2)), np.zeros(0)
    return np.stack(crops), np.asarray(origin), np.asarray(scale)


class PersonDetector:
    """A detector work dir (or shipped name) -> per photo ``(boxes N x 4 photo px, scores N)``,
    best first, at most ``max_people`` with score >= ``min_score``, duplicates dropped.

    ``size``: the side photos are letterboxed to (default the detector's ``data.input_size``;
    any multiple of 32: the network is fully convolutional).
    """

    def __init__(self, source, checkpoint: str = "best", size: Optional[int] = None,
                 max_people: int = MAX_PEOPLE, min_score: float = MIN_SCORE):
        import tensorflow as tf

        from tfpose.core import zoo
        from tfpose.input.normalize import normalize_images
        from tfpose.tasks import get_task, load_workdir

        cfg, model, _ = load_workdir(zoo.resolve(source), checkpoint)
        task = get_task(cfg)
        if not task.is_detector:
            raise DataError(f"{source}: a person detector is needed (model.kind "
                            f"efficientnet_lite0_centernet). Received: a {task.kind} model")
        if max_people < 1:
            raise DataError(f"max_people must be >= 1. Received: {max_people}")
        self.size = size or cfg.data.input_size
        self.max_people, self.min_score = max_people, min_score
        network = task.network_at_size(model, self.size)
        # Candidates beyond max_people: some are dropped as duplicates afterwards.
        candidates = 2 * max_people

        @tf.function(reduce_retracing=True)
        def detect(images):
            inputs = normalize_images(images, cfg.data.normalization)
            return task.decode_outputs(network({"image": inputs}, training=False), candidates)

        self._detect = detect

    def __call__(self, photos: Sequence[np.ndarray]):
        if not len(photos):
            return []
        framed = [letterbox(np.asarray(p, np.uint8), self.size) for p in photos]
        boxes, scores = self._detect(np.stack([image for image, _ in framed]))
        found = []
        for (_, frame), image_boxes, image_scores in zip(framed, boxes.numpy(), scores.numpy()):
            keep = image_scores >= self.min_score
            image_boxes = to_photo(image_boxes[keep], frame, self.size)
            image_scores = image_scores[keep]
            kept = drop_duplicates(image_boxes, image_scores)[: self.max_people]
            found.append((image_boxes[kept].astype(np.float32), image_scores[kept]))
        return found


class PeoplePredictor:
    """Photos -> one ``PeopleResult`` each: ``detector`` (a ``PersonDetector``, or any callable
    with its call) then ``pose`` (``predict.make_predictor``'s predictor: its box signature).

    ``refine``: predict each person again on the square around its first answer's confident
    joints (``passes.second_pass_boxes``, grown by one heatmap cell of the first crop), as the
    one-person two passes do after the whole photo: the detector's box only has to find the
    person. A person without two confident joints keeps its first answer.
    """

    def __init__(self, detector, pose, batch_size: int = 16, refine: bool = False):
        self.detector, self.pose, self.batch_size = detector, pose, batch_size
        self.refine = refine

    def __call__(self, photos: Sequence[np.ndarray]) -> list:
        from tfpose.serving.passes import SECOND_PASS_PAD, second_pass_boxes

        photos = [np.asarray(p, np.uint8) for p in photos]
        detections = self.detector(photos)
        owners = np.concatenate([np.full(len(boxes), i, np.int64)
                                 for i, (boxes, _) in enumerate(detections)] or [np.zeros(0)])
        boxes = [boxes for boxes, _ in detections]
        keypoints, joint_scores = self._pose_on_boxes(photos, boxes)
        if self.refine and len(keypoints):
            sides = np.concatenate([np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
                                    for b in boxes])
            second, valid = second_pass_boxes(keypoints, joint_scores, pad=SECOND_PASS_PAD * sides)
            again = [np.where(valid[owners == i, None], second[owners == i], first)
                     for i, first in enumerate(boxes)]
            keypoints, joint_scores = self._pose_on_boxes(photos, again)
        results = []
        for i, (found, scores) in enumerate(detections):
            mine = owners == i
            height, width = photos[i].shape[:2]
            shown = np.clip(found, 0, [width, height, width, height]).astype(np.float32)
            results.append(PeopleResult(shown, scores.astype(np.float32),
                                        keypoints[mine].astype(np.float32),
                                        joint_scores[mine].astype(np.float32)))
        return results

    def _pose_on_boxes(self, photos: list, boxes: list):
        """The pose model on each box's square crop (``boxes[i]`` N_i x 4 of ``photos[i]``):
        keypoints (sum N_i) x K x 2 in photo pixels and their scores (sum N_i) x K."""
        crops, origins, scales = [], [], []
        for photo, image_boxes in zip(photos, boxes):
            image_crops, origin, scale = square_crops(photo, image_boxes)
            crops.append(image_crops)
            origins.append(origin.reshape(-1, 2))
            scales.append(scale)
        crops = np.concatenate(crops) if crops else np.zeros((0, CROP_SIDE, CROP_SIDE, 3))
        keypoints, joint_scores = self._pose(crops)
        if len(crops):
            keypoints = ((keypoints + 0.5) * np.concatenate(scales)[:, None, None]
                         + np.concatenate(origins)[:, None, :])
        return keypoints, joint_scores

    def _pose(self, crops: np.ndarray):
        """The pose model on every crop (its whole square), in batches: keypoints N x K x 2 in
        crop pixels and their scores N x K."""
        whole = np.array([-0.5, -0.5, CROP_SIDE - 0.5, CROP_SIDE - 0.5], np.float32)
        keypoints, scores = [], []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start:start + self.batch_size]
            out = self.pose.predict_frames(batch, np.tile(whole, (len(batch), 1)))
            keypoints.append(out["keypoints"])
            scores.append(out["keypoint_scores"])
        if not keypoints:
            return np.zeros((0, 16, 2), np.float32), np.zeros((0, 16), np.float32)
        return np.concatenate(keypoints), np.concatenate(scores)


# Distinct hues, one per person in drawing order (then repeating); each person's right side is
# drawn lighter and its left side darker, so sides stay readable within a colour.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128))


def person_colours(index: int):
    """(right, left, centre, box) RGB colours of the ``index``-th person of a drawing."""
    base = np.asarray(PALETTE[index % len(PALETTE)], np.float64)
    light = tuple(int(v) for v in base + (255 - base) * 0.45)
    dark = tuple(int(v) for v in base * 0.6)
    return light, dark, tuple(int(v) for v in base), tuple(int(v) for v in base)


def draw_people(image, result: PeopleResult):
    """The photo (PIL or H x W x 3 uint8) with every person's box and skeleton, each in its own
    colour (``person_colours``); nobody found: the photo as it is. Returns a PIL image."""
    from PIL import Image, ImageDraw

    from tfpose.viz.visualize import draw_skeleton

    canvas = image.copy() if isinstance(image, Image.Image) else Image.fromarray(
        np.asarray(image, np.uint8))
    canvas = canvas.convert("RGB")
    width = max(1, min(canvas.size) // 200)
    for i in range(len(result)):
        right, left, centre, box = person_colours(i)
        ImageDraw.Draw(canvas).rectangle([float(v) for v in result.boxes[i]], outline=box,
                                         width=width)
        canvas = draw_skeleton(canvas, result.keypoints[i], colors=(right, left, centre))
    return canvas


def people_record(name, result: PeopleResult) -> dict:
    """The JSON line of one photo: ``persons`` best first (``PeopleResult.to_json``), and the
    top-level ``keypoints`` / ``scores`` of the first person (None when nobody is found), so
    readers of one-person lines keep working."""
    persons = result.to_json()
    first = persons[0] if persons else {"keypoints": None, "scores": None}
    return {"image": str(name), "keypoints": first["keypoints"], "scores": first["scores"],
            "class": None, "probability": None, "persons": persons}


def predict_people_files(predictor: PeoplePredictor, paths: Sequence, out_dir=None, *,
                         batch_size: int = 8, errors: str = "raise",
                         drawing_names: Optional[Sequence] = None):
    """``tfpose predict``'s every-person answer for photo files: one ``people_record`` per
    photo, in order, with ``drawing`` (``OUT/<name>.png``, every person drawn) when ``out_dir``
    is given. A photo that cannot be read or decoded costs only itself, as in
    ``predict.predict_files``: ``errors="raise"`` raises its DataError, ``"record"`` yields
    ``{"image": path, "error": message}`` in its place."""
    from pathlib import Path

    from tfpose.serving.images import decode_rgb, read_photo
    from tfpose.serving.predict import ERROR_HANDLING, drawing_paths

    if errors not in ERROR_HANDLING:
        raise DataError(f"errors must be one of {', '.join(ERROR_HANDLING)}. Received: {errors!r}")
    paths = [Path(p) for p in paths]
    targets = None
    if out_dir is not None:
        targets = drawing_paths(Path(out_dir), drawing_names or [Path(p.stem) for p in paths])
    for start in range(0, len(paths), batch_size):
        chunk, photos = paths[start:start + batch_size], {}
        failures = {}
        for k, path in enumerate(chunk):
            data = read_photo(path)
            if isinstance(data, DataError):
                failures[k] = data
                continue
            try:
                photos[k] = decode_rgb(data, path)
            except DataError as err:
                failures[k] = err
        answers = dict(zip(photos, predictor(list(photos.values()))))
        for k, path in enumerate(chunk):
            if k in failures:
                if errors == "raise":
                    raise failures[k]
                yield {"image": str(path), "error": str(failures[k])}
                continue
            rec = people_record(path, answers[k])
            if targets is not None:
                target = targets[start + k]
                target.parent.mkdir(parents=True, exist_ok=True)
                draw_people(photos[k], answers[k]).save(target)
                rec["drawing"] = str(target)
            yield rec
