"""The random-block pattern the published BigBird checkpoints were trained with.

The google-research TF code (`bigbird/core/attention.py`) and the Hugging
Face port (`BigBirdBlockSparseAttention` in `train()` mode) draw the random
key blocks with numpy's legacy generator, re-seeded with the layer index
before every call, so each layer sees one fixed pattern per padded length.
This module reproduces that stream exactly with a private
`np.random.RandomState(seed)` (numpy's global random state is never touched)
and returns it in this package's key-block-table format, so
`BigBirdAttention(random_pattern="bigbird_original")` computes the graph the
pretrained weights were trained on.

How the original draws, for a padded length `L = num_blocks * block_size`
and `r` random blocks per row:

- `L` in `PAPER_PLAN_LENGTHS` (1024, 3072, 4096; the "old plans used in the
  paper" -- 2048 is *not* one of them): for each head in turn a table for
  the *maximum* length (`max_sequence_length`, 4096 in the google code,
  `max_position_embeddings` in transformers) is drawn and its first
  `num_blocks - 2` rows are kept. Every row takes the first `r` entries of a
  permutation of candidate blocks that all lie in the first 1024 tokens
  (blocks `1 .. 1024 // block_size - 1`). The candidates only exclude the
  row's window, not the global blocks of the actual length, so at 1024 tokens
  some rows draw the last (global) block, which they then attend twice.
- any other `L` with `num_blocks > 2 * r + 5`: rows `1 .. 2r + 4` draw from
  blocks `0 .. 2r + 4`, and every later row from the same first `2r + 5`
  blocks, avoiding the window, block 0 and block `2r + 4` (plus block `2r +
  3` for row 1 and block 1 for row `2r + 3`). Random keys therefore always
  come from the first `2r + 5` blocks. Rows are drawn in order with the heads
  innermost, so the table for `n` blocks is the first rows of the table for
  any longer length.
- `num_blocks <= 2 * r + 5`: `transformers.BigBirdModel` switches to full
  attention (`original_full`) when the unpadded length is at most `(5 + 2r) *
  block_size`, which is exactly this condition; `BigBirdAttention` does the
  same (every query attends every key). The bare attention module would use
  two further plans here (and fails for some lengths); they are reproduced by
  `original_random_blocks` for completeness.

The graph around the random blocks is ours (first and last block global,
windows of 3 blocks), and every query attends the same keys as in the
original; the original computes the second and second-last query blocks
separately, which gives the same attention.

Unlike the default ("hashed") pattern of this package, the original pattern:
depends on the length only through the padded length; draws random blocks
only from the start of the sequence (the first `2r + 5` blocks, or the first
1024 tokens); may attend one key block twice at 1024 tokens (it then counts
twice in the softmax, as in the original); and is a stored table, so for
lengths unknown while tracing it covers up to `max_sequence_length` tokens
(rounded up to whole blocks; a longer length fails a runtime assertion). A
length known while tracing gets the table of that length and may exceed
`max_sequence_length`, as in the original's general plan.
"""

import functools

import numpy as np
from keras import ops

from keras_bigbird.ops import random_pattern
from keras_bigbird.utils import checks

# Padded lengths at which the original uses the fixed "paper" plan.
PAPER_PLAN_LENGTHS = (1024, 3072, 4096)
# The paper plan draws random blocks from the first this many tokens.
PAPER_PLAN_FOCUS = 1024


def uses_full_attention(num_blocks, num_random_blocks):
    """Whether the original attends every key at this number of blocks.

    `transformers.BigBirdModel` falls back to full attention when the
    (unpadded) length is at most `(5 + 2 * num_random_blocks) * block_size`,
    i.e. when `ceil(length / block_size) <= 2 * num_random_blocks + 5`.
    """
    return num_blocks <= 2 * num_random_blocks + 5


def _fill(rand, head, row, columns, picks, where):
    """`rand[head, row, columns] = picks` with numpy's assignment rules.

    A single pick is broadcast over the columns, exactly as the original's
    numpy assignment does; any other shortfall fails there too.
    """
    picks = np.asarray(picks, dtype=np.int32)
    try:
        rand[head, row, columns] = picks
    except ValueError:
        raise ValueError(
            f"The original BigBird generator cannot draw "
            f"{columns.stop - columns.start} random blocks for block row "
            f"{row} ({where}): only {picks.size} candidates. The original "
            "implementation fails at this configuration too."
        ) from None


