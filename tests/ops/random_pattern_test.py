"""The BigBird block graph: structure, determinism, backends, statistics.

Properties are checked against definitions written here (sets of blocks
and their counts), not against the module's own helpers.
"""

import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_bigbird.ops import attention_graph
from keras_bigbird.ops import block_graph
from keras_bigbird.ops import key_block_table
from keras_bigbird.ops import random_blocks
from keras_bigbird.ops.random_pattern import NUMPY

SEED = 1234


def candidate_matrix(num_blocks):
    """`[num_blocks, num_blocks]` bool: row `i` may draw block `j` randomly.

    Only middle rows have candidates: blocks neither global (`0`,
    `num_blocks - 1`) nor in the window `i - 1, i, i + 1`.
    """
    i = np.arange(num_blocks)[:, None]
    j = np.arange(num_blocks)[None, :]
    middle = (i > 0) & (i < num_blocks - 1)
    return middle & (j > 0) & (j < num_blocks - 1) & (np.abs(i - j) > 1)


def check_block_graph(graph, num_blocks, num_random_blocks):
    """Asserts the ITC structure of one `[heads, nb, nb]` block graph."""
    graph = np.asarray(graph)
    assert graph.dtype == bool
    assert graph.shape[1:] == (num_blocks, num_blocks)
    # Global: first and last block rows and columns.
    assert graph[:, [0, -1], :].all(), "global rows must be full"
    assert graph[:, :, [0, -1]].all(), "global columns must be full"
    # Window: every block attends itself and its neighbours.
    idx = np.arange(num_blocks)
    for offset in (-1, 0, 1):
        rows = idx[(idx + offset >= 0) & (idx + offset < num_blocks)]
        assert graph[:, rows, rows + offset].all(), f"window offset {offset}"
    # Random: exactly min(r, #candidates) among the candidates; no other
    # block is attended (the rest are global or window, checked above).
    candidates = candidate_matrix(num_blocks)
    structural = np.zeros((num_blocks, num_blocks), bool)
    structural[[0, -1], :] = structural[:, [0, -1]] = True
    structural |= np.abs(idx[:, None] - idx[None, :]) <= 1
    assert not (graph & ~(structural | candidates)[None]).any()
    drawn = (graph & candidates[None]).sum(axis=-1)  # [heads, nb]
    expected = np.minimum(num_random_blocks, candidates.sum(axis=-1))
    np.testing.assert_array_equal(drawn, np.broadcast_to(expected, drawn.shape))


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.mark.parametrize("num_random_blocks", [0, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("num_blocks", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 33, 80])
def test_block_graph_structure(num_blocks, num_random_blocks):
    for seed in (0, SEED, 2**31 - 1):
        graph = block_graph(num_blocks, 4, num_random_blocks, seed, NUMPY)
        assert graph.shape == (4, num_blocks, num_blocks)
        check_block_graph(graph, num_blocks, num_random_blocks)


@pytest.mark.parametrize("num_random_blocks", [0, 1, 3, 6])
@pytest.mark.parametrize("num_blocks", [3, 4, 5, 6, 7, 8, 10, 40])
def test_random_blocks_table(num_blocks, num_random_blocks):
    heads = 5
    blocks, valid = random_blocks(
        num_blocks, heads, num_random_blocks, SEED, NUMPY
    )
    blocks, valid = np.asarray(blocks), np.asarray(valid)
    assert (
        blocks.shape
        == valid.shape
        == (heads, num_blocks - 2, num_random_blocks)
    )
    assert ((blocks >= 0) & (blocks < num_blocks)).all()
    assert (blocks[~valid] == 0).all(), "invalid slots hold block 0"
    for h, row in itertools.product(range(heads), range(num_blocks - 2)):
        i = row + 1
        candidates = set(range(1, num_blocks - 1)) - {i - 1, i, i + 1}
        drawn = blocks[h, row][valid[h, row]].tolist()
        assert len(drawn) == len(set(drawn)), f"repeat in {drawn}"
        assert set(drawn) <= candidates, (drawn, candidates)
        assert len(drawn) == min(num_random_blocks, len(candidates))


@pytest.mark.parametrize("num_blocks", [3, 4, 6, 11, 30])
def test_key_block_table_lists_window_global_then_random(num_blocks):
    heads, r = 3, 2
    blocks, valid = map(
        np.asarray, key_block_table(num_blocks, heads, r, SEED, NUMPY)
    )
    assert blocks.shape == valid.shape == (heads, num_blocks - 2, 5 + r)
    assert ((blocks >= 0) & (blocks < num_blocks)).all()
    rand, rand_valid = map(
        np.asarray, random_blocks(num_blocks, heads, r, SEED, NUMPY)
    )
    np.testing.assert_array_equal(blocks[..., 5:], rand)
    np.testing.assert_array_equal(valid[..., 5:], rand_valid)
    last = num_blocks - 1
    for row in range(num_blocks - 2):
        i = row + 1
        np.testing.assert_array_equal(
            blocks[:, row, :5], np.tile([0, i - 1, i, i + 1, last], (heads, 1))
        )
        # A window block that is also global is not counted twice.
        np.testing.assert_array_equal(
            valid[:, row, :5],
            np.tile([True, i - 1 != 0, True, i + 1 != last, True], (heads, 1)),
        )
    # Every attended (valid) block of a row appears exactly once.
    for h, row in itertools.product(range(heads), range(num_blocks - 2)):
        attended = blocks[h, row][valid[h, row]].tolist()
        assert len(attended) == len(set(attended))


@pytest.mark.parametrize("block_size", [1, 3, 16, 64])
def test_attention_graph_every_length(block_size):
    """Lengths 1..300: the token graph is the block graph, cut to length."""
    heads, r = 2, 2
    for length in range(1, 301):
        graph = attention_graph(length, block_size, heads, r, SEED)
        assert graph.shape == (heads, length, length)
        num_blocks = -(-length // block_size)
        blocks = block_graph(num_blocks, heads, r, SEED, NUMPY)
        check_block_graph(blocks, num_blocks, r)
        token_block = np.arange(length) // block_size
        expanded = blocks[:, token_block][:, :, token_block]
        np.testing.assert_array_equal(graph, expanded, err_msg=f"{length=}")


def test_heads_differ():
    graph = block_graph(24, 12, 3, SEED, NUMPY)
    for a, b in itertools.combinations(range(12), 2):
        assert not np.array_equal(graph[a], graph[b]), (a, b)


def test_same_seed_same_pattern_different_seed_different():
    first = attention_graph(700, 16, 4, 3, SEED)
    again = attention_graph(700, 16, 4, 3, SEED)
    np.testing.assert_array_equal(first, again)
    patterns = [block_graph(30, 4, 3, seed, NUMPY) for seed in range(20)]
    patterns.append(block_graph(30, 4, 3, 2**31 - 1, NUMPY))
    for a, b in itertools.combinations(range(len(patterns)), 2):
        assert not np.array_equal(patterns[a], patterns[b]), (a, b)


def test_pattern_reaches_the_last_blocks_of_long_sequences():
    """The pattern is generated for the actual number of blocks."""
    short = block_graph(10, 3, 3, SEED, NUMPY)
    long = block_graph(40, 3, 3, SEED, NUMPY)
    # The longer graph draws from blocks beyond the short one's end.
    assert (long[:, 1:9, 10:39]).any()
    check_block_graph(short, 10, 3)


@pytest.mark.parametrize(
    "num_blocks,heads,r,seed",
    [
        (3, 1, 0, 0),
        (3, 2, 3, 5),
        (4, 3, 1, 7),
        (9, 4, 4, SEED),
        (17, 12, 3, 2**31 - 1),
        (64, 2, 2, 46337 * 46337 + 11),
        (130, 3, 3, 99),
    ],
)
def test_numpy_and_keras_ops_agree(num_blocks, heads, r, seed):
    if keras.backend.backend() == "jax" and num_blocks != 17:
        # Eager JAX compiles each of the hash's ops per shape (seconds); the
        # layer uses the keras.ops table only for symbolic lengths (TF).
        pytest.skip("eager JAX: one size suffices")
    for function in (random_blocks, key_block_table):
        expected = function(num_blocks, heads, r, seed, NUMPY)
        actual = function(num_blocks, heads, r, seed, ops)
        for e, a, dtype in zip(expected, actual, ("int32", "bool")):
            assert np.asarray(e).dtype == dtype
            assert keras.backend.standardize_dtype(a.dtype) == dtype
            np.testing.assert_array_equal(to_numpy(a), np.asarray(e))
    np.testing.assert_array_equal(
        to_numpy(block_graph(num_blocks, heads, r, seed, ops)),
        block_graph(num_blocks, heads, r, seed, NUMPY),
    )


@pytest.mark.tf_only
@pytest.mark.parametrize("r", [0, 3])
def test_symbolic_num_blocks_in_tf_function(r):
    import tensorflow as tf

    heads = 3

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def table(num_blocks):
        return key_block_table(num_blocks, heads, r, SEED, ops)

    for num_blocks in (3, 4, 7, 20, 65):
        expected = key_block_table(num_blocks, heads, r, SEED, NUMPY)
        actual = table(tf.constant(num_blocks))
        for e, a in zip(expected, actual):
            np.testing.assert_array_equal(a.numpy(), np.asarray(e))
    # One trace served every length.
    assert table.experimental_get_tracing_count() == 1


def test_random_subsets_are_uniform():
    """Every r-subset of a row's candidates is about equally likely.

    Rows with 7 candidates and r = 3: 35 subsets, aggregated over heads and
    seeds (~90 samples per subset); a chi-square statistic far above its 34
    degrees of freedom would mean a biased hash or sampler.
    """
    num_blocks, heads, r, seeds = 12, 16, 3, 200
    middle_rows = list(range(2, num_blocks - 2))  # rows with 7 candidates
    counts = {row: {} for row in middle_rows}
    same_as_next_head = 0
    pairs = 0
    for seed in range(seeds):
        blocks, valid = random_blocks(num_blocks, heads, r, seed, NUMPY)
        assert valid[:, [row - 1 for row in middle_rows]].all()
        for row in middle_rows:
            subsets = [tuple(sorted(b)) for b in blocks[:, row - 1]]
            for subset in subsets:
                counts[row][subset] = counts[row].get(subset, 0) + 1
            same_as_next_head += sum(
                a == b for a, b in zip(subsets, subsets[1:])
            )
            pairs += heads - 1
    num_subsets = math.comb(num_blocks - 5, r)
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
    num_blocks, heads, r = 40, 12, 3
    hits = np.zeros((num_blocks - 2, num_blocks))
    seeds = 60
    for seed in range(seeds):
        graph = block_graph(num_blocks, heads, r, seed + 10_000, NUMPY)
        hits += graph[:, 1:-1].sum(axis=0)
    candidates = candidate_matrix(num_blocks)[1:-1]
    samples = heads * seeds
    freq = hits[candidates] / samples
    per_row = candidates.sum(axis=-1, keepdims=True)
    expected = np.broadcast_to(r / per_row, candidates.shape)[candidates]
    # Binomial standard error with 720 samples is ~0.01 at p ~ 0.085.
    assert np.abs(freq - expected).max() < 0.06
    assert abs(freq.mean() - expected.mean()) < 0.005
