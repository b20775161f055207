"""Person-centre codec: encode -> decode recovers the boxes, the 3 x 3 peak rule, graph mode."""

import numpy as np
import tensorflow as tf

from tfpose.codecs import centers


def _logits(probabilities):
    p = tf.clip_by_value(probabilities, 1e-6, 1.0 - 1e-6)
    return tf.math.log(p / (1.0 - p))


def _decode_targets(boxes, valid, cells, stride, max_people):
    heat, sizes, offsets, _ = centers.encode(boxes, valid, cells, stride)
    return centers.decode(_logits(heat), sizes, offsets, stride, max_people)


def test_decode_recovers_known_boxes_best_first():
    # Sub-pixel corners, a wide and a tall person, one padding row.
    boxes = np.array([[[10.3, 20.7, 60.1, 150.9], [100.5, 30.2, 181.0, 95.4], [0, 0, 0, 0]]],
                     np.float32)
    decoded, scores = _decode_targets(boxes, [[1, 1, 0]], 48, 4, max_people=4)
    found = decoded.numpy()[0][scores.numpy()[0] > 0.5]
    assert len(found) == 2  # the padding row is no one
    order = np.argsort(found[:, 0])
    np.testing.assert_allclose(found[order], boxes[0, :2], atol=1e-3)


def test_centre_cell_and_targets_follow_the_pixel_convention():
    boxes = np.array([[9.0, 10.0, 31.0, 50.0]], np.float32)  # centre (20, 30), 22 x 40 px
    heat, sizes, offsets, mask = centers.encode(boxes, [1], 16, 4)
    assert heat.shape == (16, 16, 1) and sizes.shape == (16, 16, 2)
    # Centre / stride = (5, 7.5): cell round(7.5) = 8 in y, offset -0.5.
    assert heat[8, 5, 0].numpy() == 1.0 and mask.numpy().sum() == 1.0 and mask[8, 5] == 1.0
    np.testing.assert_allclose(offsets[8, 5].numpy(), [0.0, -0.5], atol=1e-6)
    np.testing.assert_allclose(np.exp(sizes[8, 5].numpy()) * 4, [22.0, 40.0], rtol=1e-5)
    assert heat.numpy().max() == 1.0 and 0.0 < heat[8, 6, 0].numpy() < 1.0


def test_only_local_maxima_are_people():
    """Two neighbouring high cells are one person; a far weaker maximum is another."""
    heat = np.zeros((1, 12, 12, 1), np.float32)
    heat[0, 3, 3, 0], heat[0, 3, 4, 0], heat[0, 9, 9, 0] = 0.9, 0.8, 0.6
    scores, cells = centers.peaks(_logits(heat), 3)
    np.testing.assert_allclose(scores.numpy()[0], [0.9, 0.6, 0.0], atol=1e-5)
    np.testing.assert_array_equal(cells.numpy()[0, :2], [[3, 3], [9, 9]])


def test_decode_runs_in_a_graph_on_a_batch_and_pads_small_maps():
    boxes = np.array([[[4.0, 4.0, 20.0, 28.0]], [[10.0, 2.0, 30.0, 14.0]]], np.float32)

    @tf.function
    def run(boxes):
        return _decode_targets(boxes, tf.ones([2, 1]), 8, 4, max_people=80)

    decoded, scores = run(boxes)
    assert decoded.shape == (2, 80, 4) and scores.shape == (2, 80)  # 64 cells, 16 padded rows
    np.testing.assert_allclose(decoded.numpy()[:, 0], boxes[:, 0], atol=1e-3)


def test_box_iou():
    a = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]], np.float32)
    np.testing.assert_allclose(centers.box_iou(a, b).numpy(), [[50 / 150, 0.0]], atol=1e-6)


def test_a_decoded_side_is_at_most_twice_the_input():
    """A wild size read off the map (log side e^12 cells) decodes to twice the input's side,
    centred where it was; a real size passes unchanged."""
    logits = np.full((1, 8, 8, 1), -9.0, np.float32)
    logits[0, 2, 3, 0], logits[0, 6, 5, 0] = 5.0, 4.0
    sizes = np.zeros((1, 8, 8, 2), np.float32)
    sizes[0, 2, 3], sizes[0, 6, 5] = 12.0, np.log(3.0)
    boxes, _ = centers.decode(logits, sizes, np.zeros((1, 8, 8, 2), np.float32), 4, 2)
    sides = (boxes[0, :, 2:] - boxes[0, :, :2]).numpy()
    np.testing.assert_allclose(sides, [[2 * 8 * 4] * 2, [3 * 4] * 2], rtol=1e-5)
    np.testing.assert_allclose((boxes[0, 0, :2] + boxes[0, 0, 2:]).numpy() / 2, [12, 8])
