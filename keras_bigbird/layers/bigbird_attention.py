"""`BigBirdAttention`: block-sparse self-attention, a drop-in for MHA."""

import keras

from keras_bigbird.layers.block_sparse_attention import BlockSparseAttention
from keras_bigbird.patterns import legacy
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdAttention(BlockSparseAttention):
    """BigBird block-sparse multi-head self-attention (ITC variant).

    `BlockSparseAttention` with a `BigBirdPattern` (or, with
    `random_pattern="bigbird_original"`, an `OriginalBigBirdPattern`),
    built from the arguments BigBird users know. The sequence is cut into
    blocks of `block_size` tokens. The first and the last block of each
    example are global: they attend every key and every query attends them.
    Every other query block attends a sliding window of 3 blocks (itself
    and its neighbours) and `num_random_blocks` random key blocks per head,
    drawn without repeats among the blocks that are neither global nor in
    its window. Key and value blocks are gathered and multiplied block by
    block, so time and memory grow linearly with the sequence length.

    The weights are those of `keras.layers.MultiHeadAttention`, so
    `set_weights(mha.get_weights())` moves a trained dense layer to BigBird
    and back. Any length works. `attention_graph(seq_len, padding_mask,
    global_mask)` returns exactly which keys each query attends.

    The random blocks are a fixed function of `seed`, the head, the query
    block and the example's number of real blocks: the same seed gives the
    same pattern across calls, save/load and export, and an example's
    outputs do not change with the padding of its batch. With `seed=None` a
    seed is drawn once and stored in `get_config()`.

    Masks, global tokens (`global_mask`) and causal attention work as in
    `BlockSparseAttention`.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each attention head for query and key.
        value_dim: size of each attention head for value; defaults to
            `key_dim`.
        block_size: tokens per block.
        num_random_blocks: random key blocks per query block and head.
        seed: int in `[0, 2**31)` fixing the random pattern and the dropout;
            `None` draws one.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: last dimension(s) of the output; defaults to the last
            dimension of `query`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as for `keras.layers.MultiHeadAttention`.
        random_pattern: `"hashed"` (default: `BigBirdPattern`) or
            `"bigbird_original"`: exactly the random blocks the published
            BigBird checkpoints were trained with (`OriginalBigBirdPattern`:
            `seed` is then the numpy seed of the original generator, the
            layer index in those checkpoints).
        max_sequence_length: only for `"bigbird_original"`: the pattern's
            `table_length`.
        causal: attend only keys at or before each query.
        max_global_tokens: the most tokens `global_mask` may mark per
            example.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments: those of `BlockSparseAttention` (`query`, `value`,
    `key`, `padding_mask`, `global_mask`, Keras masks, `use_causal_mask`,
    `training`, `return_attention_scores`).

    Example:

    >>> import numpy as np
    >>> layer = BigBirdAttention(num_heads=2, key_dim=8, block_size=4,
    ...                          num_random_blocks=1, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(1, 30, 16)).astype("float32")
    >>> tuple(layer(x, padding_mask=np.arange(30)[None] < 27).shape)
    (1, 30, 16)
    >>> layer.attention_graph(30).shape
    (2, 30, 30)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        block_size=64,
        num_random_blocks=3,
        seed=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        random_pattern="hashed",
        max_sequence_length=4096,
        causal=False,
        max_global_tokens=64,
        **kwargs,
    ):
        checks.positive_int("max_sequence_length", max_sequence_length)
        pattern = legacy.bigbird_pattern(
            random_pattern, num_random_blocks, max_sequence_length
        )
        super().__init__(
            num_heads,
            key_dim,
            pattern=pattern,
            block_size=block_size,
            value_dim=value_dim,
            causal=causal,
            max_global_tokens=max_global_tokens,
            seed=seed,
            dropout=dropout,
            use_bias=use_bias,
            output_shape=output_shape,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.num_random_blocks = num_random_blocks
        self.random_pattern = random_pattern
        self.max_sequence_length = max_sequence_length

    def get_config(self):
        config = self._attention_config()
        config.update(
            {
                "num_random_blocks": self.num_random_blocks,
                "random_pattern": self.random_pattern,
                "max_sequence_length": self.max_sequence_length,
            }
        )
        return config
