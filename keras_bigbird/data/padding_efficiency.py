"""`padding_efficiency`: the share of computed tokens that are real."""

import numpy as np

from keras_bigbird.utils import checks


def padding_efficiency(dataset, max_batches=None):
    """Returns real tokens / computed tokens over the batches of `dataset`.

    The model computes every position of `token_ids`, padding included; the
    efficiency is the number of real positions (`padding_mask` True) over
    the number of positions. 1.0 means no padding; padding every batch to
    `max_sequence_length` gives mean length / maximum length.

    Args:
        dataset: a `tf.data.Dataset` (or any iterable) of packed batches:
            dicts with `"token_ids"` and `"padding_mask"`, or
            `(inputs, label)` tuples of them, as made by `batch_long_text`,
            `load_long_text` and `load_text_files`.
        max_batches: stop after this many batches (`None`: all).

    Returns:
        A float in (0, 1].

    Example:

    ```python
    bucketed = batch_long_text(documents, tokenizer, packer, bucketing=True)
    print(f"{padding_efficiency(bucketed):.1%} of the computed tokens are real")
    ```
    """
    if max_batches is not None:
        checks.positive_int("max_batches", max_batches)
    real = computed = 0
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(inputs, dict) or "padding_mask" not in inputs:
            raise ValueError(
                "Received an invalid value for argument `dataset`, expected "
                "batches of packed inputs (dicts with `padding_mask`). "
                f"Received: a batch of type {type(inputs).__name__}"
            )
        mask = np.asarray(inputs["padding_mask"])
        real += int(mask.sum())
        computed += int(mask.size)
    if computed == 0:
        raise ValueError(
            "Received an invalid value for argument `dataset`: it has no "
            f"batches (or no tokens). Received: dataset={dataset!r}"
        )
    return real / computed
