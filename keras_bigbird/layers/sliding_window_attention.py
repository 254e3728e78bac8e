"""`SlidingWindowAttention`: the window part of BigBird alone (an ablation)."""

import keras
from keras import ops

from keras_bigbird.layers.block_sparse_attention import BlockSparseAttention
from keras_bigbird.patterns import WindowPattern


@keras.saving.register_keras_serializable(package="keras_bigbird")
class SlidingWindowAttention(BlockSparseAttention):
    """Blocked sliding-window self-attention: no global, no random blocks.

    `BlockSparseAttention` with a `WindowPattern`: the sequence is cut into
    blocks of `block_size` tokens and every query block attends only the
    `num_window_blocks` blocks around it (by default itself and its two
    neighbours), the window of `BigBirdAttention` without its global and
    random blocks. It is the baseline of the BigBird paper's ablation:
    information travels at most `(num_window_blocks // 2) * block_size`
    tokens per layer, so it cannot solve tasks that need tokens far apart.
    Time and memory are linear in the length.

    Weights are those of `keras.layers.MultiHeadAttention` and
    `BigBirdAttention` (`query`, `key`, `value`, `attention_output`), so
    weights move between the three.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head.
        block_size: tokens per block.
        dropout: dropout rate on the attention probabilities.
        use_bias: whether the projections have biases.
        kernel_initializer, bias_initializer: of the projections.
        seed: seed of the dropout; `None` draws one (stored in the config).
        num_window_blocks: odd width of the window, in blocks.
        dilation: distance between the window's blocks.
        causal: attend only keys at or before each query.
        max_global_tokens: the most tokens `global_mask` may mark.
        **kwargs: other `BlockSparseAttention` arguments (`value_dim`,
            `output_shape`, regularizers, constraints) and base
            `keras.layers.Layer` arguments.

    Call arguments:
        query: `[batch, length, dim]`. Self-attention only: unlike
            `MultiHeadAttention`, there is no `value` argument.
        padding_mask: optional `[batch, length]`, True for real tokens;
            combined (AND) with the Keras mask of `query`, if any.
        global_mask: optional `[batch, length]`, True for global tokens.
        training: whether dropout is active.
        return_attention_scores: also return dense probabilities.

    Example:

    >>> import numpy as np
    >>> layer = SlidingWindowAttention(num_heads=2, key_dim=4, block_size=4)
    >>> tuple(layer(np.zeros((1, 10, 8), "float32")).shape)
    (1, 10, 8)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062), Table 1.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        block_size=64,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        num_window_blocks=3,
        dilation=1,
        causal=False,
        max_global_tokens=64,
        **kwargs,
    ):
        kwargs.pop("pattern", None)  # always the window (from_config)
        super().__init__(
            num_heads,
            key_dim,
            pattern=WindowPattern(num_window_blocks, dilation),
            block_size=block_size,
            causal=causal,
            max_global_tokens=max_global_tokens,
            seed=seed,
            dropout=dropout,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.num_window_blocks = num_window_blocks
        self.dilation = dilation

    def build(self, query_shape):
        super().build(query_shape)

    def call(
        self,
        query,
        padding_mask=None,
        global_mask=None,
        training=None,
        mask=None,
        query_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
    ):
        if padding_mask is not None:
            padding_mask = ops.convert_to_tensor(padding_mask)
            if len(padding_mask.shape) == 3:
                raise ValueError(
                    "SlidingWindowAttention is self-attention: call it as "
                    "`layer(query)`; its second argument is `padding_mask` "
                    "([batch, length]), not a `value`. Received: "
                    f"padding_mask.shape={tuple(padding_mask.shape)}"
                )
        # Keras passes the query's Keras mask as `mask`, or as `query_mask`
        # when `padding_mask` is a second tensor argument.
        return super().call(
            query,
            padding_mask=padding_mask,
            global_mask=global_mask,
            query_mask=query_mask if query_mask is not None else mask,
            use_causal_mask=use_causal_mask,
            training=training,
            return_attention_scores=return_attention_scores,
        )

    def compute_output_spec(self, query, *args, **kwargs):
        return super().compute_output_spec(
            query, return_attention_scores=kwargs.get(
                "return_attention_scores", False)
        )

    def get_config(self):
        config = self._attention_config()
        config.update(
            {
                "num_window_blocks": self.num_window_blocks,
                "dilation": self.dilation,
            }
        )
        return config
