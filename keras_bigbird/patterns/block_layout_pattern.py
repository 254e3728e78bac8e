"""`BlockLayoutPattern`: an explicit boolean block layout (DeepSpeed-style)."""

import keras
import numpy as np
from keras import ops

from keras_bigbird.ops.random_pattern import NUMPY  # noqa: F401 (docstring)
from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.utils import checks


def layout_table(layout):
    """A bool layout `[heads, n, n]` as a key-block table `[heads, n, slots]`.

    Each row lists its True columns in ascending order; the slot count is
    the largest row count (at least 1) and shorter rows end in invalid slots.
    """
    heads, rows, _ = layout.shape
    slots = max(int(layout.sum(axis=-1).max(initial=0)), 1)
    blocks = np.zeros((heads, rows, slots), np.int32)
    valid = np.zeros((heads, rows, slots), bool)
    for h in range(heads):
        for i in range(rows):
            columns = np.flatnonzero(layout[h, i])
            blocks[h, i, : columns.size] = columns
            valid[h, i, : columns.size] = True
    return blocks, valid


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BlockLayoutPattern(AttentionPattern):
    """Query block `i` attends key block `j` where `layout[h, i, j]` is True.

    The layout covers up to `n` blocks (`n * block_size` tokens); a shorter
    sequence uses its top-left corner, a longer one is an error. Each query
    block may attend its own number of key blocks: the cost of a query block
    is that of the largest row, so keep rows short (a row of all blocks is
    dense attention; use global tokens for that).

    Args:
        layout: bool array-like `[heads, n, n]` (one layout per head) or
            `[n, n]` (shared by every head).

    Example:

    >>> import numpy as np
    >>> layout = np.eye(4, dtype=bool) | np.eye(4, k=-1, dtype=bool)
    >>> pattern = BlockLayoutPattern(layout)
    >>> blocks, valid = pattern.key_blocks(4, 2, block_size=8, seed=0,
    ...                                    xp=NUMPY)
    >>> blocks.shape, blocks[0, 0, 2].tolist()
    ((1, 2, 4, 2), [1, 2])

    References:
        - [DeepSpeed sparse attention](https://www.deepspeed.ai/tutorials/sparse-attention/)
    """

    def __init__(self, layout):
        array = np.asarray(layout)
        if array.ndim == 2:
            array = array[None]
        if (
            array.ndim != 3
            or array.shape[1] != array.shape[2]
            or array.shape[1] == 0
            or not np.isin(array, (0, 1)).all()
        ):
            raise ValueError(
                "Received an invalid value for argument `layout`, expected a "
                "bool array of shape [heads, num_blocks, num_blocks] or "
                f"[num_blocks, num_blocks]. Received: layout with shape "
                f"{np.shape(layout)}"
            )
        self.layout = array.astype(bool)
        self._blocks, self._valid = layout_table(self.layout)

    @property
    def max_blocks(self):
        return self.layout.shape[1]

    def _table(self, num_heads):
        heads = self.layout.shape[0]
        if heads not in (1, num_heads):
            raise ValueError(
                f"The layout has {heads} heads but the layer has "
                f"{num_heads}: give one layout per head, or a [num_blocks, "
                f"num_blocks] layout for all. Received: layout with shape "
                f"{self.layout.shape}"
            )
        reps = (num_heads // heads, 1, 1)
        return np.tile(self._blocks, reps), np.tile(self._valid, reps)

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        blocks, valid = self._table(num_heads)
        if isinstance(num_blocks, (int, np.integer)):
            if num_blocks > self.max_blocks:
                raise ValueError(
                    f"The sequence has {num_blocks} blocks of {block_size} "
                    f"tokens but the layout covers {self.max_blocks}: give a "
                    "larger layout or a shorter sequence."
                )
            blocks, valid = blocks[:, :num_blocks], valid[:, :num_blocks]
            valid = valid & (blocks < num_blocks)
            blocks = np.where(valid, blocks, 0)
            return xp.convert_to_tensor(blocks[None]), xp.convert_to_tensor(
                valid[None]
            )
        depend = checks.at_most_in_graph(
            num_blocks,
            self.max_blocks,
            f"The sequence is longer than the layout of this "
            f"BlockLayoutPattern ({self.max_blocks} blocks of {block_size} "
            "tokens).",
        )
        blocks, valid = ops.convert_to_tensor(blocks), ops.convert_to_tensor(valid)
        if depend is not None:
            blocks, valid = depend(blocks), depend(valid)
        shape = (num_heads, num_blocks, blocks.shape[-1])
        blocks = ops.slice(blocks, (0, 0, 0), shape)
        valid = ops.logical_and(
            ops.slice(valid, (0, 0, 0), shape), blocks < num_blocks
        )
        return ops.where(valid, blocks, 0)[None], valid[None]

    def get_config(self):
        return {"layout": self.layout.astype(int).tolist()}
