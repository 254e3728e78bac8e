"""A tiny WordPiece tokenizer, encoder and keyword texts for raw-text tests."""

import numpy as np

from keras_bigbird.preprocessing import BigBirdPreprocessor
from keras_bigbird.preprocessing import WordPieceTokenizer
from tests import test_case

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [f"w{i}" for i in range(20)] + ["good", "bad"]


def tokenizer():
    return WordPieceTokenizer(SPECIAL + WORDS)


def encoder(**kwargs):
    config = dict(
        vocabulary_size=40,
        max_sequence_length=256,
        block_size=8,
        max_global_tokens=16,
        seed=1,
    )
    return test_case.tiny_encoder(**dict(config, **kwargs))


def preprocessor(enc, sequence_length=128, **kwargs):
    return BigBirdPreprocessor.from_encoder(
        enc, tokenizer(), sequence_length=sequence_length, **kwargs
    )


def texts(count, seed=0, longest=60):
    """Texts of 5 to `longest` filler words and a closing keyword; the
    label (`i % 2`) is the keyword: 1 for "good"."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        filler = [f"w{w}" for w in rng.integers(0, 20, rng.integers(5, longest))]
        out.append(" ".join(filler + [["bad", "good"][i % 2]]))
    return out, np.arange(count) % 2
