"""Every person of a video keeps its id (``serving/tracks.py``): through a crossing, a few
unseen frames and a cut; on synthetic skeletons whose identity is known."""

from __future__ import annotations

import numpy as np

from tfpose.serving.tracks import MAX_MISSED, PeopleTracker

# A standing stick figure (MPII order) in a 100 px tall box, centred on (0, 0): ankles, knees,
# hips, pelvis, thorax, neck, head, wrists, elbows, shoulders.
FIGURE = np.array([[-10, 50], [-10, 25], [-10, 0], [10, 0], [10, 25], [10, 50], [0, 0],
                   [0, -30], [0, -35], [0, -50], [-25, -5], [-20, -20], [-12, -30],
                   [12, -30], [20, -20], [25, -5]], np.float32)


def person(x: float, y: float = 100.0, arms_up: bool = False):
    points = FIGURE + [x, y]
    if arms_up:  # wrists and elbows above the shoulders: another pose
        points[[10, 11, 14, 15], 1] = y - np.array([70, 50, 50, 70])
    box = np.concatenate([points.min(0) - 10, points.max(0) + 10])
    return box, points


def frame(people, rng):
    """One frame's persons in a random order (the detector's order carries no identity)."""
    order = rng.permutation(len(people))
    boxes = np.stack([people[i][0] for i in order])
    points = np.stack([people[i][1] for i in order])
    return order, boxes, points, np.ones((len(people), 16), np.float32)


def test_two_people_crossing_keep_their_ids():
    """Two people walk towards each other, 6 px a frame, pass through the same place (their
    boxes overlap entirely for a few frames) and walk on: each keeps one id all along."""
    rng = np.random.default_rng(0)
    tracker = PeopleTracker(smooth=False)
    seen = {0: set(), 1: set()}
    for t in range(60):
        left = person(20 + 6 * t)
        right = person(374 - 6 * t, arms_up=True)
        order, boxes, points, scores = frame([left, right], rng)
        ids, smoothed = tracker.update(boxes, points, scores, t / 25)
        np.testing.assert_array_equal(smoothed, points)  # smooth=False: the joints as given
        for who, track_id in zip(order, ids):
            seen[who].add(int(track_id))
    assert seen[0] == {1} and seen[1] == {2}


def test_identical_people_crossing_are_kept_apart_by_their_motion():
    rng = np.random.default_rng(1)
    tracker = PeopleTracker(smooth=False)
    seen = {0: set(), 1: set()}
    for t in range(60):
        order, boxes, points, scores = frame([person(20 + 6 * t), person(374 - 6 * t)], rng)
        ids, _ = tracker.update(boxes, points, scores, t / 25)
        for who, track_id in zip(order, ids):
            seen[who].add(int(track_id))
    assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1]


def test_a_person_unseen_a_few_frames_keeps_the_id_and_longer_gets_a_new_one():
    tracker = PeopleTracker(smooth=False)
    empty = (np.zeros((0, 4)), np.zeros((0, 16, 2)), np.zeros((0, 16)))  # nobody found
    box, points = person(100)
    first, _ = tracker.update(box[None], points[None], np.ones((1, 16)), 0.0)
    for t in range(1, MAX_MISSED + 1):  # behind someone for MAX_MISSED frames
        tracker.update(*empty, t / 25)
    box, points = person(110)  # a step aside, seen again
    again, _ = tracker.update(box[None], points[None], np.ones((1, 16)), 0.3)
    assert again[0] == first[0]
    for t in range(MAX_MISSED + 1):  # gone for longer: the track ends
        tracker.update(*empty, 0.4 + t / 25)
    later, _ = tracker.update(box[None], points[None], np.ones((1, 16)), 1.0)
    assert later[0] != first[0]


def test_a_cut_ends_every_track_and_smoothing_follows_each_track():
    tracker = PeopleTracker(smooth=True)
    rng = np.random.default_rng(2)
    for t in range(5):
        _, boxes, points, scores = frame([person(100), person(300, arms_up=True)], rng)
        noisy = points + rng.normal(0, 2, points.shape)
        ids, smoothed = tracker.update(boxes, noisy, scores, t / 25)
        # Each track is smoothed on its own: neither skeleton is pulled towards the other.
        for n in range(2):
            assert np.abs(smoothed[n] - points[n]).max() < 10
    tracker.reset()
    _, boxes, points, scores = frame([person(100), person(300, arms_up=True)], rng)
    ids, _ = tracker.update(boxes, points, scores, 5 / 25)
    assert sorted(ids.tolist()) == [3, 4]


def test_a_clip_gives_every_person_with_a_track_id_and_a_drawn_clip(tmp_path):
    """``predict_people_video``: a line per frame with each person's ``track_id`` (stable while
    the people move in a random detector order), the first person's joints at the top level,
    and a drawn clip of as many frames."""
    import json

    from test_video import FRAMES, FPS, SIZE, decoded, write_clip

    from tfpose.serving.people import PeopleResult
    from tfpose.serving.people_video import predict_people_video

    rng = np.random.default_rng(3)
    truth = []

    def two_people(frames):
        """A stand-in for ``PeoplePredictor``: two people walking apart, in a random order."""
        results = []
        for _ in frames:
            t = len(truth)
            people = [person(8 + t, 12), person(56 - t, 12, arms_up=True)]
            order, boxes, points, scores = frame(people, rng)
            truth.append(order)
            results.append(PeopleResult(boxes, np.array([0.9, 0.8], np.float32), points,
                                        scores))
        return results

    clip = write_clip(tmp_path / "clip.mp4")
    summary = predict_people_video(two_people, clip, tmp_path / "out", smooth=False,
                                   batch_size=4)
    assert summary["frames"] == FRAMES and summary["tracks"] == 2
    lines = [json.loads(line) for line in open(tmp_path / "out" / "clip.jsonl")]
    assert [rec["frame"] for rec in lines] == list(range(FRAMES))
    first = None
    for order, rec in zip(truth, lines):
        ids = {int(who): p["track_id"] for who, p in zip(order, rec["persons"])}
        first = first or ids
        assert ids == first and sorted(ids.values()) == [1, 2]
        assert rec["keypoints"] == rec["persons"][0]["keypoints"]
    assert decoded(tmp_path / "out" / "clip.mp4")[:3] == (FRAMES, SIZE, SIZE)
    assert summary["video_fps"] == FPS
