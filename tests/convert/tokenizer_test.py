"""A checkpoint's SentencePiece model as a keras_bigbird tokenizer layer."""

import json
import shutil

import numpy as np
import pytest

from tests.preprocessing import synthetic_text

from keras_bigbird.convert import tokenizer_from_checkpoint

sentencepiece = pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def documents():
    words = synthetic_text.pseudo_words(300, seed=3)
    lengths = synthetic_text.log_uniform_lengths(120, 5, 400, seed=3)
    return synthetic_text.documents(lengths, words, seed=3)


@pytest.fixture(scope="module")
def checkpoint_dir(documents, tmp_path_factory):
    """A transformers-style directory: spiece.model and the special tokens
    of tokenizer_config.json (AddedToken dicts, as transformers writes)."""
    from keras_bigbird.preprocessing import train_sentencepiece

    base = tmp_path_factory.mktemp("tokenizer")
    model_file = train_sentencepiece(
        documents,
        vocab_size=300,
        model_prefix=base / "train" / "spm",
        user_defined_symbols=("[MASK]", "<mask2>"),
    )
    directory = base / "checkpoint"
    directory.mkdir()
    shutil.copy(model_file, directory / "spiece.model")
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "cls_token": {"content": "[CLS]", "lstrip": False},
                "sep_token": "[SEP]",
                "mask_token": {"content": "<mask2>", "single_word": False},
                "pad_token": "<pad>",
                "unk_token": "<unk>",
                "model_max_length": 4096,
            }
        )
    )
    return directory


@pytest.mark.tf_only
def test_ids_equal_the_sentencepiece_package(checkpoint_dir, documents):
    tokenizer = tokenizer_from_checkpoint(checkpoint_dir)
    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(checkpoint_dir / "spiece.model")
    )
    texts = documents[:40] + ["", "Unseen WORDS, digits 123 and [MASK] too."]
    ids = tokenizer(texts).to_list()
    for text, got in zip(texts, ids):
        assert got == processor.EncodeAsIds(text), text
    # Special tokens: by string from the config, ids from the model.
    assert tokenizer.mask_token == "<mask2>"
    for name in ("cls", "sep", "pad", "mask", "unk"):
        token = getattr(tokenizer, f"{name}_token")
        assert getattr(tokenizer, f"{name}_token_id") == processor.PieceToId(
            token
        )


@pytest.mark.tf_only
def test_ids_equal_the_package_where_segmentations_tie(tmp_path):
    # Under this model some texts have two equally likely segmentations
    # ("n" + "nn" or "nn" + "n"); tensorflow-text's regular kernel breaks
    # such ties the other way, so the converter must not use it here.
    from keras_bigbird.preprocessing import SentencePieceTokenizer
    from keras_bigbird.preprocessing import train_sentencepiece

    words = synthetic_text.pseudo_words(300, seed=1)
    lengths = synthetic_text.log_uniform_lengths(200, 20, 2000, seed=1)
    corpus = synthetic_text.documents(lengths, words, seed=1)
    model_file = train_sentencepiece(
        corpus, vocab_size=400, model_prefix=tmp_path / "train" / "spm"
    )
    (tmp_path / "checkpoint").mkdir()
    shutil.copy(model_file, tmp_path / "checkpoint" / "spiece.model")
    processor = sentencepiece.SentencePieceProcessor(model_file=model_file)
    texts = synthetic_text.documents([100] * 20, words, seed=8)
    want = [processor.EncodeAsIds(text) for text in texts]
    regular = SentencePieceTokenizer(model_file, fast=False)
    assert regular(texts).to_list() != want  # The texts do have ties.
    tokenizer = tokenizer_from_checkpoint(tmp_path / "checkpoint")
    assert tokenizer(texts).to_list() == want


@pytest.mark.tf_only
def test_model_file_and_google_layout(checkpoint_dir, tmp_path):
    # A bare .model file, and a google-research vocab directory (gpt2.model,
    # no config: the BigBird-RoBERTa special tokens).
    direct = tokenizer_from_checkpoint(checkpoint_dir / "spiece.model")
    google = tmp_path / "vocab"
    google.mkdir()
    shutil.copy(checkpoint_dir / "spiece.model", google / "gpt2.model")
    tokenizer = tokenizer_from_checkpoint(google)
    assert tokenizer.mask_token == "[MASK]"
    text = ["a few words of text"]
    np.testing.assert_array_equal(
        tokenizer(text).to_list(), direct(text).to_list()
    )
    with pytest.raises(ValueError, match="No SentencePiece model"):
        tokenizer_from_checkpoint(tmp_path)
