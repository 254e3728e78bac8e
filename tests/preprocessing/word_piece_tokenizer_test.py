"""WordPieceTokenizer: known ids, lowercase, files, detokenize, errors."""

import json

import pytest
import tensorflow as tf

from keras_bigbird.preprocessing import WordPieceTokenizer

pytestmark = pytest.mark.tf_only

VOCABULARY = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "read",
    "long",
    "document",
    "##s",
    ".",
    "resume",
    "un",
    "##read",
]


def test_known_ids_and_unknown_words():
    tokenizer = WordPieceTokenizer(VOCABULARY)
    ids = tokenizer(["read long documents.", "unread zebra"])
    assert ids.dtype == tf.int32
    assert ids.to_list() == [[5, 6, 7, 8, 9], [11, 12, 1]]
    # Case is kept without `lowercase`: "Read" is not in the vocabulary.
    assert tokenizer("Read long").numpy().tolist() == [1, 6]


def test_lowercase_folds_case_and_strips_accents():
    tokenizer = WordPieceTokenizer(VOCABULARY, lowercase=True)
    assert tokenizer("RÉSUMÉ Read").numpy().tolist() == [10, 5]
    assert WordPieceTokenizer(VOCABULARY)("résumé").numpy().tolist() == [1]


@pytest.mark.parametrize("lowercase", [False, True])
def test_control_and_format_characters_are_dropped_as_bert_does(
    lowercase, tmp_path
):
    # Soft hyphens and zero-width spaces in web text, NUL, BEL, U+FFFD: BERT
    # drops them before WordPiece; left in, each made its word one [UNK].
    transformers = pytest.importorskip("transformers")
    texts = [
        "un\u00adread documents",
        "long\u200b document",
        "re\x00ad\tlong\r\ndocument\x07s",
        "unre\ufffdad .",
    ]
    vocabulary_file = tmp_path / "vocabulary.txt"
    vocabulary_file.write_text("\n".join(VOCABULARY) + "\n")
    bert = transformers.BertTokenizer(
        str(vocabulary_file), do_lower_case=lowercase
    )
    tokenizer = WordPieceTokenizer(VOCABULARY, lowercase=lowercase)
    for text, ids in zip(texts, tokenizer(texts).to_list()):
        assert ids == bert.convert_tokens_to_ids(bert.tokenize(text)), text
        assert 1 not in ids, text


def test_detokenize_joins_pieces_and_drops_packing_tokens():
    tokenizer = WordPieceTokenizer(VOCABULARY)
    text = tokenizer.detokenize(
        [[2, 5, 6, 7, 8, 9, 3, 0, 0], [2, 11, 12, 4, 3, 0, 0, 0, 0]]
    )
    assert text.numpy().tolist() == [b"read long documents .", b"unread [MASK]"]
    round_trip = tokenizer.detokenize(tokenizer("long documents read"))
    assert round_trip.numpy() == b"long documents read"


def test_special_tokens_and_lookups():
    tokenizer = WordPieceTokenizer(VOCABULARY)
    assert tokenizer.special_token_ids() == {
        "cls_token": 2,
        "sep_token": 3,
        "pad_token": 0,
        "mask_token": 4,
        "unk_token": 1,
    }
    assert tokenizer.id_to_token(8) == "##s"
    assert tokenizer.token_to_id("document") == 7
    assert tokenizer.vocabulary_size() == len(VOCABULARY)


def test_vocabulary_file_and_config_round_trip(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCABULARY) + "\n\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer(
        str(path), lowercase=True, max_bytes_per_word=5
    )
    assert tokenizer.vocabulary == VOCABULARY
    config = tokenizer.get_config()
    json.dumps(config)
    restored = WordPieceTokenizer.from_config(config)
    texts = ["Read LONG documents.", "résumé readers"]
    assert restored(texts).to_list() == tokenizer(texts).to_list()
    # max_bytes_per_word=5 was kept: "documents" is too long, so unknown.
    assert restored("documents").numpy().tolist() == [1]


def test_missing_vocabulary_file(tmp_path):
    path = str(tmp_path / "vocab.txt")
    with pytest.raises(
        ValueError,
        match=r"vocabulary file does not exist.*vocabulary='.*vocab\.txt'",
    ):
        WordPieceTokenizer(path)


def test_invalid_vocabularies(tmp_path):
    with pytest.raises(
        ValueError, match=r"`vocabulary`.*Received: vocabulary=\[\]"
    ):
        WordPieceTokenizer([])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(
        ValueError, match=r"`vocabulary`.*Received: vocabulary=\[\]"
    ):
        WordPieceTokenizer(str(empty))
    with pytest.raises(
        ValueError,
        match=r"`unk_token`.*not in the vocabulary.*unk_token='\[UNK\]'",
    ):
        WordPieceTokenizer(
            ["[PAD]", "a"], cls_token=None, sep_token=None, mask_token=None
        )
    with pytest.raises(
        ValueError,
        match=r"`vocabulary`: tensorflow-text cannot build.*vocabulary=\['\[UNK\]'\]",
    ):
        WordPieceTokenizer(
            ["[UNK]"],
            cls_token=None,
            sep_token=None,
            pad_token=None,
            mask_token=None,
        )
    with pytest.raises(ValueError, match=r"`unk_token`.*unk_token=None"):
        WordPieceTokenizer(VOCABULARY, unk_token=None)
    with pytest.raises(ValueError, match=r"`mask_token`.*mask_token='<mask>'"):
        WordPieceTokenizer(VOCABULARY, mask_token="<mask>")
