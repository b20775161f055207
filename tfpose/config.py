"""Experiment configuration: frozen dataclasses loaded strictly from YAML.

One YAML file per experiment (``configs/``). Loading is strict on purpose: an unknown key or a
value of the wrong type is an error that names the key and the file, so a typo such as
``learing_rate`` never silently trains with the default. ``--set a.b=c`` overrides any field
(values parsed as YAML scalars), and the resolved config is written back into the work dir.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Optional, Tuple

import yaml

from tfpose.core.errors import ConfigError


# Model kinds (``model.kind``) and regression coordinate frames (``data.coord_frame``).
REGRESSION_KINDS = ("cdrp", "resnet34")
HEATMAP_KINDS = ("hourglass", "efficientnet_lite0")
SIMCC_KINDS = ("efficientnet_lite0_simcc",)  # 1-D x and y bins per joint (codecs/simcc.py)
POSE_KINDS = REGRESSION_KINDS + HEATMAP_KINDS + SIMCC_KINDS
CLASSIFIER_KINDS = ("classifier", "two_stage")
DETECTOR_KINDS = ("efficientnet_lite0_centernet",)  # person boxes (codecs/centers.py)
COORD_FRAMES = ("centered", "unit")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; one affine per example applied to image and joints."""

    enabled: bool = True
    rotation: float = 30.0  # degrees, uniform in [-rotation, rotation]
    scale_min: float = 0.75
    scale_max: float = 1.25
    translate: float = 0.05  # fraction of the input size, uniform in [-t, t] per axis
    flip: bool = True  # horizontal flip with the left/right joint swap, p = 0.5
    color_jitter: float = 0.2  # brightness/contrast/saturation strength; 0 disables
    # Probability of framing the person instead of the whole input: the square around the
    # annotated joints (side ``core.person_box.MARGIN`` x their extent, as predict's second pass
    # crops) fills the input, then the scale, rotation and shift above apply about it.
    person_crop: float = 0.0
    # Poses the sports photos lack (lying, reclining): this share of the examples draws its
    # rotation from +-wide_rotation_range degrees instead of +-rotation.
    wide_rotation: float = 0.0
    wide_rotation_range: float = 90.0
    # Everyday-photo degradations (``input/degrade.py``), each the probability that an example
    # gets it; 0 turns it off (and builds nothing). Joints follow: truncation unlabels the joints
    # the frame cuts off, occlusion keeps the covered joint labelled.
    truncation: float = 0.0  # the frame's edge through the hips, knees or shoulders (or a side)
    occlusion: float = 0.0  # a patch over one joint: a flat colour or another photo's pixels
    lighting: float = 0.0  # gamma, exposure, contrast and colour cast (dark rooms, backlight)
    low_resolution: float = 0.0  # shown at 1/2, 1/3 or 1/4 of the input's resolution
    blur: float = 0.0  # motion (9 px, 4 directions) or defocus (radius 3 px)
    noise: float = 0.0  # Gaussian sensor noise, sigma 2..12 grey levels
    jpeg: float = 0.0  # block DCT quantised as a JPEG at quality 5..40


@dataclasses.dataclass(frozen=True)
class MosaicConfig:
    """Person-detector training images composed from one-person photos (``input/mosaic.py``)."""

    max_persons: int = 4  # annotated persons on one image: 1 .. max_persons
    # Side of a pasted person's box as a fraction of the image side, log-uniform in [min, max].
    min_size: float = 0.1
    max_size: float = 0.9
    # Probability that the image starts from a whole photo (letterboxed, its person labelled,
    # 0 .. max_persons - 1 pasted on it); otherwise from a person-free strip of a photo with
    # 1 .. max_persons pasted. A lone whole photo is whole_photo / max_persons of the images.
    whole_photo: float = 0.5
    # A person whose box is covered by later pastes beyond 1 - min_visible loses its label.
    min_visible: float = 0.4
    # Share of pasted persons turned a quarter turn (either way) about their box's centre:
    # people lying down, whom the sports photos barely show (issue 34's lying row).
    lying: float = 0.0
    # Share of pasted persons the image edge cuts (at the knees, waist or shoulders), boxed by
    # their joints in the image: without them the detector missed people cut by the frame
    # (session 13: every person 12 points under one skeleton on waist-cut photos).
    truncation: float = 0.0
    # Share of images with no one: a person-free strip of a photo, nothing pasted. Without
    # them every image holds a person, and a detector trained on damaged images found people
    # in noise and bare walls (session 13, leg 6).
    empty: float = 0.0
    # Share of those empty images made instead of cut from a photo: uniform noise, a flat
    # grey under sensor noise, or a smooth colour texture (mosaic.made_empty). A detector
    # trained on photo strips alone scored uniform noise up to 0.23 and a blurred colour
    # texture 0.27 (sessions 14-15), and the issue wants no one found in noise.
    made_empty: float = 0.0


