"""One entry point for every annotation format the converter reads.

``auto`` tells the formats apart by content, not by name alone: a ``.json`` is the HRNet/mmpose
MPII layout; a ``.mat`` holding a ``joints`` variable is LSP/LSPET, one holding ``RELEASE`` is
the official MPII file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List

from tfpose.datasets import lsp, mpii
from tfpose.core.errors import DataError

FORMATS = ("auto", "mpii", "lsp")


@dataclasses.dataclass
class Annotations:
    """Persons read from one file. ``format``: "mpii" | "mpii-json" | "lsp" | "lspet";
    ``head_size``: how each record's PCKh normaliser was made; ``dropped_joints``: joints made
    not-annotated because their values were unusable (non-finite)."""

    format: str
    records: List[mpii.PersonRecord]
    head_size: str
    dropped_joints: int = 0


def detect_format(path) -> str:
    """``"mpii"`` or ``"lsp"`` for an annotation file, from its suffix and (for .mat) contents."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "mpii"
    if suffix == ".mat":
        return "lsp" if lsp.is_lsp_mat(path) else "mpii"
    raise DataError(f"{path}: unknown annotation format {suffix or '(no suffix)'!r}; expected "
                    ".mat (MPII RELEASE or LSP/LSPET joints) or .json (HRNet/mmpose MPII)")


def read_annotations(path, format: str = "auto") -> Annotations:
    """Reads ``path`` as ``format`` (``auto`` | ``mpii`` | ``lsp``) into ``PersonRecord``s."""
    path = Path(path)
    if format not in FORMATS:
        raise DataError(f"format must be one of {', '.join(FORMATS)}. Received: format={format!r}")
    if not path.is_file():
        raise DataError(f"annotation file {path} does not exist")
    if format == "auto":
        format = detect_format(path)
    if format == "lsp":
        found = lsp.read_joints_mat(path)
        return Annotations(found.layout, found.records, "neck to head top length",
                           found.nonfinite_joints)
    records = mpii.read_annotations(path)
    kind = "mpii-json" if path.suffix.lower() == ".json" else "mpii"
    return Annotations(kind, records, "0.6 x head-box diagonal",
                       sum(r.dropped_joints for r in records))