def _pick_row(rng, row, start, end, count):
    """Random blocks of one block row, drawn from `[start, end)`.

    One permutation of the candidates is drawn; the first `count` that are
    neither in the row's window nor global (block 0 and `end - 1`; also
    `end - 2` for row 1 and block 1 for row `end - 2`) are taken.
    """
    order = rng.permutation(np.arange(start, end, dtype=np.int32))
    illegal = {row - 1, row, row + 1, 0, end - 1}
    if row == 1:
        illegal.add(end - 2)
    if row == end - 2:
        illegal.add(1)
    return [block for block in order if block not in illegal][:count]


def _plan(num_blocks, num_random_blocks):
    """Block ends of the plan parts and the random blocks drawn in each."""
    r = num_random_blocks
    if 2 * r + 5 < num_blocks:
        return [2 * r + 5, num_blocks], [r, 0]
    if r + 5 < num_blocks:
        return [r + 5, num_blocks], [r // 2, r - r // 2]
    return [num_blocks], [r]


def _planned_blocks(rng, num_blocks, num_heads, num_random_blocks):
    """The general generator: `[heads, num_blocks - 2, r]` int32."""
    ends, counts = _plan(num_blocks, num_random_blocks)
    # Part `p` of the plan fills columns `offsets[p]:offsets[p + 1]`.
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    rand = np.zeros((num_heads, num_blocks, offsets[-1]), dtype=np.int32)

    def draw(rows, part, start):
        columns = slice(offsets[part], offsets[part + 1])
        for row in rows:
            for head in range(num_heads):
                picks = _pick_row(rng, row, start, ends[part], counts[part])
                _fill(rand, head, row, columns, picks, "general plan")

    for part in range(len(ends)):
        if part > 0:
            previous_end = ends[part - 1]
            # Earlier rows also draw from this part's key blocks...
            if counts[part] > 0:
                draw(range(1, previous_end), part, start=previous_end)
            # ...and this part's rows from every earlier part's key blocks.
            for earlier in range(part):
                if counts[earlier] > 0:
                    start = ends[earlier - 1] if earlier > 0 else 0
                    draw(range(previous_end, ends[part]), earlier, start)
        if counts[part] > 0:
            first = 1 if part == 0 else ends[part - 1]
            start = 0 if part == 0 else ends[part - 1]
            draw(range(first, ends[part]), part, start)
    return rand[:, 1 : num_blocks - 1]


def _paper_blocks(rng, total_blocks, block_size, num_heads, num_random_blocks):
    """The paper plan for `total_blocks` blocks: `[heads, total - 2, r]`.

    Every row draws one permutation of its candidates and keeps the first
    `r`; the candidates lie in `[1, last)` with `last` the last block of the
    first `PAPER_PLAN_FOCUS` tokens.
    """
    r = num_random_blocks
    middle = np.arange(1, total_blocks - 1, dtype=np.int32)
    last = total_blocks - 1
    if PAPER_PLAN_FOCUS > 2 * block_size:
        last = PAPER_PLAN_FOCUS // block_size - 1
    rand = np.zeros((num_heads, total_blocks - 2, r), dtype=np.int32)
    columns = slice(0, r)
    for head in range(num_heads):
        for row in range(1, total_blocks - 1):
            if row == 1:
                candidates = middle[2:last]
            elif row == 2:
                candidates = middle[3:last]
            elif row in (total_blocks - 3, total_blocks - 2):
                candidates = middle[:last]
            elif row - 2 > last:
                candidates = middle[:last]
            elif row + 1 == last:
                candidates = middle[: row - 2]
            else:
                candidates = np.concatenate(
                    (middle[: row - 2], middle[row + 1 : last])
                )
            picks = rng.permutation(candidates)[:r]
            _fill(rand, head, row - 1, columns, picks, "paper plan")
    return rand


@functools.lru_cache(maxsize=128)
def _general_table(num_blocks, num_heads, num_random_blocks, seed):
    rng = np.random.RandomState(seed)
    table = _planned_blocks(rng, num_blocks, num_heads, num_random_blocks)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=32)
def _paper_table(total_blocks, block_size, num_heads, num_random_blocks, seed):
    rng = np.random.RandomState(seed)
    table = _paper_blocks(
        rng, total_blocks, block_size, num_heads, num_random_blocks
    )
    table.setflags(write=False)
    return table


