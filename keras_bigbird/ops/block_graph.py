"""`BlockGraph`: one batch's attention graph in block form, and its dense mask.

A pattern (`keras_bigbird.patterns`) says which key blocks each query block
attends. `build_block_graph` turns it, the padding mask and the global tokens
of a batch into the tensors the block-sparse math reads, once per call (the
role of FlexAttention's `BlockMask`):

- `key_blocks`, `key_valid`: `[batch or 1, heads, num_blocks, slots]`, the
  key blocks of every query block (invalid slots get zero weight);
- `row_tokens`, `row_valid`: `[batch or 1, rows]`, the query tokens that
  attend every key: the pattern's global query blocks and the global tokens;
- `global_tokens`, `global_valid`: `[batch, max_global_tokens]`, the global
  tokens as keys, which every query attends on top of its key blocks (and
  which are then masked in its key blocks, so no key counts twice);
- `key_mask`: `[batch, padded length]`, the keys that may be attended;
- `causal`: whether query `i` only attends keys `j <= i`.

Everything is linear in the length: no `[length, length]` tensor is built
except by `dense_mask`, which is for short sequences and inspection.
"""

import dataclasses
from typing import Any

from keras import ops

from keras_bigbird.ops import random_pattern
from keras_bigbird.utils import checks


@dataclasses.dataclass
class BlockGraph:
    block_size: int
    num_blocks: Any
    key_blocks: Any
    key_valid: Any
    key_mask: Any
    block_key_mask: Any
    row_mask: Any = None
    row_tokens: Any = None
    row_valid: Any = None
    global_tokens: Any = None
    global_valid: Any = None
    causal: bool = False

    @property
    def global_blocks(self):
        """Blocks of global-token keys appended to every query block."""
        if self.global_tokens is None:
            return 0
        return -(-self.global_tokens.shape[-1] // self.block_size)

    @property
    def slots(self):
        """Key blocks per query block, global tokens' blocks included."""
        return self.key_blocks.shape[-1] + self.global_blocks

    def row_slot(self):
        """Each query token's index in `row_tokens` (which are ascending,
        so it is the number of row tokens before it): `[batch or 1,
        length]`, meaningful where `row_mask` is True."""
        slot = ops.cumsum(ops.cast(self.row_mask, "int32"), axis=1) - 1
        return ops.maximum(slot, 0)


def real_blocks_of(key_mask, block_size):
    """Each example's number of real blocks: up to its last real token.

    `key_mask` is bool `[batch, length]`; an example with no real token has
    one block.
    """
    length = ops.shape(key_mask)[1]
    positions = ops.arange(1, length + 1, dtype="int32")[None]
    last = ops.max(ops.where(key_mask, positions, 0), axis=1)
    return ops.maximum((last + block_size - 1) // block_size, 1)


def _first_true(mask, k):
    """Positions of the first `k` True entries of each row: `(idx, valid)`.

    `mask` is bool `[batch, length]`; `idx` is int32 `[batch, k]`, ascending,
    0 where invalid.
    """
    length = ops.shape(mask)[1]
    # k zeros appended so that top_k always has k entries to choose from.
    score = ops.where(mask, length - ops.arange(length, dtype="int32"), 0)
    score = ops.pad(score, ((0, 0), (0, k)))
    values, idx = ops.top_k(score, k)
    valid = values > 0
    return ops.where(valid, ops.cast(idx, "int32"), 0), valid


def _global_token_mask(global_mask, key_mask, max_global_tokens):
    """The global tokens that count: real tokens, the first `max` of them.

    More than `max_global_tokens` is a `ValueError` when the values are
    known (eager), a failed assertion in a TensorFlow graph; under XLA and
    `jax.jit`, where no assertion can stop the program, the first
    `max_global_tokens` stay global and the rest do not.
    """
    mask = ops.logical_and(ops.cast(global_mask, "bool"), key_mask)
    rank = ops.cumsum(ops.cast(mask, "int32"), axis=1)
    count = ops.max(rank[:, -1:]) if mask.shape[1] != 0 else 0
    depend = checks.at_most(
        count,
        max_global_tokens,
        "More global tokens than `max_global_tokens` "
        f"({max_global_tokens}) in an example: raise `max_global_tokens` "
        "or mark fewer tokens in `global_mask`.",
        name="global tokens in an example",
    )
    if depend is not None:
        mask = depend(mask)
    return ops.logical_and(mask, rank <= max_global_tokens)


def build_block_graph(
    pattern,
    length,
    num_heads,
    block_size,
    seed,
    key_mask,
    global_mask=None,
    max_global_tokens=0,
    causal=False,
):
    """The `BlockGraph` of one batch.

    Args:
        pattern: an `AttentionPattern`.
        length: the padded length, a multiple of `block_size` (int or
            scalar tensor).
        num_heads: int.
        block_size: int.
        seed: int, the layer's pattern seed.
        key_mask: bool `[batch, length]` (padded), True for real tokens, or
            None: every token is real (the tables are then the same for
            the whole batch).
        global_mask: optional bool `[batch, length]`, True for global tokens.
        max_global_tokens: int, the static cap on global tokens.
        causal: bool.
    """
    num_blocks = length // block_size
    real_blocks = None
    if key_mask is None:
        key_mask = ops.ones((1, length), "bool")
    else:
        key_mask = ops.cast(key_mask, "bool")
        if pattern.per_example:
            real_blocks = real_blocks_of(key_mask, block_size)
    # A static length and no per-example lengths: numpy constants (eager
    # JAX would otherwise compile every op of the tables for each length).
    xp = ops
    if isinstance(num_blocks, int) and real_blocks is None:
        xp = random_pattern.NUMPY
    blocks, valid = pattern.key_blocks(
        num_blocks,
        num_heads,
        block_size=block_size,
        seed=seed,
        real_blocks=real_blocks,
        causal=causal,
        xp=xp,
    )
    blocks, valid = ops.convert_to_tensor(blocks), ops.convert_to_tensor(valid)
    graph = BlockGraph(
        block_size=block_size,
        num_blocks=num_blocks,
        key_blocks=blocks,
        key_valid=valid,
        key_mask=key_mask,
        block_key_mask=key_mask,
        causal=causal,
    )
    num_rows = 0
    rows = pattern.global_blocks(
        num_blocks, block_size=block_size, real_blocks=real_blocks, xp=xp
    )
    if rows is not None:
        row_blocks, row_block_valid = map(ops.convert_to_tensor, rows)
        num_rows = row_blocks.shape[-1] * block_size
        hits = ops.logical_and(
            ops.equal(
                row_blocks[:, :, None],
                ops.arange(num_blocks, dtype="int32")[None, None],
            ),
            row_block_valid[:, :, None],
        )
        graph.row_mask = ops.repeat(ops.any(hits, axis=1), block_size, axis=1)
    if global_mask is not None:
        is_global = _global_token_mask(global_mask, key_mask, max_global_tokens)
        graph.global_tokens, graph.global_valid = _first_true(
            is_global, max_global_tokens
        )
        graph.block_key_mask = ops.logical_and(
            key_mask, ops.logical_not(is_global)
        )
        num_rows += max_global_tokens
        if graph.row_mask is None:
            graph.row_mask = is_global
        else:
            graph.row_mask = ops.logical_or(graph.row_mask, is_global)
    if graph.row_mask is not None:
        graph.row_tokens, graph.row_valid = _first_true(
            graph.row_mask, num_rows
        )
    return graph
