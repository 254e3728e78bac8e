"""The BigBird (ITC) key-block table: global, sliding-window and random blocks.

The random blocks come from a counter-based integer hash of `(seed, head,
query block, draw)`, not from a stored table. Every function takes `xp`,
either `keras.ops` (in the layer: the number of blocks may then be a symbolic
tensor, so one traced graph serves every sequence length, from
variable-length `model.fit` batches to a SavedModel that accepts any length,
and the number of real blocks may differ per example) or numpy (constants
for static lengths, and the tests). It is one piece of code either way, so
no index can point past the last block, and the pattern for a length is the
same in eager, `tf.function`, XLA, JAX and after save/load.

All arithmetic stays in int32 and below 2**31: every product is of two
numbers under `_PRIME` (< sqrt(2**31)), so results agree on every backend.
"""

import types

import numpy as np
from keras import ops

def _scatter(indices, values, shape):
    """`keras.ops.scatter`: `values` added at `indices` into zeros."""
    values = np.asarray(values)
    out = np.zeros(shape, values.dtype)
    np.add.at(out, tuple(np.asarray(indices).T), values)
    return out


# numpy under the names of the `keras.ops` functions it lacks.
NUMPY = types.SimpleNamespace(
    **{name: getattr(np, name) for name in dir(np) if not name.startswith("_")},
    convert_to_tensor=np.asarray,
    cast=lambda x, dtype: np.asarray(x).astype(dtype),
    scatter=_scatter,
)

_PRIME = 46337  # largest prime below sqrt(2**31); gcd(3, _PRIME - 1) == 1
_MULTIPLIER = 40503


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


def _random_blocks(xp, rows, heads, n, r, seed, g, half, causal):
    """`r` distinct random key blocks per query block: `(blocks, valid)`.

    Query block `i` draws without replacement from the blocks that are
    neither global (the first and last `g` of its `n` real blocks) nor in
    its window (`i - half .. i + half`), and with `causal` only from blocks
    before its window. Those candidates are two ranges, `[g, i - half)` and
    `[i + half + 1, n - g)`. Where there are fewer candidates than draws,
    all are taken and the spare slots are invalid. Floyd's algorithm,
    unrolled over the (static) number of draws, keeps it vectorised with no
    data-dependent control flow.
    """
    left = xp.maximum(xp.minimum(rows - half, n - g) - g, 0)
    right_start = xp.maximum(rows + half + 1, g)
    if causal:
        right = xp.zeros_like(left)
    else:
        right = xp.maximum(n - g - right_start, 0)
    num_candidates = left + right
    picks = []
    for draw in range(r):
        # Floyd: pick t in [0, j]; if t is taken, take j (never taken yet).
        j = num_candidates - r + draw
        t = xp.mod(_hash(xp, seed, heads, rows, draw), xp.maximum(j + 1, 1))
        taken = xp.zeros_like(t, dtype="bool")
        for previous in picks:
            taken = xp.logical_or(taken, xp.equal(previous, t))
        t = xp.where(taken, j, t)
        picks.append(xp.where(j >= 0, t, -1))
    picks = xp.concatenate(picks, axis=-1)
    valid = picks >= 0
    blocks = xp.where(picks < left, g + picks, right_start + picks - left)
    # int32 also with numpy, whose `mod` of two Python ints is int64.
    return xp.cast(xp.where(valid, blocks, 0), "int32"), valid


def real_block_counts(num_blocks, real_blocks, xp):
    """`n` broadcastable to `[batch, heads, query_blocks, slots]`, int32."""
    if real_blocks is None:
        return xp.convert_to_tensor(num_blocks, "int32")
    return xp.reshape(xp.cast(real_blocks, "int32"), (-1, 1, 1, 1))


def bigbird_key_blocks(
    num_blocks,
    num_heads,
    num_random_blocks,
    seed,
    num_window_blocks=3,
    num_global_blocks=1,
    real_blocks=None,
    causal=False,
    xp=ops,
):
    """Every key block of every query block, per head: `(blocks, valid)`.

    For query block `i` of a sequence of `n` real blocks, with `g` global
    blocks at each end and a window of `w = 2 * half + 1` blocks, the slots
    are `[0 .. g - 1, i - half .. i + half, n - g .. n - 1, random...]`
    (`g + w + g + r` slots). A window block that is global or outside `[0,
    n)` is invalid, so no key is counted twice; with `causal`, so is every
    block after `i`. The rows of global query blocks are returned too (they
    attend every key instead; see `bigbird_global_blocks`).

    Args:
        num_blocks: int or scalar int32 tensor: the padded number of blocks.
        num_heads: int.
        num_random_blocks: int.
        seed: int in `[0, 2**31)`.
        num_window_blocks: odd int.
        num_global_blocks: int, global blocks at each end.
        real_blocks: None (every block is real) or int32 `[batch]`: the
            number of real blocks of each example. The table then has a
            batch axis.
        causal: draw random blocks only among earlier blocks.
        xp: `keras.ops` or `NUMPY`.

    Returns:
        int32 and bool `[batch or 1, num_heads, num_blocks, slots]`.
    """
    g, half, r = num_global_blocks, num_window_blocks // 2, num_random_blocks
    n = real_block_counts(num_blocks, real_blocks, xp)
    rows = xp.arange(num_blocks, dtype="int32")[None, None, :, None]
    heads = xp.arange(num_heads, dtype="int32")[None, :, None, None]
    # [batch or 1, heads, blocks, 1] zeros, to broadcast every part.
    zero = rows * 0 + heads * 0 + n * 0
    first = zero + xp.arange(g, dtype="int32")
    first_valid = first < n
    window = rows + xp.arange(-half, half + 1, dtype="int32") + zero
    window_valid = xp.logical_and(window >= g, window < n - g)
    last = n - g + xp.arange(g, dtype="int32") + zero
    last_valid = last >= g  # else it is one of the first blocks
    if causal:
        first_valid = xp.logical_and(first_valid, first <= rows)
        window_valid = xp.logical_and(window_valid, window <= rows)
        last_valid = xp.logical_and(last_valid, last <= rows)
    parts = [(first, first_valid), (window, window_valid), (last, last_valid)]
    if r:
        seed = xp.convert_to_tensor(seed, "int32")
        parts.append(
            _random_blocks(xp, rows, heads, n, r, seed, g, half, causal)
        )
    blocks = xp.concatenate([b for b, _ in parts], axis=-1)
    valid = xp.concatenate([v for _, v in parts], axis=-1)
    # Invalid slots (and the rows of padding blocks) still index a block.
    blocks = xp.where(valid, xp.clip(blocks, 0, num_blocks - 1), 0)
    return xp.cast(blocks, "int32"), valid


def bigbird_global_blocks(num_blocks, num_global_blocks, real_blocks=None, xp=ops):
    """The global query blocks: the first and last `g` real blocks.

    Returns:
        `(blocks, valid)`, int32 and bool `[batch or 1, 2 * g]`. A last
        block that is also one of the first (fewer than `2 * g` real
        blocks) is invalid.
    """
    g = num_global_blocks
    n = xp.reshape(real_block_counts(num_blocks, real_blocks, xp), (-1, 1))
    first = n * 0 + xp.arange(g, dtype="int32")[None]
    last = n - g + xp.arange(g, dtype="int32")[None]
    blocks = xp.concatenate([first, last], axis=-1)
    valid = xp.concatenate([first < n, last >= g], axis=-1)
    return xp.cast(xp.where(valid, blocks, 0), "int32"), valid
