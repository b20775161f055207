"""Everyday conditions (issue 34): tfpose against MediaPipe Pose on degraded copies of the
held-out photos, one row per condition, scored as the whole photos are.

    nice -n 5 .venv/bin/python benchmarks/conditions.py [--model lspet] \
        [--dataset tfrecords/lspet256] [--out runs/everyday] [--seed 0] \
        [--detector person-detector]

Photos: the held-out split (``--split val``: the 900 LSPET photos no model was trained on) read
from ``--images`` and scored against ``--joints``, as ``benchmarks/predict.py`` picks them, plus
every annotated person of the 5 real MPII photos in ``--mpii-sample`` (one photo per person).
Each condition of ``tfpose.evaluation.conditions`` makes ONE degraded copy of every photo
(seeded by ``--seed``, the condition and the photo: the same copy on every run), written as
lossless PNG under ``OUT/<condition>/`` with its moved joints (``joints.npz``); an existing copy
is reused. The clean row runs the original files.

Protocol (``scripts/score_whole_photos.py``, ``benchmarks/predict.py``): no person box; tfpose
through ``tfpose predict``'s code (``make_predictor``, ``--passes`` 2, default engine), MediaPipe
Pose full through ``benchmarks/predict.run_mediapipe`` (its own environment, one process per
core). PCK@0.2 of the torso, pooled over the 12 limb joints (both tools) and over the 14 LSP
joints (tfpose; MediaPipe has no head top). The torso of a photo is measured on ALL its moved
annotated joints, also those a truncation put out of the frame: the person's size did not
change, and a person cut at the waist still has a torso to be scored against. Joints outside
the frame are not scored.

``--detector NAME``: ``tfpose predict``'s default, every person (the detector, then the pose
model on each person found); each photo is scored by its best person (the one placing most of
its annotated limb joints: the issue's "best person per photo"), a photo where no one is found
as all misses.

Visibility (issue 34, part 4): on the truncated rows, each annotated LSP joint is "out" (the
frame cut it off) or "in"; for each ``--thresholds`` t, the precision and recall of "tfpose's
keypoint score < t means out", and how often the rule hides an "in" joint of the clean photos.

Prints the markdown tables; writes ``OUT/results.json`` (``--results``) and each row's
predictions (``OUT/<condition>/predictions.npz``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.predict import (LIMBS_MPII_TO_BLAZEPOSE, add_photo_arguments,  # noqa: E402
                                held_out_records, run_mediapipe)

CLEAN = "clean"
LIMB_JOINTS = tuple(LIMBS_MPII_TO_BLAZEPOSE)


def slug(name: str) -> str:
    """A condition's folder name: ``truncated at the waist`` -> ``truncated-at-the-waist``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def held_out_photos(args):
    """Paths, joints float [N, 16, 3] (x, y, annotated) and names of the check set's photos."""
    from tfpose.datasets import mpii

    records, paths = held_out_records(args)
    sample = Path(args.mpii_sample) / "mpii_sample.mat"
    if sample.is_file():
        for rec in mpii.read_annotations(sample):
            if (Path(args.mpii_sample) / rec.image_name).is_file():
                records.append(rec)
                paths.append(Path(args.mpii_sample) / rec.image_name)
    joints = np.stack([np.column_stack([r.joints, r.annotated]) for r in records]).astype(np.float64)
    return paths, joints


def degraded_copies(name, paths, joints, out_dir: Path, seed: int):
    """Paths of the copies under ``out_dir/<slug>`` and their joints [N, 16, 3]; made once."""
    from PIL import Image

    from tfpose.evaluation.conditions import degrade

    folder = out_dir / slug(name)
    targets = [folder / f"{i:04d}_{p.stem}.png" for i, p in enumerate(paths)]
    cache = folder / "joints.npz"
    if cache.is_file() and all(t.is_file() for t in targets):
        stored = np.load(cache)
        if stored["seed"] == seed and stored["joints"].shape == joints.shape:
            return targets, stored["joints"]
    folder.mkdir(parents=True, exist_ok=True)
    moved = np.empty_like(joints)
    for i, (path, target) in enumerate(zip(paths, targets)):
        image = np.asarray(Image.open(path).convert("RGB"))
        out, moved[i] = degrade(name, image, joints[i], seed=seed, photo_index=i)
        Image.fromarray(out).save(target, compress_level=1)
    np.savez(cache, joints=moved, seed=seed)
    return targets, moved


def predict_tfpose(predictor, paths, batch: int):
    """keypoints float [N, 16, 2] in each photo's pixels, keypoint_scores float [N, 16]."""
    keypoints, scores = [], []
    for i in range(0, len(paths), batch):
        out = predictor([p.read_bytes() for p in paths[i:i + batch]])
        keypoints.append(out["keypoints"])
        scores.append(out["keypoint_scores"])
    return np.concatenate(keypoints), np.concatenate(scores)


