"""An export answers through TF Serving's loader as `tfpose predict` answers on its source.

    python scripts/check_tf_serving.py SOURCE EXPORT PHOTO [--box X0,Y0,X1,Y1]

SOURCE is what ``tfpose predict`` takes (a shipped name such as ``lspet``, or a work dir) and
EXPORT its SavedModel (``tfpose export SOURCE --base B --name N --version V`` -> ``B/N/V``).
``saved_model_cli run`` (TensorFlow's own client: a graph session and the saver's restore op,
as TF Serving's C++ ``LoadSavedModel``) runs ``serving_default`` on the photo and
``serving_boxes`` on the box; ``tfpose predict SOURCE --passes 1 --engine tensorflow`` runs the
same two. Prints the largest keypoint difference in pixels (and the class of each) and exits 1
when a signature fails or a keypoint differs by more than 0.5 px.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TOLERANCE_PX = 0.5
BIN = Path(sys.executable).parent


def saved_model_cli(export: Path, signature: str, inputs: dict, work: Path) -> dict:
    """Runs one signature through ``saved_model_cli run``; its outputs as arrays."""
    args = []
    for name, value in inputs.items():
        np.save(work / f"{name}.npy", value)
        args.append(f"{name}={work / name}.npy")
    out = work / signature
    proc = subprocess.run(
        [str(BIN / "saved_model_cli"), "run", "--dir", str(export), "--tag_set", "serve",
         "--signature_def", signature, "--inputs", ";".join(args), "--outdir", str(out),
         "--overwrite"], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"saved_model_cli run {signature} failed:\n{proc.stderr[-2000:]}")
    return {p.stem: np.load(p, allow_pickle=True) for p in out.glob("*.npy")}


def tfpose_predict(source: str, photo: Path, box) -> dict:
    """The JSON line of ``tfpose predict SOURCE PHOTO --passes 1 --engine tensorflow``."""
    args = [str(BIN / "tfpose"), "predict", source, str(photo), "--no-draw", "--passes", "1",
            "--engine", "tensorflow"]
    if box is not None:
        args += ["--box", box]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"tfpose predict failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv) -> int:
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--box"):
        print(__doc__, file=sys.stderr)
        return 2
    source, export, photo = argv[0], Path(argv[1]), Path(argv[2])
    box = argv[4] if len(argv) == 5 else None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    encoded = np.array([photo.read_bytes()], dtype=object)
    runs = [("serving_default", {"images": encoded}, None)]
    if box is not None:
        boxes = np.array([[float(v) for v in box.split(",")]], np.float32)
        runs.append(("serving_boxes", {"images": encoded, "boxes": boxes}, box))
    worst = 0.0
    with tempfile.TemporaryDirectory() as work:
        for signature, inputs, given_box in runs:
            served = saved_model_cli(export, signature, inputs, Path(work))
            line = tfpose_predict(source, photo, given_box)
            row = [signature]
            if "keypoints" in served:
                diff = np.abs(served["keypoints"][0] - np.asarray(line["keypoints"])).max()
                worst = max(worst, float(diff))
                row.append(f"max |keypoint difference| {diff:.4f} px")
            if "class_name" in served:
                row.append(f"class {served['class_name'][0].decode()} / {line.get('class')}")
                if served["class_name"][0].decode() != line.get("class"):
                    worst = float("inf")
            print("  ".join(row))
    ok = worst <= TOLERANCE_PX
    print(f"{'OK' if ok else 'FAILED'}: saved_model_cli and tfpose predict agree to "
          f"{worst:.4f} px (tolerance {TOLERANCE_PX})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
