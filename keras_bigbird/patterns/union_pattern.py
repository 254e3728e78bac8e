"""`UnionPattern`: the keys of several patterns together (`a | b`)."""

import keras
from keras import ops

from keras_bigbird.patterns.attention_pattern import AttentionPattern


def _common_batch(tensors):
    """Int32 zeros that broadcast every tensor's batch axis (1 or batch)."""
    zero = None
    for t in tensors:
        index = (slice(None),) + (slice(0, 1),) * (len(t.shape) - 1)
        part = t[index] * 0
        zero = part if zero is None else zero + part
    return zero


def _drop_repeats(xp, blocks, valid):
    """Marks every slot that repeats an earlier valid slot of its row invalid."""
    slots = blocks.shape[-1]
    same = xp.logical_and(
        xp.equal(blocks[..., :, None], blocks[..., None, :]), valid[..., None, :]
    )
    earlier = xp.arange(slots)[:, None] > xp.arange(slots)[None, :]
    repeat = xp.any(xp.logical_and(same, earlier), axis=-1)
    return blocks, xp.logical_and(valid, xp.logical_not(repeat))


@keras.saving.register_keras_serializable(package="keras_bigbird")
class UnionPattern(AttentionPattern):
    """Every key of every pattern in `patterns`, each counted once.

    A query block attends the union of the patterns' key blocks (slots are
    concatenated, repeats made invalid); a query block that is global in
    any pattern attends every key. Usually written `a | b`.

    Args:
        patterns: a list of `AttentionPattern`s (or their configs).

    Example:

    >>> from keras_bigbird.patterns import WindowPattern, BlockLayoutPattern
    >>> import numpy as np
    >>> first = np.zeros((8, 8), bool); first[:, 0] = True
    >>> pattern = WindowPattern(3) | BlockLayoutPattern(first)
    >>> type(pattern).__name__, len(pattern.patterns)
    ('UnionPattern', 2)
    """

    def __init__(self, patterns):
        from keras_bigbird.patterns.attention_pattern import get

        flat = []
        for pattern in patterns:
            pattern = get(pattern)
            flat.extend(
                pattern.patterns if isinstance(pattern, UnionPattern) else [pattern]
            )
        if len(flat) < 2:
            raise ValueError(
                "Received an invalid value for argument `patterns`, expected "
                f"at least 2 patterns. Received: patterns={patterns!r}"
            )
        self.patterns = flat
        self.per_example = any(p.per_example for p in flat)
        self.repeats_keys = any(p.repeats_keys for p in flat)

    def key_blocks(
        self, num_blocks, num_heads, *, block_size, seed, real_blocks=None,
        causal=False, xp=ops,
    ):
        tables = [
            p.key_blocks(
                num_blocks,
                num_heads,
                block_size=block_size,
                seed=seed,
                real_blocks=real_blocks if p.per_example else None,
                causal=causal,
                xp=xp,
            )
            for p in self.patterns
        ]
        return self._concatenate(xp, tables)

    def _concatenate(self, xp, parts):
        zero = _common_batch([b for b, _ in parts])
        blocks = xp.concatenate([b + zero for b, _ in parts], axis=-1)
        valid = xp.concatenate(
            [xp.logical_and(v, (zero == 0)) for _, v in parts], axis=-1
        )
        return _drop_repeats(xp, blocks, valid)

    def global_blocks(self, num_blocks, *, block_size, real_blocks=None, xp=ops):
        parts = [
            p.global_blocks(
                num_blocks,
                block_size=block_size,
                real_blocks=real_blocks if p.per_example else None,
                xp=xp,
            )
            for p in self.patterns
        ]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return self._concatenate(xp, parts)

    def full_attention(self, num_blocks, block_size):
        result = False
        for p in self.patterns:
            full = p.full_attention(num_blocks, block_size)
            if full is False:
                continue
            result = full if result is False else ops.logical_or(result, full)
        return result

    def get_config(self):
        return {
            "patterns": [
                keras.saving.serialize_keras_object(p) for p in self.patterns
            ]
        }
