"""train_sentencepiece: files beside the model, the special-token layout,
long lines, and errors."""

import os

import pytest
import sentencepiece

from keras_bigbird.preprocessing import SentencePieceTokenizer
from keras_bigbird.preprocessing import train_sentencepiece
from tests.preprocessing import synthetic_text

pytestmark = pytest.mark.tf_only


def test_writes_model_and_vocab_beside_the_model(spm_model_file):
    directory = os.path.dirname(spm_model_file)
    assert sorted(os.listdir(directory)) == ["spm.model", "spm.vocab"]
    processor = sentencepiece.SentencePieceProcessor(model_file=spm_model_file)
    pieces = [processor.id_to_piece(i) for i in range(7)]
    assert pieces == [
        "<pad>",
        "<s>",
        "</s>",
        "<unk>",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    ]
    assert processor.is_control(4) and processor.is_control(5)
    assert not processor.is_control(
        6
    )  # [MASK] is user-defined: matched in text.
    with open(os.path.join(directory, "spm.vocab"), encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 400


def test_from_files_with_one_very_long_line(tmp_path, words):
    # One line of 60,000+ bytes: the trainer skips lines longer than its
    # max_sentence_length, so without cutting there would be nothing to
    # train on.
    long_line = " ".join(
        synthetic_text.documents([12000], words, seed=3)[0].split()
    )
    assert len(long_line.encode()) > 60000
    (tmp_path / "a.txt").write_text(long_line, encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n\n", encoding="utf-8")
    model_file = train_sentencepiece(
        files=[tmp_path / "a.txt", str(tmp_path / "b.txt")],
        vocab_size=300,
        model_prefix=tmp_path / "out" / "tok",
        model_type="bpe",
        max_sentence_length=4096,
    )
    assert model_file == str(tmp_path / "out" / "tok.model")
    tokenizer = SentencePieceTokenizer(model_file)
    assert tokenizer.vocabulary_size() == 300
    sample = " ".join(long_line.split()[:50])
    ids = tokenizer(sample)
    assert tokenizer.unk_token_id not in ids.numpy()
    assert tokenizer.detokenize(ids).numpy().decode() == sample


def test_errors(tmp_path, corpus):
    prefix = tmp_path / "spm"
    with pytest.raises(ValueError, match="exactly one of `texts` and `files`"):
        train_sentencepiece(model_prefix=prefix)
    with pytest.raises(ValueError, match="exactly one of `texts` and `files`"):
        train_sentencepiece(corpus, files=["a.txt"], model_prefix=prefix)
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(
        ValueError, match=r"`files`: the file does not exist.*missing\.txt"
    ):
        train_sentencepiece(files=missing, model_prefix=prefix)
    with pytest.raises(
        ValueError, match=r"`texts`: it holds no text.*texts=\['', '  \\n'\]"
    ):
        train_sentencepiece(["", "  \n"], model_prefix=prefix)
    with pytest.raises(
        ValueError, match=r"`texts`.*not a single string.*texts='abc'"
    ):
        train_sentencepiece("abc", model_prefix=prefix)
    with pytest.raises(
        ValueError,
        match=r"Vocabulary size too high.*Received: vocab_size=100000",
    ):
        train_sentencepiece(corpus[:5], vocab_size=100000, model_prefix=prefix)
    with pytest.raises(ValueError, match=r"`model_prefix`.*model_prefix=''"):
        train_sentencepiece(corpus[:5], model_prefix="")
    with pytest.raises(
        ValueError, match=r"`pad_id`: the special-token ids are fixed.*=5"
    ):
        train_sentencepiece(corpus[:5], model_prefix=prefix, pad_id=5)


def test_a_bare_string_is_one_symbol(tmp_path, corpus):
    # Not list("[MASK]"): six one-character pieces and no [MASK].
    model_file = train_sentencepiece(
        corpus[:60],
        vocab_size=200,
        model_prefix=tmp_path / "spm",
        control_symbols="[CLS]",
        user_defined_symbols="[MASK]",
    )
    processor = sentencepiece.SentencePieceProcessor(model_file=model_file)
    pieces = [processor.id_to_piece(i) for i in range(6)]
    assert pieces == ["<pad>", "<s>", "</s>", "<unk>", "[CLS]", "[MASK]"]
    assert processor.is_control(4) and not processor.is_control(5)
