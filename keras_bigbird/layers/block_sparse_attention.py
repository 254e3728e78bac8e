"""`BlockSparseAttention`: multi-head self-attention on any block pattern."""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_bigbird import patterns as patterns_lib
from keras_bigbird.layers.masking import check_batch_by_length
from keras_bigbird.layers.masking import check_padding_mask
from keras_bigbird.layers.masking import merge_masks
from keras_bigbird.ops import block_graph as block_graph_lib
from keras_bigbird.ops import block_sparse
from keras_bigbird.utils import checks
from keras_bigbird.utils import seeds
from keras_bigbird.utils.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BlockSparseAttention(keras.layers.Layer):
    """Multi-head self-attention restricted to an attention pattern.

    The sequence is cut into blocks of `block_size` tokens and `pattern`
    (a `keras_bigbird.patterns.AttentionPattern`) says which key blocks
    each query block attends, per head, and which query blocks attend every
    key. Key and value blocks are gathered and multiplied block by block,
    so time and memory grow linearly with the length for patterns with a
    bounded number of key blocks per query block. The result is exactly
    dense softmax attention restricted to `attention_graph(...)`.

    The layer has the sublayers, weight names, shapes and order of
    `keras.layers.MultiHeadAttention` (`query_dense`, `key_dense`,
    `value_dense`, `output_dense`), so `set_weights(mha.get_weights())`
    moves a trained dense layer to a sparse pattern and back.

    Any length works: lengths that are not a multiple of `block_size` are
    padded inside the layer and cut on return. When the length is known
    while tracing and the sparse path would compute no fewer scores than
    dense attention, an exact dense path restricted to the same graph is
    taken.

    Global tokens (ETC, Longformer): `global_mask` (`[batch, length]`, True
    for global tokens) makes tokens attend every key and be attended by
    every query, on top of the pattern. At most `max_global_tokens` per
    example (a static cap, so the cost stays linear): more is a
    `ValueError` in eager mode and a failed assertion in a TensorFlow
    graph; under XLA and `jax.jit`, where no assertion can stop the
    program, the first `max_global_tokens` are global and the rest are not.
    With `global_mask=None` they cost nothing.

    Causal graphs: `causal=True` (or `use_causal_mask=True` in the call)
    restricts the pattern to keys `j <= i`. Patterns that draw random
    blocks draw them among earlier blocks.

    Masking: pass `padding_mask` (`[batch, length]`, True for real tokens)
    or let a Keras mask flow in. Padded keys get exactly zero weight;
    padded query rows still give a finite output, and a row without any
    attendable key gives zero attention output. For patterns with
    `per_example` (every built-in but `OriginalBigBirdPattern`), each
    example's graph comes from its own real length (up to its last real
    token), so its outputs do not depend on the padding or on the other
    examples of the batch. A dense `attention_mask` and cross-attention
    between sequences of different lengths are not block-sparse and raise
    a `ValueError`.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each attention head for query and key.
        pattern: an `AttentionPattern` (or its config); default
            `BigBirdPattern()`.
        block_size: tokens per block.
        value_dim: size of each attention head for value; defaults to
            `key_dim`.
        causal: attend only keys at or before each query.
        max_global_tokens: the most tokens `global_mask` may mark per
            example.
        seed: int in `[0, 2**31)` fixing the pattern's random blocks and
            the dropout; `None` draws one (stored in `get_config()`).
        dropout: dropout rate on the attention probabilities (training).
        use_bias: whether the projections have biases.
        output_shape: last dimension(s) of the output; defaults to the last
            dimension of `query`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as for `keras.layers.MultiHeadAttention`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `[batch, length, dim]`.
        value: optional, `[batch, length, value_dim]`; defaults to `query`.
        key: optional, defaults to `value`.
        padding_mask: optional bool/int `[batch, length]`, True for the
            keys that may be attended.
        global_mask: optional bool/int `[batch, length]`, True for global
            tokens.
        mask, query_mask, value_mask, key_mask: Keras masks, which Keras
            fills from the inputs' masks. They mask keys, AND-ed with
            `padding_mask`: `value_mask` and `key_mask` when `value` is
            given, and with `value` omitted (the keys are then the query
            itself) the query's mask, `mask` or `query_mask`. With `value`
            given `query_mask` changes nothing, as in `MultiHeadAttention`.
        use_causal_mask: causal for this call.
        training: whether dropout is active.
        return_attention_scores: also return the attention probabilities as
            a dense `[batch, heads, length, length]` tensor (quadratic in the
            length: for inspection only).

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.patterns import WindowPattern
    >>> layer = BlockSparseAttention(num_heads=2, key_dim=8,
    ...                              pattern=WindowPattern(5), block_size=4)
    >>> x = np.random.default_rng(0).normal(size=(1, 30, 16)).astype("float32")
    >>> tuple(layer(x, global_mask=np.arange(30)[None] == 12).shape)
    (1, 30, 16)
    >>> layer.attention_graph(30).shape
    (2, 30, 30)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
        - [Ainslie et al., 2020 (ETC)](https://arxiv.org/abs/2004.08483)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        pattern=None,
        block_size=64,
        value_dim=None,
        causal=False,
        max_global_tokens=64,
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
        **kwargs,
    ):
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("key_dim", key_dim)
        if value_dim is not None:
            checks.positive_int("value_dim", value_dim)
        checks.positive_int("block_size", block_size)
        checks.non_negative_int("max_global_tokens", max_global_tokens)
        seed = seeds.resolve("seed", seed)
        checks.rate("dropout", dropout)
        if output_shape is not None:
            output_shape = checks.shape_tuple("output_shape", output_shape)
        # The base layer applies `activity_regularizer` to our output.
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.pattern = patterns_lib.get(pattern)
        self.block_size = block_size
        self.causal = bool(causal)
        self.max_global_tokens = max_global_tokens
        self.seed = seed
        self.dropout = dropout
        self.use_bias = use_bias
        self._output_shape = output_shape
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self._dropout_layer = keras.layers.Dropout(
            dropout, seed=seed, dtype=self.dtype_policy
        )

    def _sublayer_kwargs(self):
        return dict(
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
        )

    def _projection(self, depth, name):
        # The equation of MultiHeadAttention for rank-3 inputs, so that the
        # weights have the same shapes ([dim, heads, depth], bias [heads,
        # depth]).
        return keras.layers.EinsumDense(
            "abc,cde->abde",
            output_shape=(None, self.num_heads, depth),
            bias_axes="de" if self.use_bias else None,
            name=name,
            **self._sublayer_kwargs(),
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (
            ("query", query_shape),
            ("value", value_shape),
            ("key", key_shape),
        ):
            if len(shape) != 3:
                raise ValueError(
                    f"`{name}` must have rank 3 ([batch, length, dim]). "
                    f"Received: {name}.shape={tuple(shape)}"
                )
        self._query_dense = self._projection(self.key_dim, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._projection(self.key_dim, "key")
        self._key_dense.build(key_shape)
        self._value_dense = self._projection(self.value_dim, "value")
        self._value_dense.build(value_shape)
        output_dims = self._output_shape or (query_shape[-1],)
        letters = "efghij"[: len(output_dims)]
        # Takes the attention output as [batch, heads, length, depth]; the
        # kernel is [heads, depth, *output] as in MultiHeadAttention.
        self._output_dense = keras.layers.EinsumDense(
            f"acbd,cd{letters}->ab{letters}",
            output_shape=(None, *output_dims),
            bias_axes=letters if self.use_bias else None,
            name="attention_output",
            **self._sublayer_kwargs(),
        )
        self._output_dense.build(
            (query_shape[0], self.num_heads, query_shape[1], self.value_dim)
        )

    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def attention_graph(
        self, seq_len, padding_mask=None, global_mask=None, causal=None
    ):
        """Which keys each query attends: numpy bool.

        `[heads, seq_len, seq_len]`, or `[batch, heads, seq_len, seq_len]`
        when `padding_mask` or `global_mask` (`[batch, seq_len]`) is
        given: entry `[b, h, i, j]` is True exactly when query `i` attends
        key `j` in head `h` (with `padding_mask`, padded keys are never
        attended). `causal` defaults to the layer's. Computed with numpy
        from the pattern's block graph (`patterns.block_adjacency`), apart
        from the layer's own in-graph code. Quadratic in `seq_len`: for
        tests, pictures and short sequences.
        """
        checks.positive_int("seq_len", seq_len)
        causal = self.causal if causal is None else bool(causal)
        per_example = padding_mask is not None or global_mask is not None
        probe = np.zeros((1, seq_len, 1), "float32")
        masks = {}
        for name, mask in (("padding_mask", padding_mask), ("global_mask", global_mask)):
            if mask is not None:
                mask = np.asarray(ops.convert_to_numpy(mask))
                probe = np.zeros((mask.shape[0], seq_len, 1), "float32")
                check_batch_by_length(mask, name, probe, "query")
                masks[name] = mask.astype(bool)
        batch = probe.shape[0]
        key_mask = masks.get("padding_mask", np.ones((batch, seq_len), bool))
        block = self.block_size
        num_blocks = -(-seq_len // block)
        real_blocks = None
        if "padding_mask" in masks:
            last = np.max(np.where(key_mask, np.arange(1, seq_len + 1), 0), axis=1)
            real_blocks = np.maximum(-(-last // block), 1)
        blocks = patterns_lib.block_adjacency(
            self.pattern, num_blocks, self.num_heads, self.seed,
            real_blocks=real_blocks, causal=causal, block_size=block,
        )
        token_block = np.arange(seq_len) // block
        graph = blocks[:, :, token_block][:, :, :, token_block]
        graph = np.broadcast_to(graph, (batch, *graph.shape[1:])).copy()
        if "global_mask" in masks:
            if not self.max_global_tokens:
                self._check_global_mask(masks["global_mask"], probe)
            is_global = masks["global_mask"] & key_mask
            count = int(is_global.sum(axis=1).max(initial=0))
            if count > self.max_global_tokens:
                raise ValueError(
                    "More global tokens than `max_global_tokens` "
                    f"({self.max_global_tokens}) in an example. Received: "
                    f"{count} global tokens in an example"
                )
            graph |= is_global[:, None, :, None] | is_global[:, None, None, :]
        graph &= key_mask[:, None, None, :]
        if causal:
            graph &= np.tri(seq_len, dtype=bool)
        return graph if per_example else graph[0]

    def _check_global_mask(self, global_mask, query):
        if not self.max_global_tokens:
            raise ValueError(
                "This layer takes no global tokens: build it with "
                "`max_global_tokens` > 0 to pass `global_mask`. Received: "
                f"max_global_tokens={self.max_global_tokens}"
            )
        global_mask = check_batch_by_length(
            global_mask, "global_mask", query, "query"
        )
        return ops.cast(global_mask, "bool")

    def _key_mask(self, query, padding_mask, keras_masks):
        """One bool `[batch, length]` mask of `padding_mask` and Keras masks,
        or None when there is none (every key is real)."""
        if padding_mask is not None:
            padding_mask = check_padding_mask(padding_mask, query)
        return merge_masks(*keras_masks, padding_mask)

    def _split_heads(self, dense, x):
        # [batch, length, heads, depth] -> [batch, heads, length, depth]
        return ops.transpose(dense(x), (0, 2, 1, 3))

    def call(
        self,
        query,
        value=None,
        key=None,
        padding_mask=None,
        global_mask=None,
        mask=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
        return_attention_scores=False,
    ):
        # Keras fills these from the inputs' Keras masks: `mask` when `query`
        # is the only tensor argument, `query_mask`, `value_mask`, `key_mask`
        # otherwise.
        if query_mask is None:
            query_mask = mask
        if attention_mask is not None:
            raise ValueError(
                f"{type(self).__name__} does not take a dense "
                "`attention_mask`: a [batch, T, S] mask is not block-sparse. "
                "Pass a [batch, length] `padding_mask` (or a Keras mask), "
                "`global_mask` or `causal=True` instead. Received: "
                f"attention_mask with shape {tuple(attention_mask.shape)}"
            )
        # In self-attention the query's Keras mask is the keys' mask.
        keras_masks = (query_mask,) if value is None else (value_mask, key_mask)
        value = query if value is None else value
        key = value if key is None else key
        q_len, k_len = query.shape[1], key.shape[1]
        if (
            value.shape[1] != k_len
            or (q_len is not None and k_len is not None and q_len != k_len)
        ):
            raise ValueError(
                f"{type(self).__name__} is block-sparse self-attention: "
                "`query`, `key` and `value` must have the same length "
                "(cross-attention between different lengths is not "
                f"block-sparse). Received: query.shape={tuple(query.shape)}, "
                f"key.shape={tuple(key.shape)}, "
                f"value.shape={tuple(value.shape)}"
            )
        attend = self._key_mask(query, padding_mask, keras_masks)
        if global_mask is not None:
            global_mask = self._check_global_mask(global_mask, query)
        causal = self.causal or bool(use_causal_mask)

        # The projections do not take masks; hand them fresh tensors (the mask
        # lives on the input object) so Keras does not warn that they drop it.
        if query_mask is not None or value_mask is not None or key_mask is not None:
            query, value, key = (ops.copy(t) for t in (query, value, key))
        q = self._split_heads(self._query_dense, query)
        q = ops.multiply(q, ops.cast(1.0 / math.sqrt(self.key_dim), q.dtype))
        k = self._split_heads(self._key_dense, key)
        v = self._split_heads(self._value_dense, value)

        dropout = None
        if self.dropout > 0:
            dropout = functools.partial(self._dropout_layer, training=training)
        length = ops.shape(q)[2]
        output, probs = self._attend(
            q, k, v, attend, global_mask, causal, dropout,
            return_attention_scores,
        )
        # Keras sets the query's mask on the output (`supports_masking`).
        output = self._output_dense(output[:, :, :length])
        if return_attention_scores:
            return output, probs[:, :, :length, :length]
        return output

    def _padded_masks(self, length, batch, key_mask, global_mask):
        """Masks padded to whole blocks: `(key_mask, global_mask, length)`.

        `key_mask` None (every key real) stays None only where the padding
        adds no key.
        """
        block = self.block_size
        if isinstance(length, int):
            # Python arithmetic: under `jax.jit` `ops.maximum` of ints gives a
            # tracer, and `ops.pad` and `arange` need concrete sizes.
            padded = max(-(-length // block), 1) * block
        else:
            padded = ops.maximum((length + block - 1) // block, 1) * block
        pad = padded - length
        if key_mask is None and not (isinstance(pad, int) and pad == 0):
            key_mask = ops.ones((batch, length), "bool")
        if key_mask is not None:
            key_mask = ops.pad(ops.cast(key_mask, "bool"), ((0, 0), (0, pad)))
        if global_mask is not None:
            global_mask = ops.pad(global_mask, ((0, 0), (0, pad)))
        return key_mask, global_mask, padded

    def _block_graph(self, padded, key_mask, global_mask, causal):
        return block_graph_lib.build_block_graph(
            self.pattern,
            padded,
            self.num_heads,
            self.block_size,
            self.seed,
            key_mask,
            global_mask=global_mask,
            max_global_tokens=self.max_global_tokens,
            causal=causal,
        )

    def _full_mask(self, key_mask, length, causal):
        """Every key (real, and not after the query when causal)."""
        mask = ops.ones((1, 1, 1, length), "bool")
        if key_mask is not None:
            mask = key_mask[:, None, None, :]
        if causal:
            positions = ops.arange(length, dtype="int32")
            mask = ops.logical_and(mask, positions[None, :] <= positions[:, None])
        return mask

    def _attend(
        self, q, k, v, key_mask, global_mask, causal, dropout, return_probs
    ):
        length = q.shape[2] if q.shape[2] is not None else ops.shape(q)[2]
        batch = ops.shape(q)[0]
        key_mask, global_mask, padded = self._padded_masks(
            length, batch, key_mask, global_mask
        )
        pad = padded - length
        pad_widths = ((0, 0), (0, 0), (0, pad), (0, 0))
        q, k, v = (ops.pad(x, pad_widths) for x in (q, k, v))
        num_blocks = padded // self.block_size

        def full():
            mask = self._full_mask(key_mask, padded, causal)
            return block_sparse.dense_attention(q, k, v, mask, dropout)

        def sparse():
            graph = self._block_graph(padded, key_mask, global_mask, causal)
            if (
                isinstance(padded, int)
                and not self.pattern.repeats_keys
                and num_blocks <= graph.slots
            ):
                # Dense is cheaper here; the mask is the same graph.
                mask = block_sparse.dense_mask(graph, padded)
                return block_sparse.dense_attention(q, k, v, mask, dropout)
            return block_sparse.block_sparse_attention(
                q, k, v, graph, dropout, return_probs
            )

        is_full = self.pattern.full_attention(num_blocks, self.block_size)
        if is_full is True:
            return full()
        if is_full is False:
            return sparse()
        # Only known when the graph runs: one branch runs.
        if return_probs:
            return ops.cond(is_full, full, sparse)
        output = ops.cond(is_full, lambda: full()[0], lambda: sparse()[0])
        return output, None

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        output_dims = self._output_shape or (query_shape[-1],)
        return (query_shape[0], query_shape[1], *output_dims)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        padding_mask=None,
        global_mask=None,
        mask=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
        return_attention_scores=False,
    ):
        output = keras.KerasTensor(
            self.compute_output_shape(query.shape), dtype=self.compute_dtype
        )
        if return_attention_scores:
            length = query.shape[1]
            scores = keras.KerasTensor(
                (query.shape[0], self.num_heads, length, length),
                dtype=self.compute_dtype,
            )
            return output, scores
        return output

    def _attention_config(self):
        """The config of everything but the pattern arguments."""
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "block_size": self.block_size,
                "causal": self.causal,
                "max_global_tokens": self.max_global_tokens,
                "seed": self.seed,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self._output_shape,
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "kernel_constraint": serialize(self.kernel_constraint),
                "bias_constraint": serialize(self.bias_constraint),
            }
        )
        return config

    def get_config(self):
        config = self._attention_config()
        config["pattern"] = patterns_lib.serialize(self.pattern)
        return config