@dataclasses.dataclass(frozen=True)
class CrowdConfig:
    """Pose training crops of one person among others, framed as the detector frames them
    (``input/crowd_crops.py``; the images composed as ``data.mosaic`` says)."""

    # Share of the training batches made of crowd crops (the rest: one-person photos).
    share: float = 0.0
    canvas: int = 384  # side of the composed image the crops are cut from (the check set's)
    # The crop square's centre moves by up to this share of its side per axis, and its side is
    # scaled by exp(s), s in [-scale, scale]: a detector's box is not the annotation's.
    shift: float = 0.1
    scale: float = 0.15


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the converted TFRecords live and how they become model inputs and targets."""

    dir: str = "tfrecords/synth"  # a `tfpose convert` output folder (holds manifest.json)
    train_split: str = "train"
    val_split: str = "val"
    input_size: int = 256  # square model input, pixels
    normalization: str = "zero_center"  # zero_center (report: per-image mean) | imagenet | signed | unit
    coord_frame: str = "centered"  # regression targets: centered ([-S/2, S/2]) | unit ([-1, 1])
    heatmap_stride: int = 4  # input / heatmap resolution (256 -> 64)
    heatmap_sigma: float = 2.0  # Gaussian sigma in heatmap pixels
    # Heatmap models, training: the loss weight of a joint the annotation puts outside what the
    # input shows (the augmentation's crop or a truncation cut it off), whose target is then an
    # all-zero map, so a low score learns to mean "not in the photo". 0: such joints are
    # unlabelled (no loss), as before issue 34's visibility leg.
    absent_weight: float = 0.0
    # SimCC models: the label-smoothing Gaussian's sigma in bins (2 per input pixel): 4 bins =
    # 2 input px, about RTMPose's 5.66 bins at 256 px scaled to a 160 px input.
    simcc_sigma: float = 4.0  # = codecs.simcc.SIGMA (config cannot import codecs)
    batch_size: int = 32
    shuffle_buffer: int = 1024
    cache: bool = False
    deterministic: bool = False
    class_weights: bool = False  # sample weights inversely proportional to class frequency
    # XLA-compile the per-batch work (warp, colour, normalise, targets) into fused loops:
    # several times faster on CPU; false runs the same stages as plain TF ops.
    jit_compile: bool = True
    # How predict and the export's box-less signatures frame a whole photo: stretch (to the
    # square input, as ``convert --crop whole``: the report) | letterbox (longer side fitted,
    # the shorter padded, as ``convert --crop letterbox``). Match the dataset's crop.
    whole_image_frame: str = "stretch"
    # The input side of pass 1 on a whole photo (predict and the box-less signatures); None:
    # input_size. Heatmap models are fully convolutional, so a pass 1 that only has to find the
    # person can run smaller than the pass 2 that places the joints inside its box.
    whole_image_size: Optional[int] = None
    # More training datasets in the same joint layout (their train split), e.g. LSP beside
    # LSPET; validation reads ``dir`` only.
    extra_train_dirs: Tuple[str, ...] = ()
    # Training: how often each training dataset (``dir``, then ``extra_train_dirs``) is drawn
    # from, relative to the others (each repeats on its own). Empty: every record of every
    # dataset once per pass, so a dataset weighs by its size (LSP's 900 photos beside LSPET's
    # 8,100 are a tenth of the examples).
    train_dir_weights: Tuple[float, ...] = ()
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    mosaic: MosaicConfig = dataclasses.field(default_factory=MosaicConfig)
    crowd: CrowdConfig = dataclasses.field(default_factory=CrowdConfig)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which network to build. Fields not used by ``kind`` are ignored by its builder."""

    # cdrp | resnet34 | hourglass | efficientnet_lite0 | efficientnet_lite0_simcc | classifier |
    # two_stage | efficientnet_lite0_centernet (person detector)
    kind: str = "hourglass"
    num_joints: int = 16
    # CDRP / ResNet34 regression heads.
    dropout: float = 0.1
    fc_units: int = 1024
    preset: Optional[str] = None  # keras-hub preset name or local preset folder (pretrained)
    # Stacked hourglass (num_channels is also the efficientnet_lite0 kinds' head width).
    num_stacks: int = 2
    num_channels: int = 256
    hourglass_depth: int = 4
    # efficientnet_lite0 (and _simcc): ImageNet backbone weights (.npz of scripts/import_imagenet_backbone.py)
    # loaded by `tfpose train` into a fresh run; None: random initialisation.
    backbone_weights: Optional[str] = None
    # efficientnet_lite0 (and _simcc): freeze the stem and the first N of its 16 MBConv blocks (weights and
    # BatchNorm statistics) for the whole run: ImageNet's low-level filters are kept, and the
    # step skips their gradients (the issue measured 88 against 59 examples/s with N = 4).
    frozen_blocks: int = 0
    # Heatmap loss: mse (the paper's L2 to Gaussian maps, peak 1) | softmax_ce (each joint's map is
    # a spatial softmax trained by cross-entropy to the normalised Gaussian; its gradient does not
    # vanish on the all-background start, so it localises sooner per step).
    heatmap_loss: str = "mse"
    # Sub-pixel rule of the heatmap decoding (``heatmaps.decode``): quarter (the hourglass's
    # quarter-pixel shift) | gaussian (per-axis log-parabola) | dark (distribution-aware).
    heatmap_decode: str = "quarter"
    # Person detector (efficientnet_lite0_centernet): each head's 3 x 3 layer at stride 4, conv
    # (CenterNet's: at 192 px its three heads cost ~3x the backbone's multiply-adds) |
    # separable (depthwise 3 x 3 + pointwise: ~8x fewer).
    detection_head: str = "conv"
    # Person detector: keep the pose model's whole trunk, pyramid and heatmap head
    # (``train.init_weights``) frozen and answer its heatmaps too (``heatmaps_1``): one network
    # gives the whole-photo pose pass 1 and the people in it; only the detection heads train.
    shared_trunk: bool = False
    # Action classifier.
    image_branch: bool = True  # False: joints-only classifier
    joint_embedding: str = "none"  # none | linear | conv | pairwise | transformer
    num_classes: int = 0  # 0: taken from the dataset manifest
    l2: float = 0.0
    # LFE / CFE read the visible flag as a third input channel (the Transformer always does).
    # False is the report's (x, y) only; on real MPII joints whether a joint is annotated at all
    # (ankles missing in a third of the persons: cut off by the frame) tells the activity too.
    joint_visibility: bool = False
    transformer_layers: int = 2
    transformer_heads: int = 4
    # Two-stage model (kind two_stage): the classifier trains on the joints predicted by the
    # frozen pose model of this work dir, as at inference.
    pose_workdir: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, precision, distribution, checkpoints and logging."""

    epochs: int = 10
    # Time budget: training stops at the first epoch end after this many minutes of this
    # process (equal-time model comparisons); None: run all epochs. The clock is wall time or
    # the process's CPU time (all threads; fair on a shared machine). Model.fit strategies only.
    time_budget_minutes: Optional[float] = None
    time_budget_clock: str = "wall"  # wall | cpu
    steps_per_epoch: Optional[int] = None  # None: one pass over the training split
    validation_steps: Optional[int] = None
    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_decay_epochs: Tuple[int, ...] = ()  # piecewise-constant schedule boundaries
    lr_decay_factor: float = 0.1
    # piecewise: constant, times lr_decay_factor at each lr_decay_epochs boundary; cosine: from
    # learning_rate to 1 % of it over all epochs (Loshchilov & Hutter), after a linear warm-up.
    lr_schedule: str = "piecewise"
    warmup_epochs: float = 0.0  # linear warm-up from 0 (cosine only)
    # Exponential moving average of the weights (Polyak averaging), e.g. 0.999 (an average over
    # ~1,000 steps): validation, best.keras and model.keras use the average, training goes on
    # from its own weights. None: off. Model.fit strategies only.
    ema_momentum: Optional[float] = None
    precision: str = "auto"  # auto | float32 | mixed_float16 | mixed_bfloat16
    # Start a fresh run from these weights (a .keras / .weights.h5 file, a work dir or a shipped
    # model name): continue training a shipped model with a new schedule.
    init_weights: Optional[str] = None
    strategy: str = "auto"  # auto | default | mirrored | multi_worker
    jit_compile: bool = False
    seed: int = 0
    checkpoint_every_steps: int = 200  # resume-state saves; 0: at epoch ends only
    # Also keep every epoch's model (the average with ema_momentum) as
    # WORKDIR/epochs/epoch-NNN.keras, to pick an epoch by another protocol than the monitor
    # (real photos: two passes on whole photos, which the one-pass monitor does not rank alike).
    keep_epochs: bool = False
    image_summary_every: int = 1  # epochs between TensorBoard skeleton images; 0 disables
    profile_batch: Optional[str] = None  # e.g. "10,20" for a TensorBoard profiler trace


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment; ``name`` and ``description`` are for humans and TensorBoard."""

    name: str = "experiment"
    description: str = ""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


