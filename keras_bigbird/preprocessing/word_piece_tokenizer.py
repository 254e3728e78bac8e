"""`WordPieceTokenizer`: BERT-style WordPiece (tensorflow-text) as a layer."""

import io
import os

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bigbird.preprocessing.tokenizer import Tokenizer
from keras_bigbird.preprocessing.text_files import check_file_exists
from keras_bigbird.preprocessing.text_files import read_text_file
from keras_bigbird.utils import checks


def read_vocabulary(argument, value):
    """Returns a list of tokens from a list or a one-token-a-line file."""
    if isinstance(value, (str, os.PathLike)):
        check_file_exists(argument, value, "vocabulary file")
        # Universal newlines, as `open` reads: "\r\n" and "\r" end lines.
        lines = io.StringIO(read_text_file(value), newline=None)
        value = [line.rstrip("\n") for line in lines]
        while value and not value[-1]:
            value.pop()
    try:
        tokens = list(value)
    except TypeError:
        tokens = None
    if not tokens or not all(isinstance(t, str) and t for t in tokens):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, expected a "
            "non-empty list of non-empty token strings or the path of a file "
            f"with one token a line. Received: {argument}={value!r}"
        )
    return tokens


@keras.saving.register_keras_serializable(package="keras_bigbird")
class WordPieceTokenizer(Tokenizer):
    """WordPiece tokenization (`tf_text.FastWordpieceTokenizer`) as a layer.

    The text is split on whitespace and punctuation, then each word into the
    longest vocabulary pieces, continuation pieces carrying
    `suffix_indicator` (`"##ing"`); a word that cannot be split becomes
    `unk_token`. Strings in, int32 ids out: a scalar string gives a 1-D
    tensor, a `[batch]` string tensor a `tf.RaggedTensor` `[batch, None]`.
    `detokenize` joins the pieces back into words separated by single spaces
    and drops [CLS], [SEP] and padding ids.

    Args:
        vocabulary: a list of token strings (the index is the id) or the
            path of a text file with one token a line.
        lowercase: case-fold the text and strip accents before splitting
            (BERT "uncased" vocabularies).
        suffix_indicator: prefix of the word-continuation pieces.
        max_bytes_per_word: longer words become `unk_token`.
        cls_token, sep_token, pad_token, mask_token, unk_token: special token
            strings; each must be in the vocabulary, or `None` (`unk_token`
            is required).
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Example:

    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...               "long", "document", "##s", "read", "."]
    >>> tokenizer = WordPieceTokenizer(vocabulary, lowercase=True)
    >>> tokenizer("Read long documents.").numpy()
    array([8, 5, 6, 7, 9], dtype=int32)
    >>> tokenizer.detokenize([2, 8, 5, 6, 7, 9, 3, 0]).numpy()
    b'read long documents .'
    """

    def __init__(
        self,
        vocabulary,
        lowercase=False,
        suffix_indicator="##",
        max_bytes_per_word=100,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        unk_token="[UNK]",
        **kwargs,
    ):
        vocabulary = read_vocabulary("vocabulary", vocabulary)
        checks.positive_int("max_bytes_per_word", max_bytes_per_word)
        if not isinstance(suffix_indicator, str):
            raise ValueError(
                "Received an invalid value for argument `suffix_indicator`, "
                "expected a string. Received: "
                f"suffix_indicator={suffix_indicator!r}"
            )
        if unk_token is None:
            raise ValueError(
                "Received an invalid value for argument `unk_token`: WordPiece "
                "needs an unknown token. Received: unk_token=None"
            )
        super().__init__(
            cls_token=cls_token,
            sep_token=sep_token,
            pad_token=pad_token,
            mask_token=mask_token,
            unk_token=unk_token,
            **kwargs,
        )
        self.lowercase = bool(lowercase)
        self.suffix_indicator = suffix_indicator
        self.max_bytes_per_word = max_bytes_per_word
        self._vocabulary = vocabulary
        self._resolve_special_tokens()
        try:
            self._text_tokenizer = tf_text.FastWordpieceTokenizer(
                vocab=vocabulary,
                suffix_indicator=suffix_indicator,
                max_bytes_per_word=max_bytes_per_word,
                token_out_type=tf.int32,
                unknown_token=unk_token,
                no_pretokenization=False,
                support_detokenization=True,
            )
        except RuntimeError as error:
            raise ValueError(
                "Received an invalid value for argument `vocabulary`: "
                f"tensorflow-text cannot build a WordPiece model from it "
                f"({error}). Received: vocabulary={vocabulary[:20]!r}"
            ) from None

    @property
    def vocabulary(self):
        return list(self._vocabulary)

    def _tokenize(self, strings):
        # BERT's text cleaning: tabs and newlines become spaces, and other
        # control and format characters (NUL, soft hyphen, zero-width space)
        # and U+FFFD are dropped; left in, they make their word one [UNK].
        strings = tf.strings.regex_replace(strings, r"[\t\n\r]", " ")
        strings = tf.strings.regex_replace(strings, r"[\p{C}\x{FFFD}]", "")
        if self.lowercase:
            strings = tf_text.normalize_utf8(
                tf_text.case_fold_utf8(strings), "NFD"
            )
            strings = tf.strings.regex_replace(strings, r"\p{Mn}", "")
        return super()._tokenize(strings)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "lowercase": self.lowercase,
                "suffix_indicator": self.suffix_indicator,
                "max_bytes_per_word": self.max_bytes_per_word,
            }
        )
        return config
