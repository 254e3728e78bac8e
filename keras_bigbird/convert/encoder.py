"""The encoder of converted checkpoints: the original random pattern.

`BigBirdEncoder` draws its random blocks from the package's hashed pattern.
Pretrained BigBird weights were trained on the original numpy pattern
(seeded by layer index, see `keras_bigbird.ops.original_pattern`), so the
converted encoder switches every attention layer to
`random_pattern="bigbird_original"` with the layer index as its seed.
"""

import keras

from keras_bigbird.models.bigbird_encoder import BigBirdEncoder

RANDOM_PATTERNS = ("bigbird_original", "hashed")


@keras.saving.register_keras_serializable(package="keras_bigbird")
def gelu_approximate(x):
    """GELU with the tanh approximation.

    The `"gelu_new"` of transformers and the `gelu` of the google-research
    BigBird code (Keras' `"gelu"` is the exact, erf-based one).
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class PretrainedBigBirdEncoder(BigBirdEncoder):
    """`BigBirdEncoder` whose attention uses the pretrained random pattern.

    With `random_pattern="bigbird_original"` (the default), encoder layer `i`
    attends exactly the random blocks the published checkpoints were
    trained with (numpy seed `i`, the 1024/3072/4096-token plans drawn for
    `max_sequence_length` tokens, full attention up to `(5 + 2 *
    num_random_blocks) * block_size` tokens), as transformers' BigBird in
    `train()` mode and the google-research code. `"hashed"` gives the
    package's default pattern. Everything else is `BigBirdEncoder`.

    Args:
        random_pattern: `"bigbird_original"` or `"hashed"`.
        **kwargs: `BigBirdEncoder` arguments.
    """

    def __init__(self, random_pattern="bigbird_original", **kwargs):
        if random_pattern not in RANDOM_PATTERNS:
            raise ValueError(
                "Received an invalid value for argument `random_pattern`, "
                f"expected one of {RANDOM_PATTERNS}. Received: "
                f"random_pattern={random_pattern!r}"
            )
        super().__init__(**kwargs)
        self.random_pattern = random_pattern
        if random_pattern == "bigbird_original" and (
            self.attention_type == "block_sparse"
        ):
            for index, block in enumerate(self.encoder_layers):
                # Read when the layer runs, so setting them here is enough.
                attention = block.attention_layer
                attention.random_pattern = "bigbird_original"
                attention.seed = index
                attention.max_sequence_length = self.max_sequence_length

    def get_config(self):
        config = super().get_config()
        config["random_pattern"] = self.random_pattern
        return config
