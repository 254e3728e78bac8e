"""`SlidingWindowAttention` against `MultiHeadAttention` on a band mask."""

import keras
import numpy as np
import pytest

from keras_bigbird.layers import SlidingWindowAttention


@pytest.mark.parametrize("length,block_size", [(1, 4), (37, 4), (64, 16)])
def test_equals_mha_with_the_band_mask(length, block_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, length, 12)).astype("float32")
    mask = np.arange(length)[None] < np.array([[length], [max(length - 9, 1)]])
    layer = SlidingWindowAttention(num_heads=3, key_dim=4, block_size=block_size)
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    out = keras.ops.convert_to_numpy(layer(x, padding_mask=mask))
    mha(x, x)
    mha.set_weights(layer.get_weights())
    graph = layer.attention_graph(length)
    dense_mask = graph[None] & mask[:, None, None, :]
    expected = keras.ops.convert_to_numpy(mha(x, x, attention_mask=dense_mask))
    real = mask[..., None]
    np.testing.assert_allclose(np.where(real, out, 0),
                               np.where(real, expected, 0), atol=1e-5)
    assert np.isfinite(out).all()


def test_graph_is_the_block_window():
    layer = SlidingWindowAttention(num_heads=2, key_dim=4, block_size=3)
    graph = layer.attention_graph(10)
    assert graph.shape == (2, 10, 10)
    assert graph[0, 0, :6].all() and not graph[0, 0, 6:].any()
    assert graph[1, 9, 6:].all() and not graph[1, 9, :6].any()


def test_get_config_round_trip_and_invalid_arguments():
    layer = SlidingWindowAttention(num_heads=2, key_dim=4, block_size=8,
                                   dropout=0.1, seed=3)
    config = layer.get_config()
    assert SlidingWindowAttention.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="block_size"):
        SlidingWindowAttention(num_heads=2, key_dim=4, block_size=0)