# ----------------------------------------------------------------------------------------------
# Strict conversion between plain YAML values and the dataclasses.


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Checks ``value`` against the annotation ``tp``; returns it converted (lists -> tuples)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin in (tuple, Tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, received {value!r}")
        (item_tp, *_rest) = typing.get_args(tp)
        return tuple(_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, received {value!r}")
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, received {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, received {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "5e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, received {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, received {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported field type {_type_name(tp)}")


def _build(cls: type, values: dict, where: str):
    """``values`` -> ``cls``; ``where`` is the dotted key path so far ("" at the top)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        keys = ", ".join(f"{where}.{k}" if where else k for k in unknown)
        raise ConfigError(f"unknown key {keys}; valid keys here: {', '.join(sorted(names))}")
    return cls(**{
        key: _coerce(value, hints[key], f"{where}.{key}" if where else key)
        for key, value in values.items()
    })


def from_dict(values: dict, source: str = "<dict>") -> Config:
    """Builds a Config from nested plain values; ``source`` names the origin in errors."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, received {values!r}")
    try:
        return _build(Config, values, "")
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def to_dict(cfg: Any) -> dict:
    """Nested plain values (tuples as lists) for YAML or JSON."""

    def plain(v):
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v

    return plain(cfg)


def _set_path(values: dict, dotted: str, value: Any, source: str) -> None:
    """Writes ``value`` at ``a.b.c`` into nested dicts, checking each level exists in the schema."""
    keys = dotted.split(".")
    cls: Any = Config
    node = values
    for i, key in enumerate(keys):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown key {'.'.join(keys[: i + 1])!r}; "
                f"valid keys here: {', '.join(sorted(fields))}"
            )
        if i == len(keys) - 1:
            node[key] = value
            return
        cls = typing.get_type_hints(cls)[key]
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"{source}: {'.'.join(keys[: i + 1])!r} has no sub-keys")
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {'.'.join(keys[: i + 1])!r} must be a mapping")


def apply_overrides(values: dict, overrides: typing.Iterable[str]) -> dict:
    """Applies ``a.b=c`` strings (c parsed as a YAML scalar) to nested plain values."""
    values = yaml.safe_load(yaml.safe_dump(values or {}))  # deep copy
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=3")
        key, raw = item.split("=", 1)
        _set_path(values, key.strip(), yaml.safe_load(raw), f"--set {item!r}")
    return values


def load(path: str | Path, overrides: typing.Iterable[str] = ()) -> Config:
    """Reads a YAML config, applies ``--set`` overrides and validates everything."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from err
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, received {values!r}")
    return from_dict(apply_overrides(values, overrides), str(path))


def dump(cfg: Config, path: str | Path | None = None) -> str:
    """YAML text of the resolved config; written to ``path`` when given."""
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    if path is not None:
        Path(path).write_text(text)
    return text


def replace(cfg: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` re-exported: configs are frozen, derive a new one to change it."""
    return dataclasses.replace(cfg, **changes)
