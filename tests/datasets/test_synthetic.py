"""Synthetic MPII: determinism, round trip through the official .mat, drawing = annotation,
every quirk of the real file, and class-dependent poses. Small images, a few seconds in all."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tfpose.datasets import synthetic
from tfpose.datasets.mpii import read_release_mat
from tfpose.core.errors import DataError

SMALL = (96, 160)  # image widths for the tests


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """12 images (every image-level quirk is forced into the first few), drawn by 2 processes."""
    out = tmp_path_factory.mktemp("synth") / "a"
    summary = synthetic.generate(out, 12, seed=5, workers=2, width_range=SMALL)
    return out, summary, synthetic.sample_scenes(12, 5, SMALL)


def test_same_seed_is_byte_identical_serial_or_parallel_and_other_seeds_differ(written, tmp_path):
    out, _, _ = written
    synthetic.generate(tmp_path / "b", 12, seed=5, workers=1, width_range=SMALL)
    synthetic.generate(tmp_path / "c", 12, seed=6, workers=1, width_range=SMALL)
    a, b, c = _files(out), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) == 13 and synthetic.MAT_NAME in a
    assert a == b
    assert a[synthetic.MAT_NAME] != c[synthetic.MAT_NAME]
    assert sum(a[k] != c.get(k) for k in a) >= 12


def test_summary_and_images_match_the_scenes(written):
    out, summary, scenes = written
    assert summary["images"] == 12
    assert summary["persons"] == sum(len(s.persons) for s in scenes)
    assert sum(summary["categories"].values()) == 12
    for s in scenes:
        with Image.open(out / "images" / s.name) as im:
            assert im.size == (s.width, s.height) and im.format == "JPEG"
            # the file is the scene's drawing (up to JPEG loss)
            diff = np.abs(np.asarray(im, np.float32) - np.asarray(synthetic.render(s), np.float32))
            assert diff.mean() < 8, (s.name, diff.mean())
        assert SMALL[0] * 0.75 - 1 <= max(s.width, s.height) <= SMALL[1] + 1


def test_mat_reads_back_as_the_generators_ground_truth(written):
    out, _, scenes = written
    records = read_release_mat(out / synthetic.MAT_NAME, annotated_only=False)
    truth = [(s, p_i, p) for s in scenes for p_i, p in enumerate(s.persons)]
    assert len(records) == len(truth)
    for rec, (s, p_i, p) in zip(records, truth):
        assert (rec.image_name, rec.image_index, rec.person_index) == (s.name, s.index, p_i)
        np.testing.assert_array_equal(rec.annotated, p.annotated)
        np.testing.assert_array_equal(rec.visible, p.visible)
        np.testing.assert_allclose(rec.joints[p.annotated], p.joints[p.annotated], atol=1e-3)
        np.testing.assert_allclose(rec.objpos, p.objpos, atol=1e-6)
        assert rec.scale == pytest.approx(p.scale)
        if p.has_points:
            np.testing.assert_allclose(rec.head_box, p.head_box, atol=1e-6)
        else:
            assert rec.head_box is None and not rec.annotated.any()
        assert rec.category == s.cat_name
        assert rec.act_id == s.act_id
        assert rec.activities == tuple(a for a in s.act_name.split(", ") if a)
        assert rec.img_train == bool(s.img_train)
        assert rec.video_index == s.vididx and rec.frame_sec == s.frame_sec
        assert rec.single_person == ((p_i + 1) in s.single_person)
        # Annotated joints lie inside the image; visible ones too, by construction.
        xy = rec.joints[rec.annotated]
        assert np.all(xy >= 0) and np.all(xy[:, 0] <= s.width - 1) and np.all(xy[:, 1] <= s.height - 1)
    # The default reader keeps only persons with joints, as the converter will.
    annotated = read_release_mat(out / synthetic.MAT_NAME)
    assert len(annotated) == sum(p.has_points for _, _, p in truth)


@pytest.fixture(scope="module")
def small_scenes():
    return synthetic.sample_scenes(40, seed=11, width_range=(160, 320))


def test_visible_joints_are_drawn_on_their_own_limb(small_scenes):
    checked = occluded = 0
    for s in small_scenes[:20]:
        image = np.asarray(synthetic.render(s))
        background = np.asarray(synthetic.render(s, figures=False))
        for p_i, p in enumerate(s.persons):
            for k in np.flatnonzero(p.annotated):
                col, row = synthetic._pixel(p.joints[k])
                own = {sh.fill for sh in s.shapes if sh.person == p_i and k in sh.joints}
                pixel = tuple(int(v) for v in image[row, col])
                if p.visible[k]:
                    checked += 1
                    assert pixel in own, (s.name, p_i, k)
                    assert not np.array_equal(image[row, col], background[row, col])
                else:
                    occluded += 1
    assert checked > 100 and occluded > 5


def test_left_and_right_limbs_have_different_shades(small_scenes):
    for s in small_scenes[:10]:
        for p_i, _ in enumerate(s.persons):
            fill = {sh.joints: sh.fill for sh in s.shapes if sh.person == p_i}
            right, left = fill[(11, 12)], fill[(13, 14)]  # upper arms
            assert sum(right) > sum(left)  # right lighter, left darker
            assert fill[(1, 2)] == right and fill[(3, 4)] == left  # thighs follow


def test_head_box_holds_the_head(small_scenes):
    n = 0
    for s in small_scenes:
        for p in s.persons:
            x1, y1, x2, y2 = p.head_box
            for k in (8, 9):  # upper neck and head top
                assert x1 <= p.joints[k, 0] <= x2 and y1 <= p.joints[k, 1] <= y2
            # head size (0.6 x diagonal) is a plausible fraction of the person's box side
            assert 0.04 < 0.6 * np.hypot(x2 - x1, y2 - y1) / (p.scale * 200) < 0.4
            n += 1
    assert n > 40


def test_every_quirk_of_the_real_file_appears():
    scenes = synthetic.sample_scenes(40, seed=3)
    entries = [synthetic.release_entry(s) for s in scenes]
    persons = [p for e in entries for p in e["persons"]]
    points = [pt for p in persons if p["points"] for pt in p["points"]]
    ids = [[pt[0] for pt in p["points"]] for p in persons if p["points"]]
    assert any(i != sorted(i) for i in ids)  # unsorted point lists
    assert any(len(i) < 16 for i in ids)  # missing joints absent
    vis = [pt[3] for pt in points]
    assert any(v is None for v in vis)  # empty is_visible ...
    assert all(pt[0] in (8, 9) for pt in points if pt[3] is None)  # ... on upper neck/head top
    assert {"0", "1"} <= {v for v in vis if isinstance(v, str)}  # strings
    assert {0, 1} <= {v for v in vis if isinstance(v, int)}  # numbers, some occluded
    assert any(e["img_train"] == 0 and e["persons"] and
               all(p["points"] is None and p["head_box"] is None and p["objpos"] for p in e["persons"])
               for e in entries)  # test images: scale and objpos only  # fmt: skip
    assert any(e["img_train"] == 1 and p["points"] is None for e in entries for p in e["persons"])
    assert any(not e["persons"] for e in entries)  # empty annorect
    assert any(len(e["persons"]) >= 2 for e in entries)  # several persons
    assert any(", " in e["act"]["act_name"] for e in entries)  # multi-activity
    assert any(e["act"] == {"cat_name": "", "act_name": "", "act_id": -1} for e in entries)
    assert any(e["vididx"] is None for e in entries)
    assert any(e["frame_sec"] is None for e in entries)
    videos = Counter(e["vididx"] for e in entries if e["vididx"] is not None)
    assert max(videos.values()) >= 2  # near-duplicate frames sharing a video
    # The first 6 images alone already hold every image-level quirk.
    roles = {s.role for s in synthetic.sample_scenes(6, seed=8)}
    assert {"multi", "test", "unlabelled", "empty", "video"} <= roles


def test_video_frames_are_near_duplicates():
    scenes = synthetic.sample_scenes(60, seed=2, width_range=(160, 320))
    groups = {}
    for s in scenes:
        if s.role == "video":
            groups.setdefault(s.vididx, []).append(s)
    assert groups
    for frames in groups.values():
        assert len(frames) >= 2
        first = frames[0]
        secs = [f.frame_sec for f in frames]
        assert secs == sorted(set(secs))
        for f in frames[1:]:
            assert (f.width, f.height, f.background) == (first.width, first.height, first.background)
            assert (f.cat_name, f.act_name) == (first.cat_name, first.act_name)
            assert len(f.persons) == len(first.persons)
            for p, q in zip(f.persons, first.persons):
                moved = np.linalg.norm(p.joints - q.joints, axis=1).mean()
                assert 0 < moved < 0.15 * q.scale * 200


def test_categories_and_their_poses_differ():
    scenes = synthetic.sample_scenes(500, seed=0)
    cats = Counter(s.cat_name for s in scenes if s.category >= 0)
    assert len(cats) >= 6 and min(cats.values()) >= 20
    feats, labels = [], []
    for s in scenes:
        for p in s.persons:
            if s.category >= 0 and p.has_points:
                rel = (p.joints - np.asarray(p.objpos)) / (p.scale * 200)  # normalised joints
                rel[~p.annotated] = 0
                feats.append(rel.reshape(-1))
                labels.append(s.category)
    x, y = np.asarray(feats), np.asarray(labels)
    half = len(y) // 2
    centroids = np.stack([x[:half][y[:half] == c].mean(0) for c in range(synthetic.NUM_CATEGORIES)])
    pred = np.argmin(((x[half:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == y[half:]).mean())
    assert accuracy > 3 / synthetic.NUM_CATEGORIES, accuracy  # chance is 1/8
    # ... but not trivially separable: some poses come from another class.
    mixed = np.mean([p.pose_category != p.category for s in scenes for p in s.persons if s.category >= 0])
    assert 0.08 < mixed < 0.3


def test_background_cue_is_weak():
    scenes = [s for s in synthetic.sample_scenes(400, seed=1) if s.category >= 0 and s.role != "video"]
    fam = synthetic.BACKGROUND_FAMILIES
    preferred = np.mean([s.background["family"] == fam[s.category % len(fam)] for s in scenes])
    # p = 0.3 preferred + 0.7 x 1/6 by chance: informative, far from a giveaway
    assert 0.3 < preferred < 0.6, preferred


def test_bad_arguments_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="num_images=0"):
        synthetic.sample_scenes(0)
    with pytest.raises(DataError, match="width_range"):
        synthetic.generate(tmp_path / "x", 2, width_range=(200, 100))
    assert not (tmp_path / "x").exists()


def test_cli_synth_writes_the_dataset_and_a_summary(tmp_path):
    from cli import cli

    result = CliRunner().invoke(
        cli, ["synth", str(tmp_path / "out"), "--images", "3", "--seed", "1", "--workers", "1",
              "--min-width", "64", "--max-width", "96"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 3 images" in result.output and "categories" in result.output
    assert (tmp_path / "out" / synthetic.MAT_NAME).is_file()
    assert len(list((tmp_path / "out" / "images").glob("*.jpg"))) == 3
