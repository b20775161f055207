"""What the synthetic MPII set (``datasets/synthetic.py``) draws: the articulated figures (a
posed 3-D stick body, its projection, the ordered shapes, capsules and polygons, that paint it),
the textured backgrounds, and ``render``, which paints a scene's shapes over its background.

Pose model: a 3-D stick body (X = the person's left, Y = up, Z = forward) posed by per-class
angle distributions (``_pose_params``), turned by a yaw, projected orthographically and rolled in
the image plane (``project``). Right limbs are a lighter shade of the person's colour and left
limbs a darker one so that a flip-aware model can tell them apart. Joints: the 16 MPII joints;
coordinates in pixels, 0-based, y down once projected.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from tfpose.core.errors import DataError
from tfpose.core.skeleton import NUM_JOINTS

# Bone lengths as a fraction of the standing height (head top to ankle about 1).
_LEN = {"spine": 0.28, "neck": 0.08, "head": 0.12, "shoulder": 0.10, "hip": 0.065,
        "upper_arm": 0.16, "forearm": 0.15, "thigh": 0.23, "shin": 0.23}  # fmt: skip

# (name, joint a, joint b, width as a fraction of height, side) of each capsule; side picks the
# shade ("r" lighter, "l" darker, "c" the body colour).
_CAPSULES = (
    ("r_shin", 0, 1, 0.058, "r"), ("r_thigh", 1, 2, 0.075, "r"),
    ("l_thigh", 3, 4, 0.075, "l"), ("l_shin", 4, 5, 0.058, "l"),
    ("r_forearm", 10, 11, 0.042, "r"), ("r_upper_arm", 11, 12, 0.05, "r"),
    ("l_upper_arm", 13, 14, 0.05, "l"), ("l_forearm", 14, 15, 0.042, "l"),
    ("neck", 7, 8, 0.05, "c"),
)  # fmt: skip
# Torso pieces: all drawn in the body colour, all incident to these joints.
_TORSO_JOINTS = (2, 3, 6, 7, 12, 13)
_LIMB_GROUPS = {  # capsules drawn together, at the depth of their joints
    "r_leg": ("r_thigh", "r_shin"), "l_leg": ("l_thigh", "l_shin"),
    "r_arm": ("r_upper_arm", "r_forearm"), "l_arm": ("l_upper_arm", "l_forearm"),
}  # fmt: skip
_SKIN = ((224, 172, 140), (198, 134, 98), (141, 85, 56), (250, 214, 180), (110, 70, 45))


@dataclasses.dataclass
class Shape:
    """One painted shape. ``kind`` "capsule": ``geom`` = (x0, y0, x1, y1), ``width`` in px;
    "polygon": ``geom`` = flat (x, y, ...) list. ``person`` -1 for occluders; ``joints`` are the
    joints this shape shows (a joint under it is visible only if listed)."""

    kind: str
    geom: Tuple[float, ...]
    fill: Tuple[int, int, int]
    person: int = -1
    joints: Tuple[int, ...] = ()
    width: int = 0


# ---------------------------------------------------------------------------------------------
# Pose sampling


def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _sign(rng):
    return 1.0 if rng.random() < 0.5 else -1.0


def _limb(rng, flex, abduct, bend) -> Tuple[float, float, float]:
    """(flexion, abduction, bend) in degrees; each a number or a (low, high) uniform range."""
    return tuple(float(v) if np.isscalar(v) else _u(rng, *v) for v in (flex, abduct, bend))


def _pose_params(cat: str, rng: np.random.Generator) -> dict:
    """One pose of category ``cat``: angles in degrees (``skeleton_3d`` reads them).

    tau: torso pitch forward; lean: sideways; nu: head pitch; yaw: turn about the vertical
    (0 faces the camera); roll: in-plane rotation. Limbs ``r_arm``... : (flexion forward,
    abduction outward, elbow/knee bend).
    """
    n = rng.normal
    p = {"tau": n(0, 4), "lean": n(0, 3), "nu": n(0, 8), "yaw": _u(rng, -55, 55), "roll": n(0, 6)}
    if rng.random() < 0.2:
        p["yaw"] += 180.0  # seen from the back: left and right swap sides in the image
    for side in "rl":
        p[side + "_arm"] = _limb(rng, n(0, 10), (4, 25), (0, 25))
        p[side + "_leg"] = _limb(rng, n(0, 5), (0, 10), (0, 10))
    profile = _sign(rng) * _u(rng, 55, 125)  # walking and running are seen from the side
    s = _sign(rng)  # which leg leads
    if cat == "walking":
        a, b = _u(rng, 12, 28), _u(rng, 10, 30)
        p["r_leg"] = _limb(rng, s * a, (0, 6), (5, 30))
        p["l_leg"] = _limb(rng, -s * a, (0, 6), (0, 15))
        p["r_arm"] = _limb(rng, -s * b, (3, 12), (5, 30))
        p["l_arm"] = _limb(rng, s * b, (3, 12), (5, 30))
        p["yaw"], p["tau"] = profile, n(3, 3)
    elif cat == "running":
        front = _limb(rng, (35, 65), (0, 8), (30, 80))
        back = _limb(rng, (-35, -15), (0, 8), (60, 110))
        p["r_leg"], p["l_leg"] = (front, back) if s > 0 else (back, front)
        b = _u(rng, 20, 50)
        p["r_arm"] = _limb(rng, -s * b, (5, 15), (70, 110))
        p["l_arm"] = _limb(rng, s * b, (5, 15), (70, 110))
        p["yaw"], p["tau"] = profile, _u(rng, 8, 22)
    elif cat == "arms raised":
        for side in "rl":
            p[side + "_arm"] = _limb(rng, n(0, 25), (110, 175), (0, 40))
            p[side + "_leg"] = _limb(rng, n(0, 5), (0, 15), (0, 10))
    elif cat == "sitting":
        for side in "rl":
            p[side + "_leg"] = _limb(rng, (65, 105), (0, 15), (60, 110))
            p[side + "_arm"] = _limb(rng, (10, 50), (0, 20), (20, 80))
        p["tau"], p["yaw"] = _u(rng, -10, 15), _u(rng, -120, 120)
    elif cat == "bending":
        for side in "rl":
            p[side + "_leg"] = _limb(rng, (-15, 10), (0, 10), (0, 30))
            p[side + "_arm"] = _limb(rng, (-10, 40), (0, 20), (0, 30))  # hanging toward the ground
        p["tau"], p["nu"] = _u(rng, 55, 100), _u(rng, 10, 40)
        p["yaw"] = _sign(rng) * _u(rng, 40, 140)
    elif cat == "lying":
        overhead = rng.random() < 0.5
        for side in "rl":
            if overhead:
                p[side + "_arm"] = _limb(rng, (150, 180), (0, 20), (0, 30))
            p[side + "_leg"] = _limb(rng, (-5, 20), (0, 12), (0, 40))
        p["roll"], p["yaw"] = _sign(rng) * _u(rng, 70, 110), _u(rng, -40, 40)
    elif cat == "kicking":
        kick = _limb(rng, (60, 110), (0, 20), (0, 40))
        stand = _limb(rng, (-10, 5), (0, 10), (0, 15))
        p["r_leg"], p["l_leg"] = (kick, stand) if s > 0 else (stand, kick)
        for side in "rl":
            p[side + "_arm"] = _limb(rng, n(0, 20), (50, 110), (0, 40))
        p["tau"], p["yaw"] = _u(rng, -15, 5), _sign(rng) * _u(rng, 30, 120)
    return p


def _perturb(params: dict, rng: np.random.Generator, deg: float) -> dict:
    """A near-duplicate video frame: every angle moved a little."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            out[k] = tuple(float(a + rng.normal(0, deg)) for a in v)
        else:
            out[k] = float(v + rng.normal(0, deg))
    return out