def _check_common(block_size, num_heads, num_random_blocks, seed, max_len):
    for name, value in (
        ("block_size", block_size),
        ("num_heads", num_heads),
        ("max_sequence_length", max_len),
    ):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive integer. Received: "
                f"{name}={value!r}"
            )
    if not isinstance(num_random_blocks, (int, np.integer)) or (
        num_random_blocks < 0
    ):
        raise ValueError(
            "`num_random_blocks` must be a non-negative integer. Received: "
            f"num_random_blocks={num_random_blocks!r}"
        )
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(
            "`seed` must be an integer in [0, 2**32) (the original uses the "
            f"layer index). Received: seed={seed!r}"
        )


def original_random_blocks(
    num_blocks,
    block_size,
    num_heads,
    num_random_blocks,
    seed,
    max_sequence_length=4096,
):
    """The original random key blocks for a padded length, per head.

    Exactly the `rand_attn` of transformers' `BigBirdBlockSparseAttention`
    in `train()` mode (and of google-research's `bigbird_block_sparse_
    attention`) for `num_blocks * block_size` tokens, computed with a private
    `np.random.RandomState(seed)`.

    Args:
        num_blocks: int, the padded length in blocks, at least 3.
        block_size: int.
        num_heads: int.
        num_random_blocks: int.
        seed: int, the layer index in the published checkpoints.
        max_sequence_length: int, the length the paper plan is drawn for
            (`max_position_embeddings`).

    Returns:
        int32 numpy array `[num_heads, num_blocks - 2, num_random_blocks]`:
        row `i - 1` holds the random key blocks of query block `i`.
    """
    _check_common(
        block_size, num_heads, num_random_blocks, seed, max_sequence_length
    )
    if not isinstance(num_blocks, (int, np.integer)) or num_blocks < 3:
        raise ValueError(
            "`num_blocks` must be an integer of at least 3. Received: "
            f"num_blocks={num_blocks!r}"
        )
    num_blocks = int(num_blocks)
    if num_blocks * block_size in PAPER_PLAN_LENGTHS:
        total = max_sequence_length // block_size
        if total < num_blocks:
            raise ValueError(
                f"The original pattern for {num_blocks * block_size} tokens "
                "is cut from a table drawn for `max_sequence_length` tokens, "
                "which must be at least as long. Received: "
                f"max_sequence_length={max_sequence_length}"
            )
        table = _paper_table(
            total, block_size, num_heads, num_random_blocks, int(seed)
        )[:, : num_blocks - 2]
    else:
        table = _general_table(
            num_blocks, num_heads, num_random_blocks, int(seed)
        )
    return np.array(table)


