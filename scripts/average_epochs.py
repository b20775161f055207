"""Writes the uniform average of a run's kept epochs (``tfpose.training.averaging``).

    python scripts/average_epochs.py RUN_DIR FIRST LAST [--out FILE]

Averages ``RUN_DIR/epochs/epoch-FIRST.keras`` .. ``epoch-LAST.keras`` (a run trained with
``--set train.keep_epochs=true``) into ``FILE`` (default ``RUN_DIR/averaged-FIRST-LAST.keras``),
without optimiser state. Ship it with ``scripts/package_pretrained.py RUN_DIR NAME --weights FILE``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("first", type=int)
    parser.add_argument("last", type=int)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from tfpose.training.averaging import average_models, epoch_paths

    paths = epoch_paths(args.run_dir, args.first, args.last)
    out = args.out or args.run_dir / f"averaged-{args.first}-{args.last}.keras"
    model = average_models(paths)
    partial = out.with_name(f".{out.name}.partial.keras")
    model.save(str(partial))
    partial.replace(out)  # never a half-written model under the final name
    print(f"{out}: the mean of {len(paths)} epochs ({', '.join(p.name for p in paths)})")


if __name__ == "__main__":
    main()