def predict_people(people, paths, batch: int):
    """Every person (``people``: ``serving.people.every_person``'s predictor) on each photo:
    a list of (keypoints [P, 16, 2], keypoint_scores [P, 16]) per photo, best first."""
    found = []
    for i in range(0, len(paths), batch):
        found += [(r.keypoints, r.keypoint_scores)
                  for r in people([p.read_bytes() for p in paths[i:i + batch]],
                                  [str(p) for p in paths[i:i + batch]])]
    return found


def best_person(found, joints, original_annotated):
    """Per photo the found person who places most of its annotated limb joints (ties: the
    better-scored, first), as the issue's "best person per photo" scores a photo: keypoints
    [N, 16, 2] (NaN where no one was found) and keypoint_scores [N, 16]."""
    keypoints = np.full((len(found), 16, 2), np.nan)
    scores = np.zeros((len(found), 16))
    for i, (points, point_scores) in enumerate(found):
        if not len(points):
            continue
        repeat = lambda rows: np.repeat(rows[i:i + 1], len(points), 0)  # noqa: E731
        hits, _ = joint_hits(np.asarray(points, np.float64), repeat(joints),
                             repeat(original_annotated))
        best = int(np.argmax(hits[:, list(LIMB_JOINTS)].sum(1)))
        keypoints[i], scores[i] = points[best], point_scores[best]
    return keypoints, scores


def joint_hits(pred, joints, original_annotated, threshold=0.2):
    """bool [N, 16] each joint within ``threshold`` x torso of the truth, bool [N, 16] scored.

    pred [N, 16, 2] (NaN: nobody found, a miss); joints [N, 16, 3] moved, labelled flag after
    the condition; original_annotated [N, 16]: the torso is measured on these (see above).
    Scored: labelled after the condition, in a photo with a torso.
    """
    from tfpose.metrics.pck import correct_counts, torso_size

    torso = torso_size(joints[..., :2], ~original_annotated)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(torso) & (torso > 0)
    scored = (joints[..., 2] > 0) & usable[:, None]
    pred = np.where(np.isfinite(pred), pred, 1e9)
    # correct_counts sums over persons: in torso units, one "person" of all N x 16 joints
    # gives each joint's own hit with the metric's own rule.
    unit = np.where(usable, torso, 1.0)[:, None, None]
    hit, _ = correct_counts((pred / unit).reshape(1, -1, 2),
                            (joints[..., :2] / unit).reshape(1, -1, 2), np.ones(1),
                            scored.reshape(1, -1), threshold)
    return hit.reshape(scored.shape).astype(bool), scored


def pooled_pck(hits, scored, joint_ids):
    """PCK (%) pooled over ``joint_ids`` from ``joint_hits``, and how many joints it counted."""
    ids = list(joint_ids)
    return 100.0 * float(hits[:, ids].sum()) / float(scored[:, ids].sum()), int(scored[:, ids].sum())


def reusable(saved: Path, joints, predictor_id: str) -> bool:
    """``saved`` (a row's predictions.npz) holds predictions by ``predictor_id`` on copies with
    these ``joints``."""
    if not saved.is_file():
        return False
    stored = np.load(saved)
    return (str(stored["predictor"]) if "predictor" in stored else "") == predictor_id and \
        np.array_equal(stored["joints"], joints)


def predicted_inside(keypoints, photos):
    """bool [N, 16]: each predicted joint (keypoints [N, 16, 2]) lies on its photo's pixels."""
    from PIL import Image

    from tfpose.evaluation.conditions import inside_frame

    sizes = [Image.open(p).size for p in photos]  # (W, H): reads the header only
    return np.stack([inside_frame(k, h, w) for k, (w, h) in zip(keypoints, sizes)])


def visibility_rule(scores, out_mask, in_mask, misplaced, thresholds):
    """Precision / recall of "score < t: not in the photo" for each t; counts included.

    Also ``precision_unusable``: the flagged joints that were out of the photo OR in it but
    misplaced (``misplaced``: in the frame, scored, not within PCK@0.2), which a drawing that
    leaves flagged joints out loses nothing by hiding.
    """
    rows = []
    for t in thresholds:
        flagged = scores < t
        hits = int((flagged & out_mask).sum())
        flagged_total = int((flagged & (out_mask | in_mask)).sum())
        unusable = int((flagged & (out_mask | (in_mask & misplaced))).sum())
        rows.append({"t": t, "precision": hits / flagged_total if flagged_total else None,
                     "precision_unusable": unusable / flagged_total if flagged_total else None,
                     "recall": hits / int(out_mask.sum()) if out_mask.any() else None,
                     "flagged": flagged_total, "out": int(out_mask.sum()),
                     "in": int(in_mask.sum())})
    return rows


