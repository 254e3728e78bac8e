"""The BigBird (ITC) block graph: global, sliding-window and random blocks.

The random blocks come from a counter-based integer hash of `(seed, head,
row, draw)`, not from a stored table. Every function takes `xp`, either
`keras.ops` (in the layer: the number of blocks may then be a symbolic tensor,
so one traced graph serves every sequence length, from variable-length
`model.fit` batches to a SavedModel that accepts any length) or numpy (for
`attention_graph`). It is one piece of code either way, so the graph the tests
check is the graph the layer computes, no index can point past the last
block, and the pattern for a length is the same in eager, `tf.function`, XLA,
JAX and after save/load.

All arithmetic stays in int32 and below 2**31: every product is of two
numbers under `_PRIME` (< sqrt(2**31)), so results agree on every backend.
"""

import types

import numpy as np
from keras import ops

# numpy under the names of the two `keras.ops` functions it lacks.
NUMPY = types.SimpleNamespace(
    **{name: getattr(np, name) for name in dir(np) if not name.startswith("_")},
    convert_to_tensor=np.asarray,
    cast=lambda x, dtype: np.asarray(x).astype(dtype),
)

_PRIME = 46337  # largest prime below sqrt(2**31); gcd(3, _PRIME - 1) == 1
_MULTIPLIER = 40503

# A middle query block attends, besides its random blocks: the first global
# block, its left neighbour, itself, its right neighbour, the last global block.
NUM_FIXED_KEY_BLOCKS = 5


def _mix(xp, state, value):
    """One bijective round (for fixed `value`): add, multiply, cube mod p."""
    state = xp.mod(state + xp.mod(value, _PRIME), _PRIME)
    state = xp.mod(state * _MULTIPLIER, _PRIME)
    # x -> x**3 is a bijection mod p because gcd(3, p - 1) == 1.
    return xp.mod(xp.mod(state * state, _PRIME) * state, _PRIME)


def _hash(xp, seed, head, row, draw):
    """Pseudo-random int32 in [0, _PRIME) for each broadcast (head, row)."""
    state = _mix(xp, xp.convert_to_tensor(7, "int32"), xp.mod(seed, _PRIME))
    state = _mix(xp, state, xp.floor_divide(seed, _PRIME))
    for value in (head, row, draw, 12345):
        state = _mix(xp, state, value)
    return state


def random_blocks(num_blocks, num_heads, num_random_blocks, seed, xp=ops):
    """Random key blocks of every middle query block, per head.

    Query block `i` in `[1, num_blocks - 2]` draws `num_random_blocks`
    distinct blocks, without replacement, from the blocks that are neither
    global (`0`, `num_blocks - 1`) nor in its window (`i - 1`, `i`, `i + 1`):
    the candidates are `[1, i - 2]` and `[i + 2, num_blocks - 2]`. Where there
    are fewer candidates than draws, all candidates are taken and the spare
    slots are marked invalid. Sampling uses Floyd's algorithm, unrolled over
    the (static) number of draws, so it is vectorised and has no data-dependent
    control flow.

    Args:
        num_blocks: int or scalar int32 tensor, at least 3.
        num_heads: int.
        num_random_blocks: int.
        seed: int in `[0, 2**31)`.
        xp: `keras.ops` or `NUMPY`.

    Returns:
        `(blocks, valid)`: int32 `[num_heads, num_blocks - 2,
        num_random_blocks]` block indices (0 where invalid) and a bool tensor
        of the same shape.
    """
    rows = xp.arange(1, num_blocks - 1, dtype="int32")[None, :]
    heads = xp.arange(num_heads, dtype="int32")[:, None]
    seed = xp.convert_to_tensor(seed, "int32")
    left = xp.maximum(rows - 2, 0)  # candidates [1, i - 2]
    right = xp.maximum(num_blocks - 3 - rows, 0)  # [i + 2, num_blocks - 2]
    num_candidates = left + right
    picks = []
    for draw in range(num_random_blocks):
        # Floyd: pick t in [0, j]; if t is taken, take j (never taken yet).
        j = num_candidates - num_random_blocks + draw
        t = xp.mod(_hash(xp, seed, heads, rows, draw), xp.maximum(j + 1, 1))
        taken = xp.zeros_like(t, dtype="bool")
        for previous in picks:
            taken = xp.logical_or(taken, xp.equal(previous, t))
        t = xp.where(taken, j, t)
        picks.append(xp.where(j >= 0, t, -1))
    if not picks:
        empty = xp.zeros((num_heads, num_blocks - 2, 0), "int32")
        return empty, xp.cast(empty, "bool")
    picks = xp.stack(picks, axis=-1)
    valid = picks >= 0
    left = left[..., None]
    blocks = xp.where(picks < left, 1 + picks, rows[..., None] + 2 + picks - left)
    # int32 also with numpy, whose `mod` of two Python ints is int64.
    return xp.cast(xp.where(valid, blocks, 0), "int32"), valid


