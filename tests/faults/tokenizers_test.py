"""Fault cases of the tokenizers, the packer and `train_sentencepiece`: each
bad input and the exact error it gets, eagerly and in a graph (where the
ids are known only when it runs). No case reaches a tensorflow-text kernel
with a bad id: out-of-range ids made WordPiece read past its vocabulary
(garbage text, or a segmentation fault) and SentencePiece fail with
"conversion failed"."""

import os
import re
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import SentencePieceTokenizer
from keras_bigbird.preprocessing import WordPieceTokenizer
from keras_bigbird.preprocessing import train_sentencepiece
from tests.faults.fault_cases import assert_fault
from tests.faults.fault_cases import in_graph
from tests.faults.fault_cases import params
from tests.preprocessing.conftest import corpus  # noqa: F401 (fixture)
from tests.preprocessing.conftest import spm_model_file  # noqa: F401
from tests.preprocessing.conftest import words  # noqa: F401 (fixture)
from tests.preprocessing.word_piece_tokenizer_test import VOCABULARY

pytestmark = pytest.mark.tf_only

SIZE = len(VOCABULARY)  # 13
SPM_SIZE = 400
InvalidArgument = tf.errors.InvalidArgumentError
RAGGED = tf.RaggedTensorSpec([None, None], tf.int32)


def id_range(value, size=SIZE, argument="ids"):
    return (
        rf"`{argument}`, expected token ids in \[0, {size}\), {size} being "
        rf"the vocabulary size\. Received: {argument} containing {value}"
    )


def bad_dtype(dtype, argument="ids"):
    return (
        rf"`{argument}`, expected integer token ids\. Received: {argument} "
        rf"with dtype={dtype}"
    )


NEGATIVE = r"expected non-negative token ids below 2\*\*31\. Received: inputs"
STRINGS = r"`inputs`, expected a string or a string tensor"


