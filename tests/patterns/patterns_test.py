"""The other built-in patterns against their definitions; serialization.

Each graph is compared with the pattern's definition computed here in
numpy, on the adjacency read from its table, and through a layer's token
graph; every pattern round-trips through its config and a `.keras` file.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_bigbird import patterns
from keras_bigbird.layers import BlockSparseAttention
from keras_bigbird.ops.random_pattern import NUMPY
from keras_bigbird.patterns import BigBirdPattern
from keras_bigbird.patterns import BlockLayoutPattern
from keras_bigbird.patterns import FunctionPattern
from keras_bigbird.patterns import OriginalBigBirdPattern
from keras_bigbird.patterns import UnionPattern
from keras_bigbird.patterns import WindowPattern
from tests.patterns.pattern_graphs import block_graph
from tests.patterns.pattern_graphs import repeated_keys
from tests.patterns.pattern_graphs import token_graph


@keras.saving.register_keras_serializable(package="keras_bigbird_tests")
def strided(head, query, key, num_blocks):
    """Band of width 3, every 4th block, and the last real block."""
    return ops.logical_or(
        ops.logical_or(ops.abs(query - key) <= 1, key % 4 == 0),
        key == num_blocks - 1,
    )


def strided_numpy(n, num_blocks):
    q = np.arange(num_blocks)[:, None]
    k = np.arange(num_blocks)[None, :]
    return (np.abs(q - k) <= 1) | (k % 4 == 0) | (k == n - 1)


def random_layout(rng, heads, n, density=0.3):
    layout = rng.random((heads, n, n)) < density
    layout[:, np.arange(n), np.arange(n)] = True
    return layout


# === Window ===


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("w,dilation", [(1, 1), (3, 1), (5, 1), (3, 2), (5, 3)])
def test_window_is_the_band_of_real_blocks(w, dilation, causal):
    pattern = WindowPattern(w, dilation)
    half = w // 2
    for nb in (1, 2, 5, 13):
        real = np.array([nb, max(nb - 2, 1)])
        graphs = block_graph(pattern, nb, 2, real_blocks=real, causal=causal)
        q = np.arange(nb)[:, None]
        k = np.arange(nb)[None, :]
        for graph, n in zip(graphs, real):
            offset = k - q
            expected = (
                (np.abs(offset) <= half * dilation)
                & (offset % dilation == 0)
                & (k < n)
            )
            if causal:
                expected &= k <= q
            np.testing.assert_array_equal(graph[0][:n], expected[:n])
            np.testing.assert_array_equal(graph[1], graph[0])
            if not causal:
                sub = graph[0][:n, :n]
                np.testing.assert_array_equal(sub, sub.T)
        assert repeated_keys(pattern, nb, 2, real_blocks=real) == 0


# === Layout ===


def test_layout_graph_is_the_layout():
    rng = np.random.default_rng(0)
    layout = random_layout(rng, 3, 9)
    pattern = BlockLayoutPattern(layout)
    for nb in (1, 4, 9):
        graph = block_graph(pattern, nb, 3)[0]
        np.testing.assert_array_equal(graph, layout[:, :nb, :nb])
        assert repeated_keys(pattern, nb, 3) == 0
    # The slot count is the row maximum.
    blocks, _ = pattern.key_blocks(9, 3, block_size=4, seed=0, xp=NUMPY)
    assert blocks.shape[-1] == layout.sum(-1).max()
    # A 2-D layout is shared by every head.
    shared = block_graph(BlockLayoutPattern(layout[0]), 9, 4)[0]
    np.testing.assert_array_equal(shared, np.broadcast_to(layout[0], shared.shape))


def test_layout_errors():
    with pytest.raises(ValueError, match=r"`layout`.*Received: layout with shape \(3, 4\)"):
        BlockLayoutPattern(np.ones((3, 4), bool))
    pattern = BlockLayoutPattern(np.ones((2, 5, 5), bool))
    with pytest.raises(ValueError, match="layout has 2 heads but the layer has 3"):
        pattern.key_blocks(5, 3, block_size=4, seed=0, xp=NUMPY)
    with pytest.raises(ValueError, match="6 blocks of 4 tokens but the layout covers 5"):
        pattern.key_blocks(6, 2, block_size=4, seed=0, xp=NUMPY)
    layer = BlockSparseAttention(2, 4, pattern=pattern, block_size=4)
    with pytest.raises(ValueError, match="layout covers 5"):
        layer(np.zeros((1, 21, 8), "float32"))


@pytest.mark.tf_only
def test_layout_longer_than_the_layout_fails_in_a_graph():
    import tensorflow as tf

    layer = BlockSparseAttention(
        2, 4, pattern=BlockLayoutPattern(np.eye(5, dtype=bool)), block_size=4
    )
    function = tf.function(
        lambda x: layer(x), input_signature=[tf.TensorSpec([None, None, 8])]
    )
    assert function(np.zeros((1, 20, 8), "float32")).shape == (1, 20, 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than the layout"):
        function(np.zeros((1, 21, 8), "float32"))


# === Function ===


def test_function_pattern_is_the_predicate():
    pattern = FunctionPattern(strided, max_key_blocks=8)
    for nb in (1, 3, 9, 14):
        real = np.array([nb, max(nb - 3, 1)])
        graphs = block_graph(pattern, nb, 2, real_blocks=real)
        for graph, n in zip(graphs, real):
            expected = strided_numpy(n, nb)
            np.testing.assert_array_equal(graph[0], expected)
        causal = block_graph(pattern, nb, 2, real_blocks=real, causal=True)
        assert not (causal & ~np.tri(nb, dtype=bool)).any()
        assert repeated_keys(pattern, nb, 2, real_blocks=real) == 0


def test_function_pattern_per_head():
    def by_head(head, query, key, num_blocks):
        return key == (query + head) % num_blocks

    graph = block_graph(FunctionPattern(by_head, 1), 6, 3)[0]
    for h in range(3):
        np.testing.assert_array_equal(graph[h], np.roll(np.eye(6, dtype=bool), h, axis=1))


def test_function_pattern_rows_over_max_key_blocks_raise():
    pattern = FunctionPattern(strided, max_key_blocks=3)
    with pytest.raises(ValueError, match=r"more key blocks than `max_key_blocks` \(3\).*Received: 7 key blocks"):
        pattern.key_blocks(12, 1, block_size=4, seed=0, xp=NUMPY)
    with pytest.raises(ValueError, match="`fn`"):
        FunctionPattern("not a function", 3)
    with pytest.raises(ValueError, match="max_key_blocks"):
        FunctionPattern(strided, 0)


# === Union ===


def test_union_is_the_or_of_the_graphs():
    rng = np.random.default_rng(3)
    layout = random_layout(rng, 2, 16, density=0.15)
    parts = [WindowPattern(3), BlockLayoutPattern(layout), BigBirdPattern(2)]
    union = parts[0] | parts[1] | parts[2]
    assert isinstance(union, UnionPattern) and len(union.patterns) == 3
    assert union.per_example
    for nb in (1, 5, 16):
        real = np.array([nb, max(nb - 4, 1)])
        graph = block_graph(union, nb, 2, 7, real_blocks=real)
        expected = np.zeros_like(graph)
        for p in parts:
            expected |= block_graph(p, nb, 2, 7, real_blocks=real)
        for b, n in enumerate(real):
            np.testing.assert_array_equal(graph[b, :, :n], expected[b, :, :n])
        assert repeated_keys(union, nb, 2, 7, real_blocks=real) == 0


# === The layer's token graph ===


@pytest.mark.parametrize(
    "pattern",
    [
        WindowPattern(5, 2),
        # Columns past a short sequence's last block (upper triangle).
        BlockLayoutPattern(random_layout(np.random.default_rng(5), 2, 12)),
        FunctionPattern(strided, 8),
        WindowPattern(3) | FunctionPattern(strided, 8),
    ],
    ids=["window", "layout", "function", "union"],
)
def test_token_graph_of_the_layer(pattern):
    layer = BlockSparseAttention(2, 4, pattern=pattern, block_size=5)
    for length in (1, 7, 33, 60):
        nb = -(-length // 5)
        expected = token_graph(block_graph(pattern, nb, 2)[0], 5, length)
        np.testing.assert_array_equal(layer.attention_graph(length), expected)


# === Serialization ===

ALL_PATTERNS = [
    BigBirdPattern(2, num_window_blocks=5, num_global_blocks=2),
    OriginalBigBirdPattern(1, table_length=512),
    WindowPattern(7, dilation=3),
    BlockLayoutPattern(np.eye(6, dtype=bool) | np.eye(6, k=1, dtype=bool)),
    FunctionPattern(strided, max_key_blocks=6),
    WindowPattern(3) | BigBirdPattern(1),
]


@pytest.mark.parametrize("pattern", ALL_PATTERNS, ids=lambda p: type(p).__name__)
def test_config_and_serialization_round_trip(pattern):
    config = pattern.get_config()
    assert type(pattern).from_config(config) == pattern
    serialized = patterns.serialize(pattern)
    restored = patterns.get(serialized)
    assert restored == pattern and restored is not pattern
    # The original pattern attends every key below 2r + 5 = 7 blocks.
    nb = 9 if isinstance(pattern, OriginalBigBirdPattern) else 6
    np.testing.assert_array_equal(
        block_graph(restored, nb, 2, 5), block_graph(pattern, nb, 2, 5)
    )
    # Through JSON, as in a .keras file.
    import json

    again = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert again == pattern


@pytest.mark.parametrize("pattern", ALL_PATTERNS, ids=lambda p: type(p).__name__)
def test_keras_file_keeps_the_pattern(tmp_path, pattern):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 23, 8)).astype("float32")
    inputs = keras.Input((None, 8))
    layer = BlockSparseAttention(2, 4, pattern=pattern, block_size=4, seed=3)
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].pattern == pattern
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6
    )


def test_get_rejects_what_is_not_a_pattern():
    with pytest.raises(ValueError, match=r"`pattern`.*Received: pattern='bigbird'"):
        patterns.get("bigbird")
    assert patterns.get(None) == BigBirdPattern()
    with pytest.raises(ValueError, match="at least 2 patterns"):
        UnionPattern([WindowPattern()])
