"""Writing MPII's official ``RELEASE`` .mat layout (``mpii_human_pose_v1_u12_1.mat``), exactly as
the real file stores it, so the synthetic data and test fixtures go through the real reader."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import scipy.io


# An empty MATLAB value `[]`, as the real file stores missing scalars, names and visibilities.
def _empty() -> np.ndarray:
    return np.zeros((0, 0), dtype=np.float64)


def _struct_array(rows: list, fields: Sequence[str], shape: Tuple[int, int]) -> np.ndarray:
    """A MATLAB struct array (savemat writes a structured object array as one)."""
    out = np.empty(shape, dtype=[(f, object) for f in fields])
    flat = out.reshape(-1)
    for i, row in enumerate(rows):
        for f in fields:
            flat[i][f] = row.get(f, _empty())
    return out


def _cell(values: list, shape: Tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array; built element by element so numpy never merges equal-shape entries."""
    out = np.empty(shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(values):
        flat[i] = v
    return out


def _num(value, dtype=np.float64) -> np.ndarray:
    return _empty() if value is None else np.array([[value]], dtype=dtype)


def _text(value: str):
    # The real file stores a missing name as `[]` (double), not as an empty char array.
    return value if value else _empty()


def _point_struct(points) -> np.ndarray:
    rows = []
    for point in points:
        joint_id, x, y, vis = point
        if vis is None:
            vis_value = _empty()
        elif isinstance(vis, str):
            vis_value = vis  # the real file has a few char '0' / '1'
        else:
            vis_value = np.array([[int(vis)]], dtype=np.uint8)
        rows.append({
            "x": _num(float(x) + 1.0),
            "y": _num(float(y) + 1.0),
            "id": np.array([[int(joint_id)]], dtype=np.uint8),
            "is_visible": vis_value,
        })  # fmt: skip
    return _struct_array(rows, ("x", "y", "id", "is_visible"), (1, len(rows)))


def _annorect(persons: list) -> np.ndarray:
    """One image's annorect: a 1 x P struct array, or `[]` when the image has no person.

    MATLAB struct arrays share one field list, so a field is present when any person of the
    image has it and empty (`[]`) for the others; an image whose persons have neither head boxes
    nor points gets only `scale` and `objpos`, as the real test images do.
    """
    if not persons:
        return _empty()
    has_box = any(p.get("head_box") is not None for p in persons)
    has_points = any(p.get("points") is not None for p in persons)
    # Field order of the real file.
    fields = ["scale", "objpos"] + (["annopoints"] if has_points else [])
    fields += ["x1", "y1", "x2", "y2"] if has_box else []
    rows = []
    for p in persons:
        row = {"scale": _num(p.get("scale"))}
        if p.get("objpos") is not None:
            ox, oy = p["objpos"]
            row["objpos"] = _struct_array(
                [{"x": _num(float(ox) + 1.0), "y": _num(float(oy) + 1.0)}], ("x", "y"), (1, 1)
            )
        if p.get("head_box") is not None:
            for name, v in zip(("x1", "y1", "x2", "y2"), p["head_box"]):
                row[name] = _num(float(v) + 1.0)
        if p.get("points") is not None:
            row["annopoints"] = _struct_array(
                [{"point": _point_struct(p["points"])}], ("point",), (1, 1)
            )
        rows.append(row)
    return _struct_array(rows, fields, (1, len(rows)))


def write_release_mat(path, images: Sequence[dict], video_list: Sequence[str] = ()) -> None:
    """Write ``images`` as an official MPII ``RELEASE`` .mat (MATLAB v5, scipy.io.savemat).

    Coordinates in ``images`` are 0-based pixels; the file gets MATLAB's 1-based ones.
    Each image is a dict::

        name: str; img_train: int (1 train, 0 test); vididx, frame_sec: int | None
        act: {"cat_name": str, "act_name": str, "act_id": int}   ("", "", -1 unlabelled)
        single_person: list[int]   1-based annorect ids, [] for none
        persons: list of {objpos: (x, y) | None, scale: float | None,
                          head_box: (x1, y1, x2, y2) | None,
                          points: [(id, x, y, is_visible), ...] in any order | None}
                 is_visible: int, None (written as []) or "0" / "1"

    ``video_list``: YouTube ids, indexed by ``vididx`` (1-based) in the real file.
    """
    n = len(images)
    annolist, acts, single, train = [], [], [], []
    for im in images:
        annolist.append({
            "image": _struct_array([{"name": str(im["name"])}], ("name",), (1, 1)),
            "annorect": _annorect(list(im.get("persons") or [])),
            "frame_sec": _num(im.get("frame_sec")),
            "vididx": _num(im.get("vididx")),
        })  # fmt: skip
        act = im.get("act") or {}
        acts.append({
            "cat_name": _text(act.get("cat_name", "")),
            "act_name": _text(act.get("act_name", "")),
            "act_id": _num(int(act.get("act_id", -1)), np.int16),
        })  # fmt: skip
        ids = [int(i) for i in im.get("single_person") or []]
        single.append(np.array(ids, dtype=np.uint8).reshape(-1, 1) if ids else _empty())
        train.append(int(im.get("img_train", 1)))
    release = _struct_array(
        [{
            "annolist": _struct_array(
                annolist, ("image", "annorect", "frame_sec", "vididx"), (1, n)),
            "img_train": np.array(train, dtype=np.uint8).reshape(1, n),
            "version": "12",
            "single_person": _cell(single, (n, 1)),
            "act": _struct_array(acts, ("cat_name", "act_name", "act_id"), (n, 1)),
            "video_list": _cell([str(v) for v in video_list], (1, len(video_list))),
        }],
        ("annolist", "img_train", "version", "single_person", "act", "video_list"),
        (1, 1),
    )  # fmt: skip
    scipy.io.savemat(str(path), {"RELEASE": release}, do_compression=True)
