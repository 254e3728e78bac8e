"""A SentencePiece model trained once per session on generated text."""

import pytest

from tests.preprocessing import synthetic_text


@pytest.fixture(scope="session")
def words():
    return synthetic_text.pseudo_words(300, seed=1)


@pytest.fixture(scope="session")
def corpus(words):
    lengths = synthetic_text.log_uniform_lengths(200, 20, 2000, seed=1)
    return synthetic_text.documents(lengths, words, seed=1)


@pytest.fixture(scope="session")
def spm_model_file(corpus, tmp_path_factory):
    from keras_bigbird.preprocessing import train_sentencepiece

    prefix = tmp_path_factory.mktemp("spm") / "model" / "spm"
    return train_sentencepiece(corpus, vocab_size=400, model_prefix=prefix)
