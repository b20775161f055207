"""tfpose from Python: load a model, call it on photos, decoded images or a video.

    import tfpose

    model = tfpose.load("lspet")        # a shipped name, a work dir, an export or a .tflite
    res = model("photo.jpg")            # a path, encoded bytes, or an H x W x 3 uint8 RGB array
    res.keypoints    # (P, K=16, 2) float32, (x, y) in the displayed photo's pixels, MPII order
    res.scores       # (P, 16) float32
    res.visible      # (P, 16) bool: the joints taken to be in the photo (those drawn)
    res.boxes        # (P, 4) float32 x0, y0, x1, y1: the box each skeleton was predicted in
    res.joint_names  # the 16 names, index k of keypoints[:, k]
    res.activity     # per person {"class", "probability", "top"}: tfpose.load("lspet",
                     #   activity="mpii-activity"), or a two-stage model's class
    res.draw()       # H x W x 3 uint8, the skeletons drawn
    res.to_json()    # the JSON line `tfpose predict` prints for the same photo
    model(["a.jpg", "b.jpg"])           # a list in, a list out, batched
    for res in model.video("clip.mp4"): # or a camera index; tracking and smoothing as the CLI
        ...

``P`` is the number of people found (the person detector, then the pose model on each:
``serving.people``), best first; 0 for nobody or when a photo could not be answered; 1 with a
``box`` or ``detector=None`` (one skeleton from the whole photo) and for video, which follows
one person. Calls go through the same predictors as ``tfpose predict`` (``serving.predict``), so
the Python answer and the CLI's are the same numbers.

Errors: a single input that cannot be read or decoded raises ``DataError`` naming it; in a
list, each bad item comes back as a ``Result`` whose ``error`` names it (P = 0), and the
others are answered.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.skeleton import JOINT_NAMES, NUM_JOINTS
from tfpose.serving import people

Image = Union[str, Path, bytes, np.ndarray]


@dataclass
class Result:
    """One photo's (or frame's) answer. ``record`` is its JSON line as a dict; the arrays are
    read from it, so ``to_json`` and the arrays never disagree."""

    record: dict
    source: object = field(default=None, repr=False)  # bytes or H x W x 3 uint8 (for draw)
    box: Optional[np.ndarray] = field(default=None, repr=False)  # the box drawn in yellow

    joint_names = JOINT_NAMES

    @property
    def error(self) -> Optional[str]:
        """Why this input got no answer (it names the input), or None."""
        return self.record.get("error")

    @property
    def image(self) -> Optional[str]:
        """The input's name: its path, ``image i`` for bytes and arrays, None for a frame."""
        return self.record.get("image")

    def _persons(self) -> list:
        if self.error is not None or self.record.get("keypoints") is None:
            return []
        return self.record.get("persons") or [self.record]

    @property
    def keypoints(self) -> np.ndarray:
        """(P, 16, 2) float32, (x, y) pixels of the displayed image (pixel centres at integers)."""
        return np.asarray([p["keypoints"] for p in self._persons()],
                          np.float32).reshape(-1, NUM_JOINTS, 2)

    @property
    def scores(self) -> np.ndarray:
        """(P, 16) float32: each joint's confidence (heatmap maximum)."""
        return np.asarray([p["scores"] for p in self._persons()],
                          np.float32).reshape(-1, NUM_JOINTS)

    @property
    def visible(self) -> np.ndarray:
        """(P, 16) bool: the joints taken to be in the photo, those ``draw`` shows (score >=
        ``viz.visualize.DRAW_MIN_SCORE``). docs/everyday.md, "Per-joint visibility", gives how
        many cut-off joints that rule catches and how many joints in the frame it costs."""
        from tfpose.viz.visualize import shown_joints

        return shown_joints(self.scores).reshape(-1, NUM_JOINTS)

    @property
    def boxes(self) -> np.ndarray:
        """(P, 4) float32 x0, y0, x1, y1: the box each skeleton was predicted in (the second
        pass's square, the given box, or the whole image's frame when there was none)."""
        persons = self._persons()
        if "persons" in self.record:
            return np.asarray([p["box"] for p in persons], np.float32).reshape(-1, 4)
        if not persons:
            return np.zeros((0, 4), np.float32)
        if self.box is not None:
            return np.asarray(self.box, np.float32).reshape(1, 4)
        height, width = self._image_size()
        return np.array([[0, 0, width, height]], np.float32)

    @property
    def track_ids(self) -> np.ndarray:
        """(P,) int64: each person's track id in a video (stable from frame to frame); -1
        where there is none (a photo)."""
        return np.asarray([p.get("track_id", -1) for p in self._persons()], np.int64)

    @property
    def activity(self) -> list:
        """Per person: ``{"class", "probability", "top"}`` (None for a person with too few
        joints to read) when an activity model is attached, ``{"class", "probability"}`` from a
        two-stage model, else ``[]``."""
        persons = self._persons()
        if persons and "activity" in persons[0]:
            return [p["activity"] for p in persons]
        if persons and self.record.get("class") is not None:
            return [{"class": self.record["class"], "probability": self.record["probability"]}]
        return []

    def _pixels(self) -> np.ndarray:
        from tfpose.serving.images import decode_rgb

        if isinstance(self.source, np.ndarray):
            return np.asarray(self.source, np.uint8)
        if self.source is None:
            raise DataError(f"{self.image}: no pixels kept to draw on")
        return decode_rgb(self.source, self.image)

    def _image_size(self) -> tuple:
        """(H, W) of the displayed image; a photo's from its header (no decode)."""
        from tfpose.serving.images import displayed_size

        if isinstance(self.source, (bytes, bytearray)):
            width, height = displayed_size(self.source, self.image)
            return height, width
        return self._pixels().shape[:2]

    def draw(self) -> np.ndarray:
        """The image (EXIF orientation applied) with the skeletons drawn: H x W x 3 uint8."""
        from tfpose.serving.predict import draw_on

        if self.error is not None:
            raise DataError(self.error)
        return np.asarray(draw_on(self._pixels(), self.record, self.box), np.uint8)

    def to_json(self) -> str:
        """The JSON line ``tfpose predict`` prints for this input."""
        return json.dumps(self.record)


