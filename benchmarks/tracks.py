"""People tracks on a clip with known identities (issue 33): identity switches, people found
per frame and their PCK, frames/s.

    .venv/bin/python scripts/make_crossing_clip.py runs/crossing
    .venv/bin/python benchmarks/tracks.py runs/crossing/crossing.mp4 [--pose lspet]
        [--detector person-detector] [--min-score 0.3] [--no-smooth]

Runs ``people_video.predict_people_video`` (what ``tfpose predict CLIP`` runs) and reads the
truth from ``CLIP.gt.jsonl`` (``scripts/make_crossing_clip.py``). Per frame, true persons and
skeletons are matched one to one by PCK@0.2 (Hungarian, a pair counting at PCK >= 0.5, as
``benchmarks/multi_person.py``; a person with fewer than 4 visible limb joints, or whose torso
is hidden, is not scored).
Per true person, the sequence of the track ids matched to it; an *identity switch* is a frame
whose id differs from the id the person last had. *Found* is the share of scored
person-frames with a match; *PCK* the mean over them (0 when unmatched). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from multi_person import LIMB_JOINTS, MATCH_PCK, person_pck  # noqa: E402

MIN_VISIBLE = 4


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--pose", default="lspet")
    parser.add_argument("--detector", default=None)
    parser.add_argument("--min-score", type=float, default=None)
    parser.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    from scipy.optimize import linear_sum_assignment

    from tfpose.metrics.pck import torso_size
    from tfpose.serving import people
    from tfpose.serving.people_video import predict_people_video
    from tfpose.serving.predict import make_predictor

    truth = [json.loads(line) for line in open(args.clip.with_suffix(".gt.jsonl"))]
    detector = people.PersonDetector(args.detector, min_score=args.min_score
                                     if args.min_score is not None else people.MIN_SCORE)
    finder = people.PeoplePredictor(detector, make_predictor(args.pose))
    records = []
    summary = predict_people_video(finder, args.clip, None, draw=False, smooth=args.smooth,
                                   on_record=records.append)
    last, switches, found, scored, pck_sum = {}, 0, 0, 0, 0.0
    ids_seen = {}  # person -> the track ids matched to it, in the order they came
    for rec, gt in zip(records, truth):
        # Scored: a person with MIN_VISIBLE limb joints in view and a torso (its scale).
        persons = [p for p in gt["persons"]
                   if np.asarray(p["annotated"])[list(LIMB_JOINTS)].sum() >= MIN_VISIBLE
                   and np.isfinite(torso_size(np.asarray([p["keypoints"]], np.float32),
                                              ~np.asarray([p["annotated"]], bool)))[0]]
        if not persons:
            continue
        scored += len(persons)
        skeletons = np.asarray([p["keypoints"] for p in rec["persons"]],
                               np.float32).reshape(-1, 16, 2)
        if not len(skeletons):  # nobody found: every scored person missed
            continue
        pck = person_pck(skeletons, np.asarray([p["keypoints"] for p in persons], np.float32),
                         np.asarray([p["annotated"] for p in persons], bool))
        pck = np.nan_to_num(pck, nan=0.0)
        rows, cols = linear_sum_assignment(-pck)
        for r, c in zip(rows, cols):
            if pck[r, c] < MATCH_PCK:
                continue
            who, track_id = persons[c]["id"], rec["persons"][r]["track_id"]
            found += 1
            pck_sum += float(pck[r, c])
            switches += who in last and last[who] != track_id
            last[who] = track_id
            if track_id not in ids_seen.setdefault(who, []):
                ids_seen[who].append(track_id)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "clip": str(args.clip),
              "frames": summary["frames"], "fps": summary["fps"], "tracks": summary["tracks"],
              "people": len({p["id"] for gt in truth for p in gt["persons"]}),
              "identity_switches": int(switches),
              "found_%": round(100.0 * found / max(scored, 1), 2),
              "pck@0.2": round(100.0 * pck_sum / max(scored, 1), 2), "smooth": args.smooth,
              "track_ids_per_person": {str(k): v for k, v in sorted(ids_seen.items())}}
    print(f"{args.clip}: {report['people']} people, {report['tracks']} tracks, "
          f"{report['identity_switches']} identity switches, found in {report['found_%']} % of "
          f"person-frames, PCK@0.2 {report['pck@0.2']}, {report['fps']} frames/s")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    from tfpose.core.console import import_tensorflow_quietly

    import_tensorflow_quietly()
    sys.exit(main())
