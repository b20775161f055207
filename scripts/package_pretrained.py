"""Ships a training run's best weights as a pretrained model: tfpose/pretrained/NAME/.

    python scripts/package_pretrained.py RUN_DIR NAME [--description TEXT] [--weights FILE]

Writes ``best.keras`` (RUN_DIR's best checkpoint, or ``--weights FILE``: e.g. an average of its
epochs by ``scripts/average_epochs.py``, re-saved without optimiser state: a third of
the size, and a fine-tune starts its own optimiser anyway) and ``config.yaml`` (the run's
resolved config with ``train.init_weights`` and ``model.backbone_weights`` cleared: the
shipped file carries every weight, so no other file is needed to load it), ``classes.json``
and ``activity.json`` when the run has them (a classifier's names; an activity model's framing
and scores), and, for a pose model or a person detector, ``best.tflite`` + ``best.json``: the
LiteRT twin ``tfpose predict`` runs by default (``--engine auto``; the sidecar holds the SHA-256
of the ``best.keras`` it came from): float32 for a pose model, int8 for a detector (its dense
heads run ~2.5x faster so, its boxes within a few pixels: ``litert``; ``--quantize`` to choose;
int8 calibrates on the run's training data, so its records must be there).
MODEL.md, the model card, is written by hand: data, training, scores, licence.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
# Copied from the run when present: a classifier's class names (output i is classes[i]) and an
# activity model's joint framing, noise model and scores (scripts/train_activity.py).
CARRIED = ("classes.json", "activity.json")
sys.path.insert(0, str(ROOT))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--description", default=None)
    parser.add_argument("--weights", type=Path, default=None,
                        help="the weights to ship [default: RUN_DIR/best.keras]")
    parser.add_argument("--quantize", choices=["none", "float16", "int8"], default=None,
                        help="the LiteRT twin's [default: int8 for a detector, none otherwise]")
    args = parser.parse_args(argv)

    import keras

    from tfpose import config as config_lib
    from tfpose.models import register_custom_objects

    register_custom_objects()
    cfg = config_lib.load(args.run_dir / "config.yaml")
    cfg = config_lib.replace(
        cfg, name=args.name, description=args.description or cfg.description,
        model=config_lib.replace(cfg.model, backbone_weights=None),
        train=config_lib.replace(cfg.train, init_weights=None))
    model = keras.saving.load_model(args.weights or args.run_dir / "best.keras", compile=False)
    out = ROOT / "tfpose" / "pretrained" / args.name
    out.mkdir(parents=True, exist_ok=True)
    partial = out / ".best.partial.keras"
    model.save(partial)
    partial.replace(out / "best.keras")
    config_lib.dump(cfg, out / "config.yaml")
    print(f"{out}: best.keras {(out / 'best.keras').stat().st_size:,} bytes, "
          f"{model.count_params():,} parameters")
    for name in CARRIED:  # what a classifier needs beside its weights, when the run has it
        if (args.run_dir / name).is_file():
            (out / name).write_text((args.run_dir / name).read_text())
            print(f"{out / name}: copied")
    from tfpose.tasks import get_task

    task = get_task(cfg)
    if task.is_pose or task.is_detector:
        write_twin(out, args.name, args.quantize or ("int8" if task.is_detector else "none"))


def write_twin(folder: Path, name: str, quantize: str = "none") -> None:
    """``folder/best.tflite`` + sidecar (``quantize``d), its ``source`` the shipped name (not
    this machine's path)."""
    import json

    from tfpose.serving import litert

    twin = litert.export_tflite(folder, litert.twin_path(folder), quantize=quantize,
                                overwrite=True)
    sidecar = litert.sidecar_path(twin)
    meta = json.loads(sidecar.read_text())
    meta["source"] = f"tfpose/pretrained/{name}"
    sidecar.write_text(json.dumps(meta, indent=1))
    print(f"{twin}: {twin.stat().st_size:,} bytes (LiteRT twin)")


if __name__ == "__main__":
    main()
