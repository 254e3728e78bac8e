"""`block_adjacency`: a pattern's graph at block level, as numpy."""

import numpy as np

from keras_bigbird.ops.random_pattern import NUMPY


def block_adjacency(
    pattern, num_blocks, num_heads, seed=0, real_blocks=None, causal=False,
    block_size=64,
):
    """Which key blocks each query block attends: numpy bool.

    Args:
        pattern: an `AttentionPattern`.
        num_blocks: int, the (padded) number of blocks.
        num_heads: int.
        seed: the layer's seed.
        real_blocks: None, or ints `[batch]`: each example's real blocks.
        causal: as the layer's `causal`.
        block_size: passed to the pattern (the original pattern's plans
            depend on it).

    Returns:
        `[batch or 1, num_heads, num_blocks, num_blocks]`: entry `[b, h, i,
        j]` is True when query block `i` attends (some keys of) key block
        `j`. Rows of global query blocks are all True; where the pattern
        attends every key at this length, so is everything.
    """
    if real_blocks is not None:
        real_blocks = np.asarray(real_blocks, np.int32)
    batch = 1 if real_blocks is None else real_blocks.shape[0]
    if pattern.full_attention(num_blocks, block_size) is True:
        graph = np.ones((batch, num_heads, num_blocks, num_blocks), bool)
    else:
        blocks, valid = pattern.key_blocks(
            num_blocks, num_heads, block_size=block_size, seed=seed,
            real_blocks=real_blocks if pattern.per_example else None,
            causal=causal, xp=NUMPY,
        )
        blocks, valid = np.asarray(blocks), np.asarray(valid)
        blocks = np.broadcast_to(blocks, (batch, *blocks.shape[1:]))
        valid = np.broadcast_to(valid, blocks.shape)
        graph = np.zeros((batch, num_heads, num_blocks, num_blocks), bool)
        b, h, i, s = np.nonzero(valid)
        graph[b, h, i, blocks[b, h, i, s]] = True
        rows = pattern.global_blocks(
            num_blocks, block_size=block_size,
            real_blocks=real_blocks if pattern.per_example else None, xp=NUMPY,
        )
        if rows is not None:
            row_blocks, row_valid = (np.asarray(r) for r in rows)
            row_blocks = np.broadcast_to(row_blocks, (batch, row_blocks.shape[-1]))
            row_valid = np.broadcast_to(row_valid, row_blocks.shape)
            b, k = np.nonzero(row_valid)
            graph[b, :, row_blocks[b, k]] = True
    if causal:
        graph &= np.tri(num_blocks, dtype=bool)
    return graph
