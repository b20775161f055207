"""Predict on whole photos: tfpose (`tfpose predict`'s code) against MediaPipe Pose, same photos,
same cores, and PCK@0.2 of both on the 12 limb joints.

    .venv/bin/python benchmarks/predict.py [--model lspet] [--dataset tfrecords/lspet160] \
        [--mediapipe-python PATH] [--batches 1,8,32] [--passes 1,2] [--workers 2]
    # the held-out LSP photos (tightly framed, the original LSP):
    .venv/bin/python benchmarks/predict.py --dataset tfrecords/lsp256 \
        --images ../shared/lsp/images --joints ../shared/lsp/joints.mat

Photos: the whole original images of the held-out split (``--split val``) of ``--dataset``,
read from ``--images`` (``../shared/lspet/images``), scored against ``--joints``
(``../shared/lspet/joints.mat``) in original pixels. No person box for either tool.

- tfpose: ``predict.make_predictor(MODEL, passes=P, engine=E)`` (what ``tfpose predict --passes P
  --engine E`` runs; ``--engine auto``, the default, is LiteRT for a model with a LiteRT twin,
  as ``lspet`` has: JPEG decode, letterbox, model, decoding, map back; with 2 passes, again on
  the square around the first pass's joints), in-process, all cores, for each ``--passes`` and ``--batches`` size:
  images/s over all photos after one warm-up batch, and ms per image at batch 1 (latency).
- MediaPipe Pose (``mediapipe==0.10.21``, full landmark model plus its person detector) in its
  own environment (``--mediapipe-python``; created by ``make bench-env``), one image per call,
  one process per core (MediaPipe runs an image on one core), each on its share of the photos:
  images/s = photos / the slowest process's loop time.

``--long-side PX`` re-encodes every photo with that long side (Pillow's bicubic resize, JPEG
quality 92, into a temporary folder both tools read; joints scaled with the pixels): a phone
photo's size (4032 px: 12 megapixels) costs what decoding it costs.

PCK@0.2 of the torso over the 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles;
MediaPipe has no head top), with BlazePose landmarks 11-16 and 23-28 mapped onto the MPII ids.
A photo where MediaPipe finds nobody scores its joints as misses. Final JSON line
``{"tfpose_1pass": img/s, "tfpose_2pass": img/s, "mediapipe": img/s, ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# MPII id -> BlazePose landmark (person-centric left/right in both).
LIMBS_MPII_TO_BLAZEPOSE = {0: 28, 1: 26, 2: 24, 3: 23, 4: 25, 5: 27,
                           10: 16, 11: 14, 12: 12, 13: 11, 14: 13, 15: 15}


def limb_pck(pred, gt, missing):
    """PCK@0.2 (torso) pooled over the 12 limb joints: pred, gt N x 16 x 2, missing N x 16."""
    import numpy as np

    from tfpose.metrics.pck import correct_counts, torso_size

    torso = torso_size(gt, missing)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(torso) & (torso > 0)
    scored = ~missing & usable[:, None]
    limbs = list(LIMBS_MPII_TO_BLAZEPOSE)
    pred = np.where(np.isfinite(pred), pred, 1e9)  # no detection: a miss
    correct, count = correct_counts(pred, gt, torso, scored, 0.2)
    return 100.0 * float(correct[limbs].sum()) / float(count[limbs].sum())


def run_tfpose(model, paths, batches, passes, engine="auto", detector=None, people_options=None,
               workers=1):
    import numpy as np

    from tfpose.serving.predict import make_predictor, predict_items

    if workers > 1:  # tfpose predict --workers: the clock runs from the workers' start
        return run_tfpose_workers(model, paths, batches, passes, engine, detector, workers)

    predictor = make_predictor(model, passes=passes, engine=engine)
    print(f"tfpose engine: {predictor.description}", flush=True)
    encoded = [p.read_bytes() for p in paths]
    call = lambda items: predictor(items)["keypoints"]  # noqa: E731
    if detector is not None:  # every person (tfpose predict's default): the first one scored
        from tfpose.serving.people import every_person

        people = every_person(predictor, detector, engine=engine, **(people_options or {}))

        def call(items):
            first = [rec["keypoints"] if rec["keypoints"] is not None else np.full((16, 2), np.nan)
                     for rec, _ in predict_items(predictor, paths[:len(items)], items,
                                                 people=people)]
            return np.asarray(first, np.float64)
    rates, keypoints = {}, None
    for batch in batches:
        call(encoded[:batch])  # warm-up: tracing and allocation
        start, out = time.perf_counter(), []
        for i in range(0, len(encoded), batch):
            out.append(call(encoded[i:i + batch]))
        rates[batch] = len(encoded) / (time.perf_counter() - start)
        keypoints = np.concatenate(out)
    return rates, keypoints


def run_tfpose_workers(model, paths, batches, passes, engine, detector, workers):
    """``run_tfpose`` through ``serving.parallel`` (``tfpose predict --workers``): the photos
    read from disk, each batch size timed from the workers' spawn to the last record."""
    import numpy as np

    from tfpose.serving.parallel import PredictorSpec, predict_files_parallel

    spec = PredictorSpec(str(model), passes=passes, engine=engine, detector=detector)
    print(f"tfpose: {workers} worker processes", flush=True)
    rates, keypoints = {}, None
    for batch in batches:
        start = time.perf_counter()
        records = list(predict_files_parallel(spec, paths, workers=workers, batch_size=batch))
        rates[batch] = len(paths) / (time.perf_counter() - start)
        keypoints = np.asarray([r["keypoints"] if r.get("keypoints") is not None
                                else np.full((16, 2), np.nan) for r in records], np.float64)
    return rates, keypoints


