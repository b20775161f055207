"""MPII Human Pose: readers for the official .mat and the HRNet/mmpose JSON.

Every reader returns ``PersonRecord``s in 0-based pixels of the original image: the MATLAB
1-based coordinates are converted exactly once, here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.skeleton import NUM_JOINTS
from tfpose.datasets import matfile


@dataclasses.dataclass
class PersonRecord:
    """One annotated person of one image. Coordinates are 0-based pixels of the original image.

    joints:    float32 [16, 2] (x, y); zeros where not annotated.
    annotated: bool [16], the joint is in the annotation's point list.
    visible:   bool [16], annotated and not marked occluded (unknown visibility counts visible).
    """

    image_name: str
    image_index: int  # 0-based index into annolist
    person_index: int  # 0-based index into annorect
    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    head_box: Optional[Tuple[float, float, float, float]]  # x1, y1, x2, y2 (0-based) or None
    head_size: Optional[float]  # 0.6 x head-box diagonal, or None without a head box
    objpos: Optional[Tuple[float, float]]  # rough person centre (0-based)
    scale: Optional[float]  # person height / 200 px
    category: str  # act.cat_name, "" when unlabelled
    activities: Tuple[str, ...]  # act.act_name split on ", "
    act_id: int  # -1 when unlabelled
    img_train: bool
    single_person: bool
    video_index: Optional[int]  # annolist.vididx, None when empty
    frame_sec: Optional[int]
    # Joints whose x or y was NaN / infinite in the file: left not annotated, counted here.
    dropped_joints: int = 0

    @property
    def num_annotated(self) -> int:
        return int(self.annotated.sum())


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


class _BadRecord(Exception):
    """Internal: a malformed value; turned into a DataError naming file, image and person."""


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, np.ndarray):
        return value.size == 0
    return isinstance(value, str) and value == ""


def _as_list(value) -> list:
    """A MATLAB struct array after ``squeeze_me``: a lone struct, an array of them, or empty."""
    if _is_empty(value):
        return []
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    return [value]


def _float(value, what: str, finite: bool = True) -> Optional[float]:
    if _is_empty(value):
        return None
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise _BadRecord(f"{what} has {value.size} values, expected one")
        value = value.reshape(-1)[0]
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise _BadRecord(f"{what} is not a number: {value!r}") from None
    if finite and not np.isfinite(out):
        raise _BadRecord(f"{what} is not finite: {out}")
    return out


def _int(value, what: str) -> Optional[int]:
    out = _float(value, what)
    return None if out is None else int(round(out))


def _text_value(value, what: str) -> str:
    if _is_empty(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.size == 1:
        return str(value.reshape(-1)[0])
    raise _BadRecord(f"{what} is not text: {value!r}")


def _visibility(value, joint_id: int) -> bool:
    """``is_visible``: 1x1 number, ``[]`` (unknown: counts visible) or the string '0' / '1'."""
    if _is_empty(value):
        return True
    if isinstance(value, str):
        text = value.strip()
        if text not in ("0", "1"):
            raise _BadRecord(f"joint {joint_id} is_visible is the string {value!r}, not '0'/'1'")
        return text == "1"
    return _int(value, f"joint {joint_id} is_visible") != 0


def _field(struct, name: str):
    return getattr(struct, name, None)


def _parse_points(annopoints):
    """(joints [16,2] 0-based, annotated [16], visible [16], dropped) or None when there is no
    point; ``dropped`` joints had a non-finite x or y and stay not annotated."""
    if _is_empty(annopoints):
        return None
    points = _as_list(_field(annopoints, "point"))
    if not points:
        return None
    joints = np.zeros((NUM_JOINTS, 2), dtype=np.float32)
    annotated = np.zeros(NUM_JOINTS, dtype=bool)
    visible = np.zeros(NUM_JOINTS, dtype=bool)
    seen, dropped = set(), 0
    for point in points:
        joint_id = _int(_field(point, "id"), "point id")
        if joint_id is None or not 0 <= joint_id < NUM_JOINTS:
            raise _BadRecord(f"point id {joint_id} is not a joint id 0..{NUM_JOINTS - 1}")
        if joint_id in seen:
            raise _BadRecord(f"joint {joint_id} appears twice in the point list")
        seen.add(joint_id)
        x = _float(_field(point, "x"), f"joint {joint_id} x", finite=False)
        y = _float(_field(point, "y"), f"joint {joint_id} y", finite=False)
        if x is None or y is None:
            raise _BadRecord(f"joint {joint_id} has no x or y")
        if not (np.isfinite(x) and np.isfinite(y)):
            dropped += 1  # unusable coordinates: as if the joint were not labelled
            continue
        joints[joint_id] = (x - 1.0, y - 1.0)
        annotated[joint_id] = True
        visible[joint_id] = _visibility(_field(point, "is_visible"), joint_id)
    return joints, annotated, visible, dropped


def _parse_person(rect, person_index: int, image: dict) -> Optional[PersonRecord]:
    if not hasattr(rect, "_fieldnames"):
        raise _BadRecord(f"annorect entry is a {type(rect).__name__}, not a struct")
    parsed = _parse_points(_field(rect, "annopoints"))
    if parsed is None:
        if image["annotated_only"]:
            return None
        joints = np.zeros((NUM_JOINTS, 2), dtype=np.float32)
        annotated = np.zeros(NUM_JOINTS, dtype=bool)
        visible = annotated.copy()
        dropped = 0
    else:
        joints, annotated, visible, dropped = parsed
    corners = [_float(_field(rect, k), f"head box {k}") for k in ("x1", "y1", "x2", "y2")]
    head_box = head_size = None
    if all(c is not None for c in corners):
        x1, y1, x2, y2 = (c - 1.0 for c in corners)
        head_box = (x1, y1, x2, y2)
        head_size = 0.6 * float(np.hypot(x2 - x1, y2 - y1))
    objpos = None
    pos = _field(rect, "objpos")
    if not _is_empty(pos):
        ox, oy = _float(_field(pos, "x"), "objpos.x"), _float(_field(pos, "y"), "objpos.y")
        if ox is not None and oy is not None:
            objpos = (ox - 1.0, oy - 1.0)
    return PersonRecord(
        image_name=image["name"],
        image_index=image["index"],
        person_index=person_index,
        joints=joints,
        annotated=annotated,
        visible=visible,
        head_box=head_box,
        head_size=head_size,
        objpos=objpos,
        scale=_float(_field(rect, "scale"), "scale"),
        category=image["category"],
        activities=image["activities"],
        act_id=image["act_id"],
        img_train=image["img_train"],
        single_person=(person_index + 1) in image["single_person"],
        video_index=image["vididx"],
        frame_sec=image["frame_sec"],
        dropped_joints=dropped,
    )


def _load_release(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    contents = matfile.load_in_process(path, struct_as_record=False, squeeze_me=True)
    release = contents.get("RELEASE")
    if release is None:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise DataError(f"{path}: no RELEASE variable (found: {', '.join(found) or 'nothing'}); "
                        "not an MPII annotation file")  # fmt: skip
    fields = getattr(release, "_fieldnames", None)
    if fields is None:
        raise DataError(f"{path}: RELEASE is a {type(release).__name__}, not a struct")
    missing = [f for f in ("annolist", "img_train") if f not in fields]
    if missing:
        raise DataError(f"{path}: RELEASE has no {', '.join(missing)} "
                        f"(fields: {', '.join(fields)}); not an MPII annotation file")  # fmt: skip
    return release


def _per_image(release, name: str, count: int, path: Path) -> list:
    """A per-image RELEASE array (act, single_person, img_train) as a list of length ``count``."""
    value = _field(release, name)
    if value is None:
        return [None] * count
    if count == 1:
        # squeeze_me turns a 1x1 array or cell into its one element (itself maybe an array).
        return [value]
    items = list(value.reshape(-1)) if isinstance(value, np.ndarray) else [value]
    if len(items) != count:
        raise DataError(f"{path}: RELEASE.{name} has {len(items)} entries for {count} images")
    return items


def read_release_mat(path, annotated_only: bool = True) -> list:
    """Read the official MPII ``RELEASE`` .mat: one ``PersonRecord`` per person.

    ``annotated_only`` (default) keeps persons with a point list; with False, persons with only
    ``scale``/``objpos`` (test images, some training persons) come too, with no joint annotated.
    Coordinates become 0-based here (MATLAB's minus 1). Raises ``DataError`` naming the file
    (and the image and person index for a malformed person). Parsed in a child process
    (``matfile.call_isolated``): a file that crashes scipy is an error, not a dead process.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    return matfile.call_isolated(path, _read_release_mat, path, annotated_only)


def _read_release_mat(path: Path, annotated_only: bool) -> list:
    release = _load_release(path)
    annolist = _as_list(release.annolist)
    if annolist and not hasattr(annolist[0], "_fieldnames"):
        raise DataError(f"{path}: RELEASE.annolist is not a struct array")
    n = len(annolist)
    img_train = _per_image(release, "img_train", n, path)
    acts = _per_image(release, "act", n, path)
    singles = _per_image(release, "single_person", n, path)
    records = []
    for i, entry in enumerate(annolist):
        where = f"{path}: image {i}"
        try:
            image_struct = _field(entry, "image")
            name = _text_value(_field(image_struct, "name") if image_struct is not None else None,
                               "image.name")  # fmt: skip
            if not name:
                raise _BadRecord("no image.name")
            act = acts[i]
            category = act_name = ""
            act_id = None
            if act is not None:
                category = _text_value(_field(act, "cat_name"), "cat_name")
                act_name = _text_value(_field(act, "act_name"), "act_name")
                act_id = _int(_field(act, "act_id"), "act_id")
            single = singles[i]
            single_ids = set()
            if single is not None and not _is_empty(single):
                single_ids = {int(v) for v in np.asarray(single, dtype=np.float64).reshape(-1)}
            image = {
                "name": name,
                "index": i,
                "annotated_only": annotated_only,
                "category": category,
                "activities": tuple(a for a in act_name.split(", ") if a),
                "act_id": -1 if act_id is None else act_id,
                "img_train": bool(_int(img_train[i], "img_train")),
                "single_person": single_ids,
                "vididx": _int(_field(entry, "vididx"), "vididx"),
                "frame_sec": _int(_field(entry, "frame_sec"), "frame_sec"),
            }  # fmt: skip
        except (_BadRecord, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{where}: malformed image entry: {exc}") from None
        for p, rect in enumerate(_as_list(_field(entry, "annorect"))):
            try:
                record = _parse_person(rect, p, image)
            except (_BadRecord, TypeError, ValueError, AttributeError) as exc:
                raise DataError(f"{where} ({name}), person {p}: {exc}") from None
            if record is not None:
                records.append(record)
    return records


_JSON_KEYS = ("image", "joints", "joints_vis", "center", "scale")


def read_json(path, one_based: bool = True) -> list:
    """Read the HRNet/mmpose MPII JSON: a list of {image, joints [16][2], joints_vis [16],
    center [2], scale}, one entry per person.

    Those files keep the .mat's MATLAB 1-based pixels (HRNet and mmpose subtract 1 when loading;
    mmpose's test fixture holds exactly the .mat values), so ``one_based`` (default) subtracts 1
    here too. ``joints_vis`` 0 means not annotated; there is no occlusion flag, head box or
    activity, so visible = annotated, head box None, category "" and act_id -1. Images are
    indexed in order of first appearance, persons in order within their image.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a JSON list of persons, got {type(entries).__name__}")
    offset = 1.0 if one_based else 0.0
    image_index, persons_in, records = {}, {}, []
    for k, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise _BadRecord(f"is a {type(entry).__name__}, not an object")
            missing = [key for key in _JSON_KEYS if key not in entry]
            if missing:
                raise _BadRecord(f"has no {', '.join(missing)}")
            name = entry["image"]
            if not isinstance(name, str) or not name:
                raise _BadRecord(f"image is {name!r}, not a file name")
            joints = np.asarray(entry["joints"], dtype=np.float64)
            vis = np.asarray(entry["joints_vis"], dtype=np.float64)
            center = np.asarray(entry["center"], dtype=np.float64)
            shapes = (joints.shape, vis.shape, center.shape)
            if shapes != ((NUM_JOINTS, 2), (NUM_JOINTS,), (2,)):
                raise _BadRecord(f"joints {joints.shape}, joints_vis {vis.shape}, center "
                                 f"{center.shape}; expected (16, 2), (16,), (2,)")  # fmt: skip
            scale = float(entry["scale"])
            if not (np.isfinite(joints).all() and np.isfinite(center).all() and np.isfinite(scale)):
                raise _BadRecord("non-finite coordinate or scale")
        except (_BadRecord, TypeError, ValueError) as exc:
            raise DataError(f"{path}: entry {k}: {exc}") from None
        annotated = vis > 0
        index = image_index.setdefault(name, len(image_index))
        person = persons_in.get(name, 0)
        persons_in[name] = person + 1
        records.append(PersonRecord(
            image_name=name,
            image_index=index,
            person_index=person,
            joints=np.where(annotated[:, None], joints - offset, 0.0).astype(np.float32),
            annotated=annotated,
            visible=annotated.copy(),
            head_box=None,
            head_size=None,
            objpos=(float(center[0] - offset), float(center[1] - offset)),
            scale=scale,
            category="",
            activities=(),
            act_id=-1,
            img_train=True,
            single_person=False,
            video_index=None,
            frame_sec=None,
        ))  # fmt: skip
    return records


def read_annotations(path, **kwargs) -> list:
    """Read a .mat (official RELEASE) or .json (HRNet/mmpose) annotation file by its suffix.

    ``kwargs`` go to the reader (``annotated_only`` for .mat, ``one_based`` for .json).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return read_release_mat(path, **kwargs)
    if suffix == ".json":
        return read_json(path, **kwargs)
    raise DataError(f"{path}: unknown annotation format {suffix or '(no suffix)'!r}; "
                    "expected .mat (official MPII RELEASE) or .json (HRNet/mmpose)")  # fmt: skip
