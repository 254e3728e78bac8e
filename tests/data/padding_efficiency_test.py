"""padding_efficiency: real over computed tokens, on hand-made batches."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.data import padding_efficiency

pytestmark = pytest.mark.tf_only


def batch(mask):
    mask = np.array(mask, bool)
    return {"token_ids": np.where(mask, 7, 0), "padding_mask": mask}


def test_counts_real_over_computed_positions():
    batches = [
        batch([[1, 1, 0, 0], [1, 0, 0, 0]]),  # 3 of 8
        batch([[1, 1, 1, 1, 1, 1, 1, 0]]),  # 7 of 8
    ]
    assert padding_efficiency(batches) == pytest.approx(10 / 16)
    assert padding_efficiency(batches, max_batches=1) == pytest.approx(3 / 8)
    labelled = tf.data.Dataset.from_generator(
        lambda: ((b, np.int32(1)) for b in batches),
        output_signature=(
            {
                "token_ids": tf.TensorSpec([None, None], tf.int64),
                "padding_mask": tf.TensorSpec([None, None], tf.bool),
            },
            tf.TensorSpec([], tf.int32),
        ),
    )
    assert padding_efficiency(labelled) == pytest.approx(10 / 16)


def test_errors():
    with pytest.raises(ValueError, match=r"`dataset`: it has no batches"):
        padding_efficiency([])
    with pytest.raises(ValueError, match=r"`dataset`.*padding_mask.*ndarray"):
        padding_efficiency([np.zeros((2, 4))])
