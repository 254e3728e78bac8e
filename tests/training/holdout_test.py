"""`hold_out`: every batch in exactly one split, the validation batches the
same each pass, the training batches reshuffled."""

import pytest
import tensorflow as tf

from keras_bigbird.training.holdout import count_batches
from keras_bigbird.training.holdout import hold_out


def firsts(dataset):
    return [int(batch[0]) for batch in dataset]


def test_splits_are_disjoint_complete_and_stable():
    # Shuffled each pass, as `train`'s loader is: the split is of one pass.
    batches = tf.data.Dataset.range(40).shuffle(40, seed=3).batch(2)
    train, validation, count = hold_out(batches, 0.25, seed=0)
    held = firsts(validation)
    assert count == 15 and len(held) == 5
    assert firsts(validation) == held  # the same batches every epoch
    passes = [firsts(train) for _ in range(3)]
    assert all(sorted(p) == sorted(passes[0]) for p in passes)
    assert len({tuple(p) for p in passes}) > 1  # reshuffled each epoch
    everything = sorted(int(x) for b in train.concatenate(validation) for x in b)
    assert everything == list(range(40))
    assert not set(passes[0]) & set(held)


def test_at_least_one_batch_each():
    train, validation, count = hold_out(tf.data.Dataset.range(3).batch(1), 0.01)
    assert count == 2 and len(firsts(validation)) == 1
    _, validation, count = hold_out(tf.data.Dataset.range(3).batch(1), 0.99)
    assert count == 1 and len(firsts(validation)) == 2


def test_count_batches_of_an_unknown_cardinality():
    dataset = tf.data.Dataset.range(10).filter(lambda x: x % 3 == 0)
    assert int(dataset.cardinality()) < 0
    assert count_batches(dataset) == 4


@pytest.mark.parametrize(
    "size, fraction, message",
    [
        (1, 0.1, "1 batch\\(es\\). Give validation data"),
        (10, 0.0, "fraction=0.0"),
        (10, 1.0, "fraction=1.0"),
    ],
)
def test_errors(size, fraction, message):
    with pytest.raises(ValueError, match=message):
        hold_out(tf.data.Dataset.range(size), fraction)
