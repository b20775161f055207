"""Fuzzing the annotation readers and the TFRecord reader: seeded truncations and mutations.

Every case must end in success or the project's one-line error (``TfposeError``): never a
traceback from scipy, json, numpy or TensorFlow. The default run tries 50 cases per reader; the
``slow`` run 1,000 (``pytest -m slow tests/datasets/test_fuzz.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fuzzing import mutate
from tfpose.datasets import lsp, mpii
from tfpose.core.errors import TfposeError

pytestmark = pytest.mark.faults

SAMPLE_MAT = Path(__file__).resolve().parents[1] / "data" / "mpii_sample" / "mpii_sample.mat"
FAST, SLOW = 50, 1000


def mutate_json(entries: list, rng: np.random.Generator):
    """A structural mutation of an MPII JSON list: a field replaced by another type or value."""
    entries = json.loads(json.dumps(entries))
    junk = [None, "", "x", -1, 0, 1e308, [], {}, [[1, 2]] * 3, [None] * 16, True,
            math.nan, math.inf, [[math.nan, 1.0]] * 16, [[1.0, 2.0, 3.0]] * 16]
    for _ in range(rng.integers(1, 4)):
        entry = entries[rng.integers(len(entries))]
        key = list(entry)[rng.integers(len(entry))]
        if rng.random() < 0.2:
            del entry[key]
        else:
            entry[key] = junk[rng.integers(len(junk))]
    if rng.random() < 0.1:
        return {"not": "a list"}
    return entries


def assert_clean(outcome, seed):
    """The reader either returned or raised TfposeError; anything else is a bug (seed shown)."""
    try:
        outcome()
    except TfposeError:
        pass
    except Exception as err:  # noqa: BLE001 - the point of the test
        raise AssertionError(f"case {seed}: {type(err).__name__}: {err}") from err


def test_a_mat_file_that_crashes_scipy_is_a_one_line_error(tmp_path):
    """Fuzz case 751 of the LSP file makes scipy.io.loadmat (1.17) die with SIGSEGV; the reader
    runs scipy in a child process, so here it is a DataError and this process lives on."""
    path = tmp_path / "joints.mat"
    path.write_bytes(mutate(lsp_bytes(tmp_path), np.random.default_rng(751)))
    with pytest.raises(TfposeError, match="joints.mat: "):
        lsp.read_joints_mat(path)


def json_entries():
    return [{"image": f"{i:09d}.jpg", "center": [100.0 + i, 80.0], "scale": 1.5,
             "joints": [[10.0 + j, 20.0 + j] for j in range(16)],
             "joints_vis": [1] * 15 + [0]} for i in range(3)]


def lsp_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "seed.mat"
    rng = np.random.default_rng(0)
    lsp.write_joints_mat(path, rng.uniform(1, 90, (3, 14, 2)), np.ones((3, 14)), "lspet")
    return path.read_bytes()


def run_mat_cases(tmp_path, original: bytes, read, cases: int, name: str):
    path = tmp_path / name
    for seed in range(cases):
        path.write_bytes(mutate(original, np.random.default_rng(seed)))
        assert_clean(lambda: read(path), seed)


@pytest.mark.parametrize("cases", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
def test_mpii_mat_reader_fuzz(tmp_path, cases):
    run_mat_cases(tmp_path, SAMPLE_MAT.read_bytes(), mpii.read_annotations, cases, "fuzz.mat")


@pytest.mark.parametrize("cases", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
def test_lsp_reader_fuzz(tmp_path, cases):
    run_mat_cases(tmp_path, lsp_bytes(tmp_path), lsp.read_joints_mat, cases, "joints.mat")


@pytest.mark.parametrize("cases", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)])
def test_json_reader_fuzz(tmp_path, cases):
    path = tmp_path / "fuzz.json"
    text = json.dumps(json_entries()).encode()
    for seed in range(cases):
        rng = np.random.default_rng(seed)
        if seed % 2:
            path.write_bytes(mutate(text, rng))
        else:
            path.write_text(json.dumps(mutate_json(json_entries(), rng)))
        assert_clean(lambda: mpii.read_json(path), seed)


def test_nonfinite_and_outside_joints_in_json_are_skipped_and_counted(tmp_path):
    """NaN / infinite coordinates never reach a record as annotated joints."""
    entries = json_entries()
    entries[0]["joints"][3] = [math.nan, 5.0]
    entries[1]["joints"][4] = [math.inf, 5.0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entries))
    try:
        records = mpii.read_json(path)
    except TfposeError as err:  # a clear refusal naming the file is also acceptable
        assert "bad.json" in str(err)
        return
    joints = np.stack([r.joints for r in records])
    annotated = np.stack([r.annotated for r in records])
    assert np.isfinite(joints[annotated]).all()
    assert not annotated[0, 3] and not annotated[1, 4]
