"""Synthetic MPII: articulated figures over textured backgrounds, written in the official layout.

``generate(out, n, seed)`` writes ``out/images/*.jpg`` and ``out/mpii_synthetic.mat`` (a real
``RELEASE`` structure, written by ``tfpose.datasets.mpii_writer.write_release_mat``) so the whole
system runs without the 12.9 GB download. Generation is split in two so tests stay fast:

1. ``sample_scenes(n, seed)`` draws every annotation AND the ordered list of shapes to paint,
   without the textured pixels. Joint visibility is read from a label raster of those same
   shapes (same draw calls): a joint is visible when the topmost shape on its pixel is one of
   its own limb's, so what is written is exactly what is drawn.
2. ``render(scene)`` paints the shapes over a textured background (Pillow ``ImageDraw``).

Pose model: a 3-D stick body (X = the person's left, Y = up, Z = forward) posed by per-class
angle distributions, turned by a yaw, projected orthographically, rolled in the image plane,
scaled and placed; per-joint jitter and a share of poses drawn from another class make the
classes overlap. Right limbs are a lighter shade of the person's colour and left limbs a darker
one so that a flip-aware model can tell them apart. The background texture family and hue follow
the class with probability ``BACKGROUND_CUE_P`` only, a weak image cue that joints cannot see.

Everything depends only on ``(seed, image index)``: the same seed gives byte-identical images and
.mat, whether rendered serially or by several processes. Coordinates here are 0-based pixels;
the .mat writer adds MATLAB's 1.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfpose.core.errors import DataError
from tfpose.core.skeleton import NUM_JOINTS
# What is drawn (figures, backgrounds, the painting itself); ``_pixel``, ``Shape`` and
# ``render`` are part of this module's interface too.
from tfpose.datasets.synthetic_drawing import (  # noqa: F401
    _LEN, _SKIN, Shape, _flat, _hsv, _person_shapes, _perturb, _pixel, _pose_params, _topmost,
    _u, project, render, skeleton_3d)

MAT_NAME = "mpii_synthetic.mat"
IMAGE_DIR = "images"
JPEG_QUALITY = 90

# Probability that an image's background style is its class's preferred one (else uniform).
BACKGROUND_CUE_P = 0.3
# Probability that a person's pose comes from another class's distribution (label unchanged):
# ambiguous poses every real activity has, and where the background cue adds information.
POSE_MIX_P = 0.2


@dataclasses.dataclass(frozen=True)
class Category:
    cat_name: str
    act_names: Tuple[str, ...]  # no ", " inside a name: the real file joins several with it
    first_act_id: int


CATEGORIES = (
    Category("standing", ("standing still", "waiting in line"), 101),
    Category("walking", ("walking", "walking the dog"), 111),
    Category("running", ("running", "jogging"), 121),
    Category("arms raised", ("cheering", "stretching overhead"), 131),
    Category("sitting", ("sitting on a chair", "sitting and reading"), 141),
    Category("bending", ("gardening", "picking up objects"), 151),
    Category("lying", ("lying down", "sleeping"), 161),
    Category("kicking", ("martial arts", "kicking a ball"), 171),
)  # fmt: skip
NUM_CATEGORIES = len(CATEGORIES)

BACKGROUND_FAMILIES = ("noise", "gradient", "stripes", "shapes", "checker", "rings")

# Image-level roles forced on the first images so even a tiny set holds every quirk of the real
# file; later images draw their role at random (``_ROLE_P``).
_FORCED_ROLES = ("multi", "test", "unlabelled", "empty", "video")
_ROLE_P = {"normal": 0.70, "multi": 0.12, "video": 0.08, "test": 0.06, "unlabelled": 0.03,
           "empty": 0.01}  # fmt: skip

# Aspect ratios (width / height) of the generated images.
_ASPECTS = (4 / 3, 16 / 9, 3 / 2, 1.0, 3 / 4, 9 / 16)

# ---------------------------------------------------------------------------------------------
# Scene description (what ``sample_scenes`` returns and ``render`` paints)


@dataclasses.dataclass
class SynthPerson:
    """Ground truth of one drawn person, 0-based pixels.

    joints [16, 2] where drawn (also outside the image); annotated [16] (written to the .mat);
    visible [16] (annotated and not occluded); ``has_points`` False for persons written with
    objpos and scale only (test images, a few training persons).
    """

    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    has_points: bool
    objpos: Tuple[float, float]
    scale: float
    head_box: Tuple[float, float, float, float]
    category: int  # class index whose label the image carries
    pose_category: int  # class whose pose distribution the pose was drawn from
    # How each annotated point is written (the real file's quirks): order of ids and the raw
    # is_visible value per id (int, None for empty, or the string "0"/"1").
    point_order: Tuple[int, ...] = ()
    raw_visible: Dict[int, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Scene:
    index: int
    name: str
    width: int
    height: int
    img_train: int
    category: int  # -1 when unlabelled
    act_name: str
    act_id: int
    vididx: Optional[int]
    frame_sec: Optional[int]
    background: dict
    persons: List[SynthPerson]
    shapes: List[Shape]
    single_person: List[int]
    role: str

    @property
    def cat_name(self) -> str:
        return CATEGORIES[self.category].cat_name if self.category >= 0 else ""


# ---------------------------------------------------------------------------------------------
# Scene sampling


def _sample_background(rng: np.random.Generator, category: int) -> dict:
    if category >= 0 and rng.random() < BACKGROUND_CUE_P:
        family = BACKGROUND_FAMILIES[category % len(BACKGROUND_FAMILIES)]
        hue = category / NUM_CATEGORIES + rng.normal(0, 0.03)
    else:
        family = BACKGROUND_FAMILIES[int(rng.integers(len(BACKGROUND_FAMILIES)))]
        hue = float(rng.random())
    return {"family": family, "hue": float(hue), "sat": _u(rng, 0.15, 0.55),
            "val": _u(rng, 0.35, 0.85), "seed": int(rng.integers(2**31))}  # fmt: skip


@dataclasses.dataclass
class _PersonPlan:
    """What stays fixed across the frames of a video: identity, pose, placement."""

    category: int
    pose_category: int
    params: dict
    lengths: Dict[str, float]
    colour: Tuple[int, int, int]
    skin: Tuple[int, int, int]
    height_px: float
    offset: np.ndarray  # image position of the pelvis
    occluder: Optional[dict]


def _plan_person(rng, category: int, width: int, height: int, n_persons: int) -> _PersonPlan:
    pose_cat = category
    if rng.random() < POSE_MIX_P:
        pose_cat = int(rng.integers(NUM_CATEGORIES))
    params = _pose_params(CATEGORIES[pose_cat].cat_name, rng)
    lengths = {k: v * float(rng.normal(1.0, 0.05)) for k, v in _LEN.items()}
    xy, _ = project(skeleton_3d(params, lengths), params["yaw"], params["roll"])
    lo, hi = xy.min(0) - 0.08, xy.max(0) + 0.08  # head and limb thickness around the joints
    extent = float(max(hi - lo))
    frac = _u(rng, 0.45, 0.9) if n_persons == 1 else _u(rng, 0.25, 0.6)
    height_px = max(0.1 * max(width, height), frac * min(width, height) / max(extent, 0.3))
    box = (hi - lo) * height_px
    # Mostly inside the image; sometimes partly out, so the cut joints go missing.
    slack = 0.3 if rng.random() < 0.15 else 0.0
    pos = np.array([
        _u(rng, -slack * box[0], max(width - box[0] * (1 - slack), -slack * box[0] + 1)),
        _u(rng, -slack * box[1], max(height - box[1] * (1 - slack), -slack * box[1] + 1)),
    ]) - lo * height_px  # fmt: skip
    colour = _hsv(rng.random(), _u(rng, 0.55, 1.0), _u(rng, 0.55, 0.95))
    skin = _SKIN[int(rng.integers(len(_SKIN)))]
    occluder = None
    if rng.random() < 0.2:
        kind = "bottom" if rng.random() < 0.5 else "box"
        a, b, c = _u(rng, 0, 1), _u(rng, 0, 1), _u(rng, 0, 1)
        occluder = {"kind": kind, "a": a, "b": b, "c": c,
                    "colour": _hsv(rng.random(), _u(rng, 0.1, 0.6), _u(rng, 0.2, 0.8))}
    return _PersonPlan(category, pose_cat, params, lengths, colour, skin, height_px, pos, occluder)


def _occluder_shape(occ: dict, joints: np.ndarray, height_px: float) -> Shape:
    lo, hi = joints.min(0), joints.max(0)
    size = hi - lo
    if occ["kind"] == "bottom":  # a table or fence across the lower body
        y0 = lo[1] + (0.55 + 0.3 * occ["a"]) * size[1]
        x0, x1, y1 = lo[0] - 0.1 * height_px, hi[0] + 0.1 * height_px, hi[1] + 0.1 * height_px
    else:  # a box over one joint
        k = int(occ["a"] * NUM_JOINTS) % NUM_JOINTS
        w, h = (0.15 + 0.2 * occ["b"]) * height_px, (0.15 + 0.2 * occ["c"]) * height_px
        x0, y0 = joints[k, 0] - w * occ["b"], joints[k, 1] - h * occ["c"]
        x1, y1 = x0 + w, y0 + h
    return Shape("polygon", (x0, y0, x1, y0, x1, y1, x0, y1), tuple(occ["colour"]))


def _draw_person(plan: _PersonPlan, params: dict, offset: np.ndarray, rng, person: int
                 ) -> Tuple[np.ndarray, List[Shape], Tuple[float, ...]]:
    xy, depth = project(skeleton_3d(params, plan.lengths), params["yaw"], params["roll"])
    joints = xy * plan.height_px + offset + rng.normal(0, 0.012 * plan.height_px, (NUM_JOINTS, 2))
    shapes, head_box = _person_shapes(joints, depth, plan.height_px, person, plan.colour, plan.skin,
                                      plan.lengths["head"] * plan.height_px)
    if plan.occluder is not None:
        shapes.append(_occluder_shape(plan.occluder, joints, plan.height_px))
    return joints, shapes, head_box


def _build_scene(index: int, role: str, width: int, height: int, category: int,
                 plans: List[_PersonPlan], background: dict, frame: dict, rng) -> Scene:
    """Draw the persons of ``plans`` (perturbed per video frame) and write their annotations."""
    labelled = role != "unlabelled"
    img_train = 0 if role == "test" else 1
    shapes: List[Shape] = []
    drawn = []
    for p, plan in enumerate(plans):
        params = _perturb(plan.params, rng, 3.0) if frame["perturb"] else plan.params
        offset = plan.offset
        if frame["perturb"]:
            offset = offset + rng.normal(0, 0.02 * plan.height_px, 2)
        joints, person_shapes, head_box = _draw_person(plan, params, offset, rng, p)
        shapes.extend(person_shapes)
        drawn.append((plan, joints, head_box))

    topmost = _topmost(shapes, width, height)
    persons = []
    boxes = []
    for p, (plan, joints, head_box) in enumerate(drawn):
        inside = np.all((joints >= 0) & (joints <= [width - 1, height - 1]), axis=1)
        # An annotator occasionally skips a joint; joints outside the image are never annotated.
        annotated = inside & (rng.random(NUM_JOINTS) >= 0.02)
        visible = np.zeros(NUM_JOINTS, bool)
        for k in np.flatnonzero(annotated):
            col, row = _pixel(joints[k])
            top = int(topmost[row, col]) - 1
            visible[k] = top >= 0 and shapes[top].person == p and k in shapes[top].joints
        # Test images, and a few training persons (often a bystander), get objpos+scale only.
        bare = rng.random() < 0.03 or (frame.get("bare_last") and p == len(drawn) - 1)
        has_points = img_train == 1 and not bare
        hb = np.asarray(head_box)
        pts = np.concatenate([joints, hb.reshape(2, 2)])
        lo, hi = pts.min(0), pts.max(0)
        boxes.append((lo, hi))
        objpos = (lo + hi) / 2 + rng.normal(0, 0.02 * plan.height_px, 2)
        scale = float(max(hi - lo) * _u(rng, 1.0, 1.1) / 200.0)
        ids = [k for k in range(NUM_JOINTS) if annotated[k]]
        if rng.random() < 0.5:  # the real file's point lists are often unsorted
            ids = [ids[i] for i in rng.permutation(len(ids))]
        as_string = rng.random() < 0.08
        raw = {}
        for k in ids:
            if as_string:
                raw[k] = "1" if visible[k] else "0"
            elif k in (8, 9) and visible[k] and rng.random() < 0.7:
                raw[k] = None  # empty is_visible, typical for upper neck and head top
            else:
                raw[k] = int(visible[k])
        if not has_points:
            annotated = np.zeros(NUM_JOINTS, bool)
            visible = np.zeros(NUM_JOINTS, bool)
            ids, raw = [], {}
        persons.append(SynthPerson(
            joints=joints.astype(np.float64), annotated=annotated, visible=visible,
            has_points=has_points, objpos=_flat(objpos), scale=scale, head_box=head_box,
            category=category, pose_category=plan.pose_category, point_order=tuple(ids),
            raw_visible=raw,
        ))  # fmt: skip

    # single_person: persons whose box overlaps no other person's (1-based, as in the real file).
    single = []
    for p, (lo, hi) in enumerate(boxes):
        if all(np.any(hi < lo_q) or np.any(hi_q < lo)
               for q, (lo_q, hi_q) in enumerate(boxes) if q != p):  # fmt: skip
            single.append(p + 1)

    if labelled:
        cat = CATEGORIES[category]
        k = frame["act_k"] % len(cat.act_names)  # shared by a video's frames
        act_name, act_id = cat.act_names[k], cat.first_act_id + k
        if frame.get("multi_act"):
            act_name = ", ".join(cat.act_names[k:] + cat.act_names[:k])
    else:
        category, act_name, act_id = -1, "", -1
        for person in persons:
            person.category = -1
    return Scene(index, f"{index:06d}.jpg", width, height, img_train, category, act_name, act_id,
                 frame["vididx"], frame["frame_sec"], background, persons, shapes, single,
                 role)  # fmt: skip


def _image_size(rng, width_range: Tuple[int, int]) -> Tuple[int, int]:
    """Landscape: width in ``width_range``; portrait: height in 0.78 x that range (a 1280-wide
    range gives portraits up to 1000 high). No side below 0.75 x the smallest width."""
    lo, hi = width_range
    aspect = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    side = int(rng.integers(lo, hi + 1))
    if aspect >= 1:
        width, height = side, side / aspect
    else:
        height = side * 0.78
        width = height * aspect
    least = 0.75 * lo
    return int(round(max(width, least))), int(round(max(height, least)))


def _roles(num_images: int, seed: int) -> List[Tuple[str, int]]:
    """(role, video frame number) per image; a video's frames are consecutive images."""
    master = np.random.default_rng([seed, 0x5EED])
    names, probs = list(_ROLE_P), np.array(list(_ROLE_P.values()))
    out: List[Tuple[str, int]] = []
    forced = list(_FORCED_ROLES)
    while len(out) < num_images:
        if forced:
            role = forced.pop(0)
        else:
            role = names[int(master.choice(len(names), p=probs / probs.sum()))]
        if role == "video":
            out.extend(("video", f) for f in range(int(master.integers(2, 6))))
        else:
            out.append((role, 0))
    return out[:num_images]


