"""Disk full (ENOSPC) while writing a resume state or a shard: a clear error naming the file,
and the previous state / dataset stays intact and loadable."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from tfpose.core.errors import StorageError

pytestmark = pytest.mark.faults


def _enospc(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_while_saving_keeps_the_previous_resume_state(tmp_path, monkeypatch):
    import keras

    from tfpose.training.train import ResumeState

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)  # optimizer state exists
    state = ResumeState(tmp_path / "state", every_steps=1)
    state.set_model(model)
    state.save()
    good = ResumeState.latest(tmp_path / "state")
    before = good.read_bytes()
    expected = [w.copy() for w in model.get_weights()]

    def half_written(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89HDF\r\n partial")
        raise _enospc(path)

    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)  # weights move on
    monkeypatch.setattr(model, "save_weights", half_written)
    with pytest.raises(StorageError, match=rf"cannot write the resume state \(No space left on "
                                           rf"device\); the previous state {good.name} is intact"):
        state.save()
    assert ResumeState.latest(tmp_path / "state") == good and good.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == sorted([good.name, "latest.json"])
    monkeypatch.undo()
    model.load_weights(str(good))  # loadable, and it is the earlier weights
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(a, b)


def test_a_full_disk_while_writing_shards_leaves_the_existing_dataset_intact(tmp_path,
                                                                            monkeypatch):
    from tfpose.datasets import integrity, lsp
    from tfpose.datasets import convert
    from tfpose.datasets import shards
    from PIL import Image

    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (48, 80, 3), np.uint8)).save(images / f"im{i + 1:05d}.jpg")
    mat = tmp_path / "joints.mat"
    lsp.write_joints_mat(mat, rng.uniform(5, 45, (6, 14, 2)), np.ones((6, 14)), "lspet")
    out = tmp_path / "records"
    options = dict(crop="letterbox", image_size=32, workers=1, progress=False)
    convert.convert(mat, out, images, **options)
    manifest = (out / "manifest.json").read_bytes()
    shard_bytes = {p.name: p.read_bytes() for p in out.glob("*.tfrecord")}

    original = shards.ShardWriter.write
    written = []

    def fill_up(self, position, serialized):
        if len(written) == 3:
            raise _enospc(self.folder / self.names[0])
        written.append(position)
        original(self, position, serialized)

    monkeypatch.setattr(shards.ShardWriter, "write", fill_up)
    with pytest.raises(StorageError, match=r"cannot write \(No space left on device\); the "
                                           rf"existing {out} is unchanged"):
        convert.convert(mat, out, images, overwrite=True, **options)
    assert (out / "manifest.json").read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in out.glob("*.tfrecord")} == shard_bytes
    assert all(r.ok for r in integrity.verify(out))
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []
