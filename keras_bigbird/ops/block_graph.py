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
- `causal`: whether query `i` only attends keys `j <= i`;
- `constants`: for a graph built from values known now (a static length,
  masks known or absent), the fields above as numpy arrays, so that the
  masks derived from them are numpy constants too rather than in-graph
  ops on constants (which XLA would fold at every compile, slowly: seconds
  per compile at 16k tokens, growing with the length).

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
    constants: Any = None

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

    def row_slot(self, xp=ops):
        """Each query token's index in `row_tokens` (which are ascending,
        so it is the number of row tokens before it): `[batch or 1,
        length]`, meaningful where `row_mask` is True."""
        slot = xp.cumsum(xp.cast(self.row_mask, "int32"), axis=1) - 1
        return xp.maximum(slot, 0)

    def numpy_view(self):
        """`(xp, graph)`: numpy and a copy of this graph whose tensors are
        its numpy `constants`, when it has them; else `(keras.ops, self)`."""
        if self.constants is None:
            return ops, self
        return random_pattern.NUMPY, dataclasses.replace(
            self, constants=None, **self.constants
        )


def real_blocks_of(key_mask, block_size, xp=ops):
    """Each example's number of real blocks: up to its last real token.

    `key_mask` is bool `[batch, length]`; an example with no real token has
    one block.
    """
    length = xp.shape(key_mask)[1]
    positions = xp.arange(1, length + 1, dtype="int32")[None]
    last = xp.max(xp.where(key_mask, positions, 0), axis=1)
    return xp.maximum((last + block_size - 1) // block_size, 1)


def first_true(mask, k, xp=ops):
    """Positions of the first `k` True entries of each row: `(idx, valid)`.

    `mask` is bool `[batch, length]`; `idx` is int32 `[batch, k]`, ascending,
    0 where invalid. Each True entry is scattered to the slot of its rank
    (a cumulative sum): linear in the length, and no sort, which XLA's CPU
    backend runs slowly (a `top_k` here made a training step under XLA 5x
    slower).
    """
    shape = xp.shape(mask)
    batch, length = shape[0], shape[1]
    rank = xp.cumsum(xp.cast(mask, "int32"), axis=1) - 1
    keep = xp.logical_and(mask, rank < k)
    slot = xp.where(keep, rank, k)  # the rest go to a spare slot k
    rows = xp.zeros_like(slot) + xp.arange(batch, dtype="int32")[:, None]
    indices = xp.reshape(xp.stack([rows, slot], axis=-1), (-1, 2))
    # Positions + 1, so that 0 marks an empty slot.
    positions = xp.where(keep, xp.arange(1, length + 1, dtype="int32")[None], 0)
    table = xp.scatter(indices, xp.reshape(positions, (-1,)), (batch, k + 1))
    table = table[:, :k]
    valid = table > 0
    return xp.cast(xp.where(valid, table - 1, 0), "int32"), valid


def _global_token_mask(global_mask, key_mask, max_global_tokens, xp):
    """The global tokens that count: real tokens, the first `max` of them.

    More than `max_global_tokens` is a `ValueError` when the values are
    known (eager), a failed assertion in a TensorFlow graph; under XLA and
    `jax.jit`, where no assertion can stop the program, the first
    `max_global_tokens` stay global and the rest do not.
    """
    mask = xp.logical_and(xp.cast(global_mask, "bool"), key_mask)
    rank = xp.cumsum(xp.cast(mask, "int32"), axis=1)
    count = xp.max(rank[:, -1:]) if mask.shape[1] != 0 else 0
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
    return xp.logical_and(mask, rank <= max_global_tokens)


def _namespace(num_blocks, key_mask, global_mask):
    """numpy when every input is known now (a static length, masks known
    in eager mode), else `keras.ops`. numpy gives constants: eager JAX
    would compile each of the tables' ops for every new shape."""
    if not isinstance(num_blocks, int):
        return ops, key_mask, global_mask
    values = []
    for mask in (key_mask, global_mask):
        if mask is None:
            values.append(None)
            continue
        value = checks.concrete_value(mask)
        if value is None:
            return ops, key_mask, global_mask
        values.append(value)
    return random_pattern.NUMPY, values[0], values[1]


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
    xp, key_mask, global_mask = _namespace(num_blocks, key_mask, global_mask)
    real_blocks = None
    if key_mask is None:
        key_mask = xp.ones((1, length), "bool")
    else:
        key_mask = xp.cast(key_mask, "bool")
        if pattern.per_example:
            real_blocks = real_blocks_of(key_mask, block_size, xp)
    blocks, valid = pattern.key_blocks(
        num_blocks,
        num_heads,
        block_size=block_size,
        seed=seed,
        real_blocks=real_blocks,
        causal=causal,
        xp=xp,
    )
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
        row_blocks, row_block_valid = rows
        num_rows = row_blocks.shape[-1] * block_size
        hits = xp.logical_and(
            xp.equal(
                row_blocks[:, :, None],
                xp.arange(num_blocks, dtype="int32")[None, None],
            ),
            row_block_valid[:, :, None],
        )
        graph.row_mask = xp.repeat(xp.any(hits, axis=1), block_size, axis=1)
    if global_mask is not None:
        is_global = _global_token_mask(
            global_mask, key_mask, max_global_tokens, xp
        )
        graph.global_tokens, graph.global_valid = first_true(
            is_global, max_global_tokens, xp
        )
        graph.block_key_mask = xp.logical_and(
            key_mask, xp.logical_not(is_global)
        )
        num_rows += max_global_tokens
        if graph.row_mask is None:
            graph.row_mask = is_global
        else:
            graph.row_mask = xp.logical_or(graph.row_mask, is_global)
    if graph.row_mask is not None:
        graph.row_tokens, graph.row_valid = first_true(
            graph.row_mask, num_rows, xp
        )
    constants = {}
    for field in dataclasses.fields(graph):
        value = getattr(graph, field.name)
        if value is not None and not isinstance(value, (bool, int)):
            if xp is random_pattern.NUMPY:
                constants[field.name] = value
            setattr(graph, field.name, ops.convert_to_tensor(value))
    if xp is random_pattern.NUMPY:
        graph.constants = constants
    return graph
