"""`BigBirdEncoder`: the functional BigBird encoder (a backbone)."""

import keras
from keras import ops

from keras_bigbird import patterns
from keras_bigbird.layers.bigbird_embedding import BigBirdEmbedding
from keras_bigbird.layers.bigbird_encoder_block import BigBirdEncoderBlock
from keras_bigbird.layers.input_validation import InputValidation
from keras_bigbird.layers.input_validation import model_input_rules
from keras_bigbird.patterns import legacy
from keras_bigbird.models import presets as preset_configs
from keras_bigbird.models.backbone import Backbone
from keras_bigbird.models.functional_model import check_model_kwargs
from keras_bigbird.utils import checks
from keras_bigbird.utils import seeds


def bigbird_kernel_initializer(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdEncoder(Backbone):
    """BigBird encoder: embeddings and a stack of `BigBirdEncoderBlock`s.

    A functional `keras.Model` (built in `__init__`, like the keras-hub
    backbones) mapping token ids to contextual embeddings with block-sparse
    attention, so that sequences of thousands of tokens train in linear
    time and memory.

    Inputs (a dict; int32, `[batch, length]`, any length up to
    `max_sequence_length`):
        - `"token_ids"`: token ids.
        - `"padding_mask"`: 1 for real tokens, 0 for padding.
        - `"segment_ids"`: optional segment (token type) ids; zeros when
          left out of the dict.
        - `"global_mask"`: optional, 1 for global tokens (ETC-style: they
          attend every key and every query attends them, in every layer),
          at most `max_global_tokens` per example.

    Outputs (a dict):
        - `"sequence_output"`: `[batch, length, hidden_dim]`.
        - `"pooled_output"`: `[batch, hidden_dim]`, a tanh dense layer on
          the first token (`[CLS]`/`<s>`).

    Layer `i` uses the seed `pattern.layer_seed(seed, i)`
    (`BigBirdEncoder.layer_seed(seed, i)` for every built-in pattern but
    `OriginalBigBirdPattern`, which seeds layer `i` with `i` as the
    published checkpoints do), so every layer has its own random attention
    pattern, fixed by `seed`. Each example's graph comes from its own real
    length (see `BlockSparseAttention`), so its outputs do not depend on
    the padding or on the other examples of its batch (except with
    `OriginalBigBirdPattern`, which keeps the original's graph of the
    padded length).

    Args:
        vocabulary_size: number of token ids.
        num_layers: number of encoder blocks.
        num_heads: attention heads per block.
        hidden_dim: embedding and hidden size.
        intermediate_dim: hidden size of the feed-forward networks.
        max_sequence_length: number of learned positions; longer inputs
            raise a `ValueError`.
        block_size: tokens per attention block.
        pattern: the attention pattern of every layer (an
            `AttentionPattern` or its config); default `BigBirdPattern()`.
        dropout: dropout rate of the embeddings and of the block outputs.
        attention_dropout: dropout rate on the attention probabilities.
        num_segments: number of segment ids (0: no `segment_ids` input).
        normalize_first: pre-norm blocks (plus a final layer norm) instead
            of post-norm.
        gradient_checkpointing: recompute every block in the backward pass
            (less memory, about one more forward pass of compute).
        seed: seed of the random patterns and the dropouts.
        attention_type: `"block_sparse"` (`pattern`) or `"original_full"`
            (dense `keras.layers.MultiHeadAttention`, same weights).
        activation: of the feed-forward networks.
        layer_norm_epsilon: epsilon of every layer norm.
        initializer_range: stddev of the truncated normal initializers.
        causal: attend only keys at or before each query (a decoder-only
            stack, e.g. a language model).
        max_global_tokens: the most tokens `global_mask` may mark per
            example.
        num_random_blocks, random_pattern: release 0.1's pattern arguments,
            instead of `pattern`: `BigBirdPattern(num_random_blocks)` or,
            with `random_pattern="bigbird_original"`,
            `OriginalBigBirdPattern(num_random_blocks, max_sequence_length)`
            (`attention_type="window"` is `WindowPattern(3)`).
        dtype: dtype policy of the model and of its layers (e.g.
            `"mixed_bfloat16"`); None for the global policy. It is saved
            in the config, and `compile()` adds loss scaling under
            `"mixed_float16"`.
        **kwargs: `keras.Model` arguments: `name`, `trainable`. Any other
            keyword argument raises a `ValueError`.

    Example:

    >>> import numpy as np
    >>> encoder = BigBirdEncoder.from_preset("bigbird_tiny")
    >>> outputs = encoder({
    ...     "token_ids": np.ones((2, 300), "int32"),
    ...     "padding_mask": np.ones((2, 300), "int32"),
    ... })
    >>> [tuple(outputs[name].shape)
    ...  for name in ("sequence_output", "pooled_output")]
    [(2, 300, 32), (2, 32)]

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """


    def __init__(
        self,
        vocabulary_size,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        max_sequence_length=4096,
        block_size=64,
        pattern=None,
        dropout=0.1,
        attention_dropout=0.1,
        num_segments=2,
        normalize_first=False,
        gradient_checkpointing=False,
        seed=0,
        attention_type="block_sparse",
        activation="gelu",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        causal=False,
        max_global_tokens=64,
        num_random_blocks=None,
        random_pattern=None,
        dtype=None,
        **kwargs,
    ):
        check_model_kwargs(type(self).__name__, kwargs)
        checks.positive_int("num_layers", num_layers)
        checks.positive_int("hidden_dim", hidden_dim)
        checks.positive_int("num_heads", num_heads)
        if hidden_dim % num_heads:
            raise ValueError(
                "`hidden_dim` must be a multiple of `num_heads`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        checks.positive_int("max_sequence_length", max_sequence_length)
        attention_type, pattern = legacy.resolve_pattern(
            pattern,
            attention_type,
            num_random_blocks,
            random_pattern,
            table_length=max_sequence_length,
        )
        seed = seeds.resolve("seed", seed)

        # === Layers ===
        self.input_validation = InputValidation(
            vocabulary_size,
            num_segments,
            model_name=type(self).__name__,
            name="input_validation",
        )
        self.embeddings = BigBirdEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            embeddings_initializer=bigbird_kernel_initializer(
                initializer_range
            ),
            seed=seeds.derive(seed, -1),
            dtype=dtype,
            name="embeddings",
        )
        self.encoder_layers = [
            BigBirdEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                pattern=pattern,
                block_size=block_size,
                attention_type=attention_type,
                causal=causal,
                max_global_tokens=max_global_tokens,
                activation=activation,
                dropout=dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=normalize_first,
                kernel_initializer=bigbird_kernel_initializer(
                    initializer_range
                ),
                gradient_checkpointing=gradient_checkpointing,
                seed=pattern.layer_seed(seed, i),
                dtype=dtype,
                name=f"encoder_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_layer_norm = None
        if normalize_first:
            self.final_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="final_layer_norm"
            )
        self.pooled_dense = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=bigbird_kernel_initializer(initializer_range),
            dtype=dtype,
            name="pooled_dense",
        )

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(
            shape=(None,), dtype="int32", name="padding_mask"
        )
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        segment_ids = None
        if num_segments:
            segment_ids = keras.Input(
                shape=(None,), dtype="int32", name="segment_ids", optional=True
            )
            inputs["segment_ids"] = segment_ids
        global_mask = keras.Input(
            shape=(None,), dtype="int32", name="global_mask", optional=True
        )
        inputs["global_mask"] = global_mask
        checked = self.input_validation(inputs)
        x = self.embeddings(checked["token_ids"], checked.get("segment_ids"))
        # NaN for an example with a bad input where no check can stop the
        # program (XLA, jax.jit); 1 otherwise.
        x = x * ops.cast(checked["status"], x.dtype)[:, None, None]
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=padding_mask, global_mask=global_mask)
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
        sequence_output = x
        pooled_output = self.pooled_dense(x[:, 0, :])
        super().__init__(
            inputs=inputs,
            outputs={
                "sequence_output": sequence_output,
                "pooled_output": pooled_output,
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.block_size = block_size
        self.pattern = pattern
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.num_segments = num_segments
        self.normalize_first = normalize_first
        self.gradient_checkpointing = gradient_checkpointing
        self.seed = seed
        self.attention_type = attention_type
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.causal = causal
        self.max_global_tokens = max_global_tokens

    def value_rules(self):
        return model_input_rules(
            type(self).__name__, self.vocabulary_size, self.num_segments
        ).values

    @staticmethod
    def layer_seed(seed, index):
        """The seed of encoder layer `index` in an encoder seeded `seed`."""
        return seeds.derive(seed, index)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """An encoder of a built-in architecture, or a pretrained one.

        See `keras_bigbird.models.presets.load_encoder`.

        Args:
            preset: one of `BigBirdEncoder.presets` (`"bigbird_roberta_base"`,
                `"bigbird_roberta_large"`, `"bigbird_tiny"`: no weights), a
                transformers checkpoint directory (config.json and
                model.safetensors or pytorch_model.bin), or
                `"hf://owner/name"` on the Hugging Face Hub: converted, with
                its weights.
            **kwargs: constructor arguments that override the preset's
                (for a checkpoint, not those its weights fix).
        """
        return preset_configs.load_encoder(preset, **kwargs)

    presets = {
        name: p["description"] for name, p in preset_configs.PRESETS.items()
    }

    def attention_graph(
        self, layer_index, seq_len, padding_mask=None, global_mask=None
    ):
        """The graph of encoder layer `layer_index` (numpy bool), as
        `BlockSparseAttention.attention_graph`."""
        return self.encoder_layers[layer_index].attention_graph(
            seq_len, padding_mask, global_mask
        )

    def get_config(self):
        activation = self.activation
        if not isinstance(activation, str):
            activation = keras.saving.serialize_keras_object(activation)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "block_size": self.block_size,
            "pattern": patterns.serialize(self.pattern),
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "num_segments": self.num_segments,
            "normalize_first": self.normalize_first,
            "gradient_checkpointing": self.gradient_checkpointing,
            "seed": self.seed,
            "attention_type": self.attention_type,
            "activation": activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            "causal": self.causal,
            "max_global_tokens": self.max_global_tokens,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(
                config["dtype"]
            )
        if isinstance(config.get("activation"), dict):
            config["activation"] = keras.saving.deserialize_keras_object(
                config["activation"]
            )
        return cls(**config)
