"""`WindowPattern`: a sliding or dilated window of blocks (Longformer-style)."""

import keras
from keras import ops

from keras_bigbird.ops import random_pattern
from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class WindowPattern(AttentionPattern):
    """Every query block attends the blocks of a window around it.

    Query block `i` attends blocks `i + dilation * k` for `k` in `-(w // 2)
    .. w // 2` (`w = num_window_blocks`) that lie among the example's real
    blocks. With `dilation=1` it is the window of BigBird without its
    global and random blocks, the baseline of the paper's ablation:
    information travels at most `(w // 2) * block_size` tokens per layer.

    Args:
        num_window_blocks: odd width of the window, in blocks.
        dilation: distance between the window's blocks (Longformer's
            dilated window).

    Example:

    >>> blocks, valid = WindowPattern(3).key_blocks(
    ...     4, 1, block_size=8, seed=0, xp=random_pattern.NUMPY)
    >>> blocks[0, 0].tolist(), valid[0, 0].tolist()[0]
    ([[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 0]], [False, True, True])

    References:
        - [Beltagy et al., 2020](https://arxiv.org/abs/2004.05150)
    """

    per_example = True

    def __init__(self, num_window_blocks=3, dilation=1):
        checks.odd_positive_int("num_window_blocks", num_window_blocks)
        checks.positive_int("dilation", dilation)
        self.num_window_blocks = num_window_blocks
        self.dilation = dilation

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        half = self.num_window_blocks // 2
        n = random_pattern.real_block_counts(num_blocks, real_blocks, xp)
        rows = xp.arange(num_blocks, dtype="int32")[None, None, :, None]
        heads = xp.arange(num_heads, dtype="int32")[None, :, None, None]
        offsets = self.dilation * xp.arange(-half, half + 1, dtype="int32")
        blocks = rows + offsets + heads * 0 + n * 0
        valid = xp.logical_and(blocks >= 0, blocks < n)
        if causal:
            valid = xp.logical_and(valid, blocks <= rows)
        return xp.cast(xp.where(valid, blocks, 0), "int32"), valid

    def get_config(self):
        return {
            "num_window_blocks": self.num_window_blocks,
            "dilation": self.dilation,
        }