def _limb_dir(flex: float, abduct: float, side: float) -> np.ndarray:
    """Unit vector of a limb hanging down, swung forward by ``flex`` and outward by ``abduct``
    (degrees); ``side`` +1 for the left (+X), -1 for the right."""
    f, b = math.radians(flex), math.radians(abduct)
    return np.array([side * math.sin(b), -math.cos(b) * math.cos(f), math.cos(b) * math.sin(f)])


def skeleton_3d(params: dict, lengths: Dict[str, float]) -> np.ndarray:
    """[16, 3] joint positions in the body frame (X left, Y up, Z forward), pelvis at 0."""
    j = np.zeros((NUM_JOINTS, 3))
    tau, lean, nu = (math.radians(params[k]) for k in ("tau", "lean", "nu"))
    def up(pitch):  # pitched forward, leaning sideways
        return np.array([math.sin(lean), math.cos(lean) * math.cos(pitch),
                         math.cos(lean) * math.sin(pitch)])  # fmt: skip

    spine, neck, head = up(tau), up(tau + nu / 2), up(tau + nu)
    j[7] = spine * lengths["spine"]
    j[8] = j[7] + neck * lengths["neck"]
    j[9] = j[8] + head * lengths["head"]
    across = np.array([math.cos(lean), -math.sin(lean), 0.0])  # shoulder line follows the lean
    j[12], j[13] = j[7] - across * lengths["shoulder"], j[7] + across * lengths["shoulder"]
    j[2], j[3] = np.array([-lengths["hip"], -0.01, 0.0]), np.array([lengths["hip"], -0.01, 0.0])
    for side, (sh, el, wr), key in ((-1.0, (12, 11, 10), "r_arm"), (1.0, (13, 14, 15), "l_arm")):
        flex, abd, bend = params[key]
        j[el] = j[sh] + _limb_dir(flex, abd, side) * lengths["upper_arm"]
        j[wr] = j[el] + _limb_dir(flex + bend, abd, side) * lengths["forearm"]
    for side, (hp, kn, an), key in ((-1.0, (2, 1, 0), "r_leg"), (1.0, (3, 4, 5), "l_leg")):
        flex, abd, bend = params[key]
        j[kn] = j[hp] + _limb_dir(flex, abd, side) * lengths["thigh"]
        j[an] = j[kn] + _limb_dir(flex - bend, abd, side) * lengths["shin"]
    return j


