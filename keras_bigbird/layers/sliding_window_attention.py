"""`SlidingWindowAttention`: the window part of BigBird alone (an ablation)."""

import math

import keras
import numpy as np
from keras import ops

from keras_bigbird.layers.masking import check_padding_mask
from keras_bigbird.utils import checks
from keras_bigbird.utils import seeds


def _masked_softmax(scores, mask):
    """Softmax in float32 over the True entries of `mask`, exactly 0 elsewhere.

    A row without any True entry gets zeros (not NaN).
    """
    mask = ops.cast(mask, "float32")
    logits = ops.cast(scores, "float32") - (1.0 - mask) * 1e9
    exp = ops.exp(logits - ops.max(logits, axis=-1, keepdims=True)) * mask
    total = ops.maximum(ops.sum(exp, axis=-1, keepdims=True), 1e-30)
    return ops.cast(exp / total, scores.dtype)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class SlidingWindowAttention(keras.layers.Layer):
    """Blocked sliding-window self-attention: no global, no random blocks.

    The sequence is cut into blocks of `block_size` tokens and every query
    block attends only its own block and its two neighbours, the window of
    `BigBirdAttention` without its global and random blocks. It is the
    baseline of the BigBird paper's ablation: information travels at most
    `1.5 * block_size` tokens per layer on average, so it cannot solve tasks
    that need tokens far apart. Time and memory are linear in the length.

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
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        query: `[batch, length, dim]`. Self-attention only: unlike
            `MultiHeadAttention`, there is no `value` argument.
        padding_mask: optional `[batch, length]`, True for real tokens;
            combined (AND) with the Keras mask of `query`, if any.
        training: whether dropout is active.

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
        **kwargs,
    ):
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("key_dim", key_dim)
        checks.positive_int("block_size", block_size)
        checks.rate("dropout", dropout)
        seed = seeds.resolve("seed", seed)
        super().__init__(**kwargs)
        self.supports_masking = True
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.block_size = block_size
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self._dropout_layer = keras.layers.Dropout(
            dropout, seed=seed, dtype=self.dtype_policy
        )

    def _dense(self, equation, output_shape, bias_axes, name):
        def clone(initializer):
            return initializer.__class__.from_config(initializer.get_config())

        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=clone(self.kernel_initializer),
            bias_initializer=clone(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape):
        if len(query_shape) != 3:
            raise ValueError(
                "`query` must have rank 3 ([batch, length, dim]). Received: "
                f"query.shape={tuple(query_shape)}"
            )
        shape = (None, self.num_heads, self.key_dim)
        self.query_dense = self._dense("abc,cde->abde", shape, "de", "query")
        self.key_dense = self._dense("abc,cde->abde", shape, "de", "key")
        self.value_dense = self._dense("abc,cde->abde", shape, "de", "value")
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(query_shape)
        self.output_dense = self._dense(
            "abcd,cde->abe", (None, query_shape[-1]), "e", "attention_output"
        )
        self.output_dense.build(
            (query_shape[0], query_shape[1], self.num_heads, self.key_dim)
        )

    def attention_graph(self, seq_len):
        """Which keys each query attends: numpy bool `[heads, seq, seq]`."""
        checks.positive_int("seq_len", seq_len)
        blocks = np.arange(seq_len) // self.block_size
        band = np.abs(blocks[:, None] - blocks[None, :]) <= 1
        return np.broadcast_to(band, (self.num_heads, seq_len, seq_len)).copy()

    def call(
        self, query, padding_mask=None, training=None, mask=None, query_mask=None
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
            padding_mask = check_padding_mask(padding_mask, query)
        block = self.block_size
        batch, length = ops.shape(query)[0], ops.shape(query)[1]
        key_mask = ops.ones((batch, length), "bool")
        # Keras passes the query's Keras mask as `mask`, or as `query_mask`
        # when `padding_mask` is a second tensor argument.
        for m in (mask, query_mask, padding_mask):
            if m is not None:
                key_mask = ops.logical_and(key_mask, ops.cast(m, "bool"))
        if mask is not None or query_mask is not None:
            # The projections do not take masks: a fresh tensor (the mask
            # lives on the input object) keeps Keras from warning.
            query = ops.copy(query)
        scale = ops.cast(1.0 / math.sqrt(self.key_dim), query.dtype)
        # [batch, length, heads, depth]
        q = self.query_dense(query) * scale
        k = self.key_dense(query)
        v = self.value_dense(query)
        num_blocks = (length + block - 1) // block
        pad = num_blocks * block - length

        def blocks(x):
            # [batch, length, heads, depth] -> [batch, blocks, block, heads, d]
            x = ops.pad(x, ((0, 0), (0, pad), (0, 0), (0, 0)))
            return ops.reshape(x, (batch, -1, block, self.num_heads, x.shape[-1]))

        def window(x):
            # Left neighbour, itself, right neighbour along the block axis.
            widths = [(0, 0)] * len(x.shape)
            widths[1] = (1, 1)
            x = ops.pad(x, widths)
            return ops.concatenate(
                [x[:, :-2], x[:, 1:-1], x[:, 2:]], axis=2
            )

        q, k, v = blocks(q), window(blocks(k)), window(blocks(v))
        key_mask = ops.pad(key_mask, ((0, 0), (0, pad)))
        key_mask = window(ops.reshape(key_mask, (batch, -1, block)))
        scores = ops.einsum("bnqhd,bnkhd->bhnqk", q, k)
        probs = _masked_softmax(scores, key_mask[:, None, :, None, :])
        if self.dropout > 0:
            probs = self._dropout_layer(probs, training=training)
        output = ops.einsum("bhnqk,bnkhd->bnqhd", probs, v)
        output = ops.reshape(output, (batch, -1, self.num_heads, self.key_dim))
        return self.output_dense(output[:, :length])

    def compute_output_shape(self, query_shape):
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "block_size": self.block_size,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "seed": self.seed,
            }
        )
        return config
