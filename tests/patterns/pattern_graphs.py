"""Block graphs of patterns for the pattern tests.

`block_graph` is `keras_bigbird.patterns.block_adjacency` (which reads a
pattern's tables with plain numpy, independently of the layer's
`BlockGraph` code); the tests check it against each pattern's definition,
and the layer's token graph against it.
"""

import numpy as np

from keras_bigbird.ops.random_pattern import NUMPY
from keras_bigbird.patterns import block_adjacency


def block_graph(pattern, num_blocks, heads, seed=0, real_blocks=None, causal=False):
    """Adjacency `[batch, heads, n, n]`, rows of global blocks all True."""
    return block_adjacency(
        pattern, num_blocks, heads, seed, real_blocks, causal, block_size=4
    )


def repeated_keys(pattern, num_blocks, heads, seed=0, real_blocks=None, causal=False):
    """How many valid slots repeat an earlier valid slot of their row."""
    blocks, valid = pattern.key_blocks(
        num_blocks, heads, block_size=4, seed=seed, real_blocks=real_blocks,
        causal=causal, xp=NUMPY,
    )
    blocks = np.reshape(blocks, (-1, blocks.shape[-1]))
    valid = np.reshape(valid, (-1, valid.shape[-1]))
    repeats = 0
    for row, ok in zip(blocks, valid):
        attended = row[ok].tolist()
        repeats += len(attended) - len(set(attended))
    return repeats


def token_graph(graph, block_size, length):
    """A block graph `[..., n, n]` expanded to tokens and cut to `length`."""
    token_block = np.arange(length) // block_size
    return graph[..., token_block, :][..., token_block]
