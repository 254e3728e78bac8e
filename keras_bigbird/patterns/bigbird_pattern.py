"""`BigBirdPattern`: global, sliding-window and hashed random blocks (ITC)."""

import keras
from keras import ops

from keras_bigbird.ops import random_pattern
from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdPattern(AttentionPattern):
    """BigBird's ITC graph, computed per example from its real length.

    For a sequence of `n` real blocks: the first and last
    `num_global_blocks` blocks are global (they attend every key and every
    query attends them); every other query block `i` attends the window
    `i - w // 2 .. i + w // 2` (`w = num_window_blocks`) and
    `num_random_blocks` random blocks per head, drawn without repeats
    among the blocks that are neither global nor in its window. The random
    blocks are a fixed function of `(seed, head, i, n)` (an integer hash,
    evaluated in the graph for any length).

    Each example's graph comes from its own number of real blocks, read
    from the padding mask: the last global blocks are its last real blocks,
    random blocks are drawn among its real blocks and the window stops at
    its last real block. Its outputs therefore do not depend on padding or
    on what it is batched with. With `causal=True` on the layer, random
    blocks are drawn among earlier blocks only and no later block is
    attended.

    Args:
        num_random_blocks: random key blocks per query block and head.
        num_window_blocks: odd width of the sliding window, in blocks.
        num_global_blocks: global blocks at each end.

    Example:

    >>> pattern = BigBirdPattern(num_random_blocks=1)
    >>> blocks, valid = pattern.key_blocks(6, 1, block_size=4, seed=0,
    ...                                    xp=random_pattern.NUMPY)
    >>> blocks.shape  # [1, heads, blocks, 1 + 3 + 1 + 1 slots]
    (1, 1, 6, 6)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    per_example = True

    def __init__(self, num_random_blocks=3, num_window_blocks=3, num_global_blocks=1):
        checks.non_negative_int("num_random_blocks", num_random_blocks)
        checks.odd_positive_int("num_window_blocks", num_window_blocks)
        checks.non_negative_int("num_global_blocks", num_global_blocks)
        self.num_random_blocks = num_random_blocks
        self.num_window_blocks = num_window_blocks
        self.num_global_blocks = num_global_blocks

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        return random_pattern.bigbird_key_blocks(
            num_blocks,
            num_heads,
            self.num_random_blocks,
            seed,
            num_window_blocks=self.num_window_blocks,
            num_global_blocks=self.num_global_blocks,
            real_blocks=real_blocks,
            causal=causal,
            xp=xp,
        )

    def global_blocks(self, num_blocks, *, block_size, real_blocks=None, xp=ops):
        if not self.num_global_blocks:
            return None
        return random_pattern.bigbird_global_blocks(
            num_blocks, self.num_global_blocks, real_blocks, xp
        )

    def get_config(self):
        return {
            "num_random_blocks": self.num_random_blocks,
            "num_window_blocks": self.num_window_blocks,
            "num_global_blocks": self.num_global_blocks,
        }
