"""`BigBirdEmbedding`: token, position and segment embeddings."""

import keras
from keras import ops

from keras_bigbird.layers.masking import check_batch_by_length
from keras_bigbird.utils import checks
from keras_bigbird.utils import seeds


def max_length_error(length, max_sequence_length):
    return ValueError(
        "The input sequence is longer than `max_sequence_length`: the "
        "position embedding has one entry per position. Truncate the input "
        "or build the model with a larger `max_sequence_length`. Received: "
        f"sequence length {length} > max_sequence_length="
        f"{max_sequence_length}"
    )


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdEmbedding(keras.layers.Layer):
    """Token, learned position and segment embeddings, layer norm, dropout.

    The input embedding of BigBird (as of BERT and RoBERTa): the sum of a
    token embedding, a learned absolute position embedding (positions
    `0 .. length - 1`, up to `max_sequence_length`) and a segment (token
    type) embedding, followed by layer normalisation and dropout.

    An input longer than `max_sequence_length` raises a `ValueError` when its
    length is known while tracing (always on JAX and in eager mode). In a
    TensorFlow graph traced with an unknown length, a runtime assertion
    raises `InvalidArgumentError` with the same message; under XLA
    (`jit_compile=True`) assertions are dropped and the position slice fails
    with a shape error instead.

    Args:
        vocabulary_size: number of token ids.
        hidden_dim: embedding size.
        max_sequence_length: number of learned positions.
        num_segments: number of segment ids; 0 for no segment embedding.
        dropout: dropout rate after the layer norm.
        layer_norm_epsilon: epsilon of the layer norm.
        embeddings_initializer: initializer of the three tables.
        mask_zero: whether token id 0 is padding; if True, the output
            carries a Keras mask (`token_ids != 0`).
        seed: seed of the dropout; `None` draws one (stored in the config).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        token_ids: int `[batch, length]`.
        segment_ids: optional int `[batch, length]`; zeros when absent.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> layer = BigBirdEmbedding(vocabulary_size=100, hidden_dim=8,
    ...                          max_sequence_length=32)
    >>> tuple(layer(np.ones((2, 10), "int32")).shape)
    (2, 10, 8)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        max_sequence_length=4096,
        num_segments=2,
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        embeddings_initializer="glorot_uniform",
        mask_zero=False,
        seed=None,
        **kwargs,
    ):
        checks.positive_int("vocabulary_size", vocabulary_size)
        checks.positive_int("hidden_dim", hidden_dim)
        checks.positive_int("max_sequence_length", max_sequence_length)
        checks.non_negative_int("num_segments", num_segments)
        checks.rate("dropout", dropout)
        seed = seeds.resolve("seed", seed)
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.mask_zero = mask_zero
        self.seed = seed
        self.supports_masking = mask_zero

        def initializer():
            config = self.embeddings_initializer.get_config()
            return self.embeddings_initializer.__class__.from_config(config)

        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=initializer(),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.segment_embedding = None
        if num_segments:
            self.segment_embedding = keras.layers.Embedding(
                num_segments,
                hidden_dim,
                embeddings_initializer=initializer(),
                dtype=self.dtype_policy,
                name="segment_embedding",
            )
        self._position_initializer = initializer()
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="embeddings_layer_norm",
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, seed=seed, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.position_embeddings = self.add_weight(
            shape=(self.max_sequence_length, self.hidden_dim),
            initializer=self._position_initializer,
            name="position_embeddings",
        )
        if self.segment_embedding is not None:
            self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build((*token_ids_shape, self.hidden_dim))

    def call(self, token_ids, segment_ids=None, training=None):
        token_ids = ops.convert_to_tensor(token_ids)
        if len(token_ids.shape) != 2:
            raise ValueError(
                "`token_ids` must have rank 2 ([batch, length]). Received: "
                f"token_ids.shape={tuple(token_ids.shape)}"
            )
        if segment_ids is not None:
            # A [batch, 1] `segment_ids` would broadcast over the sequence.
            segment_ids = check_batch_by_length(
                segment_ids, "segment_ids", token_ids, "token_ids"
            )
        length = token_ids.shape[1]
        depend = None
        if length is None:
            depend = checks.at_most_in_graph(
                ops.shape(token_ids)[1],
                self.max_sequence_length,
                "The input sequence is longer than `max_sequence_length` "
                f"({self.max_sequence_length}): truncate the input or build "
                "the model with a larger `max_sequence_length`.",
            )
            length = ops.shape(token_ids)[1]
        elif length > self.max_sequence_length:
            raise max_length_error(length, self.max_sequence_length)
        x = self.token_embedding(token_ids)
        positions = ops.cast(self.position_embeddings, x.dtype)
        if depend is not None:
            positions = depend(positions)
        positions = ops.slice(positions, (0, 0), (length, self.hidden_dim))
        x = x + positions[None]
        if self.segment_embedding is not None:
            if segment_ids is None:
                segment_ids = ops.zeros_like(token_ids)
            x = x + self.segment_embedding(segment_ids)
        elif segment_ids is not None:
            raise ValueError(
                "`segment_ids` were passed but the layer has no segment "
                "embedding. Received: num_segments=0"
            )
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_mask(self, token_ids, segment_ids=None, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return (*token_ids_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "embeddings_initializer": keras.saving.serialize_keras_object(
                    self.embeddings_initializer
                ),
                "mask_zero": self.mask_zero,
                "seed": self.seed,
            }
        )
        return config