def main(argv=None):
    from tfpose.evaluation.conditions import CONDITIONS
    from tfpose.metrics.pckh import MEAN_JOINTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_photo_arguments(parser, dataset="tfrecords/lspet256")  # the same val photos as lspet160
    parser.add_argument("--mpii-sample", default=str(ROOT / "tests" / "data" / "mpii_sample"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "everyday"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default="",
                        help="comma-separated names (default: all; the clean row always runs)")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--detector", default="none",
                        help="every person first (tfpose predict --detector, e.g. "
                             "person-detector), each photo scored by its best person "
                             "[default: one skeleton per photo]")
    parser.add_argument("--nobody-found", action=argparse.BooleanOptionalAction, default=True,
                        help="with --detector: where it finds no one, the sure one-person "
                             "answer (tfpose predict's default)")
    parser.add_argument("--alone", action="store_true",
                        help="with --detector: a lone person found gets the whole-photo two "
                             "passes when they agree (people.ALONE_IOU)")
    parser.add_argument("--thresholds", default="0.05,0.1,0.15,0.2,0.25,0.3,0.4,0.5")
    parser.add_argument("--results", default="", help="the JSON's path (default OUT/results.json)")
    parser.add_argument("--reuse", action="store_true",
                        help="take a row's predictions from OUT/<condition>/predictions.npz when "
                             "they are for the same copies (a run split over processes or days)")
    args = parser.parse_args(argv)

    from tfpose.serving.people import every_person
    from tfpose.serving.predict import make_predictor

    names = [n.strip() for n in args.conditions.split(",") if n.strip() not in ("", CLEAN)]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:  # before an hour of predicting, not after
        parser.error(f"unknown conditions {unknown}; known: {', '.join(CONDITIONS)}")
    names = names or list(CONDITIONS)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    paths, joints = held_out_photos(args)
    annotated = joints[..., 2] > 0
    out_dir = Path(args.out)
    predictor = make_predictor(args.model, passes=args.passes, engine=args.engine)
    people = every_person(predictor, args.detector, engine=args.engine,
                          nobody_found=args.nobody_found, alone=args.alone)
    # What made a row's saved predictions: --reuse takes only a row of the same model and passes.
    predictor_id = f"{args.model} | {predictor.description} | {args.passes} passes"
    if people is not None:
        predictor_id += f" | every person, {args.detector}, best person" + (
            "" if args.nobody_found else ", no one-person answer where nobody is found") + (
            ", alone" if args.alone else "")
    mediapipe = Path(args.mediapipe_python).exists()
    cores = os.cpu_count()
    print(f"{len(paths)} photos; tfpose {predictor.description}, {args.passes} passes; "
          f"MediaPipe: {args.mediapipe_python if mediapipe else 'absent'}", flush=True)

    rows, scores_by, frames_by = [], {}, {}
    for name in [CLEAN] + names:
        start = time.perf_counter()
        if name == CLEAN:
            photos, moved = paths, joints
        else:
            photos, moved = degraded_copies(name, paths, joints, out_dir, args.seed)
        made = time.perf_counter() - start
        folder = out_dir / slug(name)
        saved = folder / "predictions.npz"
        if args.reuse and reusable(saved, moved, predictor_id):
            saved = np.load(saved)
            ours, scores = saved["tfpose_keypoints"], saved["tfpose_scores"]
        else:
            saved = None
            ours, scores = (predict_tfpose(predictor, photos, args.batch) if people is None else
                            best_person(predict_people(people, photos, args.batch), moved,
                                        annotated))
        hits, scored = joint_hits(ours, moved, annotated)
        scores_by[name] = (scores, moved, hits, scored)
        frames_by[name] = (ours, photos)
        limbs, limb_count = pooled_pck(hits, scored, LIMB_JOINTS)
        lsp14, lsp_count = pooled_pck(hits, scored, MEAN_JOINTS)
        theirs = np.full_like(ours, np.nan)
        row = {"condition": name, "photos": len(photos), "limb_joints_scored": limb_count,
               "lsp_joints_scored": lsp_count, "tfpose_limbs": round(limbs, 2),
               "tfpose_14": round(lsp14, 2), "seconds_to_make": round(made, 1)}
        if saved is not None and np.isfinite(saved["mediapipe_keypoints"]).any():
            theirs = saved["mediapipe_keypoints"]
            found = int(np.isfinite(theirs[:, list(LIMB_JOINTS)]).all(axis=(1, 2)).sum())
        elif mediapipe:
            _, theirs, found = run_mediapipe(args.mediapipe_python, photos, cores)
        if np.isfinite(theirs).any():
            row["mediapipe_limbs"] = round(
                pooled_pck(*joint_hits(theirs, moved, annotated), LIMB_JOINTS)[0], 2)
            row["mediapipe_found"] = found
        rows.append(row)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "predictions.npz", tfpose_keypoints=ours, tfpose_scores=scores,
                 mediapipe_keypoints=theirs, joints=moved, predictor=predictor_id)
        print(json.dumps(row), flush=True)

    visibility = {}
    lsp = list(MEAN_JOINTS)
    truncated = [n for n in names if n.startswith("truncated")]
    if truncated:
        scores = np.concatenate([scores_by[n][0][:, lsp] for n in truncated])
        labelled = np.concatenate([scores_by[n][1][:, lsp, 2] > 0 for n in truncated])
        was = np.concatenate([annotated[:, lsp] for _ in truncated])
        misplaced = np.concatenate([scores_by[n][3][:, lsp] & ~scores_by[n][2][:, lsp]
                                    for n in truncated])
        visibility["truncated"] = visibility_rule(scores, was & ~labelled, labelled, misplaced,
                                                  thresholds)
        # What the rule costs on whole photos: in-frame joints it would hide, and how many of
        # those were placed right (a hidden wrong joint is no loss to a drawing).
        clean_scores, _, clean_hits, clean_scored = (a[:, lsp] for a in scores_by[CLEAN])
        visibility["clean_in_joints_hidden"] = []
        for t in thresholds:
            hidden = (clean_scores < t) & clean_scored
            visibility["clean_in_joints_hidden"].append(
                {"t": t, "hidden": float(hidden.sum() / clean_scored.sum()),
                 "hidden_correct": float((hidden & clean_hits).sum() / max(hidden.sum(), 1))})
        visibility["score_quantiles"] = {
            kind: np.round(np.quantile(scores[mask], [0.1, 0.25, 0.5, 0.75, 0.9]), 3).tolist()
            for kind, mask in (("out", was & ~labelled), ("in", labelled))}
        # Does the model say "absent" by where it puts a cut-off joint? Share put inside the photo.
        visibility["out_joints_predicted_inside_frame"] = {
            name: float(predicted_inside(*frames_by[name])[:, lsp][
                annotated[:, lsp] & ~(scores_by[name][1][:, lsp, 2] > 0)].mean())
            for name in truncated}

    print()
    print("| condition | photos | tfpose `lspet`, 12 limb joints | MediaPipe Pose full, 12 limb "
          "joints (person found) | tfpose − MediaPipe | tfpose, 14 joints |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        peer = "mediapipe_limbs" in r
        theirs = f"{r['mediapipe_limbs']:.2f} ({r['mediapipe_found']})" if peer else "—"
        gap = f"{r['tfpose_limbs'] - r['mediapipe_limbs']:+.2f}" if peer else "—"
        print(f"| {r['condition']} | {r['photos']} | {r['tfpose_limbs']:.2f} | {theirs} | {gap} "
              f"| {r['tfpose_14']:.2f} |")
    if truncated:
        print("\n| t | precision | recall | flagged | flagged that were out or misplaced "
              "| clean photos: in-frame joints hidden | of those, placed right |")
        print("|---|---|---|---|---|---|---|")
        for row, clean in zip(visibility["truncated"], visibility["clean_in_joints_hidden"]):
            precision = "—" if row["precision"] is None else f"{100 * row['precision']:.1f} %"
            recall = "—" if row["recall"] is None else f"{100 * row['recall']:.1f} %"
            unusable = ("—" if row["precision_unusable"] is None
                        else f"{100 * row['precision_unusable']:.1f} %")
            print(f"| {row['t']:g} | {precision} | {recall} | {row['flagged']} | {unusable} "
                  f"| {100 * clean['hidden']:.1f} % | {100 * clean['hidden_correct']:.1f} % |")
        print(f"out: {visibility['truncated'][0]['out']} joints, in: "
              f"{visibility['truncated'][0]['in']}; score quantiles (10/25/50/75/90 %): "
              f"{visibility['score_quantiles']}; cut-off joints predicted inside the photo: "
              f"{visibility['out_joints_predicted_inside_frame']}")
    result = {"model": args.model, "passes": args.passes, "engine": predictor.description,
              "detector": args.detector,
              "seed": args.seed, "photos": len(paths), "dataset": args.dataset,
              "machine": f"{platform.machine()} {cores} cores", "rows": rows,
              "visibility": visibility}
    results = Path(args.results) if args.results else out_dir / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "visibility")}))


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    main()
