"""A WordPiece tokenizer over generated words, and helpers to find where
each marked document went."""

import numpy as np
import pytest

from tests.preprocessing import synthetic_text

MARKS = 2000


@pytest.fixture(scope="session")
def words():
    return synthetic_text.pseudo_words(400, seed=2)


@pytest.fixture(scope="session")
def tokenizer(words):
    from keras_bigbird.preprocessing import WordPieceTokenizer

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."]
    marks = [f"d{i}" for i in range(MARKS)]
    return WordPieceTokenizer(special + marks + words, lowercase=True)


def unbatch(batches, tokenizer):
    """Yields `(mark, real ids without [CLS]/[SEP], label, batch)` a row."""
    for batch in batches:
        inputs, labels = batch if isinstance(batch, tuple) else (batch, None)
        ids = inputs["token_ids"].numpy()
        lengths = inputs["padding_mask"].numpy().sum(axis=1)
        for row, length in enumerate(lengths):
            real = ids[row, 1 : length - 1]
            mark = int(tokenizer.id_to_token(real[0])[1:])
            label = None if labels is None else labels.numpy()[row]
            yield mark, real, label, inputs


def expected_ids(tokenizer, texts, max_tokens):
    """The tokenizer's ids of each text, truncated to `max_tokens`."""
    return [r[:max_tokens] for r in tokenizer(texts).to_list()]


def assert_block_padded(inputs, block_size):
    """The width is the longest row rounded up to a block, no more."""
    lengths = inputs["padding_mask"].numpy().sum(axis=1)
    width = inputs["token_ids"].shape[1]
    assert width == -(-lengths.max() // block_size) * block_size
    assert np.all(
        inputs["token_ids"].numpy()[~inputs["padding_mask"].numpy()] == 0
    )
