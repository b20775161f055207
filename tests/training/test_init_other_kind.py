"""``train.init_weights`` from a model of another kind: the layers both have (same name and
weight shapes) are copied, the new head is left as built (a SimCC head on the heatmap trunk)."""

import keras
import numpy as np
import pytest

from tfpose import config as config_lib
from tfpose.core.errors import ConfigError
from tfpose.tasks.workdir import other_kind_of_weights
from tfpose.training.common import build_model, load_matching_layers

SIZE = 64


def _cfg(kind):
    return config_lib.from_dict({"data": {"input_size": SIZE},
                                 "model": {"kind": kind, "num_channels": 8}})


@pytest.fixture(scope="module")
def heatmap_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heatmap")
    cfg = _cfg("efficientnet_lite0")
    keras.utils.set_random_seed(1)
    build_model(cfg).save(folder / "best.keras")
    config_lib.dump(cfg, folder / "config.yaml")
    return folder


def test_the_shared_trunk_is_copied_and_the_new_head_left(heatmap_dir):
    simcc = _cfg("efficientnet_lite0_simcc")
    assert other_kind_of_weights(simcc, heatmap_dir / "best.keras") == "efficientnet_lite0"
    assert other_kind_of_weights(_cfg("efficientnet_lite0"), heatmap_dir / "best.keras") is None
    source = keras.saving.load_model(heatmap_dir / "best.keras", compile=False)
    keras.utils.set_random_seed(2)
    model = build_model(_cfg("efficientnet_lite0_simcc"))
    copied, left = load_matching_layers(model, heatmap_dir / "best.keras")
    assert copied > 50 and "simcc_x" in left and "simcc_y" in left
    for name in ("stem_conv", "block15_project", "head_c4_smooth"):
        for got, want in zip(model.get_layer(name).get_weights(),
                             source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    trunk = [layer.name for layer in model.layers if layer.name.startswith(("stem_", "block"))
             and layer.weights]
    assert trunk and not set(trunk) & set(left)  # the whole backbone came across


def test_a_model_with_nothing_in_common_is_refused(heatmap_dir):
    with pytest.raises(ConfigError, match="no layer"):
        load_matching_layers(build_model(config_lib.from_dict(
            {"data": {"input_size": SIZE}, "model": {"kind": "cdrp", "fc_units": 8}})),
            heatmap_dir / "best.keras")