def project(j3: np.ndarray, yaw: float, roll: float) -> Tuple[np.ndarray, np.ndarray]:
    """Turn by ``yaw`` about the vertical, project orthographically (camera on +Z: a person at
    yaw 0 faces the camera, their right side on the image's left, as in MPII), roll in the image
    plane. Returns ([16, 2] image-plane units with y down, [16] depth, larger = nearer)."""
    y, r = math.radians(yaw), math.radians(roll)
    x = j3[:, 0] * math.cos(y) + j3[:, 2] * math.sin(y)
    z = -j3[:, 0] * math.sin(y) + j3[:, 2] * math.cos(y)
    sx, sy = x, -j3[:, 1]
    xy = np.stack([sx * math.cos(r) - sy * math.sin(r), sx * math.sin(r) + sy * math.cos(r)], 1)
    return xy, z


# ---------------------------------------------------------------------------------------------
# Shapes and geometry


def _ellipse_polygon(c, axis, a, b, n=28) -> Tuple[float, ...]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u = axis / (np.linalg.norm(axis) + 1e-9)
    v = np.array([-u[1], u[0]])
    pts = c[None] + np.cos(t)[:, None] * a * u[None] + np.sin(t)[:, None] * b * v[None]
    return tuple(float(q) for q in pts.reshape(-1))


def _flat(values) -> Tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values).reshape(-1))


def _shade(colour, towards: int, amount: float) -> Tuple[int, int, int]:
    return tuple(int(round(c + (towards - c) * amount)) for c in colour)


def _person_shapes(joints: np.ndarray, depth: np.ndarray, height_px: float, person: int,
                   colour, skin, head_len_px: float) -> Tuple[List[Shape], Tuple[float, ...]]:
    """Ordered shapes of one figure (back to front) and its head box (x1, y1, x2, y2)."""
    light, dark = _shade(colour, 255, 0.45), _shade(colour, 0, 0.45)
    fills = {"r": light, "l": dark, "c": colour}

    def width(fraction):
        return max(2, int(round(fraction * height_px)))

    caps = {name: Shape("capsule", _flat(joints[[a, b]]), fills[side], person, (a, b), width(w))
            for name, a, b, w, side in _CAPSULES}  # fmt: skip
    torso = [
        Shape("polygon", _flat(joints[[12, 13, 3, 2]]), colour, person, _TORSO_JOINTS),
        # spine, shoulder line and hip line: the torso keeps its width seen from the side
        Shape("capsule", _flat(joints[[6, 7]]), colour, person, _TORSO_JOINTS, width(0.12)),
        Shape("capsule", _flat(joints[[12, 13]]), colour, person, _TORSO_JOINTS, width(0.06)),
        Shape("capsule", _flat(joints[[2, 3]]), colour, person, _TORSO_JOINTS, width(0.08)),
    ]
    # The head spans upper neck..head top along the neck axis; never thinner than a real head
    # seen end-on, so a foreshortened neck-head segment still gets a round head around it.
    a8, a9 = joints[8], joints[9]
    axis = a9 - a8 if np.linalg.norm(a9 - a8) > 1e-3 else np.array([0.0, -1.0])
    semi_a = 0.55 * max(float(np.linalg.norm(a9 - a8)), 0.8 * head_len_px)
    semi_b = 0.38 * head_len_px
    head_poly = _ellipse_polygon((a8 + a9) / 2, axis, semi_a, semi_b)
    head = Shape("polygon", head_poly, skin, person, (8, 9))
    pts = np.asarray(head_poly).reshape(-1, 2)
    head_box = _flat(np.concatenate([pts.min(0), pts.max(0)]))

    # Painter's order by depth; the torso sinks a little so limbs beside it draw on top of it.
    items = [(float(depth[list(_TORSO_JOINTS)].mean()) - 0.03, torso),
             (float(depth[[8, 9]].mean()) + 0.01, [caps["neck"], head])]  # fmt: skip
    for names in _LIMB_GROUPS.values():
        limb = [caps[n] for n in names]
        items.append((float(np.mean([depth[list(s.joints)].mean() for s in limb])), limb))
    items.sort(key=lambda it: it[0])
    return [s for _, group in items for s in group], head_box


