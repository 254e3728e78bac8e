"""`plot_attention_graph`: the panels show the graph, and files are written."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import keras_bigbird  # noqa: E402
from keras_bigbird.layers import BlockSparseAttention  # noqa: E402
from keras_bigbird.patterns import BigBirdPattern  # noqa: E402
from keras_bigbird.patterns import WindowPattern  # noqa: E402


def drawn(ax):
    """The union of the parts drawn on a panel (the first image is the
    white background)."""
    images = [np.asarray(image.get_array()) > 0 for image in ax.images[1:]]
    return np.logical_or.reduce(images)


def test_bigbird_panels_are_the_parts_of_the_layer_graph():
    layer = BlockSparseAttention(2, 4, pattern=BigBirdPattern(2), block_size=8, seed=4)
    figure = keras_bigbird.plot_attention_graph(layer, 100)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["random", "window", "global", "BigBird"]
    graph = layer.attention_graph(100)[0]
    np.testing.assert_array_equal(drawn(figure.axes[3]), graph)
    parts = [drawn(ax) for ax in figure.axes[:3]]
    np.testing.assert_array_equal(np.logical_or.reduce(parts), graph)
    # The parts do not overlap.
    assert sum(p.astype(int) for p in parts).max() == 1


def test_per_head_rows_global_tokens_and_file(tmp_path):
    layer = BlockSparseAttention(3, 4, pattern=WindowPattern(3), block_size=4)
    global_mask = np.zeros(50, bool)
    global_mask[[3, 30]] = True
    path = tmp_path / "graph.png"
    figure = keras_bigbird.plot_attention_graph(
        layer, 50, path, per_head=True, global_mask=global_mask
    )
    assert len(figure.axes) == 3
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = layer.attention_graph(50, global_mask=global_mask[None])[0, 0]
    np.testing.assert_array_equal(drawn(figure.axes[0]), expected)
