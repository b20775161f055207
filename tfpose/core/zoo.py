"""Shipped pretrained models, addressed by name wherever a work dir is accepted.

A shipped model is a minimal work dir inside the package, ``tfpose/pretrained/<name>/``: its
``config.yaml`` (how it was trained, how to frame its input) and ``best.keras`` (the weights),
plus ``MODEL.md`` (data, licence, the figures it reached). ``resolve`` maps a name to that folder
and leaves any existing path alone, so ``tfpose predict lspet photo.jpg`` and
``tfpose predict runs/mine photo.jpg`` take the same code path.
"""

from __future__ import annotations

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


def names() -> list[str]:
    """Names of the shipped models (folders holding a config.yaml), sorted."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.yaml").is_file())


def summary(name: str) -> str:
    """The first line of the model's MODEL.md (what it is), or its config's description."""
    card = PRETRAINED_DIR / name / "MODEL.md"
    if card.is_file():
        for line in card.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                return line.strip()
    return ""


def resolve(source: str | Path) -> Path:
    """A work dir, model file or SavedModel path -> itself; a shipped model's name -> its folder.

    An existing path always wins over a name, so a local folder called ``lspet`` is not shadowed.
    Unknown names come back unchanged: the caller reports the missing path as before.
    """
    path = Path(source)
    if path.exists():
        return path
    if str(source) in names():
        return PRETRAINED_DIR / str(source)
    return path


def is_shipped(path: str | Path) -> bool:
    """True for a folder inside the shipped models' folder (the installed package: read-only)."""
    try:
        Path(path).resolve().relative_to(PRETRAINED_DIR)
    except ValueError:
        return False
    return True