class Model:
    """A loaded model; see the module docstring. Build it with ``tfpose.load``."""

    def __init__(self, source="lspet", *, activity=None, engine: str = "auto", passes: int = 2,
                 checkpoint: str = "best", batch_size: int = 8, detector=people.DETECTOR,
                 max_people: int = people.MAX_PEOPLE, min_score: float = people.MIN_SCORE):
        from tfpose.serving.predict import make_predictor

        self.source = str(source)
        self.batch_size = int(batch_size)
        self._predictor = make_predictor(source, checkpoint, passes, engine)
        self._people = people.every_person(self._predictor, detector, max_people=max_people,
                                           min_score=min_score, engine=engine)
        self._activity = None
        if activity is not None:
            from tfpose.serving.activity import ActivityModel

            self._activity = ActivityModel.load(activity)

    def __repr__(self) -> str:
        return f"tfpose.Model({self.source!r}, {type(self._predictor).__name__})"

    def __call__(self, images: Union[Image, Sequence[Image]], *, box=None):
        """One input -> a ``Result`` (DataError if it cannot be answered); a list or tuple of
        inputs -> a list of ``Result`` in the same order (bad items carry ``error``).

        An input is a file path, encoded image bytes (JPEG, PNG, WebP, TIFF, BMP, GIF), or an
        H x W x 3 uint8 RGB array. ``box`` (x0, y0, x1, y1 pixels) skips the search for the
        person on the whole image, for every input.

        A lossless photo gives the same answer as bytes or as its array. A JPEG's bytes are
        decoded at 1/2 to 1/8 scale in the DCT domain where the crop shrinks it that much (as
        the training records were made), its array is resampled from full resolution: on the
        sample photos ``lspet``'s joints then differ by a median of 1-6 px."""
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        results = []
        for start in range(0, len(items), self.batch_size):
            results += self._batch(items[start:start + self.batch_size], start, box)
        if single and results[0].error is not None:
            raise DataError(results[0].error)
        return results[0] if single else results

    def _batch(self, items: list, offset: int, box) -> list:
        from tfpose.serving.images import read_photo
        from tfpose.serving.predict import predict_items

        names, inputs = [], []
        for i, item in enumerate(items):
            if isinstance(item, (str, Path)):
                names.append(str(item))
                inputs.append(read_photo(item))
            elif isinstance(item, (bytes, bytearray, memoryview, np.ndarray)):
                names.append(f"image {offset + i}")
                inputs.append(np.asarray(item) if isinstance(item, np.ndarray) else bytes(item))
            else:
                names.append(f"image {offset + i}")
                inputs.append(DataError(f"image {offset + i}: expected a path, bytes or an "
                                        f"H x W x 3 uint8 array; received {type(item).__name__}"))
        boxes = None if box is None else np.tile(np.asarray(box, np.float32), (len(items), 1))
        results = []
        answers = predict_items(self._predictor, names, inputs, boxes, self._people)
        for name, item, answer in zip(names, inputs, answers):
            if isinstance(answer, DataError):
                results.append(Result({"image": name, "error": str(answer)}))
            else:
                rec, drawn_box = answer
                results.append(Result(self._with_activity(rec), item, drawn_box))
        return results

    def _with_activity(self, rec: dict) -> dict:
        """The record with each person's activity when an activity model is attached (the same
        ``serving.activity.attach`` as ``tfpose predict --activity``)."""
        if self._activity is None:
            return rec
        from tfpose.serving.activity import attach

        return attach(rec, self._activity)

    def video(self, source: Union[str, Path, int], *, track: bool = True, smooth: bool = True,
              lookahead: Optional[int] = None, max_frames: Optional[int] = None
              ) -> Iterator[Result]:
        """A ``Result`` per frame of a video file, or of camera ``source`` (an int), in order,
        as ``tfpose predict CLIP`` computes them. With a detector (the default) every person
        of each frame, each with its ``track_id`` in ``record["persons"]`` (``Result.track_ids``)
        and its joints smoothed along its track; with ``detector=None`` one person, tracked
        from frame to frame (``track``) and smoothed with ``lookahead`` frames of delay
        (default 2 for a file, 0 for a camera). Each result's ``record`` has ``frame`` and
        ``time_s``; ``draw()`` draws on the frame. Breaking out of the loop stops reading."""
        from tfpose.serving.people_video import predict_people_video
        from tfpose.serving.video import camera_source, predict_video

        fmt = None
        if isinstance(source, int):
            source, fmt = camera_source(source)
        answers: queue.Queue = queue.Queue(maxsize=4)
        stop = threading.Event()

        class Stopped(Exception):
            """Raised inside the reader when the consumer has left the loop."""

        def on_frame(rec, frame, box):
            if stop.is_set():
                raise Stopped
            answers.put(("frame", Result(self._with_activity(dict(rec)), frame, box)))

        def run():
            try:
                if self._people is not None:  # every person, each a track
                    predict_people_video(self._people, source, None, format=fmt, draw=False,
                                         smooth=smooth, max_frames=max_frames,
                                         on_frame=on_frame)
                else:
                    predict_video(self._predictor, source, None, format=fmt, draw=False,
                                  track=track, smooth=smooth, lookahead=lookahead,
                                  max_frames=max_frames, on_frame=on_frame)
                answers.put(("done", None))
            except Stopped:
                answers.put(("done", None))
            except BaseException as err:  # handed to the consumer, raised there
                answers.put(("error", err))

        worker = threading.Thread(target=run, name="tfpose-video", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = answers.get()
                if kind == "frame":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
            while worker.is_alive():  # let a blocked put() finish so the reader sees `stop`
                try:
                    answers.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.join()


def load(source="lspet", *, activity=None, engine: str = "auto", passes: int = 2,
         checkpoint: str = "best", batch_size: int = 8, detector=people.DETECTOR,
         max_people: int = people.MAX_PEOPLE, min_score: float = people.MIN_SCORE) -> Model:
    """A ``Model`` for ``source``: a shipped model's name (``tfpose models``), a training work
    dir, a SavedModel (or a TF Serving model folder) or a ``.tflite``.

    ``activity``: an activity model (``"mpii-activity"``, or a work dir of
    ``scripts/train_activity.py``) that names each person's activity from their joints:
    ``Result.activity`` then holds ``{"class", "probability", "top"}`` per person.

    ``engine``: ``auto`` (LiteRT where the model has a LiteRT twin, else TensorFlow),
    ``tensorflow`` or ``litert``; ``passes``: 2 finds each person (on the whole image, or on
    the detector's box) then looks again at the square around their joints, 1 stops after the
    first (about twice as fast); ``batch_size``: inputs per call.

    ``detector``: the person detector that finds every person of a photo first (a shipped
    name, a work dir or a ``.tflite``; None: one skeleton from the whole photo);
    ``max_people`` persons at most, each with a detector score >= ``min_score``.
    """
    return Model(source, activity=activity, engine=engine, passes=passes,
                 checkpoint=checkpoint, batch_size=batch_size, detector=detector,
                 max_people=max_people, min_score=min_score)
