"""`BigBirdAttention`: block-sparse self-attention, a drop-in for MHA."""

import math

import keras
import numpy as np
from keras import ops

from keras_bigbird.layers.masking import check_padding_mask
from keras_bigbird.ops import block_sparse
from keras_bigbird.ops import original_pattern
from keras_bigbird.ops import random_pattern
from keras_bigbird.utils import checks

RANDOM_PATTERNS = ("hashed", "bigbird_original")


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdAttention(keras.layers.Layer):
    """BigBird block-sparse multi-head self-attention (ITC variant).

    The sequence is cut into blocks of `block_size` tokens. The first and the
    last block are global: they attend every key and every query attends
    them. Every other query block attends a sliding window of 3 blocks
    (itself and its neighbours) and `num_random_blocks` random key blocks per
    head, drawn without repeats among the blocks that are neither global nor
    in its window. Key and value blocks are gathered and multiplied block by
    block, so time and memory grow linearly with the sequence length.

    The layer has the same sublayers, weight names, shapes and order as
    `keras.layers.MultiHeadAttention` (`query_dense`, `key_dense`,
    `value_dense`, `output_dense`), so `set_weights(mha.get_weights())` moves
    a trained dense layer to BigBird and back.

    Any length works: lengths that are not a multiple of `block_size` are
    padded inside the layer and cut on return; when the length is known
    while tracing and the sparse path would compute no fewer scores than
    dense attention, an exact dense path restricted to the same graph is
    taken. `attention_graph(seq_len)` returns exactly which keys each query
    attends.

    The random blocks are a fixed function of `seed`, the head and the
    number of blocks: the same seed gives the same pattern across calls,
    save/load and export. With `seed=None` a seed is drawn once and stored in
    `get_config()`.

    Masking: pass `padding_mask` (`[batch, length]`, True for real tokens) or
    let a Keras mask (for example from `Embedding(mask_zero=True)`) flow in.
    Padded keys get exactly zero weight. Padded query rows still produce a
    finite output (attention over the real keys), and a row without any
    attendable key gives zero attention output. A dense `attention_mask`,
    causal masking and cross-attention between sequences of different
    lengths are not block-sparse and raise a `ValueError`.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each attention head for query and key.
        value_dim: size of each attention head for value; defaults to
            `key_dim`.
        block_size: tokens per block.
        num_random_blocks: random key blocks per middle query block and head.
        seed: int in `[0, 2**31)` fixing the random pattern and the dropout;
            `None` draws one.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: last dimension(s) of the output; defaults to the last
            dimension of `query`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint: as for `keras.layers.MultiHeadAttention`.
        random_pattern: `"hashed"` (default: the in-graph pattern above) or
            `"bigbird_original"`: exactly the random blocks the published
            BigBird checkpoints were trained with (google-research code,
            transformers in `train()` mode; see
            `keras_bigbird.ops.original_pattern`). `seed` is then the numpy
            seed of the original generator, the layer index in those
            checkpoints, and lengths of at most `(5 + 2 *
            num_random_blocks) * block_size` tokens use full attention, as
            in the original.
        max_sequence_length: only for `"bigbird_original"`: the length the
            original draws its 1024/3072/4096-token tables for
            (`max_position_embeddings`), and the longest length served when
            the length is unknown while tracing.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `[batch, length, dim]`.
        value: optional, `[batch, length, value_dim]`; defaults to `query`.
        key: optional, defaults to `value`.
        padding_mask: optional bool/int `[batch, length]`, True for the
            keys that may be attended.
        mask, query_mask, value_mask, key_mask: Keras masks, which Keras
            fills from the inputs' masks. They mask keys, AND-ed with
            `padding_mask`: `value_mask` and `key_mask` when `value` is
            given, and with `value` omitted (the keys are then the query
            itself) the query's mask, `mask` or `query_mask`. Query rows are
            never masked (a padded query row is computed like any other), so
            with `value` given `query_mask` changes nothing, as in
            `MultiHeadAttention`.
        training: whether dropout is active.
        return_attention_scores: also return the attention probabilities as
            a dense `[batch, heads, length, length]` tensor (quadratic in the
            length: for inspection only).

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
        **kwargs,
    ):
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("key_dim", key_dim)
        if value_dim is not None:
            checks.positive_int("value_dim", value_dim)
        checks.positive_int("block_size", block_size)
        checks.non_negative_int("num_random_blocks", num_random_blocks)
        if seed is None:
            # A fresh generator: numpy's global random state stays untouched.
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        checks.int_in_range("seed", seed, 0, 2**31 - 1)
        checks.rate("dropout", dropout)
        checks.one_of("random_pattern", random_pattern, RANDOM_PATTERNS)
        checks.positive_int("max_sequence_length", max_sequence_length)
        if output_shape is not None:
            output_shape = checks.shape_tuple("output_shape", output_shape)
        # The base layer applies `activity_regularizer` to our output.
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.block_size = block_size
        self.num_random_blocks = num_random_blocks
        self.seed = seed
        self.random_pattern = random_pattern
        self.max_sequence_length = max_sequence_length
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
        # Fresh initializer instances so that the four kernels differ.
        def clone(initializer):
            return initializer.__class__.from_config(initializer.get_config())

        return dict(
            kernel_initializer=clone(self.kernel_initializer),
            bias_initializer=clone(self.bias_initializer),
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

    def attention_graph(self, seq_len):
        """Which keys each query attends: numpy bool `[heads, seq, seq]`.

        Entry `[h, i, j]` is True exactly when query `i` attends key `j` in
        head `h`, before padding masks. Quadratic in `seq_len`.
        """
        checks.positive_int("seq_len", seq_len)
        if self.random_pattern == "bigbird_original":
            return original_pattern.attention_graph(
                seq_len,
                self.block_size,
                self.num_heads,
                self.num_random_blocks,
                self.seed,
                self.max_sequence_length,
            )
        return random_pattern.attention_graph(
            seq_len,
            self.block_size,
            self.num_heads,
            self.num_random_blocks,
            self.seed,
        )

    def _key_mask(self, query, padding_mask, keras_masks):
        """One bool `[batch, length]` mask: `padding_mask` and Keras masks."""
        masks = [m for m in keras_masks if m is not None]
        if padding_mask is not None:
            masks.append(check_padding_mask(padding_mask, query))
        if not masks:
            return ops.ones(ops.shape(query)[:2], "bool")
        mask = ops.cast(masks[0], "bool")
        for other in masks[1:]:
            mask = ops.logical_and(mask, ops.cast(other, "bool"))
        return mask

    def _split_heads(self, dense, x):
        # [batch, length, heads, depth] -> [batch, heads, length, depth]
        return ops.transpose(dense(x), (0, 2, 1, 3))

    def call(
        self,
        query,
        value=None,
        key=None,
        padding_mask=None,
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
                "BigBirdAttention does not take a dense `attention_mask`: a "
                "[batch, T, S] mask is not block-sparse. Pass a [batch, "
                "length] `padding_mask` (or a Keras mask) instead. Received: "
                f"attention_mask with shape {tuple(attention_mask.shape)}"
            )
        if use_causal_mask:
            raise ValueError(
                "BigBirdAttention is bidirectional: causal masking is not "
                "supported. Received: use_causal_mask=True"
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
                "BigBirdAttention is block-sparse self-attention: `query`, "
                "`key` and `value` must have the same length (cross-attention "
                "between different lengths is not block-sparse). Received: "
                f"query.shape={tuple(query.shape)}, "
                f"key.shape={tuple(key.shape)}, "
                f"value.shape={tuple(value.shape)}"
            )
        attend = self._key_mask(query, padding_mask, keras_masks)

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
            def dropout(probs):
                return self._dropout_layer(probs, training=training)

        length = ops.shape(q)[2]
        if isinstance(q_len, int) and self._dense_is_cheaper(q_len):
            output, probs = self._dense_path(q, k, v, attend, dropout)
        elif self.random_pattern == "bigbird_original" and q_len is None:
            output, probs = self._original_any_length_path(
                q, k, v, attend, dropout, return_attention_scores
            )
        else:
            output, probs = self._sparse_path(
                q, k, v, attend, dropout, return_attention_scores
            )
        # Keras sets the query's mask on the output (`supports_masking`).
        output = self._output_dense(output[:, :, :length])
        if return_attention_scores:
            return output, probs[:, :, :length, :length]
        return output

    def _dense_is_cheaper(self, length):
        # A middle query block computes (5 + r) blocks of scores on the sparse
        # path; dense attention computes `num_blocks`.
        num_blocks = -(-length // self.block_size)
        if self.random_pattern == "bigbird_original":
            # The original attends every key below this size (not optional).
            return original_pattern.uses_full_attention(
                num_blocks, self.num_random_blocks
            )
        fixed = random_pattern.NUM_FIXED_KEY_BLOCKS
        return num_blocks <= fixed + self.num_random_blocks

    def _dense_path(self, q, k, v, key_mask, dropout):
        if self.random_pattern == "bigbird_original":
            # Only taken where the original attends every key.
            mask = key_mask[:, None, None, :]
            return block_sparse.dense_attention(q, k, v, mask, dropout)
        # A constant: computed with numpy (the length is static here).
        graph = ops.convert_to_tensor(
            random_pattern.attention_graph(
                q.shape[2],
                self.block_size,
                self.num_heads,
                self.num_random_blocks,
                self.seed,
            )
        )
        mask = ops.logical_and(graph[None], key_mask[:, None, None, :])
        return block_sparse.dense_attention(q, k, v, mask, dropout)

    def _key_block_table(self, num_blocks):
        """Key blocks of every middle query block: `(blocks, valid)`."""
        if self.random_pattern == "bigbird_original":
            return original_pattern.key_block_table(
                num_blocks,
                self.block_size,
                self.num_heads,
                self.num_random_blocks,
                self.seed,
                self.max_sequence_length,
            )
        if isinstance(num_blocks, int):
            # A static length: the table is a constant, computed with numpy.
            # With `keras.ops` eager JAX would compile every one of the
            # hash's element-wise ops for each new length (seconds per call).
            blocks, valid = random_pattern.key_block_table(
                num_blocks,
                self.num_heads,
                self.num_random_blocks,
                self.seed,
                random_pattern.NUMPY,
            )
            return ops.convert_to_tensor(blocks), ops.convert_to_tensor(valid)
        return random_pattern.key_block_table(
            num_blocks, self.num_heads, self.num_random_blocks, self.seed
        )

    def _original_any_length_path(self, q, k, v, key_mask, dropout, return_probs):
        # Length unknown while tracing: full attention or the sparse
        # original pattern, chosen in the graph (only one branch runs).
        length = ops.shape(q)[2]
        num_blocks = (length + self.block_size - 1) // self.block_size
        full = num_blocks <= 2 * self.num_random_blocks + 5

        def full_fn():
            output, probs = block_sparse.dense_attention(
                q, k, v, key_mask[:, None, None, :], dropout
            )
            return (output, probs) if return_probs else output

        def sparse_fn():
            output, probs = self._sparse_path(
                q, k, v, key_mask, dropout, return_probs
            )
            return (output, probs) if return_probs else output

        result = ops.cond(full, full_fn, sparse_fn)
        return result if return_probs else (result, None)

    def _sparse_path(self, q, k, v, key_mask, dropout, return_probs):
        block = self.block_size
        length = ops.shape(q)[2]
        # At least 3 blocks: with fewer the graph is dense, and a padding
        # block as the last global block reproduces exactly that.
        if isinstance(length, int):
            # Python arithmetic: under `jax.jit` `ops.maximum` of ints gives a
            # tracer, and `ops.pad` and `arange` need concrete sizes.
            num_blocks = max(-(-length // block), 3)
        else:
            num_blocks = ops.maximum((length + block - 1) // block, 3)
        pad = num_blocks * block - length
        pad_widths = ((0, 0), (0, 0), (0, pad), (0, 0))
        q, k, v = (ops.pad(x, pad_widths) for x in (q, k, v))
        key_mask = ops.pad(key_mask, ((0, 0), (0, pad)))
        key_blocks, valid = self._key_block_table(num_blocks)
        output, global_probs, middle_probs = block_sparse.block_sparse_attention(
            q, k, v, key_mask, key_blocks, valid, block, dropout
        )
        probs = None
        if return_probs:
            probs = block_sparse.sparse_probabilities_to_dense(
                global_probs, middle_probs, key_blocks, valid, block
            )
        return output, probs

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        output_dims = self._output_shape or (query_shape[-1],)
        return (query_shape[0], query_shape[1], *output_dims)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        padding_mask=None,
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

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "block_size": self.block_size,
                "num_random_blocks": self.num_random_blocks,
                "seed": self.seed,
                "random_pattern": self.random_pattern,
                "max_sequence_length": self.max_sequence_length,
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
