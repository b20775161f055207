"""Every person of a video clip or a camera, each a track with a stable id (issue 33).

``predict_people_video`` reads frames as ``video.predict_video`` does (PyAV, streamed, a cut
detected on thumbnails), finds every person of each frame with ``people.PeoplePredictor``
(detector on the whole frame, the pose model on each person; frames batched, ``batch_size`` at
a time: no frame's answer depends on the one before) and hands them, in frame order, to
``tracks.PeopleTracker``, which gives each person its ``track_id`` and smooths each track's
joints on its own (causal One-Euro filters; a cut ends every track).

Outputs, for a clip ``NAME.EXT``: ``OUT/NAME.jsonl``, one line per frame ``{"frame", "time_s",
"keypoints", "scores", "class", "probability", "persons": [{"track_id", "box", "score",
"keypoints", "scores"}, ...]}`` (best first; the top-level joints are the first person's, None
when nobody is in the frame), and, unless ``draw=False``, ``OUT/NAME.mp4`` with each track
drawn in its own colour, the same colour in every frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from tfpose.serving.video import VideoReader, deliver, frames_and_cuts


def predict_people_video(people, source, out_dir=None, *, name: Optional[str] = None,
                         format: Optional[str] = None, draw: bool = True, smooth: bool = True,
                         min_cutoff: Optional[float] = None, beta: Optional[float] = None,
                         batch_size: int = 8, max_frames: Optional[int] = None,
                         on_record: Optional[Callable[[dict], None]] = None,
                         on_frame: Optional[Callable[[dict, np.ndarray, object], None]] = None,
                         progress: Optional[Callable[[int, Optional[int], float], None]] = None,
                         annotate: Optional[Callable[[dict], dict]] = None) -> dict:
    """``people`` (a ``people.PeoplePredictor``) over the frames of ``source``; the arguments,
    callbacks, errors and returned summary are ``video.predict_video``'s (its ``tracked_frames``
    here: the frames where someone continued a track), plus ``tracks``: the ids given."""
    from tfpose.serving.people import people_record
    from tfpose.serving.tracks import PeopleTracker
    from tfpose.serving.video import Outputs, summarise

    name = name or Path(str(source)).stem
    if format:  # a live camera: answer each frame as it arrives
        batch_size = 1
    with VideoReader(source, format=format, name=name if format else source) as reader:
        outputs = Outputs(out_dir, name, reader, draw, source)
        tracker = PeopleTracker(smooth, min_cutoff, beta)
        state = {"tracked": 0, "cuts": 0, "done": 0}
        start = time.perf_counter()
        interrupted = False

        def answer(batch):
            for (index, time_s, frame, cut), result in zip(batch, people([b[2] for b in batch])):
                if cut:
                    tracker.reset()
                known = {t.track_id for t in tracker.tracks}
                ids, smoothed = tracker.update(result.boxes, result.keypoints,
                                               result.keypoint_scores, time_s)
                result.keypoints = smoothed.astype(np.float32)
                rec = {"frame": index, "time_s": time_s, **people_record(None, result)}
                rec.pop("image")
                for person, track_id in zip(rec["persons"], ids):
                    person["track_id"] = int(track_id)
                if rec["persons"]:
                    rec["keypoints"] = rec["persons"][0]["keypoints"]
                state["tracked"] += bool(known & set(ids.tolist()))
                deliver(outputs, rec, frame, None, annotate, on_record, on_frame)
                state["done"] += 1
                if progress is not None:
                    progress(state["done"], reader.expected_frames, time.perf_counter() - start)

        try:
            try:
                batch = []
                for item in frames_and_cuts(reader, max_frames):
                    state["cuts"] += item[3]
                    batch.append(item)
                    if len(batch) == batch_size:
                        answer(batch)
                        batch = []
                if batch:
                    answer(batch)
            except KeyboardInterrupt:  # a camera runs until Ctrl-C: finish the files
                interrupted = True
        finally:
            paths = outputs.close()
        summary = summarise(reader, outputs, paths, source, state["done"], state["tracked"],
                            state["cuts"], time.perf_counter() - start, interrupted, max_frames)
        summary["tracks"] = tracker.next_id - 1
        return summary
