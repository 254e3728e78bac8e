"""`FunctionPattern`: a block predicate, FlexAttention-style."""

import keras
from keras import ops

from keras_bigbird.ops import random_pattern
from keras_bigbird.ops.block_graph import first_true
from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.patterns.attention_pattern import to_numpy_namespace
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class FunctionPattern(AttentionPattern):
    """Query block `q` attends key block `k` where `fn(...)` is True.

    `fn(head, query_block, key_block, num_blocks) -> bool` is written with
    `keras.ops` (or plain operators) on int32 tensors that broadcast
    against each other: it is evaluated once for every (head, query block,
    key block) of a call and compacted into a key-block table of
    `max_key_blocks` slots, so a row must not attend more than
    `max_key_blocks` blocks (an error in eager mode, a failed assertion in
    a TensorFlow graph). `num_blocks` is the example's number of real
    blocks (an int32 tensor), so a pattern that only depends on it does
    not change with padding. Building the table is quadratic in the number
    of blocks (not tokens): fine up to a few thousand blocks.

    The function is saved with the pattern the way Keras saves functions:
    register it with `@keras.saving.register_keras_serializable()` to load
    it by name (a lambda is saved as bytecode, which loads only with
    `safe_mode=False`).

    Args:
        fn: the predicate.
        max_key_blocks: the most key blocks any query block attends.

    Example:

    >>> from keras import ops
    >>> def band_and_first(head, q, k, num_blocks):
    ...     return ops.logical_or(ops.abs(q - k) <= 1, k == 0)
    >>> pattern = FunctionPattern(band_and_first, max_key_blocks=4)
    >>> blocks, valid = pattern.key_blocks(
    ...     5, 1, block_size=8, seed=0, xp=random_pattern.NUMPY)
    >>> blocks[0, 0, 3][valid[0, 0, 3]].tolist()
    [0, 2, 3, 4]

    References:
        - [Dong et al., 2024, Flex Attention](https://arxiv.org/abs/2412.05496)
    """

    per_example = True

    def __init__(self, fn, max_key_blocks):
        if isinstance(fn, (dict, str)):
            fn = keras.saving.deserialize_keras_object(fn)
        if not callable(fn):
            raise ValueError(
                "Received an invalid value for argument `fn`, expected a "
                f"callable (head, query_block, key_block, num_blocks) -> "
                f"bool. Received: fn={fn!r}"
            )
        checks.positive_int("max_key_blocks", max_key_blocks)
        self.fn = fn
        self.max_key_blocks = max_key_blocks

    def block_mask(self, num_blocks, num_heads, real_blocks=None):
        """`fn` on every (head, query, key) block: bool `[b|1, h, n, n]`."""
        n = random_pattern.real_block_counts(num_blocks, real_blocks, ops)
        blocks = ops.arange(num_blocks, dtype="int32")
        heads = ops.arange(num_heads, dtype="int32")[None, :, None, None]
        query, key = blocks[None, None, :, None], blocks[None, None, None, :]
        mask = ops.cast(self.fn(heads, query, key, n), "bool")
        zero = heads * 0 + query * 0 + key * 0 + n * 0
        return ops.logical_and(mask, zero == 0)

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        mask = self.block_mask(num_blocks, num_heads, real_blocks)
        blocks = ops.arange(num_blocks, dtype="int32")
        if causal:
            mask = ops.logical_and(mask, blocks[None, :] <= blocks[:, None])
        count = ops.max(ops.sum(ops.cast(mask, "int32"), axis=-1))
        depend = checks.at_most(
            count,
            self.max_key_blocks,
            "A query block of this FunctionPattern attends more key blocks "
            f"than `max_key_blocks` ({self.max_key_blocks}).",
            name="key blocks in a query block",
        )
        if depend is not None:
            mask = depend(mask)
        # The True columns of each row, in ascending order.
        shape = ops.shape(mask)
        index, valid = first_true(
            ops.reshape(mask, (-1, shape[-1])), self.max_key_blocks
        )
        shape = (shape[0], shape[1], shape[2], self.max_key_blocks)
        return to_numpy_namespace(
            ops.reshape(index, shape), ops.reshape(valid, shape), xp
        )

    def get_config(self):
        return {
            "fn": keras.saving.serialize_keras_object(self.fn),
            "max_key_blocks": self.max_key_blocks,
        }
