"""Block-sparse attention math on a `BlockGraph`, in `keras.ops`.

Tensors are laid out `[batch, heads, length, depth]` with `length` a multiple
of the block size. The sparse path never builds a `[length, length]` tensor:
every query block attends its key blocks (and the global tokens), gathered
with one `take` per tensor and multiplied block by block; the query tokens
that attend every key (global blocks, global tokens) are gathered and
attend densely; their rows replace those of the block path. Time and memory
grow linearly with the length.

The masks come from the graph alone: for a graph of constants (a static
length, masks known or absent: `BlockGraph.constants`) they are computed
with numpy while tracing and enter the program as constants, so XLA has no
mask arithmetic on constants to fold at compile time.
"""

import numpy as np
from keras import ops

from keras_bigbird.ops.random_pattern import NUMPY

# Added to the scores of masked keys. Softmax runs in float32 (also under
# mixed precision), where exp(-1e9) is exactly 0 and nothing overflows.
_MASKED_SCORE = -1e9


def attend(scores, mask, value, dropout=None):
    """Masked softmax of `scores` over the last axis, then `@ value`.

    Args:
        scores: `[..., q_len, k_len]`.
        mask: bool, broadcastable to `scores`, True where a key may be
            attended. It should be small (broadcast over queries where it
            can): the additive bias is built at its shape.
        value: `[..., k_len, value_depth]`.
        dropout: optional callable applied to the probabilities.

    Returns:
        `(output [..., q_len, value_depth], probabilities)`. Masked keys get
        exactly zero probability; a query row with no attendable key gets
        zero output and zero probabilities, never NaN.
    """
    if scores.shape[-1] == 1:
        # Softmax over a single key is 1 (and keras warns about it).
        probs = ops.ones_like(scores)
    else:
        bias = (1.0 - ops.cast(mask, "float32")) * _MASKED_SCORE
        # One fused softmax kernel. A fully masked row comes out uniform here
        # and is zeroed below on the (much smaller) output, not on the scores.
        logits = ops.cast(scores, "float32") + bias
        probs = ops.cast(ops.softmax(logits), scores.dtype)
    dropped = dropout(probs) if dropout is not None else probs
    output = ops.matmul(dropped, value)
    if isinstance(mask, np.ndarray):  # a constant graph's mask
        has_key = np.any(mask, axis=-1, keepdims=True)
    else:
        has_key = ops.any(mask, axis=-1, keepdims=True)
    has_key = ops.cast(has_key, output.dtype)
    return output * has_key, probs * has_key


def dense_attention(query, key, value, mask, dropout=None):
    """Softmax attention of every query over every key, under `mask`.

    Args:
        query: `[batch, heads, q_len, depth]`, already scaled.
        key: `[batch, heads, k_len, depth]`.
        value: `[batch, heads, k_len, value_depth]`.
        mask: bool, broadcastable to `[batch, heads, q_len, k_len]`.
        dropout: optional callable applied to the probabilities.

    Returns:
        `(output [batch, heads, q_len, value_depth], probabilities)`.
    """
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))
    return attend(scores, mask, value, dropout)


def _batch_independent(table):
    return table.shape[0] == 1


def _gather_blocks(x, table):
    """`x [batch, heads, blocks, block, d]` at `table [b|1, heads, n, s]`.

    Returns `[batch, heads, n, s, block, d]`: one `take` per tensor.
    """
    batch, heads = ops.shape(x)[0], ops.shape(x)[1]
    num_blocks, block, depth = ops.shape(x)[2], x.shape[3], x.shape[4]
    head_offsets = ops.arange(heads, dtype="int32")[:, None, None] * num_blocks
    if _batch_independent(table):
        flat = ops.reshape(x, (batch, -1, block, depth))
        return ops.take(flat, table[0] + head_offsets, axis=1)
    flat = ops.reshape(x, (-1, block, depth))
    batch_offsets = ops.arange(batch, dtype="int32") * (heads * num_blocks)
    index = table + head_offsets[None] + batch_offsets[:, None, None, None]
    return ops.take(flat, index, axis=0)


def _gather_token_blocks(x, table, xp=ops):
    """`x [batch or 1, blocks, block]` (no heads) at `table`.

    Returns `[batch, heads, n, s, block]`.
    """
    if x.shape[0] == 1:
        return xp.take(x[0], table, axis=0)
    if _batch_independent(table):
        return xp.take(x, table[0], axis=1)
    num_blocks = xp.shape(x)[1]
    flat = xp.reshape(x, (-1, x.shape[-1]))
    offsets = xp.arange(xp.shape(x)[0], dtype="int32") * num_blocks
    return xp.take(flat, table + offsets[:, None, None, None], axis=0)


