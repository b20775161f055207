"""Everyday photo conditions: one deterministic degradation per condition, joints kept exact.

The check set of issue 34 (``benchmarks/conditions.py``) makes one degraded copy of each held-out
photo per condition and scores the pose models on it. Every condition here is a function

    condition(image, joints, rng) -> (image, joints)

``image``: uint8 [H, W, 3] RGB. ``joints``: float [K, 3] = (x, y, labelled) in 0-based pixels
of ``image`` (pixel centres at integers; K = 16 MPII joints where a condition names joints);
``labelled`` is 1 for an annotated joint, 0 otherwise. ``rng``: a ``numpy.random.Generator``,
the only source of randomness, so a fixed seed gives the same copy. The returned joints are in
the returned image's pixels: geometric conditions move them with the pixels, photometric ones
return them unchanged. A joint that leaves the frame (truncation) keeps its transformed
coordinates but becomes unlabelled: it is not in the photo any more, and clamping it to the
border would invent a label.

Pure numpy and Pillow; the strengths are fixed ranges, not tuned on any photo.
"""

from __future__ import annotations

import io
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
from PIL import Image

# MPII joint ids (tfpose.core.skeleton's order) that truncation cuts by.
R_ANKLE, R_KNEE, R_HIP, L_HIP, L_KNEE, L_ANKLE = 0, 1, 2, 3, 4, 5
UPPER_NECK, HEAD_TOP, R_SHOULDER, L_SHOULDER = 8, 9, 12, 13

# The photo's long side after the low-resolution condition (issue 34: "down to ~240 px").
LOW_RESOLUTION_LONG_SIDE = 240


def _as_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3]; received {image.dtype} {image.shape}")
    return image


def _as_joints(joints) -> np.ndarray:
    joints = np.array(joints, np.float64)
    if joints.ndim != 2 or joints.shape[1] != 3:
        raise ValueError(f"joints must be [K, 3] (x, y, labelled); received {joints.shape}")
    return joints


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _long_side(image: np.ndarray) -> int:
    return max(image.shape[:2])


