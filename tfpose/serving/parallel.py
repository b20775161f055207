"""Photos answered by several worker processes: ``tfpose predict`` on many photos.

Through LiteRT, XNNPACK's threads keep every core busy only inside the network; decoding,
cropping, the detector's peaks and the host's Python run on one core while the others wait (a
quarter of an every-person photo's time on the 2-core box). N processes with 1/N of the
threads each keep every core busy, as MediaPipe's benchmark runs one process per core: every
person on LSPET's 900 held-out photos ran at 58.3 images/s in one process on 2 threads and at
64.7 in two processes on one thread each, their start included (MediaPipe: 68.0; session 13,
docs/multi_person.md).

Each worker builds its predictor once (``PredictorSpec.build``) and answers chunks of
``batch_size`` photos through ``predict.predict_files``, drawings included; the records come
back in the photos' order, a photo that cannot be used as its ``{"image", "error"}`` record
(``errors="record"``). Workers start with ``spawn``: a fork of a process whose LiteRT or
TensorFlow thread pools have run can deadlock.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from tfpose.serving.people import MAX_PEOPLE, MIN_SCORE

# Each worker's (predictor, people, activity model), built once by ``_start_worker``.
_WORKER: dict = {}


@dataclasses.dataclass(frozen=True)
class PredictorSpec:
    """What ``tfpose predict`` builds for photos, as picklable values: the pose model
    (``predict.make_predictor``'s arguments), the person ``detector`` with its options
    (``people.every_person``; None or ``"none"``: one skeleton per photo) and an ``activity``
    model (``activity.ActivityModel.load``'s source; None: none)."""

    source: str
    checkpoint: str = "best"
    passes: int = 2
    engine: str = "auto"
    detector: Optional[str] = None
    max_people: int = MAX_PEOPLE
    min_score: float = MIN_SCORE
    activity: Optional[str] = None

    def build(self):
        """``(predictor, people or None, activity model or None)``."""
        from tfpose.serving.people import every_person
        from tfpose.serving.predict import make_predictor

        predictor = make_predictor(self.source, self.checkpoint, self.passes, self.engine)
        people = every_person(predictor, self.detector, max_people=self.max_people,
                              min_score=self.min_score, engine=self.engine)
        activity = None
        if self.activity is not None:
            from tfpose.serving.activity import ActivityModel

            activity = ActivityModel.load(self.activity)
        return predictor, people, activity


# Photos from which ``tfpose predict`` starts workers by default. Starting them costs ~0.8 s on
# the 2-core box (Python, the imports, each interpreter's XNNPACK weight packing): every person
# on the 100 LSP val photos ran at 81.3 images/s in-process and 53.9 with two workers; on
# LSPET's 900, 58.3 against 64.7; on 200 phone-size photos (4032 px), 19.2 against 23.8. Small
# photos break even near 350.
AUTO_MIN_PHOTOS = 400


def auto_workers(predictor, photos: int, activity: bool) -> int:
    """``tfpose predict``'s default: one worker per core when ``predictor`` runs on LiteRT and
    there are ``AUTO_MIN_PHOTOS`` photos or more, else 1 (in-process). TensorFlow's own
    threads cover its graph, and a worker would import it again (~6 s); so would an activity
    model."""
    from tfpose.serving.litert import LiteRTPredictor

    cores = os.cpu_count() or 1
    if activity or not isinstance(predictor, LiteRTPredictor) or photos < AUTO_MIN_PHOTOS:
        return 1
    return cores


def predict_files_parallel(spec: PredictorSpec, images: Sequence, out_dir=None, *,
                           workers: int, batch_size: int = 8,
                           boxes: Optional[np.ndarray] = None,
                           drawing_names: Optional[Sequence] = None) -> Iterator[dict]:
    """``predict.predict_files(..., errors="record")``'s records for ``images``, in order,
    answered by ``workers`` processes (each with ``cores // workers`` LiteRT threads) in
    chunks of ``batch_size`` photos. ``boxes`` (N x 4) and ``drawing_names`` as there."""
    from tfpose.serving.predict import drawing_paths

    paths = [Path(p) for p in images]
    names = [None] * len(paths)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Made unique over all photos here: a chunk sees only its own names.
        targets = drawing_paths(out_dir, drawing_names or [Path(p.stem) for p in paths])
        names = [str(t.relative_to(out_dir).with_suffix("")) for t in targets]
    chunks = []
    for start in range(0, len(paths), batch_size):
        part = slice(start, start + batch_size)
        chunks.append((paths[part], names[part], None if boxes is None else boxes[part]))
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(spec, threads)) as pool:
        for records in pool.imap(_answer, [(chunk, out_dir) for chunk in chunks]):
            yield from records


def _start_worker(spec: PredictorSpec, threads: int) -> None:
    from tfpose.serving import litert

    litert.THREADS = threads
    _WORKER["answer"] = spec.build()


def _answer(task) -> list:
    from tfpose.serving.predict import predict_files

    (paths, names, boxes), out_dir = task
    predictor, people, activity = _WORKER["answer"]
    return list(predict_files(None, paths, out_dir, boxes=boxes, predictor=predictor,
                              batch_size=len(paths), errors="record",
                              drawing_names=None if out_dir is None else names,
                              activity=activity, people=people))
