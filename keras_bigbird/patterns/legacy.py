"""Patterns named by the arguments of release 0.1 (`random_pattern`,
`num_random_blocks`, `attention_type="window"`), so that code and `.keras`
files written for it keep working. The only place that maps pattern names
to patterns."""

from keras_bigbird.patterns.attention_pattern import get
from keras_bigbird.patterns.bigbird_pattern import BigBirdPattern
from keras_bigbird.patterns.original_bigbird_pattern import (
    OriginalBigBirdPattern,
)
from keras_bigbird.patterns.window_pattern import WindowPattern
from keras_bigbird.utils import checks

RANDOM_PATTERNS = ("hashed", "bigbird_original")
ATTENTION_TYPES = ("block_sparse", "original_full", "window")


def bigbird_pattern(random_pattern, num_random_blocks, table_length):
    """The pattern of `BigBirdAttention(random_pattern=...)`."""
    checks.one_of("random_pattern", random_pattern, RANDOM_PATTERNS)
    if random_pattern == "bigbird_original":
        return OriginalBigBirdPattern(num_random_blocks, table_length)
    return BigBirdPattern(num_random_blocks)


def resolve_pattern(
    pattern,
    attention_type="block_sparse",
    num_random_blocks=None,
    random_pattern=None,
    table_length=4096,
):
    """`(attention_type, pattern)` from `pattern` or release 0.1's arguments.

    `attention_type="window"` is `("block_sparse", WindowPattern(3))` (its
    old random-pattern arguments are ignored, as they were);
    `num_random_blocks` / `random_pattern` name a `BigBirdPattern` or an
    `OriginalBigBirdPattern` drawn for `table_length` tokens. They cannot be
    given together with `pattern`.
    """
    checks.one_of("attention_type", attention_type, ATTENTION_TYPES)
    legacy = {
        name: value
        for name, value in (
            ("num_random_blocks", num_random_blocks),
            ("random_pattern", random_pattern),
        )
        if value is not None
    }
    if pattern is not None and (legacy or attention_type == "window"):
        if attention_type == "window":
            legacy["attention_type"] = attention_type
        raise ValueError(
            "Pass either `pattern` or the older pattern arguments "
            "(`num_random_blocks`, `random_pattern`, "
            "`attention_type='window'`), not both. Received: "
            f"pattern={pattern!r}, "
            + ", ".join(f"{k}={v!r}" for k, v in legacy.items())
        )
    if attention_type == "window":
        return "block_sparse", WindowPattern(3)
    if legacy:
        return attention_type, bigbird_pattern(
            random_pattern or "hashed",
            3 if num_random_blocks is None else num_random_blocks,
            table_length,
        )
    return attention_type, get(pattern)
