"""The README's picture: a model's drawings of the 5 real MPII sample photos, side by side.

    python scripts/sample_grid.py docs/predictions/lspet_samples.jpg [--model lspet]
        [--photos tests/data/mpii_sample] [--height 300]

Each photo goes through ``tfpose.load(MODEL)`` (every person, as ``tfpose predict``), is drawn
(``Result.draw``), scaled to ``--height`` px and placed in one row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None):
    from PIL import Image

    import tfpose

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="lspet")
    parser.add_argument("--photos", type=Path, default=ROOT / "tests" / "data" / "mpii_sample")
    parser.add_argument("--height", type=int, default=300)
    args = parser.parse_args(argv)
    model = tfpose.load(args.model)
    drawings = []
    for path in sorted(args.photos.glob("*.jpg")):
        result = model(path)
        drawing = Image.fromarray(result.draw())
        width = round(drawing.width * args.height / drawing.height)
        drawings.append(np.asarray(drawing.resize((width, args.height), Image.LANCZOS)))
        print(f"{path.name}: {len(result.keypoints)} persons")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(drawings, axis=1)).save(args.out, quality=88)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
