"""The encoder of converted checkpoints: the original random pattern.

`BigBirdEncoder` draws its random blocks from the package's hashed pattern
by default. Pretrained BigBird weights were trained on the original numpy
pattern (seeded by layer index, see `keras_bigbird.ops.original_pattern`),
so the converted encoder uses `random_pattern="bigbird_original"`.
"""

import keras

from keras_bigbird.models.bigbird_encoder import BigBirdEncoder


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
    plans drawn for `max_sequence_length` tokens, full attention up to
    `(5 + 2 * num_random_blocks) * block_size` tokens), as transformers'
    BigBird in `train()` mode and the google-research code. The converters
    return it; everything else is `BigBirdEncoder`.

    Args:
        random_pattern: `"bigbird_original"` or `"hashed"`.
        **kwargs: `BigBirdEncoder` arguments.
    """

    def __init__(self, random_pattern="bigbird_original", **kwargs):
        super().__init__(random_pattern=random_pattern, **kwargs)
