"""`BigBirdPattern`: structure per example, determinism, backends, statistics.

Properties are checked against the definition written out here (sets of
blocks and their counts), on the adjacency read from the pattern's table.
"""

import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_bigbird.layers import BlockSparseAttention
from keras_bigbird.ops.random_pattern import NUMPY
from keras_bigbird.patterns import BigBirdPattern
from tests.patterns.pattern_graphs import block_graph
from tests.patterns.pattern_graphs import repeated_keys
from tests.patterns.pattern_graphs import token_graph

SEED = 1234


def expected_sets(i, n, g, w, causal):
    """`(structural, candidates)` of query block `i` of `n` real blocks."""
    half = w // 2
    globals_ = set(range(min(g, n))) | set(range(max(n - g, 0), n))
    window = {j for j in range(i - half, i + half + 1) if 0 <= j < n}
    structural = globals_ | window
    candidates = set(range(g, n - g)) - window
    if causal:
        structural = {j for j in structural if j <= i}
        candidates = {j for j in candidates if j < i}
    return structural, candidates, globals_


def check_example(graph, n, g, w, r, causal):
    """Asserts the ITC structure of one example's `[heads, nb, nb]` graph."""
    heads, nb, _ = graph.shape
    for h, i in itertools.product(range(heads), range(n)):
        attended = set(np.flatnonzero(graph[h, i]).tolist())
        structural, candidates, globals_ = expected_sets(i, n, g, w, causal)
        if i in globals_:
            expected = {j for j in range(nb) if not causal or j <= i}
            assert attended == expected, (h, i, "global row")
            continue
        assert max(attended) < n, (h, i, "attends past the last real block")
        assert structural <= attended, (h, i, structural - attended)
        drawn = attended - structural
        assert drawn <= candidates, (h, i, drawn - candidates)
        assert len(drawn) == min(r, len(candidates)), (h, i, drawn)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "g,w,r", [(1, 3, 0), (1, 3, 2), (1, 3, 7), (2, 5, 3), (0, 3, 2), (1, 1, 4)]
)
def test_structure_of_every_example(g, w, r, causal):
    pattern = BigBirdPattern(r, num_window_blocks=w, num_global_blocks=g)
    for nb in (1, 2, 3, 4, 5, 6, 7, 9, 12, 33, 80):
        real = np.array(sorted({nb, max(nb - 1, 1), (nb + 1) // 2, 1}))
        graphs = block_graph(pattern, nb, 3, SEED, real_blocks=real, causal=causal)
        for graph, n in zip(graphs, real):
            check_example(graph, int(n), g, w, r, causal)
        assert repeated_keys(pattern, nb, 3, SEED, real, causal) == 0


@pytest.mark.parametrize("causal", [False, True])
def test_each_example_has_the_graph_of_its_own_length(causal):
    """A padded example's real blocks have the graph of the unpadded one."""
    pattern = BigBirdPattern(3)
    for n in (1, 2, 3, 5, 8, 21):
        alone = block_graph(pattern, n, 4, SEED, causal=causal)[0]
        for nb in (n, n + 1, n + 7, 3 * n + 2):
            padded = block_graph(
                pattern, nb, 4, SEED, real_blocks=np.array([n]), causal=causal
            )[0]
            np.testing.assert_array_equal(padded[:, :n, :n], alone)
            # No real query attends a padding block, except the global rows
            # (every key; the padded keys are masked by the padding mask).
            rows = [i for i in range(n) if i not in (0, n - 1)]
            assert not padded[:, rows, n:].any()


def test_graph_without_random_blocks_is_symmetric():
    """Window and global blocks are symmetric: i attends j iff j attends i."""
    for g, w in ((1, 3), (2, 5), (1, 7)):
        pattern = BigBirdPattern(0, num_window_blocks=w, num_global_blocks=g)
        for nb in (1, 3, 6, 17):
            graph = block_graph(pattern, nb, 2)[0]
            np.testing.assert_array_equal(graph, np.swapaxes(graph, -1, -2))


@pytest.mark.parametrize("block_size", [1, 3, 16, 64])
def test_token_graph_of_the_layer_is_the_block_graph(block_size):
    """Lengths 1..300: the layer's token graph is the pattern's block graph
    at the example's real length, expanded and cut to the length."""
    heads, r = 2, 2
    layer = BlockSparseAttention(
        heads, 4, pattern=BigBirdPattern(r), block_size=block_size, seed=SEED
    )
    for length in range(1, 301, 1 if block_size > 3 else 7):
        graph = layer.attention_graph(length)
        num_blocks = -(-length // block_size)
        blocks = block_graph(layer.pattern, num_blocks, heads, SEED)[0]
        check_example(blocks, num_blocks, 1, 3, r, False)
        np.testing.assert_array_equal(
            graph, token_graph(blocks, block_size, length), err_msg=f"{length=}"
        )


def test_heads_differ():
    graph = block_graph(BigBirdPattern(3), 24, 12, SEED)[0]
    for a, b in itertools.combinations(range(12), 2):
        assert not np.array_equal(graph[a], graph[b]), (a, b)


def test_same_seed_same_pattern_different_seed_different():
    pattern = BigBirdPattern(3)
    np.testing.assert_array_equal(
        block_graph(pattern, 44, 4, SEED), block_graph(pattern, 44, 4, SEED)
    )
    graphs = [block_graph(pattern, 30, 4, seed) for seed in range(20)]
    graphs.append(block_graph(pattern, 30, 4, 2**31 - 1))
    for a, b in itertools.combinations(range(len(graphs)), 2):
        assert not np.array_equal(graphs[a], graphs[b]), (a, b)


def test_pattern_reaches_the_last_blocks_of_long_sequences():
    """The pattern is drawn for the actual number of blocks."""
    pattern = BigBirdPattern(3)
    long = block_graph(pattern, 40, 3, SEED)[0]
    assert long[:, 1:9, 10:39].any()


@pytest.mark.parametrize(
    "num_blocks,heads,r,seed,causal",
    [
        (1, 1, 0, 0, False),
        (3, 2, 3, 5, False),
        (4, 3, 1, 7, True),
        (9, 4, 4, SEED, False),
        (17, 12, 3, 2**31 - 1, True),
        (64, 2, 2, 46337 * 46337 + 11, False),
        (130, 3, 3, 99, False),
    ],
)
def test_numpy_and_keras_ops_agree(num_blocks, heads, r, seed, causal):
    if keras.backend.backend() == "jax" and num_blocks != 17:
        # Eager JAX compiles each of the hash's ops per shape (seconds).
        pytest.skip("eager JAX: one size suffices")
    pattern = BigBirdPattern(r, num_global_blocks=2 if num_blocks > 8 else 1)
    real = np.array([num_blocks, max(num_blocks // 2, 1)], "int32")
    for real_blocks in (None, real):
        kwargs = dict(block_size=8, seed=seed, real_blocks=real_blocks, causal=causal)
        expected = pattern.key_blocks(num_blocks, heads, xp=NUMPY, **kwargs)
        actual = pattern.key_blocks(num_blocks, heads, xp=ops, **kwargs)
        for e, a, dtype in zip(expected, actual, ("int32", "bool")):
            assert np.asarray(e).dtype == dtype
            assert keras.backend.standardize_dtype(a.dtype) == dtype
            np.testing.assert_array_equal(ops.convert_to_numpy(a), np.asarray(e))


@pytest.mark.tf_only
@pytest.mark.parametrize("r", [0, 3])
def test_symbolic_num_blocks_in_tf_function(r):
    import tensorflow as tf

    heads = 3
    pattern = BigBirdPattern(r)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.int32)])
    def table(num_blocks, real_blocks):
        return pattern.key_blocks(
            num_blocks, heads, block_size=4, seed=SEED, real_blocks=real_blocks
        )

    for num_blocks in (1, 3, 4, 7, 20, 65):
        real = np.array([num_blocks, (num_blocks + 1) // 2], "int32")
        expected = pattern.key_blocks(
            num_blocks, heads, block_size=4, seed=SEED, real_blocks=real, xp=NUMPY
        )
        actual = table(tf.constant(num_blocks), tf.constant(real))
        for e, a in zip(expected, actual):
            np.testing.assert_array_equal(a.numpy(), np.asarray(e))
    assert table.experimental_get_tracing_count() == 1


def random_sets(pattern, num_blocks, heads, seed, row):
    """The random blocks drawn by query block `row`, per head."""
    blocks, valid = pattern.key_blocks(
        num_blocks, heads, block_size=4, seed=seed, xp=NUMPY
    )
    r = pattern.num_random_blocks
    rand, ok = blocks[0, :, row, -r:], valid[0, :, row, -r:]
    assert ok.all()
    return [tuple(sorted(b)) for b in rand]


def test_random_subsets_are_uniform():
    """Every r-subset of a row's candidates is about equally likely.

    Rows with 7 candidates and r = 3: 35 subsets, aggregated over heads and
    seeds (~90 samples per subset); a chi-square statistic far above its 34
    degrees of freedom would mean a biased hash or sampler.
    """
    num_blocks, heads, seeds = 12, 16, 200
    pattern = BigBirdPattern(3)
    middle_rows = list(range(2, num_blocks - 2))  # rows with 7 candidates
    counts = {row: {} for row in middle_rows}
    same_as_next_head = pairs = 0
    for seed in range(seeds):
        for row in middle_rows:
            subsets = random_sets(pattern, num_blocks, heads, seed, row)
            for subset in subsets:
                counts[row][subset] = counts[row].get(subset, 0) + 1
            same_as_next_head += sum(a == b for a, b in zip(subsets, subsets[1:]))
            pairs += heads - 1
    num_subsets = math.comb(num_blocks - 5, 3)
    df = num_subsets - 1
    for row, table in counts.items():
        assert len(table) == num_subsets, f"row {row} misses subsets"
        observed = np.array(list(table.values()), float)
        expected = observed.sum() / num_subsets
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        assert chi2 < df + 6 * math.sqrt(2 * df), f"row {row}: chi2={chi2:.1f}"
    # Heads are independent: neighbouring heads share a subset about 1/35
    # of the time.
    rate = same_as_next_head / pairs
    assert abs(rate - 1 / num_subsets) < 0.01, rate


def test_random_blocks_cover_all_candidates_evenly_for_long_rows():
    """Marginal frequency of each candidate block is r / #candidates."""
    num_blocks, heads, r, seeds = 40, 12, 3, 60
    pattern = BigBirdPattern(r)
    hits = np.zeros((num_blocks, num_blocks))
    for seed in range(seeds):
        hits += block_graph(pattern, num_blocks, heads, seed + 10_000)[0].sum(0)
    i = np.arange(num_blocks)[:, None]
    j = np.arange(num_blocks)[None, :]
    candidates = (
        (i > 0) & (i < num_blocks - 1) & (j > 0) & (j < num_blocks - 1)
        & (np.abs(i - j) > 1)
    )
    freq = hits[candidates] / (heads * seeds)
    per_row = candidates.sum(axis=-1, keepdims=True)
    expected = np.broadcast_to(r / np.maximum(per_row, 1), candidates.shape)[candidates]
    # Binomial standard error with 720 samples is ~0.01 at p ~ 0.085.
    assert np.abs(freq - expected).max() < 0.06
    assert abs(freq.mean() - expected.mean()) < 0.005


def test_causal_random_blocks_are_uniform_among_earlier_blocks():
    """With causal=True a row draws evenly from the blocks before its window."""
    num_blocks, heads, r, seeds = 30, 12, 2, 60
    pattern = BigBirdPattern(r)
    hits = np.zeros((num_blocks, num_blocks))
    for seed in range(seeds):
        hits += block_graph(pattern, num_blocks, heads, seed, causal=True)[0].sum(0)
    row = 20  # candidates 1 .. 18
    freq = hits[row, 1:19] / (heads * seeds)
    np.testing.assert_allclose(freq, r / 18, atol=0.07)
    assert hits[row, 22:-1].sum() == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_random_blocks=-1), "num_random_blocks"),
        (dict(num_window_blocks=2), "num_window_blocks=2"),
        (dict(num_window_blocks=0), "num_window_blocks"),
        (dict(num_global_blocks=1.5), "num_global_blocks"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BigBirdPattern(**kwargs)