def _dynamic_random_blocks(
    num_blocks, block_size, num_heads, num_random_blocks, seed, max_len
):
    """`original_random_blocks` for a symbolic `num_blocks` (in-graph).

    The general plan is a prefix of one table and the paper plan of another,
    so two stored tables (for `max_len` tokens) and one selection cover every
    length up to `max_len`, rounded up to whole blocks. A longer length fails
    a runtime assertion on TensorFlow graphs (under XLA, which drops
    assertions, the slice of the table fails instead).
    """
    r = num_random_blocks
    # Rounded up: the last, partial block of `max_len` tokens is served too.
    max_blocks = -(-max_len // block_size)
    rows = max(max_blocks, 2 * r + 6) - 2
    general = np.array(_general_table(rows + 2, num_heads, r, seed))
    paper_blocks = [
        length // block_size
        for length in PAPER_PLAN_LENGTHS
        if length % block_size == 0
        and length <= max_len
        and not uses_full_attention(length // block_size, r)
    ]
    table = ops.convert_to_tensor(general)
    if paper_blocks:
        total = max_len // block_size
        paper = np.zeros_like(general)
        paper[:, : total - 2] = _paper_table(
            total, block_size, num_heads, r, seed
        )
        is_paper = ops.any(
            ops.equal(
                ops.convert_to_tensor(paper_blocks, "int32"), num_blocks
            )
        )
        table = ops.where(is_paper, ops.convert_to_tensor(paper), table)
    depend = checks.at_most_in_graph(
        num_blocks * block_size,
        max_blocks * block_size,
        "The sequence is longer than `max_sequence_length` "
        f"({max_len} tokens, {max_blocks * block_size} in whole blocks of "
        f"{block_size}): with random_pattern='bigbird_original' and a length "
        "unknown while tracing, the original tables are stored for that many "
        "tokens. Truncate the input or build the layer with a larger "
        "`max_sequence_length` (the length received is padded to blocks).",
    )
    if depend is not None:
        table = depend(table)
    return ops.slice(table, (0, 0, 0), (num_heads, num_blocks - 2, r))


def _fixed_blocks(num_blocks, num_heads, xp):
    """`[0, i - 1, i, i + 1, num_blocks - 1]` of middle query blocks `i`."""
    blocks, valid = random_pattern.bigbird_key_blocks(
        num_blocks, num_heads, 0, 0, xp=xp
    )
    return blocks[0, :, 1:-1], valid[0, :, 1:-1]


def key_block_table(
    num_blocks,
    block_size,
    num_heads,
    num_random_blocks,
    seed,
    max_sequence_length=4096,
    xp=ops,
):
    """Every key block of each middle query block, in the original pattern.

    The same format as `random_pattern.key_block_table`: for query block
    `i = 1 + row`, the blocks `[0, i - 1, i, i + 1, num_blocks - 1]` (window
    blocks that are global marked invalid) followed by the original random
    blocks, all valid (a random block that repeats a global block is kept:
    the original attends it twice).

    Args:
        num_blocks: Python int or, with `xp=ops`, a scalar int32 tensor.
            A tensor (a length unknown while tracing) is served from tables
            stored for `max_sequence_length` tokens, so it must be at most
            `ceil(max_sequence_length / block_size)`. A Python int may be
            larger: its table is drawn for the actual length, exactly as the
            original does (the general plan does not depend on
            `max_sequence_length`; a paper-plan length above it raises
            `ValueError`, as in `original_random_blocks`).
        xp: `keras.ops` or `random_pattern.NUMPY`.

    Returns:
        `(blocks, valid)`, `[num_heads, num_blocks - 2, 5 +
        num_random_blocks]` int32 and bool.
    """
    if isinstance(num_blocks, (int, np.integer)):
        # A static length: constants computed with numpy (also when `xp` is
        # `keras.ops`, so eager backends compile nothing per length).
        rand = original_random_blocks(
            num_blocks,
            block_size,
            num_heads,
            num_random_blocks,
            seed,
            max_sequence_length,
        )
        fixed, fixed_valid = _fixed_blocks(
            int(num_blocks), num_heads, random_pattern.NUMPY
        )
        blocks = np.concatenate([fixed.astype(np.int32), rand], axis=-1)
        valid = np.concatenate([fixed_valid, np.ones_like(rand, bool)], axis=-1)
        return xp.convert_to_tensor(blocks), xp.convert_to_tensor(valid)
    _check_common(
        block_size, num_heads, num_random_blocks, seed, max_sequence_length
    )
    rand = _dynamic_random_blocks(
        num_blocks,
        block_size,
        num_heads,
        num_random_blocks,
        int(seed),
        max_sequence_length,
    )
    fixed, fixed_valid = _fixed_blocks(num_blocks, num_heads, xp)
    return (
        xp.concatenate([fixed, xp.cast(rand, "int32")], axis=-1),
        xp.concatenate([fixed_valid, xp.ones_like(rand, "bool")], axis=-1),
    )


def block_graph(
    num_blocks,
    block_size,
    num_heads,
    num_random_blocks,
    seed,
    max_sequence_length=4096,
):
    """Block adjacency `[heads, num_blocks, num_blocks]` (numpy bool).

    Dense where the original uses full attention.
    """
    if uses_full_attention(num_blocks, num_random_blocks):
        return np.ones((num_heads, num_blocks, num_blocks), dtype=bool)
    blocks, valid = key_block_table(
        num_blocks,
        block_size,
        num_heads,
        num_random_blocks,
        seed,
        max_sequence_length,
        xp=random_pattern.NUMPY,
    )
    middle = np.zeros((num_heads, num_blocks - 2, num_blocks), dtype=bool)
    heads, rows, _ = np.nonzero(valid)
    middle[heads, rows, blocks[valid]] = True
    full_row = np.ones((num_heads, 1, num_blocks), dtype=bool)
    return np.concatenate([full_row, middle, full_row], axis=1)


def attention_graph(
    seq_len,
    block_size,
    num_heads,
    num_random_blocks,
    seed,
    max_sequence_length=4096,
):
    """Token adjacency `[heads, seq_len, seq_len]` (numpy bool).

    Entry `[h, i, j]` is True exactly when query `i` attends key `j` in head
    `h` (before padding masks); the length is padded to whole blocks as in
    the original. A key attended twice (possible at 1024 tokens) shows as
    True.
    """
    num_blocks = -(-seq_len // block_size)
    graph = block_graph(
        num_blocks,
        block_size,
        num_heads,
        num_random_blocks,
        seed,
        max_sequence_length,
    )
    graph = np.repeat(np.repeat(graph, block_size, axis=1), block_size, axis=2)
    return graph[:, :seq_len, :seq_len]
