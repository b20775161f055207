"""Shard integrity: find which shard and record of a converted dataset is damaged.

TFRecord files carry a CRC of each record's length and payload, so a truncated or bit-flipped
shard fails to read, but TensorFlow's error (``DataLossError: corrupted record at 3456``) names
neither the file nor the record, and inside an interleaved ``tf.data`` pipeline there is no way to
tell which of the shards it came from. ``scan_shard`` reads one shard sequentially and reports the
first damaged record by index; ``verify`` does that for every shard of a dataset and compares
record counts with the manifest (a file cut at a record boundary reads cleanly but is short);
``named_shard_errors`` turns a ``DataLossError`` raised while training or evaluating into a
``DataError`` that names the shard and record.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Iterable, Iterator, List, Optional

from tfpose.core.errors import DataError
from tfpose.datasets.shards import read_manifest, shard_files


@dataclasses.dataclass(frozen=True)
class ShardReport:
    """What one shard read as: ``records`` read cleanly, then ``error`` (None: all good)."""

    path: str
    records: int
    expected: Optional[int] = None  # the manifest's count, when it has one
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and (self.expected is None or self.records == self.expected)

    def describe(self) -> str:
        """One line: the shard, the record and what is wrong (or that it is intact)."""
        if self.error is not None:
            return (f"{self.path}: record {self.records} (0-based, after {self.records} intact "
                    f"records) is damaged: {self.error}")
        if self.expected is not None and self.records != self.expected:
            return (f"{self.path}: {self.records} records, the manifest says {self.expected} "
                    "(the shard is truncated)")
        return f"{self.path}: {self.records} records, intact"


def scan_shard(path: str | Path, expected: Optional[int] = None) -> ShardReport:
    """Reads every record of one shard (CRC-checked); stops at the first damaged one."""
    import tensorflow as tf

    count = 0
    try:
        for _ in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            count += 1
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as err:
        return ShardReport(str(path), count, expected, _first_line(err))
    except tf.errors.NotFoundError as err:
        return ShardReport(str(path), count, expected, f"cannot open ({_first_line(err)})")
    return ShardReport(str(path), count, expected)


def verify(dataset_dir, splits: Optional[Iterable[str]] = None) -> List[ShardReport]:
    """A report per shard of ``splits`` (default: all) of a converted dataset folder."""

    manifest = read_manifest(dataset_dir)
    counts = manifest.get("shard_records", {})  # absent in datasets written before it existed
    reports = []
    for split in splits or list(manifest["num_records"]):
        for path in shard_files(dataset_dir, split):
            reports.append(scan_shard(path, counts.get(Path(path).name)))
    return reports


def _first_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


@contextlib.contextmanager
def named_shard_errors(dataset_dir, splits: Iterable[str]) -> Iterator[None]:
    """Re-raises a ``DataLossError`` from reading ``splits`` as a ``DataError`` naming the shard.

    Scanning happens only after a failure, so intact data costs nothing.
    """
    import tensorflow as tf

    try:
        yield
    except tf.errors.DataLossError as err:
        damaged = [r.describe() for r in verify(dataset_dir, splits) if not r.ok]
        where = "; ".join(damaged) if damaged else (
            f"no shard of {dataset_dir} fails on a re-read ({_first_line(err)})")
        raise DataError(
            f"damaged TFRecord data: {where}. Re-run `tfpose convert` for this dataset "
            "(or restore the shard); nothing of the run's earlier checkpoints was touched"
        ) from err
