"""`OriginalBigBirdPattern`: the graph the published checkpoints were trained on."""

import keras
from keras import ops

from keras_bigbird.ops import original_pattern
from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class OriginalBigBirdPattern(AttentionPattern):
    """The random blocks of google-research BigBird and transformers.

    Exactly the random blocks the published BigBird checkpoints were
    trained with (the google-research code, transformers'
    `BigBirdBlockSparseAttention` in `train()` mode): numpy's legacy
    generator seeded with the layer's seed (the layer index in those
    checkpoints), with the original's length plans (see
    `keras_bigbird.ops.original_pattern`). The first and last block of the
    padded length are global and every query block attends a window of 3
    blocks, as in the original.

    This pattern keeps the original's behaviour, because parity with the
    published checkpoints matters more here: its graph is drawn for the
    padded length of the batch (the last global block may be padding and
    random blocks may point at padding, so outputs of real tokens can
    change with the padding), it draws random blocks only from the start
    of the sequence, a row may attend a block twice (at 1024 tokens), and
    sequences of at most `(5 + 2 * num_random_blocks) * block_size` tokens
    use full attention.

    Args:
        num_random_blocks: random key blocks per query block and head.
        table_length: the length the original draws its 1024/3072/4096-token
            tables for (transformers: `max_position_embeddings`; the
            google-research code: 4096), and the longest length served when
            the length is unknown while tracing.

    Example:

    >>> pattern = OriginalBigBirdPattern(num_random_blocks=1, table_length=64)
    >>> pattern.full_attention(7, block_size=8)
    True

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    repeats_keys = True

    def __init__(self, num_random_blocks=3, table_length=4096):
        checks.non_negative_int("num_random_blocks", num_random_blocks)
        checks.positive_int("table_length", table_length)
        self.num_random_blocks = num_random_blocks
        self.table_length = table_length

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        blocks, valid = original_pattern.key_block_table(
            num_blocks,
            block_size,
            num_heads,
            self.num_random_blocks,
            seed,
            self.table_length,
            xp=xp,
        )
        # The first and last query blocks attend every key (global rows):
        # their rows are placeholders.
        widths = ((0, 0), (1, 1), (0, 0))
        blocks = xp.pad(blocks, widths)
        valid = xp.pad(valid, widths)
        return blocks[None], valid[None]

    def global_blocks(self, num_blocks, *, block_size, real_blocks=None, xp=ops):
        last = xp.reshape(xp.convert_to_tensor(num_blocks, "int32") - 1, (1, 1))
        blocks = xp.concatenate([last * 0, last], axis=1)
        return xp.cast(blocks, "int32"), blocks >= 0

    def layer_seed(self, seed, index):
        # The published checkpoints seed layer i's pattern with i.
        return index

    def full_attention(self, num_blocks, block_size):
        return original_pattern.uses_full_attention(
            num_blocks, self.num_random_blocks
        )

    def get_config(self):
        return {
            "num_random_blocks": self.num_random_blocks,
            "table_length": self.table_length,
        }