def _take_tokens(x, tokens):
    """`x [batch, heads, length, d]` at `tokens [batch or 1, n]`.

    One `take` on the flattened tensor (`take_along_axis` would transpose
    `x` first on TensorFlow).
    """
    if _batch_independent(tokens):
        return ops.take(x, tokens[0], axis=2)
    batch, heads, length = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
    offsets = ops.reshape(ops.arange(batch * heads, dtype="int32"), (batch, heads, 1))
    index = tokens[:, None, :] + offsets * length
    depth = x.shape[-1] if x.shape[-1] is not None else ops.shape(x)[-1]
    return ops.take(ops.reshape(x, (-1, depth)), index, axis=0)


def _global_blocks(graph, xp=ops):
    """The global tokens padded to whole blocks: `(tokens, valid)`."""
    pad = graph.global_blocks * graph.block_size - graph.global_tokens.shape[-1]
    widths = ((0, 0), (0, pad))
    return xp.pad(graph.global_tokens, widths), xp.pad(graph.global_valid, widths)


def _block_keys(graph, length, key=None, value=None):
    """The keys, values and mask of every query block.

    Returns `(keys, values, mask)`: `[batch, heads, n, slots * block,
    depth]` (None when `key`/`value` is None) and bool `[batch, heads, n,
    1 or block, slots * block]` (`block` rows when causal; numpy for a
    graph of constants).
    """
    xp, graph = graph.numpy_view()
    block = graph.block_size
    if xp is NUMPY:
        length = graph.num_blocks * block
    table, valid = graph.key_blocks, graph.key_valid
    mask_batch = xp.shape(graph.block_key_mask)[0]
    mask = xp.reshape(graph.block_key_mask, (mask_batch, -1, block))
    positions = xp.reshape(xp.arange(length, dtype="int32"), (1, -1, block))

    def blocks(x):
        if x is None:
            return None
        return ops.reshape(
            x, (ops.shape(x)[0], ops.shape(x)[1], -1, block, x.shape[-1])
        )

    key, value = blocks(key), blocks(value)
    if graph.global_tokens is not None:
        tokens, token_valid = _global_blocks(graph, xp)
        batch = xp.shape(tokens)[0]
        shape = (batch, graph.global_blocks, block)

        def with_global(x):
            if x is None:
                return None
            heads, depth = ops.shape(x)[1], x.shape[-1]
            extra = _take_tokens(ops.reshape(x, (batch, heads, -1, depth)), tokens)
            extra = ops.reshape(extra, (batch, heads, -1, block, depth))
            return ops.concatenate([x, extra], axis=2)

        key, value = with_global(key), with_global(value)
        mask = xp.concatenate([mask, xp.reshape(token_valid, shape)], axis=1)
        positions = xp.concatenate(
            [positions + xp.zeros((batch, 1, 1), "int32"), xp.reshape(tokens, shape)],
            axis=1,
        )
        # Every query block attends the global blocks, appended after the
        # `num_blocks` blocks of the sequence.
        extra = graph.num_blocks + xp.arange(graph.global_blocks, dtype="int32")
        extra = extra + table[..., :1] * 0
        table = xp.concatenate([table, extra], axis=-1)
        valid = xp.concatenate([valid, extra >= 0], axis=-1)

    slots = table.shape[-1]
    key_mask = xp.logical_and(
        _gather_token_blocks(mask, table, xp), valid[..., None]
    )
    key_mask = xp.reshape(
        key_mask, (xp.shape(key_mask)[0], xp.shape(table)[1], -1, 1, slots * block)
    )
    if graph.causal:
        key_positions = _gather_token_blocks(positions, table, xp)
        key_positions = xp.reshape(
            key_positions, (-1, xp.shape(table)[1], xp.shape(table)[2], 1, slots * block)
        )
        query_positions = xp.reshape(
            xp.arange(length, dtype="int32"), (-1, block, 1)
        )
        key_mask = xp.logical_and(key_mask, key_positions <= query_positions)

    gather_table = ops.convert_to_tensor(table) if xp is NUMPY else table

    def gathered(x):
        if x is None:
            return None
        x = _gather_blocks(x, gather_table)
        return ops.reshape(
            x, (ops.shape(x)[0], ops.shape(x)[1], -1, slots * block, x.shape[-1])
        )

    return gathered(key), gathered(value), key_mask


def _row_mask(graph, length):
    """Keys of the query tokens that attend every key: `[b, 1, rows, len]`
    (numpy for a graph of constants)."""
    xp, graph = graph.numpy_view()
    if xp is NUMPY:
        length = graph.num_blocks * graph.block_size
    mask = graph.key_mask[:, None, None, :]
    if graph.causal:
        positions = xp.arange(length, dtype="int32")[None, None, None, :]
        mask = xp.logical_and(
            mask, positions <= graph.row_tokens[:, None, :, None]
        )
    return mask


