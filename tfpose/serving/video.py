"""Pose on a video clip or a camera: decode, track, smooth, one JSON line per frame, a drawn clip.

Decoding and encoding go through PyAV (``av``, FFmpeg in its wheels): any container and codec
FFmpeg reads. Frames are streamed (one decoded frame, or one ``batch_size`` batch without
tracking, is in memory at a time), so memory does not grow with the clip's length.

Per frame (``predict_video``):

* Tracking (default): after a frame whose joints are confident, the next frame is predicted in
  one pass on the square around those joints (``passes.second_pass_boxes``: the second pass of
  the still-image recipe, with the previous frame standing in for pass 1; ``TRACK_MARGIN`` 1.0
  keeps that box as is), taken from the previous frame's raw joints (before smoothing, so the
  filter's lag never moves the crop). When the previous frame's mean joint score is under
  ``TRACK_MIN_SCORE`` (person lost, the first frame) or the shot changes (a cut), the frame is
  searched whole, in the still-image passes. ``track=False`` runs every frame alone.
* Smoothing (default): ``smoothing.PoseSmoother``, on the frames' time stamps: one-frame jumps of
  single joints held back, then One-Euro filters on the person's centre and on the pose around
  it; then ``smoothing.CentredWindow``: each frame waits ``lookahead`` frames (by default
  ``smoothing.LOOKAHEAD`` for a file, 0 for a camera, answered as each frame arrives) and its
  joints become a Gaussian mean over the frames either side. Both restart when the person is lost or at a cut, so neither drags
  joints from one shot into the next.

Outputs, for a clip ``NAME.EXT``: ``OUT/NAME.jsonl``, one line per frame ``{"frame", "time_s",
"keypoints" (16 x [x, y], original pixels), "scores", "class", "probability", "tracked"}``,
and, unless ``draw=False``, ``OUT/NAME.mp4``: the frames with the skeleton drawn, same size and
frame rate, H.264 (``libx264``, in PyAV's wheels) or MPEG-4 part 2 where FFmpeg lacks x264.

Bad input is a ``DataError`` naming the file. A clip damaged or truncated mid-stream keeps the
frames decoded before the damage: they are written and flushed, then the error says how many.
"""

from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from tfpose.core.errors import DataError, StorageError
from tfpose.serving.images import IMAGE_SUFFIXES

# Extensions taken as video without probing (anything else that is not an image is probed).
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
                    ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".y4m"}
# Track from the previous frame while its mean joint score (heatmap maxima, 16 joints) reaches
# this. On the made clips (benchmarks/video.py) the shipped lspet model's mean score is ~0.4 on a
# person it follows and drops under 0.2 on a crop the person has left (after a cut); 0.25 lost
# more frames for no gain, and the box keeps the still recipe's per-joint 0.1.
TRACK_MIN_SCORE = 0.2
# Encoders tried in order: H.264 (x264, in PyAV's wheels), then FFmpeg's native MPEG-4 part 2.
CODECS = ("libx264", "mpeg4")
# The tracking crop is the still recipe's second-pass square (1.25 x the joints' extent) grown
# by this factor around its centre. 1.0: exactly the box the crop-trained lspet model's training
# crops and the still pass 2 use (a larger crop lowers the person's resolution; the model
# trained before session 4 needed 1.5: at 1.0 its crop shrank onto wrong joints). Measured with
# session 4's lspet (benchmarks/video.py, unsmoothed PCK@0.2 on runs/video_clips pan, cuts and
# make_pose_clip.py --skip 6 pan, cuts): --no-track 58.1, 57.3, 6.4, 35.8; 0.9x 41.8, 53.7,
# 4.0, 30.3; 1.0x 59.8, 59.4, 6.7, 36.6; 1.1x 59.1, 55.6, 7.8, 33.5; 1.25x 59.2, 54.8, 6.4,
# 31.5; 1.5x 57.5, 45.9, 8.5, 30.8.
TRACK_MARGIN = 1.0
# A hard cut (a new shot): the 32 x 24 grey thumbnails of consecutive frames differ by more than
# this many grey levels on average. Measured on the made clips: smooth pan, zoom and rotation
# <= 7.3 (median 2.6-3.3); the four cuts 44.7-80.3. A cut restarts tracking and smoothing.
CUT_THRESHOLD = 25.0
DEFAULT_FPS = Fraction(25)  # when a camera or a stream does not say