def sample_scenes(num_images: int, seed: int = 0,
                  width_range: Tuple[int, int] = (320, 1280)) -> List[Scene]:
    """Every annotation and shape of ``num_images`` images, no pixels (fast: tests use this).

    Image ``i`` depends only on ``(seed, i)`` and its video's first frame, so a smaller set with
    the same seed is a prefix of a larger one (up to a video cut by the end). ``width_range``:
    image widths in pixels (tests use small images).
    """
    if num_images < 1:
        raise DataError(f"synthetic: need at least 1 image; received num_images={num_images}")
    lo, hi = width_range
    if not 32 <= lo <= hi:
        raise DataError("synthetic: width_range must satisfy 32 <= min <= max; "
                        f"received width_range={width_range}")
    scenes: List[Scene] = []
    video = None  # what a video's later frames share with its first: size, class, persons...
    next_vid = 0
    for index, (role, frame_no) in enumerate(_roles(num_images, seed)):
        rng = np.random.default_rng([seed, index])
        if role == "video" and frame_no > 0:
            width, height, category, plans, background, first = video
            frame = dict(first, perturb=True, frame_sec=first["frame_sec"] + 2 * frame_no)
            scenes.append(_build_scene(index, role, width, height, category, plans, background,
                                       frame, rng))  # fmt: skip
            continue
        width, height = _image_size(rng, (lo, hi))
        category = int(rng.integers(NUM_CATEGORIES))
        n_persons = {"empty": 0, "multi": int(rng.integers(2, 5))}.get(role, 1)
        if role == "normal" and rng.random() < 0.1:
            n_persons = 2
        background = _sample_background(rng, category)
        plans = [_plan_person(rng, category, width, height, n_persons) for _ in range(n_persons)]
        next_vid += 1
        vididx: Optional[int] = next_vid
        if role != "video" and rng.random() < 0.3:
            vididx = None  # the real file leaves vididx empty for some images
        sec = int(rng.integers(1, 600)) if (role == "video" or rng.random() < 0.7) else None
        frame = {"perturb": False, "vididx": vididx, "frame_sec": sec,
                 "multi_act": role == "multi" or rng.random() < 0.05,
                 "bare_last": role == "multi" and (index == 0 or rng.random() < 0.25),
                 "act_k": int(rng.integers(2))}  # fmt: skip
        if role == "video":
            video = (width, height, category, plans, background, frame)
        scenes.append(_build_scene(index, role, width, height, category, plans, background, frame,
                                   rng))  # fmt: skip
    return scenes


