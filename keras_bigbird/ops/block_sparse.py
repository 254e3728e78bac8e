"""Block-sparse attention math, in `keras.ops`.

Tensors are laid out `[batch, heads, length, depth]`. The sparse path never
builds a `[length, length]` tensor: the two global query blocks attend every
key (`2 * block_size` rows), and every middle query block attends a fixed
number of key blocks gathered with one `take` per tensor, so time and memory
grow linearly with the length.
"""

from keras import ops

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
    has_key = ops.cast(ops.any(mask, axis=-1, keepdims=True), output.dtype)
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


def block_sparse_attention(
    query, key, value, key_mask, key_blocks, key_blocks_valid, block_size,
    dropout=None,
):
    """BigBird attention with global first/last blocks.

    Args:
        query: `[batch, heads, length, depth]`, already scaled; `length` is
            a multiple of `block_size` with at least 3 blocks.
        key: `[batch, heads, length, depth]`.
        value: `[batch, heads, length, value_depth]`.
        key_mask: bool `[batch, length]`, True for keys that may be attended.
        key_blocks: int32 `[heads, num_blocks - 2, slots]`: the key blocks of
            each middle query block (see `random_pattern.key_block_table`).
        key_blocks_valid: bool, same shape; invalid slots get zero weight.
        block_size: int.
        dropout: optional callable applied to the probabilities.

    Returns:
        `(output, global_probs, middle_probs)`: output `[batch, heads,
        length, value_depth]`; probabilities of the global query rows
        `[batch, heads, 2 * block_size, length]` and of the middle query
        blocks `[batch, heads, num_blocks - 2, block_size, slots *
        block_size]`.
    """
    batch, heads = ops.shape(query)[0], ops.shape(query)[1]
    length = ops.shape(query)[2]
    depth, value_depth = query.shape[-1], value.shape[-1]

    # The first and last query blocks attend every key.
    global_query = ops.concatenate(
        [query[:, :, :block_size], query[:, :, length - block_size :]], axis=2
    )
    global_out, global_probs = dense_attention(
        global_query, key, value, key_mask[:, None, None, :], dropout
    )

    # Every middle query block attends its gathered key blocks.
    def gather_blocks(x):
        # [batch, heads * blocks, block, depth] indexed per head in one take.
        flat = ops.reshape(x, (batch, -1, block_size, x.shape[-1]))
        num_blocks = ops.shape(flat)[1] // heads
        offsets = ops.arange(heads, dtype="int32")[:, None, None] * num_blocks
        return ops.take(flat, key_blocks + offsets, axis=1)

    slots = key_blocks.shape[-1]
    middle_query = ops.reshape(
        query[:, :, block_size : length - block_size],
        (batch, heads, -1, block_size, depth),
    )
    middle_key = ops.reshape(
        gather_blocks(key), (batch, heads, -1, slots * block_size, depth)
    )
    middle_value = ops.reshape(
        gather_blocks(value),
        (batch, heads, -1, slots * block_size, value_depth),
    )
    block_mask = ops.take(
        ops.reshape(key_mask, (batch, -1, block_size)), key_blocks, axis=1
    )
    block_mask = ops.logical_and(block_mask, key_blocks_valid[None, ..., None])
    block_mask = ops.reshape(block_mask, (batch, heads, -1, 1, slots * block_size))
    scores = ops.matmul(middle_query, ops.swapaxes(middle_key, -1, -2))
    middle_out, middle_probs = attend(scores, block_mask, middle_value, dropout)
    middle_out = ops.reshape(middle_out, (batch, heads, -1, value_depth))

    output = ops.concatenate(
        [
            global_out[:, :, :block_size],
            middle_out,
            global_out[:, :, block_size:],
        ],
        axis=2,
    )
    return output, global_probs, middle_probs


def sparse_probabilities_to_dense(
    global_probs, middle_probs, key_blocks, key_blocks_valid, block_size
):
    """Scatter block-sparse probabilities into `[batch, heads, len, len]`.

    Quadratic in the length: only for `return_attention_scores=True`.
    """
    batch, heads = ops.shape(global_probs)[0], ops.shape(global_probs)[1]
    length = ops.shape(global_probs)[3]
    num_blocks = length // block_size
    slots = key_blocks.shape[-1]
    hits = ops.one_hot(key_blocks, num_blocks, dtype=middle_probs.dtype)
    hits = hits * ops.cast(key_blocks_valid, middle_probs.dtype)[..., None]
    blocks = ops.reshape(
        middle_probs, (batch, heads, -1, block_size, slots, block_size)
    )
    middle = ops.einsum("bhnqsk,hnsj->bhnqjk", blocks, hits)
    middle = ops.reshape(middle, (batch, heads, -1, length))
    return ops.concatenate(
        [
            global_probs[:, :, :block_size],
            middle,
            global_probs[:, :, block_size:],
        ],
        axis=2,
    )