def is_video(path) -> bool:
    """A video by its extension, or (an extension neither video nor image) not an image PIL
    reads but a file FFmpeg opens with a video stream. An image extension is never a video, so
    a broken photo gets the photo's error (FFmpeg would open a .jpg as a one-frame stream)."""
    path = Path(path)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return False
    from PIL import Image

    try:
        with Image.open(path):
            return False
    except Exception:  # noqa: BLE001 - anything PIL refuses is probed below
        pass
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except (av.FFmpegError, OSError):
        return False


def camera_source(index: int) -> tuple[str, Optional[str]]:
    """(FFmpeg input, format) of webcam ``index``: V4L2 ``/dev/videoN`` on Linux, AVFoundation
    device N on macOS, else the platform default (FFmpeg's own device naming)."""
    if sys.platform.startswith("linux"):
        return f"/dev/video{index}", "v4l2"
    if sys.platform == "darwin":
        return str(index), "avfoundation"
    return f"video={index}", "dshow"


class VideoReader:
    """Decoded RGB frames of a file or camera, streamed.

    Iterating yields ``(index, time_s, frame H x W x 3 uint8)``. After the loop, ``damage`` is
    None or why decoding stopped early (an FFmpeg error mid-stream, or fewer frames than the
    container declares). Opening errors are DataErrors naming ``name``.
    """

    def __init__(self, source, *, format: Optional[str] = None, name=None):
        import av

        self.name = str(name if name is not None else source)
        self.damage: Optional[str] = None
        self.count = 0
        try:
            self._container = av.open(str(source), format=format)
        except av.EOFError as err:  # a header and nothing after it
            raise DataError(f"{self.name}: no video frames (the file ends before the first "
                            "one; truncated?)") from err
        except av.FFmpegError as err:
            raise DataError(f"{self.name}: not a video FFmpeg can read ({_reason(err)})") from err
        except OSError as err:
            raise DataError(f"{self.name}: cannot read ({err.strerror or err})") from err
        if not self._container.streams.video:
            self.close()
            raise DataError(f"{self.name}: no video stream (format {self._container.format.name})")
        self._stream = self._container.streams.video[0]
        codec = self._stream.codec_context
        if codec is None or codec.name in (None, "", "none") or not codec.width:
            self.close()
            tag = getattr(self._stream, "codec_tag", "") or "?"
            raise DataError(f"{self.name}: video codec unknown to FFmpeg (tag {tag!r}); "
                            "re-encode it, e.g. to H.264")
        self._stream.thread_type = "AUTO"  # frame threads: decoding keeps up with the model
        self.width, self.height = codec.width, codec.height
        self.fps = Fraction(self._stream.average_rate or self._stream.guessed_rate or DEFAULT_FPS)
        self.expected_frames = self._declared_frames()

    def _declared_frames(self) -> Optional[int]:
        """The frame count the container declares (mp4, avi), else its duration x frame rate
        (mkv, webm), else None (a stream, a camera)."""
        if self._stream.frames:
            return int(self._stream.frames)
        if self._container.duration:
            return int(round(self._container.duration / 1e6 * float(self.fps)))
        return None

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        import av

        stream, base = self._stream, self._stream.time_base
        try:
            for frame in self._container.decode(stream):
                if frame.pts is not None and base is not None:
                    time_s = float(frame.pts * base) - float((stream.start_time or 0) * base)
                else:
                    time_s = self.count / float(self.fps)
                yield self.count, round(time_s, 6), frame.to_ndarray(format="rgb24")
                self.count += 1
        except av.FFmpegError as err:
            self.damage = f"damaged or truncated ({_reason(err)})"
            return
        expected = self.expected_frames
        # One frame of slack: durations round, and some muxers count an edit-list frame.
        if expected and self.count + 1 < expected:
            self.damage = f"truncated: {self.count} of the {expected} frames it declares"

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoWriter:
    """Encodes RGB frames to a video file (H.264, else MPEG-4), ``fps`` frames per second.

    Even sizes use 4:2:0 (what every player reads); odd ones 4:4:4 (x264 only). Errors are
    StorageErrors naming the file.
    """

    def __init__(self, path, fps, width: int, height: int, crf: int = 20):
        import av

        self.path = Path(path)
        self.count = 0
        try:
            self._container = av.open(str(self.path), "w")
        except (av.FFmpegError, OSError) as err:
            raise StorageError(f"{self.path}: cannot write ({_reason(err)})") from err
        even = width % 2 == 0 and height % 2 == 0
        last_err = None
        for codec in CODECS:
            try:
                stream = self._container.add_stream(codec, rate=Fraction(fps))
            except (av.FFmpegError, ValueError) as err:  # encoder missing from this FFmpeg
                last_err = err
                continue
            if not even and codec != "libx264":
                continue
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p" if even else "yuv444p"
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            else:
                stream.bit_rate = 8 * width * height  # ~0.3 bits per pixel per frame at 25 fps
            self.codec, self._stream = codec, stream
            return
        self._container.close()
        raise StorageError(f"{self.path}: no encoder for {width} x {height} among "
                           f"{', '.join(CODECS)} ({last_err})")

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, np.uint8), format="rgb24")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as err:
            raise StorageError(f"{self.path}: cannot write frame {self.count} "
                               f"({_reason(err)})") from err
        self.count += 1

    def close(self) -> None:
        """Flushes the encoder and finishes the file (moov atom): playable from here on."""
        import av

        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as err:
            raise StorageError(f"{self.path}: cannot finish ({_reason(err)})") from err
        finally:
            self._container.close()


