"""Pose on video: per-frame PCK@0.2, jitter and frames/s, with and without tracking and smoothing.

    python scripts/make_pose_clip.py runs/video_clips          # pan.mp4, cuts.mp4 + ground truth
    python benchmarks/video.py runs/video_clips [--model lspet] [--max-frames N]
        [--mediapipe-python .bench-mediapipe/bin/python]

For each clip (``CLIP.mp4`` with ``CLIP.gt.jsonl`` beside it) and each setting (tracking on/off
x smoothing on/off; smoothing with a file's lookahead, and ``live``: a camera's, none) runs
``video.predict_video`` (what ``tfpose predict MODEL CLIP --no-draw`` runs) and scores:

* PCK@0.2 of the torso over all frames (``tfpose.metrics.pck``: pooled over the 14 LSP joints;
  ``limbs``: the 12 limb joints MediaPipe also has), and over the frames within 0.4 s after a
  cut (``after_cut``: how fast tracking finds the new person);
* jitter: the mean frame-to-frame acceleration |x[t+1] - 2 x[t] + x[t-1]| (px / frame^2) of the
  12 limb joints, minus that of the ground truth (the clip's own motion), over triplets inside
  one shot with the joint annotated in all three frames;
* frames/s: frames over the loop's wall time (decoding and the model; no drawing).

MediaPipe Pose in its video mode (``mediapipe_video_worker.py``, its own environment) is scored
the same way when ``--mediapipe-python`` exists. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from predict import LIMBS_MPII_TO_BLAZEPOSE  # noqa: E402

LIMBS = sorted(LIMBS_MPII_TO_BLAZEPOSE)
# (name, track, smooth, lookahead): lookahead None is a file's default (smoothing.LOOKAHEAD
# frames); "live" is what a camera runs (lookahead 0: the causal filters alone).
SETTINGS = (("track+smooth", True, True, None), ("track+smooth live", True, True, 0),
            ("track", True, False, 0), ("no-track+smooth", False, True, None),
            ("no-track", False, False, 0))
AFTER_CUT_S = 0.4


def load_truth(path: Path, frames: int):
    lines = [json.loads(line) for line in path.read_text().splitlines()][:frames]
    gt = np.array([rec["keypoints"] for rec in lines], np.float64)
    annotated = np.array([rec["annotated"] for rec in lines], bool)
    segment = np.array([rec["segment"] for rec in lines])
    return gt, annotated, segment


def jitter(pred, gt, annotated, segment) -> float:
    """Mean |second difference| of the limb joints' predictions minus the ground truth's."""
    pred, gt = pred[:, LIMBS], gt[:, LIMBS]
    ok = annotated[:, LIMBS]
    same = (segment[:-2] == segment[1:-1]) & (segment[1:-1] == segment[2:])
    use = ok[:-2] & ok[1:-1] & ok[2:] & same[:, None] & np.isfinite(pred[1:-1, :, 0]) \
        & np.isfinite(pred[:-2, :, 0]) & np.isfinite(pred[2:, :, 0])

    def accel(x):
        return np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)

    return float(accel(pred)[use].mean() - accel(gt)[use].mean())


def score(pred, gt, annotated, segment, fps: float) -> dict:
    from tfpose.metrics.pck import correct_counts, pck, torso_size

    missing = ~annotated
    full = np.where(np.isfinite(pred), pred, 1e9)  # no answer: a miss
    result = {"pck": round(pck(full, gt, missing)["mean"], 2)}
    torso = torso_size(gt, missing)
    scored = ~missing & (np.isfinite(torso) & (torso > 0))[:, None]
    correct, count = correct_counts(full, gt, torso, scored, 0.2)
    result["pck_limbs"] = round(100.0 * float(correct[LIMBS].sum()) / float(count[LIMBS].sum()), 2)
    starts = np.flatnonzero(np.diff(segment)) + 1
    if len(starts):
        near = np.zeros(len(segment), bool)
        for s in starts:
            near[s:s + int(round(AFTER_CUT_S * fps))] = True
        result["pck_after_cut"] = round(pck(full[near], gt[near], missing[near])["mean"], 2)
    result["jitter"] = round(jitter(pred, gt, annotated, segment), 2)
    return result


def run_tfpose(predictor, clip: Path, track: bool, smooth: bool, lookahead, max_frames):
    from tfpose.serving.video import predict_video

    records = []
    summary = predict_video(predictor, clip, None, draw=False, track=track, smooth=smooth,
                            lookahead=lookahead, max_frames=max_frames,
                            on_record=records.append)
    pred = np.array([rec["keypoints"] for rec in records], np.float64)
    return pred, summary["fps"], summary["tracked_frames"]


def run_mediapipe(python: str, clip: Path, max_frames):
    worker = ROOT / "benchmarks" / "mediapipe_video_worker.py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mp.json"
        args = [python, str(worker), str(out), str(clip)]
        if max_frames:
            args.append(str(max_frames))
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"MediaPipe worker failed:\n{proc.stderr[-3000:]}")
        data = json.loads(out.read_text())
    pred = np.full((len(data["landmarks"]), 16, 2), np.nan)
    for i, points in enumerate(data["landmarks"]):
        if points is not None:
            for mpii, blaze in LIMBS_MPII_TO_BLAZEPOSE.items():
                pred[i, mpii] = points[blaze]
    return pred, data["frames"] / data["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips_dir")
    parser.add_argument("--model", default="lspet")
    parser.add_argument("--clips", default="pan,cuts")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--engine", default="auto", help="tfpose predict --engine")
    parser.add_argument("--settings", default=",".join(name for name, *_ in SETTINGS))
    parser.add_argument("--mediapipe-python",
                        default=str(ROOT / ".bench-mediapipe" / "bin" / "python"))
    args = parser.parse_args(argv)

    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    from tfpose.serving.predict import make_predictor

    predictor = make_predictor(args.model, engine=args.engine)
    print(f"tfpose engine: {predictor.description}", flush=True)
    predictor.predict_frames(np.zeros((1, 480, 640, 3), np.uint8))  # warm-up: tracing
    predictor.predict_frames(np.zeros((1, 480, 640, 3), np.uint8), np.array([[0, 0, 100, 100]], np.float32))
    wanted = args.settings.split(",")
    results = {}
    for name in args.clips.split(","):
        clip = Path(args.clips_dir) / f"{name}.mp4"
        for setting, track, smooth, lookahead in SETTINGS:
            if setting not in wanted:
                continue
            pred, fps, tracked = run_tfpose(predictor, clip, track, smooth, lookahead,
                                            args.max_frames)
            gt, annotated, segment = load_truth(clip.with_suffix(".gt.jsonl"), len(pred))
            results[f"{name}/{setting}"] = {**score(pred, gt, annotated, segment, 25.0),
                                            "fps": fps, "tracked": tracked, "frames": len(pred)}
            print(name, setting, results[f"{name}/{setting}"], flush=True)
        if Path(args.mediapipe_python).exists():
            pred, fps = run_mediapipe(args.mediapipe_python, clip, args.max_frames)
            gt, annotated, segment = load_truth(clip.with_suffix(".gt.jsonl"), len(pred))
            row = score(pred, gt, annotated, segment, 25.0)
            row["pck"] = None  # no 14-joint figure: MediaPipe has no neck or head top
            results[f"{name}/mediapipe"] = {**row, "fps": round(fps, 2), "frames": len(pred)}
            print(name, "mediapipe", results[f"{name}/mediapipe"], flush=True)

    print(f"{'clip/setting':28s}{'PCK@0.2':>9}{'limbs':>8}{'after cut':>10}{'jitter':>8}"
          f"{'frames/s':>10}")
    for key, row in results.items():
        cells = [row["pck"], row["pck_limbs"], row.get("pck_after_cut"), row["jitter"], row["fps"]]
        print(f"{key:28s}" + "".join(f"{'-' if v is None else v:>{w}}"
                                     for v, w in zip(cells, (9, 8, 10, 8, 10))))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
