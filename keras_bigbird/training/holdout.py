"""`hold_out`: a validation set taken from the training batches.

Early stopping and the best checkpoint need data the model is not trained
on. When the user gives none, `train` holds out a share of the training
batches: the documents are shuffled once (the loader's shuffle), batched,
cached, and a seeded choice of the batches is the validation set for every
epoch; the other batches are reshuffled (as batches) each epoch.
"""

import numpy as np
import tensorflow as tf


def count_batches(dataset):
    """The number of elements of `dataset`, by one pass when unknown."""
    known = int(dataset.cardinality())
    if known >= 0:
        return known
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def hold_out(batches, fraction, seed=0):
    """Splits `batches` into `(train, validation, num_train_batches)`.

    Args:
        batches: a finite `tf.data.Dataset` of batches; a first pass over
            it is cached, so a shuffling loader is shuffled once.
        fraction: the share of batches held out, in (0, 1); at least one
            batch is, and at least one is left to train on.
        seed: picks the held-out batches and reshuffles the others.

    Returns:
        The training batches (reshuffled each pass), the held-out batches
        (the same each pass) and the number of training batches.

    Example:

    >>> import tensorflow as tf
    >>> batches = tf.data.Dataset.range(20).batch(2)
    >>> train, validation, count = hold_out(batches, 0.2, seed=0)
    >>> count, sorted(int(x) for b in validation for x in b)
    (8, [12, 13, 14, 15])
    """
    if not 0 < fraction < 1:
        raise ValueError(
            "Received an invalid value for argument `fraction`, expected a "
            f"number in (0, 1). Received: fraction={fraction!r}"
        )
    cached = batches.cache()
    total = count_batches(cached)  # fills the cache: later passes read it
    if total < 2:
        raise ValueError(
            "Received too little training data to hold out a validation "
            f"set: {total} batch(es). Give validation data, or more "
            "documents or a smaller batch size."
        )
    held = min(max(round(total * fraction), 1), total - 1)
    chosen = np.zeros(total, bool)
    chosen[np.random.default_rng(seed).choice(total, held, replace=False)] = True
    chosen = tf.constant(chosen)

    def keep(held_out):
        return lambda index, _: tf.equal(chosen[index], held_out)

    def element(_, batch):
        return batch

    indexed = cached.enumerate()
    validation = indexed.filter(keep(True)).map(element)
    train = (
        indexed.filter(keep(False))
        .map(element)
        .shuffle(total - held, seed=seed, reshuffle_each_iteration=True)
    )
    return train, validation, total - held
