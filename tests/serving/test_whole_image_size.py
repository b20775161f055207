"""``data.whole_image_size``: pass 1 on a whole photo runs at a smaller input than the boxes' pass
2, through the same layers (one set of weights), and maps back from its own input size."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfpose import config as config_lib  # noqa: E402
from tfpose.codecs import heatmap as heatmap_codec  # noqa: E402
from tfpose.core import geometry  # noqa: E402
from tfpose.core.errors import ConfigError  # noqa: E402
from tfpose.input.normalize import normalize_images  # noqa: E402
from tfpose.serving import export  # noqa: E402
from tfpose.tasks import get_task  # noqa: E402
from tfpose.training.common import build_model  # noqa: E402

EFFNET = {"data": {"input_size": 64, "whole_image_size": 32, "whole_image_frame": "letterbox"},
          "model": {"kind": "efficientnet_lite0", "num_channels": 8}}


def _cfg(values):
    return config_lib.from_dict(values)


def test_whole_images_run_at_the_smaller_size_and_map_back_from_it():
    cfg = _cfg(EFFNET)
    model = build_model(cfg)
    module = export.ServingModule(model, cfg)
    frame = np.random.default_rng(0).uniform(0, 255, (1, 48, 80, 3)).astype(np.float32)
    got = module.predict_images(images=tf.constant(frame))

    # By hand: the letterboxed 32 x 32 crop, the same layers at 32 px (8 x 8 heatmaps), decoded,
    # and mapped back from 32 px: what pass 1 must return.
    task = get_task(cfg)
    network = task.network_at_size(model, 32)
    crops, boxes = export.crop_batch(tf.constant(frame), None, 32, encoded=False,
                                     frame="letterbox")
    maps = network({"image": normalize_images(crops, task.normalization)})["heatmaps_1"]
    assert maps.shape == (1, 8, 8, 16)
    keypoints, scores = heatmap_codec.decode(maps, 4, "quarter")
    want = geometry.to_original(keypoints, boxes, 32)
    np.testing.assert_allclose(got["keypoints"].numpy(), want.numpy(), atol=1e-3)
    np.testing.assert_allclose(got["keypoint_scores"].numpy(), scores.numpy(), atol=1e-5)

    # Boxes (pass 2) still run at input_size: 16 x 16 heatmaps, mapped back from 64 px.
    box = tf.constant([[10.0, 5.0, 42.0, 37.0]])
    boxed = module.predict_images_boxes(images=tf.constant(frame), boxes=box)
    crops, _ = export.crop_batch(tf.constant(frame), box, 64, encoded=False)
    maps = model({"image": normalize_images(crops, task.normalization)})["heatmaps_1"]
    keypoints, _ = heatmap_codec.decode(maps, 4, "quarter")
    np.testing.assert_allclose(boxed["keypoints"].numpy(),
                               geometry.to_original(keypoints, box, 64).numpy(), atol=1e-3)


def test_the_smaller_network_shares_the_models_weights():
    cfg = _cfg(EFFNET)
    model = build_model(cfg)
    network = get_task(cfg).network_at_size(model, 32)
    assert {id(v) for v in network.weights} == {id(v) for v in model.weights}
    image = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    before = network({"image": image})["heatmaps_1"].numpy()
    last = model.get_layer("heatmaps_1")
    last.set_weights([w + 1.0 for w in last.get_weights()])  # a change to the model ...
    after = network({"image": image})["heatmaps_1"].numpy()
    assert not np.allclose(after, before)  # ... is seen by the smaller network


@pytest.mark.parametrize("values, message", [
    ({**EFFNET, "data": {**EFFNET["data"], "whole_image_size": 40}}, "multiple of 32"),
    ({"data": {"input_size": 64, "whole_image_size": 32},
      "model": {"kind": "cdrp", "fc_units": 8}}, "takes only its input_size"),
])
def test_a_size_the_network_cannot_take_is_refused(values, message):
    cfg = _cfg(values)
    with pytest.raises(ConfigError, match=message):
        export.ServingModule(build_model(cfg), cfg)
