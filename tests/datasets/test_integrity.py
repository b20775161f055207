"""Damaged TFRecord shards: the error names the shard and the record; nothing written is lost."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import write_tiny_dataset
from tfpose.core.errors import DataError

pytestmark = pytest.mark.faults


@pytest.fixture()
def dataset(tmp_path):
    folder = write_tiny_dataset(tmp_path / "data", num_train=4, num_val=2)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shard_records"] = {"train-00000-of-00001.tfrecord": 4,
                                 "val-00000-of-00001.tfrecord": 2}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _record_offsets(path):
    """Byte offset where each record starts (length u64 + crc u32 + data + crc u32)."""
    import struct

    data, offsets, at = path.read_bytes(), [], 0
    while at < len(data):
        offsets.append(at)
        (length,) = struct.unpack("<Q", data[at:at + 8])
        at += 8 + 4 + length + 4
    return offsets


def test_an_intact_dataset_verifies(dataset):
    from tfpose.datasets.integrity import verify

    reports = verify(dataset)
    assert [(r.records, r.ok) for r in reports] == [(4, True), (2, True)]


def test_a_bit_flip_names_the_shard_and_record(dataset):
    from tfpose.datasets.integrity import verify

    shard = dataset / "train-00000-of-00001.tfrecord"
    at = _record_offsets(shard)[2] + 8 + 4 + 100  # inside record 2's payload
    data = bytearray(shard.read_bytes())
    data[at] ^= 0x10
    shard.write_bytes(bytes(data))
    (report,) = [r for r in verify(dataset) if not r.ok]
    assert report.records == 2
    assert "train-00000-of-00001.tfrecord: record 2" in report.describe()


def test_a_shard_cut_at_a_record_boundary_is_short_against_the_manifest(dataset):
    from tfpose.datasets.integrity import verify

    shard = dataset / "val-00000-of-00001.tfrecord"
    shard.write_bytes(shard.read_bytes()[: _record_offsets(shard)[1]])
    (report,) = [r for r in verify(dataset) if not r.ok]
    assert report.records == 1 and report.error is None
    assert "1 records, the manifest says 2" in report.describe()


def test_a_truncated_shard_fails_evaluation_with_the_shard_named(dataset, tmp_path):
    """evaluate reads an interleaved pipeline; the error still names the damaged file."""
    from tfpose import config as config_lib
    from tfpose.evaluation.evaluate import evaluate_pose_model
    from tfpose.tasks import pose_task

    shard = dataset / "val-00000-of-00001.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-7])  # inside the last record
    cfg = config_lib.from_dict({
        "data": {"dir": str(dataset), "input_size": 64, "batch_size": 2},
        "model": {"kind": "hourglass", "num_stacks": 1, "num_channels": 8,
                  "hourglass_depth": 1},
    })
    with pytest.raises(DataError, match=r"val-00000-of-00001\.tfrecord: record 1 .*damaged"):
        evaluate_pose_model(pose_task(cfg).build(), cfg, "val")


def test_inspect_refuses_a_damaged_dataset_and_names_every_bad_shard(dataset):
    from tfpose.datasets.inspection import inspect_dataset

    for name in ("train-00000-of-00001.tfrecord", "val-00000-of-00001.tfrecord"):
        shard = dataset / name
        shard.write_bytes(shard.read_bytes()[:-3])
    backup = dataset.parent / "backup.json"
    shutil.copy(dataset / "manifest.json", backup)
    with pytest.raises(DataError) as err:
        inspect_dataset(dataset)
    assert "train-00000-of-00001.tfrecord: record 3" in str(err.value)
    assert "val-00000-of-00001.tfrecord: record 1" in str(err.value)
    assert (dataset / "manifest.json").read_bytes() == backup.read_bytes()  # nothing touched
