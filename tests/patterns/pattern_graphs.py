"""Block graphs of patterns, read from their tables (test-side, numpy).

`block_graph` turns a pattern's `key_blocks` and `global_blocks` into a bool
`[batch, heads, num_blocks, num_blocks]` adjacency with plain numpy loops,
independently of the layer's `BlockGraph` code; the tests check it against
each pattern's definition, and the layer's token graph against it.
"""

import numpy as np

from keras_bigbird.ops.random_pattern import NUMPY


def block_graph(pattern, num_blocks, heads, seed=0, real_blocks=None, causal=False):
    """Adjacency `[batch, heads, n, n]`, rows of global blocks all True."""
    blocks, valid = pattern.key_blocks(
        num_blocks, heads, block_size=4, seed=seed, real_blocks=real_blocks,
        causal=causal, xp=NUMPY,
    )
    blocks, valid = np.asarray(blocks), np.asarray(valid)
    batch = blocks.shape[0]
    graph = np.zeros((batch, heads, num_blocks, num_blocks), bool)
    for b, h, i, s in zip(*np.nonzero(valid)):
        graph[b, h, i, blocks[b, h, i, s]] = True
    rows = pattern.global_blocks(
        num_blocks, block_size=4, real_blocks=real_blocks, xp=NUMPY
    )
    if rows is not None:
        row_blocks, row_valid = map(np.asarray, rows)
        for b, k in zip(*np.nonzero(row_valid)):
            graph[b if row_blocks.shape[0] > 1 else slice(None), :, row_blocks[b, k]] = True
    if causal:
        graph &= np.tri(num_blocks, dtype=bool)
    return graph


def repeated_keys(pattern, num_blocks, heads, seed=0, real_blocks=None, causal=False):
    """How many valid slots repeat an earlier valid slot of their row."""
    blocks, valid = pattern.key_blocks(
        num_blocks, heads, block_size=4, seed=seed, real_blocks=real_blocks,
        causal=causal, xp=NUMPY,
    )
    repeats = 0
    for row, ok in zip(np.reshape(blocks, (-1, blocks.shape[-1])), np.reshape(valid, (-1, valid.shape[-1]))):
        attended = row[ok].tolist()
        repeats += len(attended) - len(set(attended))
    return repeats


def token_graph(graph, block_size, length):
    """A block graph `[..., n, n]` expanded to tokens and cut to `length`."""
    token_block = np.arange(length) // block_size
    return graph[..., token_block, :][..., token_block]