def inside_frame(joints: np.ndarray, height: int, width: int) -> np.ndarray:
    """bool [K]: the joint lies on the frame's pixels (0 <= x <= W-1, 0 <= y <= H-1)."""
    x, y = joints[:, 0], joints[:, 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


# --- geometry -----------------------------------------------------------------------------------

def low_resolution(image, joints, rng, long_side: int = LOW_RESOLUTION_LONG_SIDE):
    """The photo downscaled (area-weighted, as a camera or a messenger app does) to ``long_side``
    on its long side and shown at that size; never upscaled. ``rng`` is unused: the condition
    is fixed."""
    del rng
    image, joints = _as_image(image), _as_joints(joints)
    height, width = image.shape[:2]
    scale = min(1.0, long_side / max(height, width))
    if scale == 1.0:
        return image.copy(), joints
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
    # Pixel centres: x + 0.5 scales, so x' = (x + 0.5) * w / W - 0.5 (Pillow's convention).
    joints[:, 0] = (joints[:, 0] + 0.5) * size[0] / width - 0.5
    joints[:, 1] = (joints[:, 1] + 0.5) * size[1] / height - 0.5
    return small, joints


def rotate_90(image, joints, rng):
    """The photo turned a quarter (counter-clockwise or clockwise, drawn from ``rng``): a person
    standing becomes a person lying down. Exact: pixels move, none are resampled."""
    image, joints = _as_image(image), _as_joints(joints)
    height, width = image.shape[:2]
    x, y = joints[:, 0].copy(), joints[:, 1].copy()
    if rng.integers(2) == 0:  # np.rot90 k=1: out[r, c] = in[c, W-1-r]
        out = np.rot90(image, 1)
        joints[:, 0], joints[:, 1] = y, width - 1 - x
    else:  # k=3: out[r, c] = in[H-1-c, r]
        out = np.rot90(image, 3)
        joints[:, 0], joints[:, 1] = height - 1 - y, x
    return np.ascontiguousarray(out), joints


def _mean_y(joints: np.ndarray, ids: Sequence[int]):
    labelled = [i for i in ids if joints[i, 2] > 0]
    return float(np.mean(joints[labelled, 1])) if labelled else None


def _truncation(keep: Sequence[int], at: Sequence[int], beyond: Sequence[int]) -> Callable:
    """A truncation that cuts the frame just past the ``at`` joints (a fraction 0.2-0.4 of the
    way to ``beyond``), keeping the side with the ``keep`` joints: the ``at`` joints stay in the
    photo, the ``beyond`` ones leave it. Rows only: the person's own up and down is the image's
    for nearly every LSP/LSPET photo."""

    def truncate(image, joints, rng):
        image, joints = _as_image(image), _as_joints(joints)
        height, width = image.shape[:2]
        fraction = rng.uniform(0.2, 0.4)
        at_y, keep_y, beyond_y = (_mean_y(joints, ids) for ids in (at, keep, beyond))
        top, bottom = 0, height
        if at_y is not None:
            if beyond_y is None:  # the far joints are unlabelled: mirror the kept side
                beyond_y = at_y + (at_y - keep_y) if keep_y is not None else at_y + 1.0
            cut = at_y + fraction * (beyond_y - at_y)
            keep_above = keep_y < cut if keep_y is not None else beyond_y > at_y
            if keep_above:
                bottom = int(np.clip(np.floor(cut) + 1, 1, height))
            else:
                top = int(np.clip(np.ceil(cut), 0, height - 1))
        out = image[top:bottom].copy()
        joints[:, 1] -= top
        joints[~inside_frame(joints, out.shape[0], width), 2] = 0.0
        return out, joints

    return truncate


truncate_at_shoulders = _truncation(keep=(R_HIP, L_HIP), at=(R_SHOULDER, L_SHOULDER),
                                    beyond=(UPPER_NECK, HEAD_TOP))
truncate_at_shoulders.__doc__ = "The frame's edge just above the shoulders: neck and head out."
truncate_at_waist = _truncation(keep=(R_SHOULDER, L_SHOULDER), at=(R_HIP, L_HIP),
                                beyond=(R_KNEE, L_KNEE))
truncate_at_waist.__doc__ = "The frame's edge just past the hips: knees and ankles out."
truncate_at_knees = _truncation(keep=(R_HIP, L_HIP), at=(R_KNEE, L_KNEE),
                                beyond=(R_ANKLE, L_ANKLE))
truncate_at_knees.__doc__ = "The frame's edge just past the knees: ankles out."


def occlusion(image, joints, rng):
    """2-4 textured patches, each over one labelled joint (centre jittered by up to a quarter of
    its side), side 20-35 % of the person's extent: a bag, a table edge, another person's arm.
    Labels are kept: the joint is still there, hidden."""
    image, joints = _as_image(image), _as_joints(joints)
    out = image.astype(np.float64)
    height, width = image.shape[:2]
    labelled = np.flatnonzero(joints[:, 2] > 0)
    if labelled.size == 0:
        return image.copy(), joints
    extent = np.ptp(joints[labelled, :2], axis=0).max() if labelled.size > 1 else 0.0
    extent = max(extent, 0.25 * min(height, width))
    chosen = rng.choice(labelled, size=min(labelled.size, int(rng.integers(2, 5))), replace=False)
    for joint in chosen:
        side = max(4.0, rng.uniform(0.2, 0.35) * extent)
        centre = joints[joint, :2] + rng.uniform(-0.25, 0.25, 2) * side
        x0, y0 = np.floor(centre - side / 2).astype(int)
        x1, y1 = x0 + int(np.ceil(side)), y0 + int(np.ceil(side))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        colour = rng.uniform(0, 255, 3)
        texture = rng.normal(0, 20, (y1 - y0, x1 - x0, 1))  # one grain over the 3 channels
        out[y0:y1, x0:x1] = colour + texture
    return _to_uint8(out), joints


# --- blur (centred, symmetric kernels: a joint's pixels stay centred on it) --------------------

def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (uint8 [H, W, 3]) convolved with an odd-sized ``kernel`` summing to 1, edges
    replicated; through the FFT, as a large defocus disk is slow as shifted sums."""
    r_y, r_x = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(image.astype(np.float64), ((r_y, r_y), (r_x, r_x), (0, 0)), mode="edge")
    shape = padded.shape[:2]
    spectrum = np.fft.rfft2(padded, axes=(0, 1))
    kernel_spectrum = np.fft.rfft2(kernel, s=shape)
    full = np.fft.irfft2(spectrum * kernel_spectrum[..., None], s=shape, axes=(0, 1))
    # Circular convolution puts output (i, j) at (i + r_y, j + r_x) of the padded frame.
    height, width = image.shape[:2]
    return _to_uint8(full[2 * r_y:2 * r_y + height, 2 * r_x:2 * r_x + width])


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """float [S, S]: a line of ``length`` px at ``angle`` (radians), centred, anti-aliased."""
    radius = int(np.ceil(length / 2)) + 1
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1))
    for t in np.linspace(-length / 2, length / 2, max(2, int(np.ceil(length * 4)))):
        x, y = radius + t * np.cos(angle), radius + t * np.sin(angle)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                kernel[y0 + dy, x0 + dx] += wy * wx
    kernel = kernel + kernel[::-1, ::-1]  # exactly symmetric: the centre of mass stays put
    return kernel / kernel.sum()


def disk_kernel(radius: float) -> np.ndarray:
    """float [S, S]: a uniform disk of ``radius`` px (a defocused lens's blur), edge pixels by
    their covered fraction (4 x 4 supersampled)."""
    size = int(np.ceil(radius)) + 1
    offsets = (np.arange(4) + 0.5) / 4 - 0.5
    grid = np.arange(-size, size + 1)
    ys = (grid[:, None, None, None] + offsets[None, None, :, None])
    xs = (grid[None, :, None, None] + offsets[None, None, None, :])
    kernel = ((xs ** 2 + ys ** 2) <= radius ** 2).mean(axis=(2, 3))
    return kernel / kernel.sum()


def motion_blur(image, joints, rng):
    """A shaken camera: a straight streak of 2-4 % of the photo's long side, any direction."""
    image, joints = _as_image(image), _as_joints(joints)
    length = max(3.0, rng.uniform(0.02, 0.04) * _long_side(image))
    return _convolve(image, motion_kernel(length, rng.uniform(0, np.pi))), joints


def defocus_blur(image, joints, rng):
    """Focus missed: a disk of radius 1-2 % of the long side (at least 1.5 px)."""
    image, joints = _as_image(image), _as_joints(joints)
    radius = max(1.5, rng.uniform(0.01, 0.02) * _long_side(image))
    return _convolve(image, disk_kernel(radius)), joints


# --- photometric (joints unchanged) --------------------------------------------------------------

def sensor_noise(image, joints, rng):
    """A small sensor at high gain: Gaussian noise, sigma 12-20 grey levels, per channel."""
    image, joints = _as_image(image), _as_joints(joints)
    sigma = rng.uniform(12, 20)
    return _to_uint8(image + rng.normal(0, sigma, image.shape)), joints


def jpeg_artefacts(image, joints, rng):
    """Saved again and again by messengers: JPEG at quality 6-12 (4:2:0), decoded."""
    image, joints = _as_image(image), _as_joints(joints)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=int(rng.integers(6, 13)))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")), joints


def _exposure(image: np.ndarray, gain: float) -> np.ndarray:
    """Exposure in linear light (sRGB approximated as gamma 2.2), clipped like a sensor."""
    linear = (image / 255.0) ** 2.2 * gain
    return _to_uint8(255.0 * np.clip(linear, 0, 1) ** (1 / 2.2))


def dark(image, joints, rng):
    """Under-exposed (a room at night): 1/12 to 1/6 of the light, i.e. 2.6-3.6 stops down."""
    image, joints = _as_image(image), _as_joints(joints)
    return _exposure(image, rng.uniform(1 / 12, 1 / 6)), joints


def over_exposed(image, joints, rng):
    """Over-exposed (against the sun, auto-exposure on the shadows): 3-5 x the light."""
    image, joints = _as_image(image), _as_joints(joints)
    return _exposure(image, rng.uniform(3, 5)), joints


def low_contrast(image, joints, rng):
    """Haze or a dirty lens: the photo pulled 60-75 % of the way to its mean grey."""
    image, joints = _as_image(image), _as_joints(joints)
    keep = rng.uniform(0.25, 0.4)
    mean = image.mean()
    return _to_uint8(mean + keep * (image - mean)), joints


# Channel gains (R, G, B) of the casts a wrong white balance gives.
COLOUR_CASTS = {"tungsten": (1.0, 0.78, 0.5), "shade": (0.6, 0.8, 1.0),
                "fluorescent": (0.75, 1.0, 0.7), "magenta": (1.0, 0.68, 0.95)}


def colour_cast(image, joints, rng):
    """A wrong white balance: one of ``COLOUR_CASTS`` drawn from ``rng``, in linear light."""
    image, joints = _as_image(image), _as_joints(joints)
    gains = np.asarray(list(COLOUR_CASTS.values())[int(rng.integers(len(COLOUR_CASTS)))])
    linear = (image / 255.0) ** 2.2 * gains
    return _to_uint8(255.0 * np.clip(linear, 0, 1) ** (1 / 2.2)), joints


# Name -> condition, in the check set's row order.
CONDITIONS: Dict[str, Callable] = {
    "low resolution (long side 240)": low_resolution,
    "motion blur": motion_blur,
    "defocus blur": defocus_blur,
    "sensor noise": sensor_noise,
    "JPEG artefacts": jpeg_artefacts,
    "dark": dark,
    "over-exposed": over_exposed,
    "low contrast": low_contrast,
    "colour cast": colour_cast,
    "truncated at the shoulders": truncate_at_shoulders,
    "truncated at the waist": truncate_at_waist,
    "truncated at the knees": truncate_at_knees,
    "occlusion": occlusion,
    "rotated 90°": rotate_90,
}


def degrade(name: str, image, joints, seed: int, photo_index: int) -> Tuple[np.ndarray, np.ndarray]:
    """``CONDITIONS[name]`` on one photo with its own generator, seeded by (seed, condition,
    photo): the same copy whatever order or subset of photos is made."""
    if name not in CONDITIONS:
        raise KeyError(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}")
    condition_index = list(CONDITIONS).index(name)
    rng = np.random.default_rng([seed, condition_index, photo_index])
    return CONDITIONS[name](image, joints, rng)
