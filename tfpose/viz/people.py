"""Every person of a photo drawn in its own colour: box, skeleton, and activity (what
``tfpose predict --draw``, the video writer and ``Result.draw`` show)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Distinct hues, one per person in drawing order (then repeating); each person's right side is
# drawn lighter and its left side darker, so sides stay readable within a colour.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128))


def person_colours(index: int):
    """(right, left, centre, box) RGB colours of the ``index``-th person of a drawing."""
    base = np.asarray(PALETTE[index % len(PALETTE)], np.float64)
    light = tuple(int(v) for v in base + (255 - base) * 0.45)
    dark = tuple(int(v) for v in base * 0.6)
    return light, dark, tuple(int(v) for v in base), tuple(int(v) for v in base)


def draw_people(image, persons: Sequence[dict]):
    """The photo (PIL or H x W x 3 uint8) with every person of a line's ``persons`` (``box``,
    ``keypoints``, optional ``activity`` and ``track_id``) drawn in its own colour
    (``person_colours``, by track id when there is one, else by rank): box,
    skeleton, and the activity with its probability above the box. Nobody: the photo as it
    is. Returns a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    from tfpose.viz.visualize import draw_skeleton, shown_joints

    canvas = image.copy() if isinstance(image, Image.Image) else Image.fromarray(
        np.asarray(image, np.uint8))
    canvas = canvas.convert("RGB")
    width = max(1, min(canvas.size) // 200)
    font = ImageFont.load_default(size=max(10, canvas.size[1] // 30))
    for i, person in enumerate(persons):  # a video's track keeps its colour in every frame
        right, left, centre, box = person_colours(person.get("track_id", i + 1) - 1)
        x0, y0, x1, y1 = (float(v) for v in person["box"])
        ImageDraw.Draw(canvas).rectangle([x0, y0, x1, y1], outline=box, width=width)
        canvas = draw_skeleton(canvas, np.asarray(person["keypoints"], np.float32),
                               colors=(right, left, centre),
                               annotated=shown_joints(person.get("scores")))
        if person.get("activity"):
            text = f"{person['activity']['class']} {person['activity']['probability']:.2f}"
            draw = ImageDraw.Draw(canvas)
            bounds = draw.textbbox((x0, y0), text, font=font, anchor="lb")
            draw.rectangle(bounds, fill=box)
            draw.text((x0, y0), text, fill=(255, 255, 255), font=font, anchor="lb")
    return canvas