def run_mediapipe(python, paths, processes):
    import numpy as np

    worker = ROOT / "benchmarks" / "mediapipe_pose_worker.py"
    with tempfile.TemporaryDirectory() as tmp:
        shares = [paths[i::processes] for i in range(processes)]
        outs = [Path(tmp) / f"part{i}.json" for i in range(processes)]
        procs = [subprocess.Popen([str(python), str(worker), str(out), *map(str, share)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for share, out in zip(shares, outs)]
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"MediaPipe worker failed:\n{err[-3000:]}")
        parts = [json.loads(out.read_text()) for out in outs]
    landmarks = {k: v for part in parts for k, v in part["landmarks"].items()}
    timed = sum(part["images"] for part in parts)
    rate = timed / max(part["seconds"] for part in parts)
    pred = np.full((len(paths), 16, 2), np.nan)
    found = 0
    for i, path in enumerate(paths):
        points = landmarks[str(path)]
        if points is None:
            continue
        found += 1
        for mpii, blaze in LIMBS_MPII_TO_BLAZEPOSE.items():
            pred[i, mpii] = points[blaze]
    return rate, pred, found


def add_photo_arguments(parser, dataset="tfrecords/lspet160"):
    """The options that pick the held-out photos and the two tools (``benchmarks/conditions.py``
    shares them): --model --dataset --split --images --joints --mediapipe-python --engine
    --limit."""
    parser.add_argument("--model", default="lspet")
    parser.add_argument("--dataset", default=dataset)
    parser.add_argument("--split", default="val")
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "lspet" / "images"))
    parser.add_argument("--joints", default=str(ROOT.parent / "shared" / "lspet" / "joints.mat"))
    parser.add_argument("--mediapipe-python", default=str(ROOT / ".bench-mediapipe" / "bin" / "python"))
    parser.add_argument("--engine", default="auto", help="tfpose predict --engine")
    parser.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")


def held_out_records(args):
    """The annotation records and photo paths of ``args.split`` of ``args.dataset`` (its
    converted photos' names, sorted), read from ``args.images`` and ``args.joints``."""
    from tfpose.datasets import readers, shards

    names = sorted({ex["image/filename"].decode()
                    for ex in shards.iter_examples(args.dataset, args.split)})
    if args.limit:
        names = names[:args.limit]
    by_name = {r.image_name: r for r in readers.read_annotations(args.joints).records}
    return [by_name[n] for n in names], [Path(args.images) / n for n in names]