# ---------------------------------------------------------------------------------------------
# The official layout


def release_entry(scene: Scene) -> dict:
    """The scene as one ``images`` entry of ``mpii_writer.write_release_mat`` (0-based)."""
    persons = []
    for p in scene.persons:
        points = None
        if p.has_points:
            points = [(k, float(p.joints[k, 0]), float(p.joints[k, 1]), p.raw_visible[k])
                      for k in p.point_order]  # fmt: skip
        persons.append({
            "objpos": p.objpos, "scale": p.scale,
            "head_box": p.head_box if p.has_points else None,
            "points": points,
        })  # fmt: skip
    cat = CATEGORIES[scene.category].cat_name if scene.category >= 0 else ""
    return {
        "name": scene.name, "img_train": scene.img_train, "vididx": scene.vididx,
        "frame_sec": scene.frame_sec,
        "act": {"cat_name": cat, "act_name": scene.act_name, "act_id": scene.act_id},
        "single_person": list(scene.single_person), "persons": persons,
    }  # fmt: skip


# scipy writes the creation time into the .mat header; a fixed text keeps a seed's file
# byte-identical between runs (the header is free text that readers ignore).
_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: tfpose synthetic MPII"


def write_mat(path, scenes: Sequence[Scene]) -> None:
    """The scenes' annotations as an official ``RELEASE`` .mat, byte-identical for equal scenes.

    ``video_list`` gets one made-up id per ``vididx`` (1-based, as in the real file).
    """
    from tfpose.datasets.mpii_writer import write_release_mat

    n_videos = max([s.vididx for s in scenes if s.vididx is not None], default=0)
    write_release_mat(path, [release_entry(s) for s in scenes],
                      video_list=[f"synth{v:06d}" for v in range(1, n_videos + 1)])
    with open(path, "r+b") as f:
        if f.read(len(b"MATLAB 5.0 MAT-file")) == b"MATLAB 5.0 MAT-file":
            f.seek(0)
            f.write(_MAT_HEADER.ljust(116))


