"""`BigBirdEncoderBlock`: attention and feed-forward with residuals."""

import keras
import numpy as np
from keras import ops

from keras_bigbird import patterns
from keras_bigbird.layers.block_sparse_attention import BlockSparseAttention
from keras_bigbird.layers.masking import check_batch_by_length
from keras_bigbird.layers.masking import check_padding_mask
from keras_bigbird.layers.masking import merge_masks
from keras_bigbird.patterns import legacy
from keras_bigbird.utils import checks
from keras_bigbird.utils import seeds
from keras_bigbird.utils.initializers import clone_initializer

ATTENTION_TYPES = ("block_sparse", "original_full")


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdEncoderBlock(keras.layers.Layer):
    """One BigBird encoder layer: self-attention and feed-forward network.

    Each sublayer has a residual connection and a layer norm: after the
    residual (post-norm, as in BigBird, BERT and RoBERTa; the default) or
    before the sublayer (`normalize_first=True`). Dropout is applied to each
    sublayer output and, inside the attention, to the probabilities.

    The attention is selected by `attention_type`, always with the weights
    of `keras.layers.MultiHeadAttention` (so `set_weights` moves a trained
    block between the types):

    - `"block_sparse"`: `BlockSparseAttention` on `pattern` (default
      `BigBirdPattern()`: global, window and random blocks; any
      `keras_bigbird.patterns` object, e.g. `WindowPattern(3)` for the
      window alone).
    - `"original_full"`: `keras.layers.MultiHeadAttention`, dense attention
      (quadratic; the "original_full" mode of other BigBird code). Only this
      type takes a dense `attention_mask`.

    Masking: pass `padding_mask` (`[batch, length]`, True for real tokens)
    or let a Keras mask flow in; both are combined. Padded positions are
    never attended; their own outputs are finite but meaningless.

    Gradient checkpointing (`gradient_checkpointing=True`) wraps the whole
    block in `keras.remat` (`tf.recompute_grad` on TensorFlow,
    `jax.checkpoint` on JAX) when `training=True`: only the block input is
    kept for the backward pass and the block is recomputed there. The
    dropout random state of the block is captured before the forward pass
    and restored for the recomputation, so the recomputed dropout masks
    equal the forward ones and the gradients equal those without
    checkpointing.

    Args:
        num_heads: number of attention heads; must divide the hidden size.
        intermediate_dim: hidden size of the feed-forward network.
        pattern: the `AttentionPattern` of `"block_sparse"` (or its
            config); default `BigBirdPattern()`.
        block_size: tokens per attention block (`"block_sparse"`).
        attention_type: `"block_sparse"` or `"original_full"`.
        causal: attend only keys at or before each query.
        max_global_tokens: the most tokens `global_mask` may mark per
            example (`"block_sparse"`; dense attention needs no cap).
        activation: of the feed-forward network (default `"gelu"`, exact).
        dropout: dropout rate after the attention and the feed-forward.
        attention_dropout: dropout rate on the attention probabilities.
        layer_norm_epsilon: epsilon of the layer norms.
        normalize_first: pre-norm instead of post-norm.
        kernel_initializer, bias_initializer: of every dense sublayer.
        gradient_checkpointing: recompute the block in the backward pass.
        seed: seed of the random attention pattern and of the dropouts;
            `None` draws one (stored in the config).
        num_random_blocks, random_pattern, max_sequence_length: release
            0.1's pattern arguments, instead of `pattern` (a `BigBirdPattern`
            or, with `random_pattern="bigbird_original"`, an
            `OriginalBigBirdPattern` drawn for `max_sequence_length`
            tokens); `attention_type="window"` is `WindowPattern(3)`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[batch, length, hidden_dim]`.
        padding_mask: optional `[batch, length]`, True for real tokens.
        global_mask: optional `[batch, length]`, True for global tokens
            (they attend every key and every query attends them).
        attention_mask: optional dense `[batch, length, length]` or
            `[batch, heads, length, length]` mask; `"original_full"` only.
        training: whether dropout (and checkpointing) is active.

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.patterns import BigBirdPattern
    >>> block = BigBirdEncoderBlock(num_heads=2, intermediate_dim=32,
    ...                             pattern=BigBirdPattern(1), block_size=4,
    ...                             seed=0)
    >>> x = np.zeros((1, 40, 16), "float32")
    >>> tuple(block(x, padding_mask=np.arange(40)[None] < 35).shape)
    (1, 40, 16)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        pattern=None,
        block_size=64,
        attention_type="block_sparse",
        causal=False,
        max_global_tokens=64,
        activation="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        layer_norm_epsilon=1e-12,
        normalize_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        gradient_checkpointing=False,
        seed=None,
        num_random_blocks=None,
        random_pattern=None,
        max_sequence_length=4096,
        **kwargs,
    ):
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("intermediate_dim", intermediate_dim)
        checks.positive_int("block_size", block_size)
        checks.positive_int("max_sequence_length", max_sequence_length)
        attention_type, pattern = legacy.resolve_pattern(
            pattern,
            attention_type,
            num_random_blocks,
            random_pattern,
            table_length=max_sequence_length,
        )
        checks.non_negative_int("max_global_tokens", max_global_tokens)
        checks.rate("dropout", dropout)
        checks.rate("attention_dropout", attention_dropout)
        seed = seeds.resolve("seed", seed)
        super().__init__(**kwargs)
        self.supports_masking = True
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.pattern = pattern
        self.block_size = block_size
        self.attention_type = attention_type
        self.causal = bool(causal)
        self.max_global_tokens = max_global_tokens
        self.activation = keras.activations.get(activation)
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.gradient_checkpointing = bool(gradient_checkpointing)
        self.seed = seed

    def _initializers(self):
        return dict(
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
        )

    def _attention_layer(self, key_dim):
        common = dict(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.attention_dropout,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="self_attention",
            **self._initializers(),
        )
        if self.attention_type == "block_sparse":
            return BlockSparseAttention(
                pattern=self.pattern,
                block_size=self.block_size,
                causal=self.causal,
                max_global_tokens=self.max_global_tokens,
                **common,
            )
        return keras.layers.MultiHeadAttention(**common)

    def build(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "`inputs` must have rank 3 ([batch, length, hidden_dim]). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        hidden_dim = inputs_shape[-1]
        if hidden_dim is None or hidden_dim % self.num_heads:
            raise ValueError(
                "The hidden size (last dimension of `inputs`) must be a "
                "multiple of `num_heads`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={self.num_heads}"
            )
        policy = self.dtype_policy
        self._self_attention_layer = self._attention_layer(
            hidden_dim // self.num_heads
        )
        if self.attention_type == "original_full":
            self._self_attention_layer.build(inputs_shape, inputs_shape)
        else:
            self._self_attention_layer.build(inputs_shape)

        def layer_norm(name):
            norm = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=policy, name=name
            )
            norm.build(inputs_shape)
            return norm

        def dropout(index, name):
            return keras.layers.Dropout(
                self.dropout,
                seed=seeds.derive(self.seed, index),
                dtype=policy,
                name=name,
            )

        self._self_attention_layer_norm = layer_norm("self_attention_layer_norm")
        self._self_attention_dropout = dropout(1, "self_attention_dropout")
        self._feedforward_intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            dtype=policy,
            name="feedforward_intermediate_dense",
            **self._initializers(),
        )
        self._feedforward_intermediate_dense.build(inputs_shape)
        self._feedforward_output_dense = keras.layers.Dense(
            hidden_dim,
            dtype=policy,
            name="feedforward_output_dense",
            **self._initializers(),
        )
        self._feedforward_output_dense.build(
            (*inputs_shape[:-1], self.intermediate_dim)
        )
        self._feedforward_layer_norm = layer_norm("feedforward_layer_norm")
        self._feedforward_dropout = dropout(2, "feedforward_dropout")

    @property
    def attention_layer(self):
        """The self-attention sublayer (depends on `attention_type`)."""
        return self._self_attention_layer

    def attention_graph(self, seq_len, padding_mask=None, global_mask=None):
        """Which keys each query attends: numpy bool, as
        `BlockSparseAttention.attention_graph` (dense for
        `"original_full"`)."""
        if self.attention_type == "block_sparse":
            return self._self_attention_layer.attention_graph(
                seq_len, padding_mask, global_mask
            )
        checks.positive_int("seq_len", seq_len)
        graph = np.ones((1, self.num_heads, seq_len, seq_len), bool)
        if self.causal:
            graph &= np.tri(seq_len, dtype=bool)
        if padding_mask is None and global_mask is None:
            return graph[0]
        batch = np.shape(padding_mask if padding_mask is not None else global_mask)[0]
        graph = np.broadcast_to(graph, (batch, *graph.shape[1:])).copy()
        if padding_mask is not None:
            graph &= np.asarray(padding_mask, bool)[:, None, None, :]
        return graph

    def call(
        self,
        inputs,
        padding_mask=None,
        global_mask=None,
        attention_mask=None,
        training=None,
        mask=None,
    ):
        if attention_mask is not None and self.attention_type != "original_full":
            raise ValueError(
                "A dense `attention_mask` is only supported with "
                "attention_type='original_full' (it is not block-sparse). "
                "Pass a [batch, length] `padding_mask` instead. Received: "
                f"attention_type={self.attention_type!r}, attention_mask "
                f"with shape {tuple(attention_mask.shape)}"
            )
        if padding_mask is not None:
            # Before merging: a wrong shape would broadcast with the mask.
            padding_mask = check_padding_mask(padding_mask, inputs, "inputs")
        if global_mask is not None:
            global_mask = check_batch_by_length(
                global_mask, "global_mask", inputs, "inputs"
            )
            if self.attention_type == "original_full":
                # Dense attention: every token attends every key already.
                global_mask = None
        padding_mask = merge_masks(mask, padding_mask)
        if self.gradient_checkpointing and training:
            return self._rematerialized(
                inputs, padding_mask, global_mask, attention_mask, training
            )
        return self._forward(
            inputs, padding_mask, global_mask, attention_mask, training
        )

    def _rematerialized(
        self, inputs, padding_mask, global_mask, attention_mask, training
    ):
        # The only state the block changes while running is the dropout
        # random state (the seed generators, non-trainable). It is read
        # before the forward pass and restored at the start of `forward`, so
        # that TensorFlow's recomputation in the backward pass, which runs
        # `forward` again, draws the same dropout masks. JAX recomputes the
        # traced computation instead, so the states are returned as outputs
        # and assigned outside the checkpointed function (an assignment
        # made inside it would hold values of the inner trace).
        states = list(self.non_trainable_variables)
        # `ops.copy` reads the value now (on TensorFlow, converting the
        # variable itself would give the variable, read again later).
        snapshot = [ops.copy(v.value) for v in states]
        on_jax = keras.backend.backend() == "jax"

        def forward(x):
            if not on_jax:
                for variable, value in zip(states, snapshot):
                    variable.assign(value)
            y = self._forward(
                x, padding_mask, global_mask, attention_mask, training
            )
            if on_jax:
                return y, [ops.copy(v.value) for v in states]
            return y

        outputs = keras.remat(forward)(inputs)
        if on_jax:
            outputs, new_states = outputs
            for variable, value in zip(states, new_states):
                variable.assign(value)
        return outputs

    def _attend(self, x, padding_mask, global_mask, attention_mask, training):
        if self.attention_type != "original_full":
            return self._self_attention_layer(
                x,
                padding_mask=padding_mask,
                global_mask=global_mask,
                training=training,
            )
        mask = attention_mask
        if padding_mask is not None:
            keys = padding_mask[:, None, :]
            if mask is not None and len(mask.shape) == 4:
                keys = keys[:, None]
            mask = merge_masks(mask, keys)
        return self._self_attention_layer(
            x,
            x,
            attention_mask=mask,
            use_causal_mask=self.causal,
            training=training,
        )

    def _forward(self, x, padding_mask, global_mask, attention_mask, training):
        residual = x
        if self.normalize_first:
            x = self._self_attention_layer_norm(x)
        x = self._attend(x, padding_mask, global_mask, attention_mask, training)
        x = self._self_attention_dropout(x, training=training)
        x = ops.add(x, residual)
        if not self.normalize_first:
            x = self._self_attention_layer_norm(x)

        residual = x
        if self.normalize_first:
            x = self._feedforward_layer_norm(x)
        x = self._feedforward_intermediate_dense(x)
        x = self._feedforward_output_dense(x)
        x = self._feedforward_dropout(x, training=training)
        x = ops.add(x, residual)
        if not self.normalize_first:
            x = self._feedforward_layer_norm(x)
        return x

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "pattern": patterns.serialize(self.pattern),
                "block_size": self.block_size,
                "attention_type": self.attention_type,
                "causal": self.causal,
                "max_global_tokens": self.max_global_tokens,
                "activation": serialize(self.activation),
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "gradient_checkpointing": self.gradient_checkpointing,
                "seed": self.seed,
            }
        )
        return config