def _paint(draw: ImageDraw.ImageDraw, shapes: Sequence[Shape], fills: Sequence) -> None:
    """Paint ``shapes`` in order; ``fills[i]`` is shape i's colour (or label)."""
    for s, fill in zip(shapes, fills):
        if s.kind == "capsule":
            x0, y0, x1, y1 = s.geom
            draw.line([(x0, y0), (x1, y1)], fill=fill, width=s.width)
            r = s.width / 2.0
            for x, y in ((x0, y0), (x1, y1)):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        else:
            draw.polygon(list(s.geom), fill=fill)


def _topmost(shapes: Sequence[Shape], width: int, height: int) -> np.ndarray:
    """[H, W] uint8: 1 + index of the topmost shape at each pixel, 0 where none. The same draw
    calls as ``render`` with labels for colours, so visibility is decided on the pixels drawn."""
    if len(shapes) > 254:
        raise DataError(f"synthetic: {len(shapes)} shapes in one image; at most 254")
    label = Image.new("L", (width, height), 0)
    _paint(ImageDraw.Draw(label), shapes, range(1, len(shapes) + 1))
    return np.asarray(label)


def _pixel(xy) -> Tuple[int, int]:
    """The pixel (column, row) holding the 0-based point ``xy`` (Pillow: pixel i spans i±0.5)."""
    return int(math.floor(xy[0] + 0.5)), int(math.floor(xy[1] + 0.5))


def _hsv(h, s, v) -> Tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


# ---------------------------------------------------------------------------------------------
# Rendering


def _grain(rng, height: int, width: int, amount: float) -> np.ndarray:
    tile = rng.normal(0, amount, (64, 64, 1)).astype(np.float32)
    reps = (-(-height // 64), -(-width // 64), 1)
    return np.tile(tile, reps)[:height, :width]


def _background(bg: dict, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(bg["seed"])
    base = np.array(_hsv(bg["hue"], bg["sat"], bg["val"]), np.float32)
    # the second colour: a neighbouring hue, more saturated, light where the base is dark
    other_hsv = (bg["hue"] + rng.normal(0, 0.08), min(1.0, bg["sat"] + 0.2), 1.0 - 0.7 * bg["val"])
    other = np.array(_hsv(*other_hsv), np.float32)
    family = bg["family"]
    if family == "shapes":
        img = Image.new("RGB", (width, height), tuple(int(c) for c in base))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(15, 50))):
            x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height
            w, h = rng.uniform(0.03, 0.3) * width, rng.uniform(0.03, 0.3) * height
            t = rng.uniform(0, 1)
            fill = (base * (1 - t) + other * t + rng.normal(0, 20, 3)).clip(0, 255)
            paint = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            paint([x0, y0, x0 + w, y0 + h], fill=tuple(int(c) for c in fill))
        arr = np.asarray(img, np.float32)
    else:
        if family == "noise":  # smooth colour blobs: low-resolution noise, upsampled
            small = rng.integers(0, 256, (max(2, height // 24), max(2, width // 24), 3), np.uint8)
            up = Image.fromarray(small).resize((width, height), Image.BICUBIC)
            t = np.asarray(up, np.float32) / 255.0
        else:
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            ang = rng.uniform(0, np.pi)
            proj = xs * np.float32(np.cos(ang)) + ys * np.float32(np.sin(ang))
            if family == "gradient":
                t = (proj - proj.min()) / max(float(np.ptp(proj)), 1.0)
            elif family == "stripes":
                t = 0.5 + 0.5 * np.sin(proj * np.float32(2 * np.pi / rng.uniform(8, 60)))
            elif family == "checker":
                cell = rng.uniform(12, 80)
                other_axis = -xs * np.float32(np.sin(ang)) + ys * np.float32(np.cos(ang))
                t = ((np.floor(proj / cell) + np.floor(other_axis / cell)) % 2).astype(np.float32)
            else:  # rings
                cx, cy = rng.uniform(0, width), rng.uniform(0, height)
                freq = np.float32(2 * np.pi / rng.uniform(10, 70))
                t = 0.5 + 0.5 * np.sin(np.hypot(xs - cx, ys - cy) * freq)
            t = t[..., None]
        arr = base * (1 - t) + other * t
    arr = arr + _grain(rng, height, width, 8.0)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def render(scene, figures: bool = True) -> Image.Image:
    """The RGB image of ``scene``, a ``synthetic.Scene`` (``figures=False``: the background
    alone, for tests)."""
    img = _background(scene.background, scene.width, scene.height)
    if not figures:
        return img
    _paint(ImageDraw.Draw(img), scene.shapes, [s.fill for s in scene.shapes])
    return img
