"""The encoder of converted checkpoints: the original random pattern.

`BigBirdEncoder` draws its random blocks from the package's hashed pattern
by default. Pretrained BigBird weights were trained on the original numpy
pattern (seeded by layer index, see `keras_bigbird.ops.original_pattern`),
so the converted encoder uses an `OriginalBigBirdPattern`.
"""

import keras

from keras_bigbird.models.bigbird_encoder import BigBirdEncoder
from keras_bigbird.patterns import legacy
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
    """`BigBirdEncoder` with an `OriginalBigBirdPattern` by default.

    Encoder layer `i` then attends exactly the random blocks the published
    checkpoints were trained with (numpy seed `i`, the 1024/3072/4096-token
    plans cut from a table drawn for the pattern's `table_length` tokens,
    full attention up to `(5 + 2 * num_random_blocks) * block_size`
    tokens), as transformers' BigBird in `train()` mode and the
    google-research code. The converters return it; everything else is
    `BigBirdEncoder`.

    Args:
        pattern: the attention pattern; default
            `OriginalBigBirdPattern(num_random_blocks, original_table_length)`.
        num_random_blocks: random blocks of the default pattern (3).
        original_table_length: `table_length` of the default pattern.
            `None`: `max_sequence_length`, as transformers
            (`max_position_embeddings`); the google-research code uses 4096
            whatever its `max_position_embeddings`.
        random_pattern: release 0.1's argument: `"bigbird_original"` (the
            default pattern) or `"hashed"` (`BigBirdPattern`).
        **kwargs: `BigBirdEncoder` arguments.
    """

    def __init__(
        self,
        pattern=None,
        num_random_blocks=None,
        original_table_length=None,
        random_pattern=None,
        **kwargs,
    ):
        if original_table_length is not None:
            checks.positive_int("original_table_length", original_table_length)
        if pattern is None:
            pattern = legacy.bigbird_pattern(
                random_pattern or "bigbird_original",
                3 if num_random_blocks is None else num_random_blocks,
                original_table_length or kwargs.get("max_sequence_length", 4096),
            )
        else:
            # Lets BigBirdEncoder reject a pattern given twice.
            kwargs.update(
                num_random_blocks=num_random_blocks,
                random_pattern=random_pattern,
            )
            if original_table_length is not None:
                raise ValueError(
                    "Pass either `pattern` or `original_table_length`, not "
                    f"both. Received: pattern={pattern!r}, "
                    f"original_table_length={original_table_length!r}"
                )
        super().__init__(pattern=pattern, **kwargs)