def _reason(err) -> str:
    return getattr(err, "strerror", None) or str(err)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A 32 x 24 grey thumbnail (float32, 0..255, box-filtered) of an H x W x 3 frame."""
    from PIL import Image

    grey = Image.fromarray(np.asarray(frame, np.uint8)).convert("L")
    return np.asarray(grey.resize((32, 24), Image.Resampling.BOX), np.float32)


def is_cut(previous: np.ndarray, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """A hard cut between two frames: their thumbnails differ by over ``threshold`` grey
    levels on average."""
    return float(np.abs(current - previous).mean()) > threshold


def track_box(keypoints: np.ndarray, scores: np.ndarray, min_score: float = TRACK_MIN_SCORE,
              margin: float = TRACK_MARGIN) -> Optional[np.ndarray]:
    """The 1 x 4 box to predict the next frame in (x0, y0, x1, y1 original px), from this
    frame's ``keypoints`` 16 x 2 and ``scores`` 16: ``second_pass_boxes`` grown ``margin``
    times around its centre. None when the person is lost (mean score under ``min_score``, or
    no valid second-pass box)."""
    from tfpose.serving.passes import second_pass_boxes

    if not np.isfinite(scores).all() or float(np.mean(scores)) < min_score:
        return None
    boxes, valid = second_pass_boxes(keypoints[None], scores[None])
    if not valid[0]:
        return None
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2.0, (boxes[:, 2:] - boxes[:, :2]) / 2.0
    return np.concatenate([centre - margin * half, centre + margin * half], 1).astype(np.float32)


def predict_video(predictor, source, out_dir=None, *, name: Optional[str] = None,
                  format: Optional[str] = None, draw: bool = True, track: bool = True,
                  smooth: bool = True, min_cutoff: Optional[float] = None,
                  beta: Optional[float] = None, lookahead: Optional[int] = None,
                  track_min_score: float = TRACK_MIN_SCORE,
                  batch_size: int = 8, max_frames: Optional[int] = None,
                  on_record: Optional[Callable[[dict], None]] = None,
                  on_frame: Optional[Callable[[dict, np.ndarray, object], None]] = None,
                  progress: Optional[Callable[[int, Optional[int], float], None]] = None,
                  annotate: Optional[Callable[[dict], dict]] = None) -> dict:
    """Runs ``predictor`` (``predict.make_predictor``) over the frames of ``source`` (a file, or a
    camera input with its ``format``, see ``camera_source``).

    ``out_dir``: writes ``OUT/<name>.jsonl`` and (``draw``) ``OUT/<name>.mp4``; ``name``
    defaults to the file's stem. ``lookahead``: frames each output waits for its smoothing
    window (None: ``smoothing.LOOKAHEAD`` for a file, 0 for a device read with ``format``, a
    camera; ignored without ``smooth``). ``on_record(rec)`` sees
    each JSON record as it is written, ``on_frame(rec, frame, box)`` also its H x W x 3 frame
    and the box drawn (or None); ``progress(frames_done, frames_expected_or_None,
    seconds)`` after each frame written; ``annotate(rec)`` returns each record to write (an
    activity model's ``serving.activity.attach``). Stops after ``max_frames`` read or on Ctrl-C (the
    frames waiting for their window are written, and the outputs finished, either way). Returns
    a summary dict (frames, seconds, fps, tracked frames, outputs, codec). Raises DataError for
    a source that is not a video or has no frames, and, after writing what was decoded, for a
    damaged one.
    """
    from tfpose.serving import smoothing
    from tfpose.serving.predict import record

    name = name or Path(str(source)).stem
    with VideoReader(source, format=format, name=name if format else source) as reader:
        outputs = Outputs(out_dir, name, reader, draw, source)
        filt = smoothing.PoseSmoother(
            smoothing.MIN_CUTOFF if min_cutoff is None else min_cutoff,
            smoothing.BETA if beta is None else beta)
        if lookahead is None:  # a live camera is answered as each frame arrives
            lookahead = 0 if format else smoothing.LOOKAHEAD
        window = smoothing.CentredWindow(lookahead if smooth else 0)
        # box: where to look in the next frame (None: the whole frame); lost: the last frame's
        # person was lost (its joints' mean score under track_min_score), so smoothing restarts.
        state = {"box": None, "lost": True, "tracked": 0, "cuts": 0}
        start = time.perf_counter()
        done = 0
        interrupted = False

        def write(released):
            """Writes frames whose smoothing window is complete: ``(keypoints, (rec, frame,
            box))`` pairs, keypoints None for a model without any."""
            nonlocal done
            for keypoints, (rec, frame, box) in released:
                if keypoints is not None:
                    rec["keypoints"] = np.round(keypoints, 2).tolist()
                rec = deliver(outputs, rec, frame, box, annotate, on_record, on_frame)
                state["tracked"] += rec["tracked"]
                done += 1
                if progress is not None:
                    progress(done, reader.expected_frames, time.perf_counter() - start)

        def finish(batch, answer, used_boxes, tracked):
            for j, (index, time_s, frame, cut) in enumerate(batch):
                rec = {"frame": index, "time_s": time_s, **record(None, answer, j),
                       "tracked": bool(tracked[j])}
                rec.pop("image")
                if "keypoints" not in answer:
                    write([(None, (rec, frame, used_boxes[j]))])
                    continue
                keypoints = answer["keypoints"][j]
                # The next crop from the raw joints: smoothing's lag never moves it.
                box = track_box(keypoints, answer["keypoint_scores"][j], track_min_score)
                if state["lost"] or cut:  # never smooth across a lost person or a cut
                    filt.reset()
                    write(window.flush())
                if smooth:
                    keypoints = filt(keypoints, time_s)
                write(window.push(keypoints, (rec, frame, used_boxes[j])))
                state["lost"] = box is None
                state["box"] = box if track else None

        def read_and_predict():
            batch = []
            for item in frames_and_cuts(reader, max_frames):
                cut = item[3]
                state["cuts"] += cut
                if track:  # sequential: each frame's box comes from the one before
                    box = None if cut else state["box"]  # a new shot: search the whole frame
                    answer = predictor.predict_frames(item[2][None], box)
                    used = box if box is not None else _used_boxes(answer, 1)
                    finish([item], answer, used, [box is not None])
                    continue
                batch.append(item)
                if len(batch) == batch_size:
                    answer = predictor.predict_frames(np.stack([b[2] for b in batch]))
                    finish(batch, answer, _used_boxes(answer, len(batch)), [False] * len(batch))
                    batch = []
            if batch:
                answer = predictor.predict_frames(np.stack([b[2] for b in batch]))
                finish(batch, answer, _used_boxes(answer, len(batch)), [False] * len(batch))

        try:
            try:
                read_and_predict()
            except KeyboardInterrupt:  # a camera runs until Ctrl-C: finish the files
                interrupted = True
            write(window.flush())  # the frames still waiting for their window
        finally:
            paths = outputs.close()
        return summarise(reader, outputs, paths, source, done, state["tracked"], state["cuts"],
                         time.perf_counter() - start, interrupted, max_frames)


def frames_and_cuts(reader: VideoReader, max_frames: Optional[int] = None):
    """``(index, time_s, frame, cut)`` for the first ``max_frames`` frames of ``reader`` (all
    without it); ``cut``: a hard cut before this frame (``is_cut`` on thumbnails)."""
    previous = None
    for taken, (index, time_s, frame) in enumerate(reader):
        if max_frames is not None and taken >= max_frames:
            return
        thumb = thumbnail(frame)
        yield index, time_s, frame, previous is not None and is_cut(previous, thumb)
        previous = thumb


def summarise(reader: VideoReader, outputs: "Outputs", paths: dict, source, done: int,
              tracked: int, cuts: int, seconds: float, interrupted: bool,
              max_frames: Optional[int]) -> dict:
    """A clip's summary dict (frames, seconds, fps, tracked frames, cuts, outputs, codec);
    raises DataError for a clip with no frames decoded, and, after its frames were written,
    for a damaged one."""
    summary = {"source": str(source), "frames": done, "seconds": round(seconds, 3),
               "fps": round(done / seconds, 2) if seconds > 0 else None,
               "tracked_frames": tracked, "cuts": cuts, "video_fps": float(reader.fps),
               "width": reader.width, "height": reader.height, "codec": outputs.codec,
               "interrupted": interrupted, **paths}
    if done == 0 and not interrupted and max_frames != 0:
        raise DataError(f"{reader.name}: no video frames decoded"
                        + (f" ({reader.damage})" if reader.damage else ""))
    if reader.damage and not (max_frames is not None and done >= max_frames):
        kept = ", ".join(str(p) for p in paths.values() if p) or "the JSON lines"
        raise DataError(f"{reader.name}: {reader.damage}; kept the {done} frames before the "
                        f"damage in {kept}")
    return summary


def deliver(outputs: "Outputs", rec: dict, frame, box, annotate, on_record, on_frame) -> dict:
    """One frame's line ``annotate``d, written to ``outputs``, then to the callbacks; returned."""
    rec = rec if annotate is None else annotate(rec)
    outputs.write(rec, frame, box)
    if on_record is not None:
        on_record(rec)
    if on_frame is not None:
        on_frame(rec, frame, box)
    return rec