@pytest.fixture(scope="module")
def subjects(spm_model_file, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("faults")
    bad_vocabulary = folder / "latin1.txt"
    bad_vocabulary.write_bytes("[UNK]\nr\xe9sum\xe9\n".encode("latin-1"))
    bad_corpus = folder / "corpus.txt"
    bad_corpus.write_bytes(b"hello world\nfoo \xff bar\n")
    return types.SimpleNamespace(
        wp=WordPieceTokenizer(VOCABULARY),
        sp=SentencePieceTokenizer(spm_model_file),
        packer=BlockPacker(64, cls_id=2, sep_id=3, block_size=16),
        bad_vocabulary=str(bad_vocabulary),
        bad_corpus=str(bad_corpus),
        folder=folder,
    )


def train(s, texts=("a b c d",), **options):
    kwargs = dict(vocab_size=10, model_prefix=s.folder / "never" / "spm")
    kwargs.update(options)
    return train_sentencepiece(list(texts), **kwargs)


DETOKENIZE = {
    # WordPiece: -1 and the vocabulary size were a segmentation fault,
    # larger ids text read from outside the vocabulary.
    "wordpiece -1": (
        lambda s: s.wp.detokenize([[5, -1]]),
        ValueError,
        id_range(-1) + r" \(row 0, position 1\)",
    ),
    "wordpiece id = vocabulary size": (
        lambda s: s.wp.detokenize([[5, SIZE]]),
        ValueError,
        id_range(SIZE),
    ),
    "wordpiece id past the vocabulary, second row": (
        lambda s: s.wp.detokenize([[5], [6, 7, 99]]),
        ValueError,
        id_range(99) + r" \(row 1, position 2\)",
    ),
    "wordpiece 1-D ids": (
        lambda s: s.wp.detokenize([5, 6, -2]),
        ValueError,
        id_range(-2) + r" \(row 0, position 2\)",
    ),
    "wordpiece dense tensor": (
        lambda s: s.wp.detokenize(tf.constant([[5, 6], [7, 100]])),
        ValueError,
        id_range(100) + r" \(row 1, position 1\)",
    ),
    "wordpiece int64 id that int32 would wrap to 5": (
        lambda s: s.wp.detokenize(tf.constant([[2**32 + 5]], tf.int64)),
        ValueError,
        id_range(2**32 + 5),
    ),
    "wordpiece float ids were truncated": (
        lambda s: s.wp.detokenize([[5.7, 6.0]]),
        ValueError,
        bad_dtype("float32"),
    ),
    "wordpiece numpy float64 ids": (
        lambda s: s.wp.detokenize(np.array([5.0, 6.0])),
        ValueError,
        bad_dtype("float64"),
    ),
    "wordpiece string ids": (
        lambda s: s.wp.detokenize([["read"]]),
        ValueError,
        bad_dtype("string"),
    ),
    "wordpiece bool ids": (
        lambda s: s.wp.detokenize(tf.constant([True, False])),
        ValueError,
        bad_dtype("bool"),
    ),
    "wordpiece scalar id": (
        lambda s: s.wp.detokenize(5),
        ValueError,
        r"`ids`, expected a 1-D sequence of token ids or batches of them\. "
        r"Received: ids of shape \(\)",
    ),
    "wordpiece None": (
        lambda s: s.wp.detokenize(None),
        ValueError,
        r"`ids`, expected integer token ids\. Received: ids=None",
    ),
    "wordpiece None among the ids": (
        lambda s: s.wp.detokenize([[5, None]]),
        ValueError,
        r"`ids`, expected integer token ids\. Received: ids=\[\[5, None\]\]",
    ),
    "wordpiece -1 in a tf.function": (
        lambda s: in_graph(s.wp.detokenize, RAGGED, tf.ragged.constant([[-1]])),
        InvalidArgument,
        r"`ids`, expected token ids in \[0, 13\), 13 being the vocabulary "
        r"size\. Received: ids containing\] \[-1\]",
    ),
    "wordpiece vocabulary size in a tf.function, dense": (
        lambda s: in_graph(
            s.wp.detokenize,
            tf.TensorSpec([None, None], tf.int32),
            tf.constant([[5, SIZE, SIZE + 1]]),
        ),
        InvalidArgument,
        r"`ids`, expected token ids in \[0, 13\).*containing\] \[13 14\]",
    ),
    "wordpiece bad id in tf.data": (
        lambda s: list(
            tf.data.Dataset.from_tensor_slices(tf.constant([[5, 6], [7, -4]]))
            .batch(2)
            .map(s.wp.detokenize)
        ),
        InvalidArgument,
        r"`ids`, expected token ids in \[0, 13\).*containing\] \[-4\]",
    ),
    # SentencePiece: "InternalError: Sentencepiece conversion failed".
    "sentencepiece -1": (
        lambda s: s.sp.detokenize([[5, -1]]),
        ValueError,
        id_range(-1, SPM_SIZE),
    ),
    "sentencepiece id = vocabulary size": (
        lambda s: s.sp.detokenize([[SPM_SIZE]]),
        ValueError,
        id_range(SPM_SIZE, SPM_SIZE) + r" \(row 0, position 0\)",
    ),
    "sentencepiece id past the vocabulary in a tf.function": (
        lambda s: in_graph(
            s.sp.detokenize, RAGGED, tf.ragged.constant([[5], [SPM_SIZE + 7]])
        ),
        InvalidArgument,
        r"`ids`, expected token ids in \[0, 400\).*containing\] \[407\]",
    ),
    "sentencepiece float ids": (
        lambda s: s.sp.detokenize(tf.constant([[5.0]])),
        ValueError,
        bad_dtype("float32"),
    ),
}

TOKENIZE = {
    "ids instead of text": (
        lambda s: s.wp([1, 2]),
        ValueError,
        STRINGS + r" \(tokenize text, not ids\)\. Received: inputs with "
        r"dtype=int32",
    ),
    "float tensor": (
        lambda s: s.wp(tf.constant([1.5])),
        ValueError,
        STRINGS + r".*Received: inputs with dtype=float32",
    ),
    "None": (
        lambda s: s.wp(None),
        ValueError,
        STRINGS + r"\. Received: inputs=None",
    ),
    "mixed list": (
        lambda s: s.wp(["read", 1]),
        ValueError,
        STRINGS + r"\. Received: inputs=\['read', 1\]",
    ),
    "ragged strings": (
        lambda s: s.wp(tf.ragged.constant([["read"], ["long", "read"]])),
        ValueError,
        r"`inputs`, expected a string or a dense string tensor, not a "
        r"`tf.RaggedTensor` \(tokenize its `flat_values`\)\. Received: "
        r"inputs with shape \(2, None\)",
    ),
    "sentencepiece int tensor": (
        lambda s: s.sp(tf.constant([[1]])),
        ValueError,
        STRINGS + r".*dtype=int32",
    ),
    "symbolic int input in a functional model": (
        lambda s: s.sp(keras.Input(shape=(), dtype="int32")),
        ValueError,
        r"`inputs`, expected a string tensor \(tokenize text, not ids\)\. "
        r"Received: inputs with dtype=int32",
    ),
    "int signature in a tf.function": (
        lambda s: in_graph(s.wp, tf.TensorSpec([None], tf.int64), [1]),
        ValueError,
        STRINGS + r".*dtype=int64",
    ),
}


def lookup(value):
    return (
        lambda s: s.wp.id_to_token(value),
        ValueError,
        r"`id`, expected an integer in \[0, 13\)\. Received: "
        + re.escape(f"id={value!r}"),
    )


LOOKUPS = {
    "id_to_token 2.7 was id 2": lookup(2.7),
    "id_to_token text '3' was id 3": lookup("3"),
    "id_to_token True": lookup(True),
    "id_to_token -1": lookup(-1),
    "id_to_token vocabulary size": lookup(SIZE),
    "token_to_id unknown token": (
        lambda s: s.wp.token_to_id("zebra"),
        ValueError,
        r"`token`: it is not in the vocabulary\. Received: token='zebra'",
    ),
}

CONSTRUCTORS = {
    "wordpiece vocabulary not UTF-8": (
        lambda s: WordPieceTokenizer(s.bad_vocabulary),
        ValueError,
        r"not UTF-8 text: .*latin1\.txt at byte offset 7 \(line 2: invalid "
        r"continuation byte\)\. Save it as UTF-8\. Received: bytes "
        r"b'\\xe9sum\\xe9\\n'",
    ),
    "wordpiece duplicate token": (
        lambda s: WordPieceTokenizer(VOCABULARY + ["read"]),
        ValueError,
        r"`vocabulary`: tensorflow-text cannot build a WordPiece model from "
        r"it \(Tokens in the vocabulary must be unique\.\)",
    ),
    "wordpiece empty token": (
        lambda s: WordPieceTokenizer(VOCABULARY + [""]),
        ValueError,
        r"`vocabulary`, expected a non-empty list of non-empty token strings",
    ),
    "wordpiece vocabulary of ids": (
        lambda s: WordPieceTokenizer([1, 2, 3]),
        ValueError,
        r"`vocabulary`.*Received: vocabulary=\[1, 2, 3\]",
    ),
    "wordpiece missing vocabulary file": (
        lambda s: WordPieceTokenizer(str(s.folder / "nope.txt")),
        ValueError,
        r"`vocabulary`: the vocabulary file does not exist\. Received: "
        r"vocabulary='.*nope\.txt'",
    ),
    "wordpiece max_bytes_per_word 0": (
        lambda s: WordPieceTokenizer(VOCABULARY, max_bytes_per_word=0),
        ValueError,
        r"`max_bytes_per_word`, expected a positive integer\. Received: "
        r"max_bytes_per_word=0",
    ),
    "wordpiece suffix_indicator not a string": (
        lambda s: WordPieceTokenizer(VOCABULARY, suffix_indicator=3),
        ValueError,
        r"`suffix_indicator`, expected a string\. Received: "
        r"suffix_indicator=3",
    ),
    "wordpiece no unk_token": (
        lambda s: WordPieceTokenizer(VOCABULARY, unk_token=None),
        ValueError,
        r"`unk_token`: WordPiece needs an unknown token\. Received: "
        r"unk_token=None",
    ),
    "wordpiece mask token not in the vocabulary": (
        lambda s: WordPieceTokenizer(VOCABULARY, mask_token="<mask>"),
        ValueError,
        r"`mask_token`: the token is not in the vocabulary .*Received: "
        r"mask_token='<mask>'",
    ),
    "sentencepiece proto of the wrong type": (
        lambda s: SentencePieceTokenizer(123),
        ValueError,
        r"`proto`, expected the path of a SentencePiece `\.model` file or "
        r"its serialized bytes\. Received: proto=123",
    ),
    "sentencepiece proto not a model": (
        lambda s: SentencePieceTokenizer(b"not a model"),
        ValueError,
        r"`proto`: it is not a SentencePiece model .*Received: proto of 11 "
        r"bytes starting b'not a model'",
    ),
    "sentencepiece missing model file": (
        lambda s: SentencePieceTokenizer(str(s.folder / "nope.model")),
        ValueError,
        r"`proto`: the SentencePiece model file does not exist\. Received: "
        r"proto='.*nope\.model'",
    ),
    "sentencepiece special token not in the model": (
        lambda s: SentencePieceTokenizer(s.sp.proto, sep_token="</sep>"),
        ValueError,
        r"`sep_token`: the token is not in the vocabulary .*sep_token='</sep>'",
    ),
}


def packer_arguments(error_argument, expected, **arguments):
    config = dict(max_sequence_length=64, cls_id=2, sep_id=3, block_size=16)
    config.update(arguments)
    value = arguments[error_argument]
    return (
        lambda s: BlockPacker(**config),
        ValueError,
        rf"`{error_argument}`, expected {expected}\. Received: "
        rf"{error_argument}={value!r}",
    )


PACKER = {
    "max_sequence_length not a block multiple": packer_arguments(
        "max_sequence_length",
        r"a multiple of `block_size`=64 and at least 4",
        max_sequence_length=100,
        block_size=64,
    ),
    "max_sequence_length 0": packer_arguments(
        "max_sequence_length", "a positive integer", max_sequence_length=0
    ),
    "max_sequence_length under 4": packer_arguments(
        "max_sequence_length",
        r"a multiple of `block_size`=1 and at least 4",
        max_sequence_length=2,
        block_size=1,
    ),
    "block_size 0": packer_arguments(
        "block_size", "a positive integer", block_size=0
    ),
    "block_size -16": packer_arguments(
        "block_size", "a positive integer", block_size=-16
    ),
    "cls_id -1": packer_arguments(
        "cls_id", "a non-negative integer", cls_id=-1
    ),
    "sep_id True": packer_arguments(
        "sep_id", "a non-negative integer", sep_id=True
    ),
    "pad_id 1.5": packer_arguments(
        "pad_id", "a non-negative integer", pad_id=1.5
    ),
    "truncation": (
        lambda s: BlockPacker(64, 2, 3, block_size=16, truncation="left"),
        ValueError,
        r"`truncation`, expected one of \('waterfall', 'round_robin'\)\. "
        r"Received: truncation='left'",
    ),
    "padding": (
        lambda s: BlockPacker(64, 2, 3, block_size=16, padding="longest"),
        ValueError,
        r"`padding`, expected one of \('block', 'max_length'\)\. Received: "
        r"padding='longest'",
    ),
    "from_tokenizer of a string": (
        lambda s: BlockPacker.from_tokenizer("vocab.txt", 64),
        ValueError,
        r"`tokenizer`, expected a tokenizer layer .*Received: "
        r"tokenizer='vocab\.txt'",
    ),
    "from_tokenizer without cls_token": (
        lambda s: BlockPacker.from_tokenizer(
            WordPieceTokenizer(VOCABULARY, cls_token=None), 64
        ),
        ValueError,
        r"`tokenizer`: it has no `cls_token`\..*with cls_token=None",
    ),
    "negative id": (
        lambda s: s.packer([[5, -1]]),
        ValueError,
        NEGATIVE + r" containing -1 \(row 0, position 1\)",
    ),
    "int64 id that int32 would wrap": (
        lambda s: s.packer(tf.constant([2**31 + 7], tf.int64)),
        ValueError,
        NEGATIVE + r" containing 2147483655",
    ),
    "negative id in the second segment": (
        lambda s: s.packer((tf.constant([5]), tf.constant([6, -3]))),
        ValueError,
        NEGATIVE + r" containing -3",
    ),
    "negative id in a tf.function": (
        lambda s: in_graph(s.packer, RAGGED, tf.ragged.constant([[5], [-9]])),
        InvalidArgument,
        NEGATIVE + r" containing\] \[-9\]",
    ),
    "float ids": (
        lambda s: s.packer(tf.constant([[5.7]])),
        ValueError,
        bad_dtype("float32", "inputs"),
    ),
    "strings instead of ids": (
        lambda s: s.packer(tf.constant(["read long"])),
        ValueError,
        bad_dtype("string", "inputs"),
    ),
    "three segments": (
        lambda s: s.packer((tf.constant([1]),) * 3),
        ValueError,
        r"`inputs`, expected one segment or a pair of segments\. Received: "
        r"3 segments",
    ),
    "pair of different batch sizes": (
        lambda s: s.packer(
            (tf.ragged.constant([[5], [6]]), tf.ragged.constant([[7]] * 3))
        ),
        ValueError,
        r"`inputs`: the segments of a pair must have the same batch size\. "
        r"Received: batch sizes \[2, 3\]",
    ),
    "pair of different batch sizes in a tf.function": (
        lambda s: in_graph(
            s.packer,
            (RAGGED, RAGGED),
            (tf.ragged.constant([[5]]), tf.ragged.constant([[6], [7]])),
        ),
        InvalidArgument,
        r"the segments of a pair must have the same batch size\. Received: "
        r"batch sizes\] \[1 2\]",
    ),
    "pair of a 1-D and a batched segment": (
        lambda s: s.packer((tf.constant([1]), tf.ragged.constant([[2]]))),
        ValueError,
        r"`inputs`: the segments of a pair must both be batched or both "
        r"1-D\. Received: segments of ranks \[1, 2\]",
    ),
    "scalar id": (
        lambda s: s.packer(tf.constant(5)),
        ValueError,
        r"`inputs`, expected a 1-D sequence of token ids or a `\[batch, "
        r"None\]` batch of them\. Received: inputs of shape \(\)",
    ),
    "rank-3 ids": (
        lambda s: s.packer(tf.ragged.constant([[[5]]])),
        ValueError,
        r"`inputs`, expected a 1-D sequence .*Received: inputs of shape "
        r"\(1, None, None\)",
    ),
}

TRAIN = {
    "vocab_size 0": (
        lambda s: train(s, vocab_size=0),
        ValueError,
        r"`vocab_size`, expected a positive integer\. Received: vocab_size=0",
    ),
    "vocab_size 2.5": (
        lambda s: train(s, vocab_size=2.5),
        ValueError,
        r"`vocab_size`, expected a positive integer\. Received: "
        r"vocab_size=2\.5",
    ),
    "model_type": (
        lambda s: train(s, model_type="wordpiece"),
        ValueError,
        r"`model_type`, expected one of \('unigram', 'bpe', 'char', "
        r"'word'\)\. Received: model_type='wordpiece'",
    ),
    "character_coverage 1.5": (
        lambda s: train(s, character_coverage=1.5),
        ValueError,
        r"`character_coverage`, expected a number in \[0\.98, 1\] .*"
        r"Received: character_coverage=1\.5",
    ),
    "character_coverage 0": (
        lambda s: train(s, character_coverage=0),
        ValueError,
        r"`character_coverage`.*Received: character_coverage=0",
    ),
    "normalization_rule_name": (
        lambda s: train(s, normalization_rule_name="nfc"),
        ValueError,
        r"`normalization_rule_name`, expected one of \('nmt_nfkc', "
        r".*'identity'\)\. Received: normalization_rule_name='nfc'",
    ),
    "max_sentence_length 0": (
        lambda s: train(s, max_sentence_length=0),
        ValueError,
        r"`max_sentence_length`, expected an integer in \[10, 1073741824\]\. "
        r"Received: max_sentence_length=0",
    ),
    "input_sentence_size -1": (
        lambda s: train(s, input_sentence_size=-1),
        ValueError,
        r"`input_sentence_size`, expected a non-negative integer\. Received: "
        r"input_sentence_size=-1",
    ),
    "num_threads 0": (
        lambda s: train(s, num_threads=0),
        ValueError,
        r"`num_threads`, expected an integer in \[1, 1024\]\. Received: "
        r"num_threads=0",
    ),
    "control symbol not a string": (
        lambda s: train(s, control_symbols=[1]),
        ValueError,
        r"`control_symbols`, expected symbols that are non-empty strings\. "
        r"Received: control_symbols=\(1,\) \(symbol 1\)",
    ),
    "duplicate control symbol": (
        lambda s: train(s, control_symbols=["[CLS]", "[CLS]"]),
        ValueError,
        r"`control_symbols`, expected symbols that are distinct from each "
        r"other and from the fixed pieces .*\(symbol '\[CLS\]'\)",
    ),
    "user symbol that is a fixed piece": (
        lambda s: train(s, user_defined_symbols="<pad>"),
        ValueError,
        r"`user_defined_symbols`, expected symbols that are distinct .*"
        r"Received: user_defined_symbols=\('<pad>',\) \(symbol '<pad>'\)",
    ),
    "user symbol also a control symbol": (
        lambda s: train(s, user_defined_symbols=["[SEP]"]),
        ValueError,
        r"`user_defined_symbols`.*\(symbol '\[SEP\]'\)",
    ),
    "fixed special-token id": (
        lambda s: train(s, pad_id=5),
        ValueError,
        r"`pad_id`: the special-token ids are fixed .*Received: pad_id=5",
    ),
    "texts not iterable": (
        lambda s: train_sentencepiece(5, model_prefix=s.folder / "x"),
        ValueError,
        r"`texts`, expected an iterable of documents \(strings\)\. Received: "
        r"texts=5",
    ),
    "texts with None": (
        lambda s: train(s, texts=["a b", None]),
        ValueError,
        r"`texts`, expected documents that are strings\. Received: "
        r"texts\[1\]=None",
    ),
    "texts a single string": (
        lambda s: train_sentencepiece("a b c", model_prefix=s.folder / "x"),
        ValueError,
        r"`texts`, expected an iterable of documents, not a single string",
    ),
    "texts only whitespace": (
        lambda s: train(s, texts=[" ", "\n\n"]),
        ValueError,
        r"`texts`: it holds no text to train on",
    ),
    "texts and files": (
        lambda s: train_sentencepiece(
            ["a"], files=s.bad_corpus, model_prefix=s.folder / "x"
        ),
        ValueError,
        r"Pass exactly one of `texts` and `files`",
    ),
    "file not UTF-8": (
        lambda s: train_sentencepiece(
            files=s.bad_corpus, model_prefix=s.folder / "x"
        ),
        ValueError,
        r"not UTF-8 text: .*corpus\.txt at byte offset 16 \(line 2: invalid "
        r"start byte\)\. Save it as UTF-8\. Received: bytes b'\\xff bar\\n'",
    ),
    "missing file": (
        lambda s: train_sentencepiece(
            files=[s.folder / "gone.txt"], model_prefix=s.folder / "x"
        ),
        ValueError,
        r"`files`: the file does not exist\. Received: files='.*gone\.txt'",
    ),
    "model_prefix empty": (
        lambda s: train(s, model_prefix=""),
        ValueError,
        r"`model_prefix`, expected an output path\. Received: "
        r"model_prefix=''",
    ),
}

CASES = {
    **DETOKENIZE,
    **TOKENIZE,
    **LOOKUPS,
    **CONSTRUCTORS,
    **PACKER,
    **TRAIN,
}


@pytest.mark.parametrize("call, error, pattern", params(CASES))
def test_fault(subjects, call, error, pattern):
    assert_fault(call, subjects, error, pattern)


def test_nothing_was_trained_by_a_fault(subjects):
    assert not os.path.exists(subjects.folder / "never")
    assert not os.path.exists(subjects.folder / "x.model")


def test_out_of_range_ids_do_not_crash_the_process():
    # Unguarded, this script died with SIGSEGV inside tensorflow-text.
    script = (
        "import tensorflow as tf\n"
        "from keras_bigbird.preprocessing import WordPieceTokenizer\n"
        "from tests.preprocessing.word_piece_tokenizer_test import "
        "VOCABULARY\n"
        "t = WordPieceTokenizer(VOCABULARY)\n"
        "spec = tf.RaggedTensorSpec([None, None], tf.int32)\n"
        "f = tf.function(t.detokenize, input_signature=[spec])\n"
        "for call in (t.detokenize, f):\n"
        "    for ids in ([[5, -1]], [[5, len(VOCABULARY)]]):\n"
        "        try:\n"
        "            call(tf.ragged.constant(ids))\n"
        "        except (ValueError, tf.errors.InvalidArgumentError) as e:\n"
        "            print(type(e).__name__, 'vocabulary size' in str(e))\n"
    )
    environment = dict(os.environ, PYTHONPATH=os.getcwd())
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:4] == [
        "ValueError True",
        "ValueError True",
        "InvalidArgumentError True",
        "InvalidArgumentError True",
    ]


def test_valid_ids_still_detokenize(subjects):
    # The checks pass every id in [0, vocabulary size), and nested batches.
    ids = [[SIZE - 1, 0, 5], [6, 7, 8]]
    assert subjects.wp.detokenize(ids).numpy().tolist() == [
        b"##read read",
        b"long documents",
    ]
    grid = subjects.wp(tf.constant([["read long"], ["documents"]]))
    assert subjects.wp.detokenize(grid).numpy().tolist() == [
        [b"read long"],
        [b"documents"],
    ]
    assert subjects.sp.detokenize([[SPM_SIZE - 1]]).shape == (1,)
    traced = in_graph(
        subjects.wp.detokenize, RAGGED, tf.ragged.constant([[5, 6]])
    )
    assert traced.numpy().tolist() == [b"read long"]