def resized_photos(records, paths, long_side: int, folder: Path):
    """The photos re-encoded with ``long_side`` px on their long side (JPEG quality 92) in
    ``folder``, and the records' joints scaled alike (pixel centres at integers): (records,
    paths)."""
    import dataclasses

    import numpy as np
    from PIL import Image

    out_records, out_paths = [], []
    for record, path in zip(records, paths):
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = long_side / max(image.size)
            size = tuple(max(1, round(side * scale)) for side in image.size)
            out = folder / f"{path.stem}.jpg"
            image.resize(size, Image.BICUBIC).save(out, "JPEG", quality=92)
        factor = np.asarray(size, np.float32) / np.asarray(image.size, np.float32)
        joints = (record.joints + 0.5) * factor - 0.5
        out_records.append(dataclasses.replace(record, joints=joints.astype(np.float32)))
        out_paths.append(out)
    return out_records, out_paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_photo_arguments(parser)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--passes", default="1,2", help="tfpose predict --passes to time")
    parser.add_argument("--detector", default=None,
                        help="every person first (tfpose predict --detector), the first scored "
                             "[default: one skeleton per photo, --detector none]")
    parser.add_argument("--long-side", type=int, default=0,
                        help="re-encode the photos with this long side first (a phone's: 4032)")
    parser.add_argument("--alone", action=argparse.BooleanOptionalAction, default=None,
                        help="with --detector: a lone person gets the whole-photo two passes "
                             "[default: tfpose predict's]")
    parser.add_argument("--nobody-found", action=argparse.BooleanOptionalAction, default=None,
                        help="with --detector: where it finds no one, the sure one-person "
                             "answer [default: tfpose predict's]")
    parser.add_argument("--workers", type=int, default=1,
                        help="tfpose predict --workers: processes, each on its share of the "
                             "cores (the clock includes their start)")
    parser.add_argument("--refine-below", type=float, default=None,
                        help="with --detector: a person's second pass runs when its joints' "
                             "square overlaps its first crop below this IoU "
                             "[default: tfpose predict's]")
    args = parser.parse_args(argv)
    people_options = {key: value for key, value in [("alone", args.alone),
                                                     ("refine_below", args.refine_below),
                                                     ("nobody_found", args.nobody_found)]
                      if value is not None}

    import numpy as np

    records, paths = held_out_records(args)
    if args.long_side:
        resized = tempfile.TemporaryDirectory()
        records, paths = resized_photos(records, paths, args.long_side, Path(resized.name))
    gt = np.stack([r.joints for r in records])
    missing = ~np.stack([r.annotated for r in records])
    cores = os.cpu_count()

    batches = [int(b) for b in args.batches.split(",")]
    result = {}
    for passes in [int(p) for p in args.passes.split(",")]:
        rates, ours = run_tfpose(args.model, paths, batches, passes, args.engine, args.detector,
                                 people_options, args.workers)
        key = f"tfpose_{passes}pass"
        result.update({key: round(max(rates.values()), 2),
                       f"{key}_batch1_ms": round(1000.0 / rates[1], 2) if 1 in rates else None,
                       f"{key}_by_batch": {str(b): round(r, 2) for b, r in rates.items()},
                       f"{key}_pck@0.2_limbs": round(limb_pck(ours, gt, missing), 2)})
        print(f"tfpose {args.model}, {passes} pass(es): PCK@0.2 limbs "
              f"{result[f'{key}_pck@0.2_limbs']:.2f}; " + ", ".join(
                  f"batch {b}: {r:.1f} img/s" for b, r in rates.items()))
    if Path(args.mediapipe_python).exists():
        rate, theirs, found = run_mediapipe(args.mediapipe_python, paths, cores)
        result.update({"mediapipe": round(rate, 2),
                       "mediapipe_ms_per_image_per_core": round(1000.0 * cores / rate, 2),
                       "mediapipe_pck@0.2_limbs": round(limb_pck(theirs, gt, missing), 2),
                       "mediapipe_persons_found": found})
        print(f"MediaPipe Pose (full), {cores} processes: PCK@0.2 limbs "
              f"{result['mediapipe_pck@0.2_limbs']:.2f}; {rate:.1f} img/s, "
              f"found a person in {found}/{len(paths)}")
    else:
        print(f"no MediaPipe environment at {args.mediapipe_python}: tfpose only")
    print(json.dumps({"photos": len(paths), "dataset": args.dataset, "cores": cores,
                      "workers": args.workers, "detector": args.detector,
                      "long_side": args.long_side or None,
                      "machine": f"{platform.machine()} {cores} cores", **result}))


if __name__ == "__main__":
    main()