def _used_boxes(answer: dict, count: int) -> list:
    """The second pass's boxes of a whole-frame answer (None where it kept pass 1), to draw."""
    boxes = answer.get("boxes")
    if boxes is None:
        return [None] * count
    return [b if np.isfinite(b).all() else None for b in boxes]


class Outputs:
    """``OUT/<name>.jsonl`` and ``OUT/<name>.mp4``, opened at the first frame (a clip with no
    frames leaves nothing behind), flushed line by line."""

    def __init__(self, out_dir, name: str, reader: VideoReader, draw: bool, source):
        self.reader, self.draw, self.codec = reader, draw, None
        self.jsonl = self.video = None
        self._lines = self._writer = None
        if out_dir is None:
            if draw:
                raise DataError("a video needs an output folder for its drawing (or draw=False)")
            return
        out_dir = Path(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"{out_dir}: cannot create ({err.strerror or err})") from err
        self.jsonl = out_dir / f"{name}.jsonl"
        self.video = out_dir / f"{name}.mp4" if draw else None
        for path in (self.jsonl, self.video):
            if path is not None and Path(str(source)).exists() and path.exists() \
                    and path.resolve() == Path(str(source)).resolve():
                raise DataError(f"{source}: the output {path} would overwrite the input; "
                                "choose another --out")

    def write(self, rec: dict, frame: np.ndarray, box) -> None:
        if self.jsonl is None:
            return
        if self._lines is None:
            try:
                self._lines = open(self.jsonl, "w", encoding="utf-8")
            except OSError as err:
                raise StorageError(f"{self.jsonl}: cannot write ({err.strerror or err})") from err
            if self.video is not None:
                self._writer = VideoWriter(self.video, self.reader.fps, frame.shape[1],
                                           frame.shape[0])
                self.codec = self._writer.codec
        try:
            self._lines.write(json.dumps(rec) + "\n")
            self._lines.flush()
        except OSError as err:
            raise StorageError(f"{self.jsonl}: cannot write ({err.strerror or err})") from err
        if self._writer is not None:
            from tfpose.serving.predict import draw_on

            self._writer.write(np.asarray(draw_on(frame, rec, box)))

    def close(self) -> dict:
        """Finishes both files; returns their paths (None: not written)."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            if self._lines is not None:
                self._lines.close()
        return {"jsonl": str(self.jsonl) if self._lines is not None else None,
                "video": str(self.video) if self._writer is not None else None}