def key_block_table(num_blocks, num_heads, num_random_blocks, seed, xp=ops):
    """Every key block that each middle query block attends, per head.

    Returns:
        `(blocks, valid)` of shape `[num_heads, num_blocks - 2,
        NUM_FIXED_KEY_BLOCKS + num_random_blocks]`: for query block
        `i = 1 + row`, the blocks `[0, i - 1, i, i + 1, num_blocks - 1,
        random...]`. A window block that is also global is marked invalid so
        that no key is counted twice.
    """
    rows = xp.arange(1, num_blocks - 1, dtype="int32")
    last = xp.full_like(rows, num_blocks - 1)
    fixed = xp.stack(
        [xp.zeros_like(rows), rows - 1, rows, rows + 1, last], axis=-1
    )
    fixed_valid = xp.stack(
        [
            xp.ones_like(rows, "bool"),
            xp.not_equal(rows - 1, 0),
            xp.ones_like(rows, "bool"),
            xp.not_equal(rows + 1, last),
            xp.ones_like(rows, "bool"),
        ],
        axis=-1,
    )
    shape = (num_heads, num_blocks - 2, NUM_FIXED_KEY_BLOCKS)
    fixed = xp.broadcast_to(fixed[None], shape)
    fixed_valid = xp.broadcast_to(fixed_valid[None], shape)
    rand, rand_valid = random_blocks(
        num_blocks, num_heads, num_random_blocks, seed, xp
    )
    return (
        xp.concatenate([fixed, rand], axis=-1),
        xp.concatenate([fixed_valid, rand_valid], axis=-1),
    )


def block_graph(num_blocks, num_heads, num_random_blocks, seed, xp=ops):
    """Block-level adjacency `[num_heads, num_blocks, num_blocks]` (bool).

    `num_blocks` is a Python int. With fewer than 3 blocks every block is
    global and the graph is dense.
    """
    if num_blocks < 3:
        return xp.ones((num_heads, num_blocks, num_blocks), "bool")
    blocks, valid = key_block_table(
        num_blocks, num_heads, num_random_blocks, seed, xp
    )
    hits = xp.equal(blocks[..., None], xp.arange(num_blocks, dtype="int32"))
    middle = xp.any(xp.logical_and(hits, valid[..., None]), axis=2)
    full_row = xp.ones((num_heads, 1, num_blocks), "bool")
    return xp.concatenate([full_row, middle, full_row], axis=1)


def token_graph(seq_len, block_size, num_heads, num_random_blocks, seed, xp=ops):
    """Token-level adjacency `[heads, seq_len, seq_len]` (bool).

    Entry `[h, i, j]` is True exactly when query `i` attends key `j` in head
    `h`, before any padding mask. Quadratic in `seq_len` (a Python int): for
    the dense path of short sequences, tests and documentation.
    """
    num_blocks = -(-seq_len // block_size)
    graph = block_graph(num_blocks, num_heads, num_random_blocks, seed, xp)
    graph = xp.repeat(xp.repeat(graph, block_size, axis=1), block_size, axis=2)
    return graph[:, :seq_len, :seq_len]


def attention_graph(seq_len, block_size, num_heads, num_random_blocks, seed):
    """`token_graph` as a numpy array (computed with numpy)."""
    return token_graph(
        seq_len, block_size, num_heads, num_random_blocks, seed, NUMPY
    )
