"""A cold first answer: wall time of a fresh `tfpose predict` process against MediaPipe's.

    .venv/bin/python benchmarks/cold_start.py [--photos 100] [--repeats 3]

Each row is a new process, timed from its start to its exit (imports, model load, decoding,
prediction, output), the median of ``--repeats`` runs, on the same LSPET photos
(``../shared/lspet/images``; the first for "1 photo"):

* ``tfpose predict lspet PHOTOS --no-draw``: the default engine, the LiteRT twin (no
  TensorFlow: ``serving/host_crop.py``);
* the same with ``--engine tensorflow`` (the SavedModel graph, TensorFlow imported);
* MediaPipe Pose (``benchmarks/mediapipe_pose_worker.py`` in ``.bench-mediapipe``, ``make
  bench-env``): import, the detector and ``pose_landmark_full`` loaded, the photos predicted.
  Skipped when that environment is missing.

Prints a table and a final JSON line. Issue 37's bar: tfpose's 1-photo row within 2x MediaPipe's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(command: list) -> float:
    """Seconds a fresh process takes from start to exit (its output discarded; a failure
    raises with its stderr)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command[:4]))} ...: {done.stderr[-2000:]}")
    return seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "lspet" / "images"))
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    photos = sorted(Path(args.images).glob("*.jpg"))[: args.photos]
    tfpose = [str(Path(sys.executable).parent / "tfpose"), "predict", "lspet"]
    mediapipe = ROOT / ".bench-mediapipe" / "bin" / "python"
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, len(photos)):
            paths = list(map(str, photos[:count]))
            commands = {
                "tfpose (LiteRT, default)": [*tfpose, *paths, "--no-draw"],
                "tfpose --engine tensorflow": [*tfpose, *paths, "--no-draw",
                                               "--engine", "tensorflow"],
            }
            if mediapipe.exists():
                # The worker times its loop from the second photo: give the first one twice.
                commands["MediaPipe Pose (full)"] = [
                    str(mediapipe), str(ROOT / "benchmarks" / "mediapipe_pose_worker.py"),
                    os.path.join(tmp, "mp.json"), paths[0], *paths]
            for name, command in commands.items():
                times = [wall(command) for _ in range(args.repeats)]
                rows[f"{name}, {count} photo{'s' if count > 1 else ''}"] = round(
                    statistics.median(times), 2)
    print(f"Cold start, median of {args.repeats} fresh processes ({os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}):")
    for name, seconds in rows.items():
        print(f"  {name:45s} {seconds:6.2f} s")
    result = {"benchmark": "cold_start", "seconds": rows, "cores": os.cpu_count()}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
