"""Strict config loading: unknown keys and wrong types fail naming the key and the file."""

import pytest

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_fills_defaults_and_converts_types(tmp_path):
    path = write(tmp_path, "name: t\ntrain:\n  learning_rate: 1\n  lr_decay_epochs: [10, 20]\n")
    cfg = config_lib.load(path)
    assert cfg.name == "t"
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)
    assert cfg.train.lr_decay_epochs == (10, 20)
    assert cfg.data == config_lib.DataConfig()


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, "train:\n  learing_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml.*train\.learing_rate|learing_rate.*exp"):
        config_lib.load(path)


def test_unknown_nested_key(tmp_path):
    path = write(tmp_path, "data:\n  augment:\n    rotate: 10\n")
    with pytest.raises(ConfigError, match="rotate"):
        config_lib.load(path)


@pytest.mark.parametrize(
    "text, key",
    [
        ("train:\n  epochs: ten\n", "train.epochs"),
        ("train:\n  epochs: 2.5\n", "train.epochs"),
        ("data:\n  cache: 1\n", "data.cache"),
        ("model:\n  kind: 3\n", "model.kind"),
        ("data: [1, 2]\n", "data"),
    ],
)
def test_wrong_type_names_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_lib.load(path)


def test_overrides_apply_and_validate(tmp_path):
    path = write(tmp_path, "train:\n  epochs: 3\n")
    cfg = config_lib.load(path, ["train.epochs=7", "model.preset=null", "data.augment.flip=false"])
    assert cfg.train.epochs == 7
    assert cfg.model.preset is None
    assert cfg.data.augment.flip is False
    assert config_lib.load(path, ["train.learning_rate=5e-3"]).train.learning_rate == 0.005
    with pytest.raises(ConfigError, match="train.learning_rate"):
        config_lib.load(path, ["train.learning_rate=fast"])
    with pytest.raises(ConfigError, match="train.epoch"):
        config_lib.load(path, ["train.epoch=7"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config_lib.load(path, ["train.epochs"])
    with pytest.raises(ConfigError, match="no sub-keys"):
        config_lib.load(path, ["train.epochs.x=1"])


def test_dump_round_trip(tmp_path):
    cfg = config_lib.load(write(tmp_path, "name: rt\ntrain:\n  lr_decay_epochs: [3]\n"),
                          ["model.num_stacks=8"])
    out = tmp_path / "resolved.yaml"
    config_lib.dump(cfg, out)
    assert config_lib.load(out) == cfg


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        config_lib.load(write(tmp_path, "train: [unclosed\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        config_lib.load(tmp_path / "nope.yaml")


def test_every_shipped_config_loads():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))
    assert configs, "configs/ holds no experiment"
    for path in configs:
        config_lib.load(path)
