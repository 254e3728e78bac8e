"""Token ids given to the preprocessing layers, converted and range-checked."""

import numpy as np
import tensorflow as tf

# Ids become int32; a larger int64 id would wrap to another id in the cast.
INT32_LIMIT = 2**31


def _invalid(argument, expected, received):
    return ValueError(
        f"Received an invalid value for argument `{argument}`, expected "
        f"{expected}. Received: {received}"
    )


def _from_python(argument, ids):
    try:
        ragged = tf.ragged.constant(ids)
    except (TypeError, ValueError):
        raise _invalid(
            argument, "integer token ids", f"{argument}={ids!r}"[:300]
        ) from None
    if tf.size(ragged) == 0:
        # `[]` and `[[]]` hold no ids, so no dtype could be inferred.
        ragged = tf.cast(ragged, tf.int32)
    return ragged


def to_ragged(argument, ids, max_rank=2):
    """Returns `(ids as an integer ragged tensor, whether they were 1-D)`.

    `ids`: a 1-D sequence of ids, or a `[batch, None]` batch (ragged,
    dense, numpy or nested lists); with `max_rank=None`, batches of more
    dimensions too. The dtype is checked statically: a cast would turn the
    id 5.7 into 5 without a word.
    """
    if isinstance(ids, (list, tuple)):
        ids = _from_python(argument, ids)
    unbatched = False
    if not isinstance(ids, tf.RaggedTensor):
        try:
            ids = tf.convert_to_tensor(ids)
        except (TypeError, ValueError):
            raise _invalid(
                argument, "integer token ids", f"{argument}={ids!r}"[:300]
            ) from None
        unbatched = ids.shape.rank == 1
        if unbatched:
            ids = ids[tf.newaxis]
        if ids.shape.rank is not None and ids.shape.rank >= 2:
            ids = tf.RaggedTensor.from_tensor(
                ids, ragged_rank=ids.shape.rank - 1
            )
    rank = ids.shape.rank
    if not isinstance(ids, tf.RaggedTensor) or (max_rank and rank > max_rank):
        batch = "a `[batch, None]` batch" if max_rank == 2 else "batches"
        raise _invalid(
            argument,
            f"a 1-D sequence of token ids or {batch} of them",
            f"{argument} of shape {ids.shape}",
        )
    if not ids.dtype.is_integer:
        raise _invalid(
            argument,
            "integer token ids",
            f"{argument} with dtype={ids.dtype.name}",
        )
    return ids.with_row_splits_dtype(tf.int64), unbatched


def check_range(argument, ids, vocabulary_size=None):
    """Returns `ids` (a ragged tensor) checked in `[0, limit)`.

    The limit is `vocabulary_size`, or the int32 range without one. Eager
    (or constant) ids raise a `ValueError` naming the first bad id and its
    place; in a graph the ids depend on an assertion with the same message,
    so no op downstream (a tensorflow-text kernel that reads past its
    vocabulary) ever sees them.
    """
    if vocabulary_size is None:
        limit, rule = INT32_LIMIT, "non-negative token ids below 2**31"
    else:
        limit = vocabulary_size
        rule = f"token ids in [0, {limit}), {limit} being the vocabulary size"
    values = ids.flat_values
    static = tf.get_static_value(values)
    if static is not None:
        bad = np.flatnonzero((static < 0) | (static >= limit))
        if bad.size:
            # The place in the batch flattened to rows of ids.
            splits = ids.merge_dims(0, -2).row_splits.numpy()
            row = int(np.searchsorted(splits, bad[0], side="right")) - 1
            raise _invalid(
                argument,
                rule,
                f"{argument} containing {static[bad[0]]} (row {row}, "
                f"position {bad[0] - splits[row]})",
            )
        return ids
    wide = tf.cast(values, tf.int64)
    valid = tf.logical_and(wide >= 0, wide < limit)
    check = tf.debugging.Assert(
        tf.reduce_all(valid),
        [
            f"Received an invalid value for argument `{argument}`, expected "
            f"{rule}. Received: {argument} containing",
            tf.boolean_mask(wide, tf.logical_not(valid)),
        ],
        summarize=3,
    )
    with tf.control_dependencies([check]):
        return ids.with_flat_values(tf.identity(values))
