"""Which weights file a work dir answers with, without TensorFlow: the LiteRT path
(``serving.litert.matching_twin``) can check its twin without importing Keras."""

from __future__ import annotations

from pathlib import Path

from tfpose.core.errors import DataError

# An activity model's work dir (``scripts/train_activity.py``): its joint framing, noise model
# and figures beside best.keras. Here, below every layer that reads it (training writes it,
# evaluation refuses such a model, serving loads it).
ACTIVITY_FILE = "activity.json"


def checkpoint_path(workdir: Path, checkpoint: str = "best") -> Path:
    """The weights file a work dir answers with: ``CHECKPOINT.keras``, else ``model.keras`` (a
    run that saved no best)."""
    workdir = Path(workdir)
    candidates = [workdir / f"{checkpoint}.keras", workdir / "model.keras"]
    for path in candidates:
        if path.exists():
            return path
    raise DataError(f"{workdir}: no trained model (looked for {', '.join(map(str, candidates))})")