def _merge_rows(graph, rows, table_rows):
    """`table_rows [batch, heads, length, x]` with the rows of `row_tokens`
    replaced by `rows [batch, heads, num_rows, x]`."""
    xp, graph = graph.numpy_view()
    back = _take_tokens(rows, graph.row_slot(xp))
    return ops.where(graph.row_mask[:, None, :, None], back, table_rows)


def block_sparse_attention(
    query, key, value, graph, dropout=None, return_probs=False
):
    """Attention of every query over the keys its `graph` allows.

    Args:
        query: `[batch, heads, length, depth]`, already scaled; `length` is
            a multiple of `graph.block_size`.
        key: `[batch, heads, length, depth]`.
        value: `[batch, heads, length, value_depth]`.
        graph: a `BlockGraph` for this batch.
        dropout: optional callable applied to the probabilities.
        return_probs: also return the probabilities as a dense `[batch,
            heads, length, length]` tensor (quadratic: inspection only).

    Returns:
        `(output [batch, heads, length, value_depth], probs or None)`.
    """
    batch, heads = ops.shape(query)[0], ops.shape(query)[1]
    length = ops.shape(query)[2]
    block = graph.block_size
    depth, value_depth = query.shape[-1], value.shape[-1]

    keys, values, mask = _block_keys(graph, length, key, value)
    query_blocks = ops.reshape(query, (batch, heads, -1, block, depth))
    scores = ops.matmul(query_blocks, ops.swapaxes(keys, -1, -2))
    output, probs = attend(scores, mask, values, dropout)
    output = ops.reshape(output, (batch, heads, length, value_depth))

    row_probs = None
    if graph.row_tokens is not None:
        row_output, row_probs = dense_attention(
            _take_tokens(query, graph.row_tokens),
            key,
            value,
            _row_mask(graph, length),
            dropout,
        )
        output = _merge_rows(graph, row_output, output)
    if not return_probs:
        return output, None
    return output, _to_dense(graph, length, probs, row_probs)


def _to_dense(graph, length, block_values, row_values):
    """Scatters per-block values (probabilities, masks) into `[b, h, L, L]`.

    `block_values` is `[batch, heads, n, block, slots * block]` in the
    layout of `_block_keys`, `row_values` `[batch, heads, rows, length]`.
    A key block that appears twice in a row adds up.
    """
    block = graph.block_size
    num_blocks = length // block
    table, valid = graph.key_blocks, graph.key_valid
    own_slots = table.shape[-1]
    shape = ops.shape(block_values)
    values = ops.reshape(
        block_values, (shape[0], shape[1], -1, block, graph.slots, block)
    )
    hits = ops.one_hot(table, num_blocks, dtype=block_values.dtype)
    hits = hits * ops.cast(valid, block_values.dtype)[..., None]
    own = values[:, :, :, :, :own_slots]
    if _batch_independent(table):
        dense = ops.einsum("bhnqsk,hnsj->bhnqjk", own, hits[0])
    else:
        dense = ops.einsum("bhnqsk,bhnsj->bhnqjk", own, hits)
    dense = ops.reshape(dense, (shape[0], shape[1], length, length))
    if graph.global_tokens is not None:
        tokens, token_valid = _global_blocks(graph)
        extra = ops.reshape(
            values[:, :, :, :, own_slots:],
            (shape[0], shape[1], length, -1),
        )
        token_hits = ops.one_hot(tokens, length, dtype=block_values.dtype)
        token_hits = token_hits * ops.cast(token_valid, block_values.dtype)[..., None]
        dense = dense + ops.einsum("bhqg,bgl->bhql", extra, token_hits)
    if row_values is not None:
        dense = _merge_rows(graph, row_values, dense)
    return dense


def dense_mask(graph, length):
    """The graph as a bool `[batch, heads, length, length]` mask.

    Entry `[b, h, i, j]` is True exactly when query `i` attends key `j`
    (padded keys excluded). Quadratic in the length: for short sequences
    and inspection.
    """
    _, _, mask = _block_keys(graph, length)
    block = graph.block_size
    shape = ops.shape(mask)
    values = ops.cast(
        ops.broadcast_to(mask, (shape[0], shape[1], shape[2], block, shape[4])),
        "float32",
    )
    rows = None
    if graph.row_tokens is not None:
        rows = ops.cast(
            ops.logical_and(
                _row_mask(graph, length), graph.row_valid[:, None, :, None]
            ),
            "float32",
        )
        rows = ops.broadcast_to(
            rows, (ops.shape(rows)[0], shape[1], ops.shape(rows)[2], length)
        )
    return _to_dense(graph, length, values, rows) > 0
