"""Tokenizer and packer layers (tensorflow-text) and tokenizer training."""

from keras_bigbird.preprocessing.bigbird_preprocessor import (
    BigBirdPreprocessor,
)
from keras_bigbird.preprocessing.block_packer import BlockPacker
from keras_bigbird.preprocessing.sentence_piece_tokenizer import (
    SentencePieceTokenizer,
)
from keras_bigbird.preprocessing.tokenizer import Tokenizer
from keras_bigbird.preprocessing.train_sentencepiece import train_sentencepiece
from keras_bigbird.preprocessing.word_piece_tokenizer import WordPieceTokenizer
