"""The encoder of converted checkpoints: the original random pattern.

`BigBirdEncoder` draws its random blocks from the package's hashed pattern
by default. Pretrained BigBird weights were trained on the original numpy
pattern (seeded by layer index, see `keras_bigbird.ops.original_pattern`),
so the converted encoder uses `random_pattern="bigbird_original"`.
"""

import keras

from keras_bigbird.layers.bigbird_attention import BigBirdAttention
from keras_bigbird.models.bigbird_encoder import BigBirdEncoder
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
def gelu_approximate(x):
    """GELU with the tanh approximation.

    The `"gelu_new"` of transformers and the `gelu` of the google-research
    BigBird code (Keras' `"gelu"` is the exact, erf-based one).
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class PretrainedBigBirdEncoder(BigBirdEncoder):
    """`BigBirdEncoder` with `random_pattern="bigbird_original"` by default.

    Encoder layer `i` then attends exactly the random blocks the published
    checkpoints were trained with (numpy seed `i`, the 1024/3072/4096-token
    plans cut from a table drawn for `original_table_length` tokens, full
    attention up to `(5 + 2 * num_random_blocks) * block_size` tokens), as
    transformers' BigBird in `train()` mode and the google-research code.
    The converters return it; everything else is `BigBirdEncoder`.

    Args:
        random_pattern: `"bigbird_original"` or `"hashed"`.
        original_table_length: the length the original draws its
            1024/3072/4096-token tables for, and the longest length served
            when the length is unknown while tracing (the attention layers'
            `max_sequence_length`). `None`: `max_sequence_length`, as
            transformers (`max_position_embeddings`); the google-research
            code uses 4096 whatever its `max_position_embeddings`.
        **kwargs: `BigBirdEncoder` arguments.
    """

    def __init__(
        self,
        random_pattern="bigbird_original",
        original_table_length=None,
        **kwargs,
    ):
        if original_table_length is not None:
            checks.positive_int("original_table_length", original_table_length)
        super().__init__(random_pattern=random_pattern, **kwargs)
        self.original_table_length = original_table_length
        if original_table_length is None:
            return
        # `BigBirdEncoder` gives its attention layers the number of positions
        # as their table length. They read it when called, so setting it on
        # the built layers changes the pattern; `get_config` keeps the
        # argument, so loading rebuilds the same.
        for block in self.encoder_layers:
            block.max_sequence_length = original_table_length
            if isinstance(block.attention_layer, BigBirdAttention):
                block.attention_layer.max_sequence_length = (
                    original_table_length
                )

    def get_config(self):
        config = super().get_config()
        config["original_table_length"] = self.original_table_length
        return config