def _render_to_file(args) -> int:
    scene, path = args
    render(scene).save(path, "JPEG", quality=JPEG_QUALITY)
    return len(scene.persons)


def generate(out_dir, num_images: int, seed: int = 0, workers: Optional[int] = None,
             progress: Optional[Callable[[int], None]] = None,
             width_range: Tuple[int, int] = (320, 1280)) -> dict:
    """Write ``out_dir/images/*.jpg`` and ``out_dir/mpii_synthetic.mat``; return a summary.

    ``workers``: processes drawing images (default: the CPU count; 1 draws in this process).
    ``progress(n)`` is called with the number of images finished since the previous call.
    ``width_range``: image widths (see ``sample_scenes``).
    Summary keys: out_dir, mat, images, persons, annotated_persons, categories {name: images},
    workers, seed, seconds.
    """
    start = time.perf_counter()
    scenes = sample_scenes(num_images, seed, width_range)  # checks the arguments first
    out = Path(out_dir)
    image_dir = out / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(image_dir / s.name)) for s in scenes]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        for job in jobs:
            _render_to_file(job)
            if progress:
                progress(1)
    else:
        # fork starts fast and needs no `if __name__ == "__main__"` guard in the caller's script;
        # but a forked copy of a process running TensorFlow's thread pools can deadlock, so a
        # caller that has loaded TensorFlow gets spawn.
        method = "spawn" if "tensorflow" in sys.modules or os.name == "nt" else "fork"
        with multiprocessing.get_context(method).Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_to_file, jobs, chunksize=4):
                if progress:
                    progress(1)
    mat_path = out / MAT_NAME
    write_mat(mat_path, scenes)
    categories: Dict[str, int] = {}
    for s in scenes:
        name = s.cat_name or "(unlabelled)"
        categories[name] = categories.get(name, 0) + 1
    return {
        "out_dir": str(out), "mat": str(mat_path), "images": len(scenes),
        "persons": sum(len(s.persons) for s in scenes),
        "annotated_persons": sum(p.has_points for s in scenes for p in s.persons),
        "categories": dict(sorted(categories.items())), "workers": workers, "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
    }  # fmt: skip
