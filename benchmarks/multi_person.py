"""Every person in the photo (issue 33): people recovered, per-person PCK@0.2, skeletons matched
to nobody and images/s on the multi-person check set, for the detector + pose pipeline
(``serving/people.py``) and, beside it, today's one-skeleton ``tfpose predict`` (whole photo, two
passes).

    .venv/bin/python scripts/make_multi_person_set.py runs/multi-person-set   # the check set
    .venv/bin/python benchmarks/multi_person.py runs/multi-person-set \
        --detector person-detector [--pose lspet] [--detector-size 192] \
        [--no-refine] [--refine-below 0.8] [--grow 1.0] [--alone] [--true-boxes] [--baseline]

Scoring, per image, over its annotated persons (``persons.json``; ``ignore`` persons, mostly
covered by others, are neither to be found nor false finds):

- a skeleton's PCK against a person: the share of the person's annotated limb joints (the 12
  of shoulders, elbows, wrists, hips, knees, ankles, as ``benchmarks/predict.py``) within 0.2 x
  the person's torso size (``metrics.pck.torso_size``);
- skeletons and persons are matched one to one by the highest total PCK (Hungarian), a pair
  counting only at PCK >= 0.5. A person is *recovered* when matched; a skeleton matched to no
  person (and not on an ``ignore`` person) is *matched to nobody*: a false find, or a chimera of
  several people. MPII's photos annotate one person and show others, so their unmatched
  skeletons are not counted;
- per-person PCK@0.2: the mean over all persons of their matched skeleton's PCK (0 when not
  recovered); best person per photo: the mean over photos of their best person's PCK (the
  issue's second column).

``--whole-photos DATASET --joints MAT --images DIR`` (repeatable as triples) also scores the
single-person protocol of ``scripts/score_whole_photos.py`` (the val photos of a converted
dataset, whole, PCK@0.2 of the torso over the 14 LSP joints in original pixels) with the first
(best-scoring) person's skeleton, a photo where no one is found scoring as all misses, beside
today's two passes: adding the detector must not regress it.

MediaPipe Pose (``mediapipe==0.10.21`` in its own environment, ``--mediapipe-python``, as
``benchmarks/predict.py`` runs it: the person detector and the full landmark model, one person
per image) is scored beside it on the same images when that environment exists.

The set's ``nobody`` images (no annotated person) list, per threshold, those where someone was
found: a strip of a sports photo may show a bystander, so they are listed, not scored.

Every detector score threshold of ``--thresholds`` is scored from one run (persons kept down to
the lowest). Images/s: the whole pipeline on the photos (decoded beforehand), batches of 8,
after a warm-up batch, on single- and multi-person images separately. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
LIMB_JOINTS = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15)
MATCH_PCK = 0.5
BATCH = 8


def person_pck(pred: np.ndarray, gt: np.ndarray, annotated: np.ndarray) -> np.ndarray:
    """PCK@0.2 of every skeleton (P x K x 2) against every person (G x K x 2, annotated G x K):
    P x G, NaN for a person without a torso or limb joints."""
    from tfpose.metrics.pck import torso_size

    torso = torso_size(gt, ~annotated)
    limbs = np.zeros(gt.shape[1], bool)
    limbs[list(LIMB_JOINTS)] = True
    scored = annotated & limbs  # G x K
    dist = np.linalg.norm(pred[:, None] - gt[None], axis=-1)  # P x G x K
    with np.errstate(invalid="ignore", divide="ignore"):
        hit = (dist <= 0.2 * torso[None, :, None]) & scored[None]
        rate = hit.sum(-1) / scored.sum(-1)[None]
        return np.where(np.isfinite(torso)[None] & (scored.sum(-1) > 0)[None], rate, np.nan)


def score_image(skeletons: np.ndarray, persons: list, complete: bool) -> dict:
    """Matches one image's skeletons (P x K x 2, best first) to its persons."""
    from scipy.optimize import linear_sum_assignment

    wanted = [p for p in persons if not p["ignore"]]
    ignored = [p for p in persons if p["ignore"]]
    result = {"persons": len(wanted), "recovered": 0, "pck": [], "nobody": 0}
    pred = np.asarray(skeletons, np.float64).reshape(-1, 16, 2)
    if wanted:
        gt = np.array([p["keypoints"] for p in wanted], np.float64)
        annotated = np.array([p["annotated"] for p in wanted], bool)
        table = np.nan_to_num(person_pck(pred, gt, annotated), nan=0.0)  # P x G
        rows, cols = linear_sum_assignment(-table) if len(pred) else ([], [])
        pck = np.zeros(len(wanted))
        matched = set()
        for r, c in zip(rows, cols):
            if table[r, c] >= MATCH_PCK:
                pck[c] = table[r, c]
                matched.add(int(r))
        result["recovered"] = int((pck >= MATCH_PCK).sum())
        result["pck"] = pck.tolist()
    else:
        matched = set()
    if complete:
        extra = [i for i in range(len(pred)) if i not in matched]
        if ignored and extra:  # a skeleton on a mostly covered person is no false find
            gt = np.array([p["keypoints"] for p in ignored], np.float64)
            annotated = np.array([p["annotated"] for p in ignored], bool)
            on_ignored = np.nan_to_num(person_pck(pred[extra], gt, annotated)).max(1)
            extra = [e for e, v in zip(extra, on_ignored) if v < MATCH_PCK]
        result["nobody"] = len(extra)
    return result


