"""A converted dataset folder: its shards, ``manifest.json``, and the atomic output folder.

A conversion writes into a hidden temporary sibling of the output folder and renames it only
when complete, so the output never looks finished when it is not (kill -9, power cut).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Iterator, List, Optional

from tfpose.core.errors import DataError

MANIFEST = "manifest.json"
LOG = "convert.log"
UNLABELLED = "(unlabelled)"  # key of persons without an activity in manifest counts


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"

def prepare_out_dir(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise DataError(f"output {out_dir} already exists and is not empty (use --overwrite)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # A conversion killed (kill -9, power cut) leaves its hidden partial folder behind; the
    # output itself only ever appears complete (one rename). Clear partials of dead processes.
    for stale in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def finish_out_dir(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        trash = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(trash)
        tmp.rename(out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(out_dir)


class ShardWriter:
    """The shards of one split; record number ``i`` of ``planned`` goes to shard
    ``i * count // planned``, so shard contents do not depend on which images fail."""

    def __init__(self, folder: Path, split: str, count: int, planned: int):
        self.folder, self.split, self.count, self.planned = folder, split, count, planned
        self.index, self.writer, self.closed = -1, None, False
        self.names = [shard_name(split, i, count) for i in range(count)]
        self.records = Counter()  # shard name -> records written (the manifest's shard_records)

    def write(self, position: int, serialized: bytes) -> None:
        import tensorflow as tf

        index = min(position * self.count // max(self.planned, 1), self.count - 1)
        if index != self.index:
            if self.writer is not None:
                self.writer.close()
            self.index = index
            self.writer = tf.io.TFRecordWriter(str(self.folder / self.names[index]))
        self.writer.write(serialized)
        self.records[self.names[index]] += 1

    def close(self) -> List[str]:
        """Closes the open shard, creates empty files for shards nothing reached; the names."""
        if self.closed:
            return self.names
        self.closed = True
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        for name in self.names:
            (self.folder / name).touch(exist_ok=True)  # an empty file is a valid TFRecord file
        return self.names
def read_manifest(dataset_dir) -> dict:
    """``manifest.json`` of a converted dataset folder, as a dict (the one reader of it)."""
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"{dataset_dir} is not a converted dataset (no {MANIFEST})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read the dataset manifest ({err})") from err


def shard_paths(dataset_dir, split: str) -> List[str]:
    """The shard files of one split, from the manifest."""
    manifest = read_manifest(dataset_dir)
    if split not in manifest["shards"]:
        raise DataError(
            f"{dataset_dir} has no split {split!r}. Available: {sorted(manifest['shards'])}"
        )
    return [str(Path(dataset_dir) / name) for name in manifest["shards"][split]]


def shard_files(data_dir, split: str) -> List[str]:
    """Sorted shard paths ``{split}-00000-of-000NN.tfrecord`` of one split, found on disk (a
    folder without a manifest, e.g. one written by hand, works too)."""
    files = sorted(str(p) for p in Path(data_dir).glob(f"{split}-*-of-*.tfrecord"))
    if not files:
        raise DataError(
            f"{data_dir}: no shards for split {split!r} (expected {split}-00000-of-000NN.tfrecord)"
        )
    return files


def iter_examples(dataset_dir, split: Optional[str] = None) -> Iterator[dict]:
    """Parsed records as numpy values (eager; for tests and ``inspect``), split by split."""
    import tensorflow as tf

    from tfpose.datasets import schema

    manifest = read_manifest(dataset_dir)
    for name in [split] if split else list(manifest["shards"]):
        for serialized in tf.data.TFRecordDataset(shard_paths(dataset_dir, name)):
            parsed = schema.parse_example(serialized)
            example = {k: v.numpy() for k, v in parsed.items()}
            example["split"] = name
            yield example