def box_matches(boxes: np.ndarray, entry: dict, iou: float = 0.5):
    """(true boxes found, boxes on no one): boxes (best first, clipped to the photo as people
    reports them) matched greedily to the persons' boxes clipped alike, at IoU >= ``iou``; a
    box on an ``ignore`` person is neither."""
    from tfpose.serving.people import row_iou

    def _iou(a, b) -> float:
        return float(row_iou(a, b)[0])

    limit = [entry["width"], entry["height"]] * 2
    wanted = [np.clip(p["box"], 0, limit) for p in entry["persons"] if not p["ignore"]]
    ignored = [np.clip(p["box"], 0, limit) for p in entry["persons"] if p["ignore"]]
    free, found, stray = list(range(len(wanted))), 0, 0
    for box in boxes:
        best = max(free, key=lambda g: _iou(box, wanted[g]), default=None)
        if best is not None and _iou(box, wanted[best]) >= iou:
            free.remove(best)
            found += 1
        elif not any(_iou(box, g) >= iou for g in ignored):
            stray += 1
    return found, stray


SIZE_BINS = (0.0, 0.25, 0.5, 10.0)  # a person's box side / the photo's longer side


def _cell(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def summarise(scored: list, entries: list) -> dict:
    persons = sum(s["persons"] for s in scored)
    sizes = np.array([max(np.subtract(p["box"][2:], p["box"][:2])) / max(e["width"], e["height"])
                      for e in entries for p in e["persons"] if not p["ignore"]])
    hits = np.array([v >= MATCH_PCK for s in scored for v in s["pck"]], bool)
    by_size = {}
    for low, high in zip(SIZE_BINS[:-1], SIZE_BINS[1:]):
        inside = (sizes >= low) & (sizes < high)
        by_size[f"{low:g}-{high:g}"] = (round(100.0 * hits[inside].mean(), 1) if inside.any()
                                        else None, int(inside.sum()))
    pcks = [v for s in scored for v in s["pck"]]
    best = [max(s["pck"]) for s in scored if s["pck"]]
    complete = [s for s, e in zip(scored, entries) if e["complete"]]
    return {
        "people": persons,
        "recovered_%": round(100.0 * sum(s["recovered"] for s in scored) / max(persons, 1), 2),
        "per_person_pck@0.2": round(100.0 * float(np.mean(pcks)) if pcks else 0.0, 2),
        "best_person_pck@0.2": round(100.0 * float(np.mean(best)) if best else 0.0, 2),
        "matched_to_nobody": sum(s["nobody"] for s in complete),
        "images": len(scored),
        # Recovered % and persons, by box side over the photo's longer side.
        "recovered_%_by_size": by_size,
    }


def load_set(folder: Path):
    data = json.loads((folder / "persons.json").read_text())
    from PIL import Image

    photos = [np.asarray(Image.open(folder / e["file"]).convert("RGB")) for e in data["images"]]
    return data["images"], photos


class TrueBoxes:
    """A stand-in detector answering each check-set photo's annotated boxes (score 1): the pose
    stage's ceiling on the set (``--true-boxes``). Photos are known by identity."""

    def __init__(self, entries: list, photos: list):
        self._boxes = {id(photo): np.array([p["box"] for p in e["persons"] if not p["ignore"]],
                                           np.float32).reshape(-1, 4)
                       for e, photo in zip(entries, photos)}

    def __call__(self, photos, names=None):
        return [(self._boxes[id(p)], np.ones(len(self._boxes[id(p)]), np.float32))
                for p in photos]


def run_people(people, photos: list):
    """Results of ``people`` on every photo, and the seconds per photo of each batch."""
    results, seconds = [], []
    people(photos[:BATCH])  # warm-up: graph tracing and kernels
    for start in range(0, len(photos), BATCH):
        batch = photos[start:start + BATCH]
        t0 = time.perf_counter()
        results += people(batch)
        seconds += [(time.perf_counter() - t0) / len(batch)] * len(batch)
    return results, np.asarray(seconds)


def speed(seconds: np.ndarray, entries: list) -> dict:
    single = np.array([sum(not p["ignore"] for p in e["persons"]) == 1 for e in entries])
    def rate(part):  # None where the set has no such images (a side-by-side set: no single)
        return round(1.0 / float(np.mean(part)), 2) if len(part) else None

    return {"images_per_s": rate(seconds), "images_per_s_single": rate(seconds[single]),
            "images_per_s_multi": rate(seconds[~single])}


def whole_photo_scores(people, single, dataset: str, joints: str, images: str,
                       thresholds) -> dict:
    """PCK@0.2 (torso, pooled over the 14 LSP joints) on the val photos of ``dataset``: the
    first person of ``people`` at each detector threshold (no one at or above it: every joint
    missed; ``people``'s own threshold must be the lowest) and ``single`` (two passes)."""
    from PIL import Image

    from tfpose.datasets import readers, shards
    from tfpose.metrics import pck

    names = sorted({ex["image/filename"].decode() for ex in shards.iter_examples(dataset, "val")})
    by_name = {r.image_name: r for r in readers.read_annotations(joints).records}
    records = [by_name[n] for n in names]
    gt = np.stack([r.joints for r in records])
    missing = ~np.stack([r.annotated for r in records])
    first, best, today = [], [], []
    for name in names:
        photo = np.asarray(Image.open(Path(images) / name).convert("RGB"))
        result = people([photo])[0]
        first.append(result.keypoints[0] if len(result) else np.full((16, 2), 1e9))
        best.append(result.scores[0] if len(result) else 0.0)
        today.append(single.predict_frames(photo[None])["keypoints"][0])
    first, best = np.stack(first), np.asarray(best)
    row = {"dataset": dataset, "photos": len(names),
           "pck@0.2_two_passes": round(pck.pck(np.stack(today), gt, missing)["mean"], 2)}
    for threshold in thresholds:
        kept = np.where((best >= threshold)[:, None, None], first, 1e9)
        row[f"min_score_{threshold:g}"] = {
            "found_someone": int((best >= threshold).sum()),
            "pck@0.2_first_person": round(pck.pck(kept, gt, missing)["mean"], 2)}
    return row


def mediapipe_row(python: str, checkset: Path, entries: list) -> dict:
    """MediaPipe Pose on every image of the set (``benchmarks/predict.py``'s worker, one
    process per core), its 12 limb joints scored as tfpose's skeletons are."""
    from predict import run_mediapipe

    paths = [checkset / e["file"] for e in entries]
    rate, theirs, _ = run_mediapipe(python, paths, os.cpu_count() or 1)
    scored = [score_image(theirs[i][None] if np.isfinite(theirs[i]).any() else
                          np.zeros((0, 16, 2)), e["persons"], e["complete"])
              for i, e in enumerate(entries)]
    return {**summarise(scored, entries), "images_per_s": round(rate, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkset", type=Path)
    parser.add_argument("--detector", required=True)
    parser.add_argument("--pose", default="lspet")
    parser.add_argument("--detector-size", type=int, default=None)
    parser.add_argument("--thresholds", default="0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                        help="predict each person again on the square around its first joints")
    parser.add_argument("--refine-below", type=float, default=None,
                        help="refine only persons whose joints' square overlaps their first "
                             "crop below this IoU [default: people.REFINE_BELOW_IOU]")
    parser.add_argument("--grow", type=float, default=None,
                        help="the first crop: the square about the detector's box x this "
                             "[default: people.FIRST_CROP_GROW]")
    parser.add_argument("--alone", action=argparse.BooleanOptionalAction, default=False,
                        help="one person found: the pose model's whole-photo two passes when "
                             "they agree with the detector's box (people.PeoplePredictor's "
                             "alone; off in tfpose predict)")
    parser.add_argument("--nobody-found", action=argparse.BooleanOptionalAction, default=True,
                        help="where the detector finds no one (at the lowest threshold), the "
                             "sure one-person answer (tfpose predict's default)")
    parser.add_argument("--engine", default="auto", choices=["auto", "tensorflow", "litert"],
                        help="both models' engine (as tfpose predict --engine)")
    parser.add_argument("--true-boxes", action="store_true",
                        help="also the pose stage on the annotated boxes (its ceiling)")
    parser.add_argument("--whole-photos", nargs=3, action="append", default=[],
                        metavar=("DATASET", "JOINTS_MAT", "IMAGES"),
                        help="also the single-person whole-photo protocol on DATASET's val split")
    parser.add_argument("--baseline", action="store_true",
                        help="also today's one-skeleton tfpose predict (two passes, no box)")
    parser.add_argument("--mediapipe-python", default=str(ROOT / ".bench-mediapipe" / "bin" /
                                                          "python"),
                        help="MediaPipe Pose beside it (one person per image, as "
                             "benchmarks/predict.py runs it) when this interpreter exists")
    args = parser.parse_args(argv)
    from tfpose.serving.people import PeoplePredictor, PersonDetector
    from tfpose.serving.predict import make_predictor

    entries, photos = load_set(args.checkset)
    thresholds = sorted(float(t) for t in args.thresholds.split(","))
    detector = PersonDetector(args.detector, size=args.detector_size, min_score=thresholds[0],
                              engine=args.engine)
    from tfpose.serving.people import FIRST_CROP_GROW, REFINE_BELOW_IOU

    args.grow = FIRST_CROP_GROW if args.grow is None else args.grow
    args.refine_below = REFINE_BELOW_IOU if args.refine_below is None else args.refine_below
    pose = make_predictor(args.pose, passes=2, engine=args.engine)
    people = PeoplePredictor(detector, pose, refine=args.refine, grow=args.grow,
                             alone=args.alone, refine_below=args.refine_below,
                             nobody_found=args.nobody_found)
    results, seconds = run_people(people, photos)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "detector": detector.description, "detector_size": detector.size,
              "pose": args.pose, "refine": args.refine, "refine_below": args.refine_below,
              "grow": args.grow,
              "alone": args.alone,
              "checkset": str(args.checkset), **speed(seconds, entries)}
    print(f"{args.detector} (at {detector.size} px) + {args.pose} on {len(photos)} images of "
          f"{args.checkset}; {report['images_per_s']} images/s "
          f"(single {report['images_per_s_single']}, multi {report['images_per_s_multi']})")
    print(f"{'min score':>10}{'recovered %':>13}{'per-person':>12}{'best/photo':>12}"
          f"{'to nobody':>11}{'box recall':>12}{'box prec.':>11}{'  [MPII recovered]':>18}")
    for threshold in thresholds:
        scored = [score_image(r.keypoints[r.scores >= threshold], e["persons"], e["complete"])
                  for r, e in zip(results, entries)]
        row = summarise(scored, entries)
        # Recall over every annotated person; precision only where every person is annotated.
        matches = np.array([box_matches(r.boxes[r.scores >= threshold], e)
                            for r, e in zip(results, entries)]).reshape(-1, 2)
        complete = np.array([e["complete"] for e in entries], bool)
        shown = sum(int((r.scores >= threshold).sum()) for r, e in zip(results, entries)
                    if e["complete"])
        wanted = sum(sum(not p["ignore"] for p in e["persons"]) for e in entries)
        row["box_recall@0.5_%"] = round(100.0 * matches[:, 0].sum() / max(wanted, 1), 2)
        row["box_precision@0.5_%"] = (round(100.0 * (shown - matches[complete, 1].sum())
                                            / max(shown, 1), 2) if complete.any() else None)
        mpii = [s for s, e in zip(scored, entries) if e["source"] == "mpii"]
        mpii_row = f"{sum(s['recovered'] for s in mpii)}/{sum(s['persons'] for s in mpii)}"
        print(f"{threshold:10.2f}{row['recovered_%']:13.2f}{row['per_person_pck@0.2']:12.2f}"
              f"{row['best_person_pck@0.2']:12.2f}{row['matched_to_nobody']:11d}"
              f"{row['box_recall@0.5_%']:12.2f}"
              f"{_cell(row['box_precision@0.5_%']):>11}{mpii_row:>18}")
        # Images without an annotated person (strips of val photos: some show bystanders, so
        # read the file names before calling a find there false).
        row["nobody_images_with_someone"] = [
            Path(e["file"]).name for r, e in zip(results, entries)
            if e["source"] == "nobody" and (r.scores >= threshold).any()]
        report[f"min_score_{threshold:g}"] = row
    if args.true_boxes:
        truth, _ = run_people(PeoplePredictor(TrueBoxes(entries, photos), pose,
                                              refine=args.refine, grow=args.grow,
                                              alone=False, nobody_found=False), photos)
        scored = [score_image(r.keypoints, e["persons"], e["complete"])
                  for r, e in zip(truth, entries)]
        row = summarise(scored, entries)
        print(f"{args.pose} on the annotated boxes: recovered {row['recovered_%']} %, per-person "
              f"{row['per_person_pck@0.2']}, best/photo {row['best_person_pck@0.2']}")
        report["true_boxes"] = row
    if args.baseline:
        single = make_predictor(args.pose, passes=2, engine=args.engine)
        one = []
        single.predict_frames(photos[0][None])  # warm-up
        t0 = time.perf_counter()
        for photo in photos:  # photos differ in size: one at a time
            one.append(single.predict_frames(photo[None])["keypoints"])
        took = time.perf_counter() - t0
        scored = [score_image(k, e["persons"], e["complete"]) for k, e in zip(one, entries)]
        row = summarise(scored, entries)
        row["images_per_s"] = round(len(photos) / took, 2)
        print(f"{args.pose} today (one skeleton, 2 passes): recovered {row['recovered_%']} %, "
              f"per-person {row['per_person_pck@0.2']}, best/photo "
              f"{row['best_person_pck@0.2']}, to nobody {row['matched_to_nobody']}, "
              f"{row['images_per_s']} images/s")
        report["baseline"] = row
    if Path(args.mediapipe_python).exists():
        report["mediapipe"] = mediapipe_row(args.mediapipe_python, args.checkset, entries)
        row = report["mediapipe"]
        print(f"MediaPipe Pose (one person): recovered {row['recovered_%']} %, per-person "
              f"{row['per_person_pck@0.2']}, best/photo {row['best_person_pck@0.2']}, to nobody "
              f"{row['matched_to_nobody']}, {row['images_per_s']} images/s")
    if args.whole_photos:
        single = make_predictor(args.pose, passes=2, engine=args.engine)
        report["whole_photos"] = [whole_photo_scores(people, single, *triple, thresholds)
                                  for triple in args.whole_photos]
        for row in report["whole_photos"]:
            print(f"whole photos of {row['dataset']} (val, {row['photos']}): two passes today "
                  f"{row['pck@0.2_two_passes']}; first person at min score "
                  + ", ".join(f"{t:g}: {row[f'min_score_{t:g}']['pck@0.2_first_person']} "
                              f"({row[f'min_score_{t:g}']['found_someone']} found)"
                              for t in thresholds))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main())
