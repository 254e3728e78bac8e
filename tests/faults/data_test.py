"""Fault cases of the data loaders: each bad file or argument and the exact
error it gets, naming the file and the row (with its line) or the byte
offset. Labels of mixed kinds were wrong answers: `1, 2, x` shifted the
classes (1 became class 0), a typo `pos` among `0/1` became a class, and a
repeated header column silently won."""

import types

import pytest
import tensorflow as tf

from keras_bigbird.data import batch_long_text
from keras_bigbird.data import load_long_text
from keras_bigbird.data import load_text_files
from keras_bigbird.data import padding_efficiency
from keras_bigbird.preprocessing import BlockPacker
from tests.data.conftest import tokenizer  # noqa: F401 (fixture)
from tests.data.conftest import words  # noqa: F401 (fixture)
from tests.faults.fault_cases import assert_fault
from tests.faults.fault_cases import params

pytestmark = pytest.mark.tf_only

InvalidArgument = tf.errors.InvalidArgumentError
DOC = "d1 alpha ."  # Three ids: a mark, an unknown word and a period.


@pytest.fixture(scope="module")
def subjects(tokenizer, tmp_path_factory):  # noqa: F811
    return types.SimpleNamespace(
        tokenizer=tokenizer,
        packer=BlockPacker.from_tokenizer(tokenizer, 256, block_size=64),
        folder=tmp_path_factory.mktemp("data_faults"),
    )


def write(s, name, content):
    path = s.folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load(name, content, **options):
    """A case: `load_text_files` on the file `name` holding `content`."""

    def call(s):
        path = write(s, name, content)
        return load_text_files(
            path, tokenizer=s.tokenizer, packer=s.packer, **options
        )

    return call


def csv_rows(*labels):
    return "text,label\n" + "".join(f"{DOC},{label}\n" for label in labels)


def jsonl_rows(*labels):
    return "".join(
        f'{{"text": "{DOC}", "label": {label}}}\n' for label in labels
    )


def documents(*texts, labels=None):
    labels = labels or [0] * len(texts)
    return tf.data.Dataset.from_tensor_slices((list(texts), labels))


def batch(dataset, **options):
    def call(s):
        tokenizer = options.pop("tokenizer", s.tokenizer)
        packer = options.pop("packer", s.packer)
        data = dataset(s) if callable(dataset) else dataset
        return list(batch_long_text(data, tokenizer, packer, **options))

    return call


def tfds(name="imdb_reviews", **options):
    def call(s):
        arguments = dict(tokenizer=s.tokenizer, packer=s.packer)
        arguments.update(options)
        return load_long_text(name, download=False, **arguments)

    return call


ANOTHER_KIND = r"Received a label of another kind in .*"

LABELS = {
    "1, 2, x shifted the classes": (
        load("mixed.csv", csv_rows(1, 2, "x")),
        ValueError,
        ANOTHER_KIND + r"mixed\.csv row 3 \(line 4\): 2 labels are integers "
        r"\(class ids\), this one is not\. The labels must be all integers, "
        r"all numbers or all strings .*Received: label='x'",
    ),
    "typo pos among 0/1 became a class": (
        load("typo.csv", csv_rows(0, 1, "pos", 0)),
        ValueError,
        ANOTHER_KIND + r"typo\.csv row 3 \(line 4\): 3 labels are integers"
        r".*label='pos'",
    ),
    "an id among names": (
        load("names.csv", csv_rows("pos", "neg", 1)),
        ValueError,
        ANOTHER_KIND + r"names\.csv row 3 \(line 4\): 2 labels are strings "
        r"\(class names\).*label='1'",
    ),
    "a name among numbers": (
        load("numbers.csv", csv_rows(0.5, 1.5, 2, "high")),
        ValueError,
        ANOTHER_KIND + r"numbers\.csv row 4 \(line 5\): 3 labels are numbers"
        r", this one is not.*label='high'",
    ),
    "jsonl name among ids": (
        load("mixed.jsonl", jsonl_rows(1, '"x"', 2)),
        ValueError,
        ANOTHER_KIND + r"mixed\.jsonl line 2: 2 labels are integers.*"
        r"label='x'",
    ),
    "jsonl boolean among ids": (
        load("bool.jsonl", jsonl_rows("true", 0, 1)),
        ValueError,
        ANOTHER_KIND + r"bool\.jsonl line 1: 2 labels are integers.*"
        r"label=True",
    ),
    "jsonl list label": (
        load("list.jsonl", jsonl_rows("[1, 2]")),
        ValueError,
        r"invalid label in .*list\.jsonl line 1, expected an integer, a "
        r"number or a string\. Received: label=\[1, 2\]",
    ),
    "jsonl object label": (
        load("object.jsonl", jsonl_rows('{"id": 1}')),
        ValueError,
        r"invalid label in .*object\.jsonl line 1.*label=\{'id': 1\}",
    ),
    "jsonl null label": (
        load("null.jsonl", jsonl_rows(0, "null")),
        ValueError,
        r"missing label in .*null\.jsonl line 2\. Received: label=None",
    ),
    "empty label cell": (
        load("blank.csv", csv_rows(0, " ")),
        ValueError,
        r"missing label in .*blank\.csv row 2 \(line 3\)\. Received: "
        r"label=' '",
    ),
    "id out of range of num_classes": (
        load("range.csv", csv_rows(0, 3), num_classes=3),
        ValueError,
        r"label out of range \[0, num_classes=3\) in .*range\.csv row 2 "
        r"\(line 3\)\. Received: label='3'",
    ),
    "negative id": (
        load("negative.csv", csv_rows(0, -1)),
        ValueError,
        r"label out of range non-negative in .*negative\.csv row 2.*"
        r"label='-1'",
    ),
    "fewer names than num_classes": (
        load("few.csv", csv_rows("neg", "pos"), num_classes=3),
        ValueError,
        r"`num_classes`: the labels are 2 names \(\['neg', 'pos'\]\), mapped "
        r"to classes in sorted order; pass `label_names` .*num_classes=3",
    ),
    "more names than num_classes": (
        load("many.csv", csv_rows("a", "b", "c"), num_classes=2),
        ValueError,
        r"`num_classes`: the labels are 3 names.*num_classes=2",
    ),
    "label not in label_names": (
        load("spam.csv", csv_rows("ham", "spam"), label_names=["ham"]),
        ValueError,
        r"label out of range in .*spam\.csv row 2 \(line 3\): it is not in "
        r"`label_names`=\['ham'\]\. Received: label='spam'",
    ),
    "label_names repeated": (
        load("rep.csv", csv_rows("pos"), label_names=["neg", "pos", "pos"]),
        ValueError,
        r"`label_names`, expected distinct class names \(repeated: "
        r"\['pos'\]\)",
    ),
    "label_names a string": (
        load("str.csv", csv_rows("pos"), label_names="neg,pos"),
        ValueError,
        r"`label_names`, expected a list of class names in label order\. "
        r"Received: label_names='neg,pos'",
    ),
    "label_names and num_classes disagree": (
        load("nc.csv", csv_rows("pos"), label_names=["neg", "pos"],
             num_classes=3),
        ValueError,
        r"`num_classes`: `label_names` has 2 names\. Received: num_classes=3",
    ),
}

FILES = {
    "repeated header column silently won": (
        load("dup.csv", "text,label,label\nd1 a,0,1\n"),
        ValueError,
        r"header naming the column 'label' twice in .*dup\.csv \(columns 2 "
        r"and 3\)",
    ),
    "unquoted comma in the text": (
        load("comma.csv", "text,label\nd1 a,0\nd2 b, c,1\n"),
        ValueError,
        r"row of 3 fields in .*comma\.csv row 2 \(line 3\), the header has 2"
        r" \(is a ',' in the text unquoted\?\)",
    ),
    "row with a field missing": (
        load("short.tsv", "text\tlabel\nd1 a\n"),
        ValueError,
        r"row of 1 fields in .*short\.tsv row 1 \(line 2\), the header has 2",
    ),
    "row line after a multi-line field": (
        load("lines.csv", 'text,label\n"d1\n\nb",0\nd2,x,y\n'),
        ValueError,
        r"lines\.csv row 2 \(line 5\), the header has 2",
    ),
    "empty csv": (
        load("empty.csv", ""),
        ValueError,
        r"`path`: the file is empty \(no header row\)\. Received: "
        r"path='.*empty\.csv'",
    ),
    "header only": (
        load("header.csv", "text,label\n"),
        ValueError,
        r"`path`: it holds no documents",
    ),
    "missing text column": (
        load("body.csv", "body,label\nd1,0\n"),
        ValueError,
        r"`text_column`: .*body\.csv has no such column \(it has \['body', "
        r"'label'\]\)\. Received: text_column='text'",
    ),
    "missing label column": (
        load("nolabel.csv", "text\nd1\n"),
        ValueError,
        r"`label_column`: .*nolabel\.csv has no such column .*"
        r"label_column='label'",
    ),
    "csv not UTF-8": (
        load("latin1.csv", "text,label\nr\xe9sum\xe9,0\n".encode("latin-1")),
        ValueError,
        r"not UTF-8 text: .*latin1\.csv at byte offset 12 \(line 2: invalid "
        r"continuation byte\)\. Save it as UTF-8\. Received: bytes "
        r"b'\\xe9sum\\xe9,0\\n'",
    ),
    "csv with a byte-order mark, not UTF-8": (
        load("bom.csv", b"\xef\xbb\xbftext,label\n\xff,0\n"),
        ValueError,
        r"bom\.csv at byte offset 14 \(line 2: invalid start byte\)",
    ),
    "jsonl not UTF-8": (
        load("latin1.jsonl", b'{"text": "caf\xe9", "label": 0}\n'),
        ValueError,
        r"not UTF-8 text: .*latin1\.jsonl at byte offset 13 \(line 1",
    ),
    "txt not UTF-8": (
        load("latin1.txt", b"d1 ok\nd2 \x80\n", label_column=None),
        ValueError,
        r"not UTF-8 text: .*latin1\.txt at byte offset 9 \(line 2: invalid "
        r"start byte\)",
    ),
    "class folder file not UTF-8": (
        lambda s: load_text_files(
            write(s, "classes/pos/1.txt", b"d1 \xfe").parent.parent,
            tokenizer=s.tokenizer,
            packer=s.packer,
        ),
        ValueError,
        r"not UTF-8 text: .*classes/pos/1\.txt at byte offset 3",
    ),
    "invalid JSON line": (
        load("broken.jsonl", '{"text": "d1", "label": 0}\n{"text": \n'),
        ValueError,
        r"invalid JSON line in .*broken\.jsonl line 2",
    ),
    "JSON line not an object": (
        load("array.jsonl", '["d1", 0]\n'),
        ValueError,
        r"Expected a JSON object a line in .*array\.jsonl line 1",
    ),
    "JSON text not a string": (
        load("number.jsonl", '{"text": 5, "label": 0}\n'),
        ValueError,
        r"`text_column`: in .*number\.jsonl line 1 it holds a int, not a "
        r"string",
    ),
    "JSON key missing on line 2": (
        load("keys.jsonl", '{"text": "d1", "label": 0}\n{"label": 1}\n'),
        ValueError,
        r"`text_column`: .*keys\.jsonl line 2 has no such column",
    ),
    "empty document": (
        load("blankdoc.csv", "text,label\nd1,0\n  ,1\n"),
        ValueError,
        r"empty document in .*blankdoc\.csv row 2 \(line 3\) \(pass "
        r"skip_empty=True",
    ),
    "document of no ids": (
        load("zwsp.csv", "text,label\nd1,0\n\u200b,1\n"),
        ValueError,
        r"document that tokenizes to no ids in .*zwsp\.csv row 2 \(line 3\)",
    ),
}

OK_CSV = csv_rows(0, 1)

ARGUMENTS = {
    "file_format": (
        load("f.csv", OK_CSV, file_format="xml"),
        ValueError,
        r"`file_format`, expected one of \('csv', 'tsv', 'jsonl', 'txt'\)\. "
        r"Received: file_format='xml'",
    ),
    "path missing": (
        lambda s: load_text_files(
            s.folder / "nope.csv", tokenizer=s.tokenizer, packer=s.packer
        ),
        ValueError,
        r"`path`: it does not exist\. Received: path='.*nope\.csv'",
    ),
    "path empty list": (
        lambda s: load_text_files([], tokenizer=s.tokenizer, packer=s.packer),
        ValueError,
        r"`path`, expected a path or a list of paths\. Received: path=\[\]",
    ),
    "path a number": (
        lambda s: load_text_files(5, tokenizer=s.tokenizer, packer=s.packer),
        ValueError,
        r"`path`, expected a path or a list of paths\. Received: path=5",
    ),
    "text_column None": (
        load("tc.csv", OK_CSV, text_column=None),
        ValueError,
        r"`text_column`, expected a column name\. Received: text_column=None",
    ),
    "label_column a number": (
        load("lc.csv", OK_CSV, label_column=1),
        ValueError,
        r"`label_column`, expected a column name or None\. Received: "
        r"label_column=1",
    ),
    "label_column is the text column": (
        load("same.csv", OK_CSV, label_column="text"),
        ValueError,
        r"`label_column`: it is the text column, so each document would be "
        r"its own label\. Received: label_column='text', text_column='text'",
    ),
    "tokenizer None": (
        lambda s: load_text_files(
            write(s, "t.csv", OK_CSV), tokenizer=None, packer=s.packer
        ),
        ValueError,
        r"`tokenizer`, expected a tokenizer layer \(`SentencePieceTokenizer`,"
        r" `WordPieceTokenizer`\)\. Received: tokenizer=None",
    ),
    "packer given as the tokenizer": (
        lambda s: load_text_files(
            write(s, "p.csv", OK_CSV), tokenizer=s.packer, packer=s.packer
        ),
        ValueError,
        r"`tokenizer`, expected a tokenizer layer .*Received: "
        r"tokenizer=<BlockPacker",
    ),
    "tokenizer given as the packer": (
        lambda s: load_text_files(
            write(s, "q.csv", OK_CSV), tokenizer=s.tokenizer,
            packer=s.tokenizer,
        ),
        ValueError,
        r"`packer`, expected a `BlockPacker`\. Received: "
        r"packer=<WordPieceTokenizer",
    ),
    "batch_size 0": (
        load("b0.csv", OK_CSV, batch_size=0),
        ValueError,
        r"`batch_size`, expected a positive integer\. Received: batch_size=0",
    ),
    "batch_size -2": (
        load("b2.csv", OK_CSV, batch_size=-2),
        ValueError,
        r"`batch_size`, expected a positive integer\. Received: "
        r"batch_size=-2",
    ),
    "batch_size 1.5": (
        load("b15.csv", OK_CSV, batch_size=1.5),
        ValueError,
        r"`batch_size`, expected a positive integer\. Received: "
        r"batch_size=1\.5",
    ),
    "bucket_width not a block multiple": (
        load("bw.csv", OK_CSV, bucket_width=100),
        ValueError,
        r"`bucket_width`, expected a multiple of the packer's block_size=64"
        r"\. Received: bucket_width=100",
    ),
    "shuffle_buffer_size 0": (
        load("sb.csv", OK_CSV, shuffle_buffer_size=0),
        ValueError,
        r"`shuffle_buffer_size`, expected a positive integer\. Received: "
        r"shuffle_buffer_size=0",
    ),
    "misspelled option": (
        load("typo_option.csv", OK_CSV, batchsize=4),
        ValueError,
        r"unknown argument `batchsize` for `load_text_files`, whose batching"
        r" options are \['batch_size', .*\]\. Received: batchsize=4",
    ),
    "num_classes 0": (
        load("nc0.csv", OK_CSV, num_classes=0),
        ValueError,
        r"`num_classes`, expected a positive integer\. Received: "
        r"num_classes=0",
    ),
}

BATCHING = {
    "dataset a list": (
        lambda s: batch_long_text(["d1"], s.tokenizer, s.packer),
        ValueError,
        r"`dataset`, expected a `tf.data.Dataset`\. Received: "
        r"dataset=\['d1'\]",
    ),
    "dataset of dicts": (
        batch(tf.data.Dataset.from_tensor_slices({"text": ["d1"]})),
        ValueError,
        r"`dataset`, expected elements `text` or `\(text, label\)` .*A "
        r"dataset of dicts \(such as TFDS features\) must be mapped first",
    ),
    "dataset of ids with a tokenizer": (
        batch(tf.data.Dataset.from_tensor_slices([[1, 2]])),
        ValueError,
        r"`dataset`, expected elements `text` or `\(text, label\)` with "
        r"`text` a scalar string tensor",
    ),
    "float ids without a tokenizer": (
        batch(tf.data.Dataset.from_tensor_slices([[1.0, 2.0]]),
              tokenizer=None),
        ValueError,
        r"`ids` a 1-D int tensor of token ids \(tokenizer=None\)",
    ),
    "tokenizer a string": (
        batch(documents(DOC), tokenizer="vocab.txt"),
        ValueError,
        r"`tokenizer`, expected a tokenizer layer .* or None\. Received: "
        r"tokenizer='vocab\.txt'",
    ),
    "packer None": (
        batch(documents(DOC), packer=None),
        ValueError,
        r"`packer`, expected a `BlockPacker`\. Received: packer=None",
    ),
    "float labels with num_classes were truncated": (
        batch(documents(DOC, labels=[1.5]), num_classes=3),
        ValueError,
        r"`dataset`, expected integer class labels for num_classes=3 .*"
        r"Received: labels with dtype=float32",
    ),
    "label out of range while iterating": (
        batch(documents(DOC, DOC, labels=[0, 5]), num_classes=2),
        InvalidArgument,
        r"label out of range \[0, num_classes=2\)\. Received: label=\] \[5\]",
    ),
    "empty document while iterating": (
        batch(documents(DOC, "  ")),
        InvalidArgument,
        r"empty document \(only whitespace\)\. Pass skip_empty=True",
    ),
    "bucket_width 0": (
        batch(documents(DOC), bucket_width=0),
        ValueError,
        r"`bucket_width`, expected a positive integer\. Received: "
        r"bucket_width=0",
    ),
    "num_classes -1": (
        batch(documents(DOC), num_classes=-1),
        ValueError,
        r"`num_classes`, expected a positive integer\. Received: "
        r"num_classes=-1",
    ),
    # load_long_text checks before tfds.load (which may download).
    "tfds name unknown": (
        tfds("imdb"),
        ValueError,
        r"`name`, expected one of \['imdb_reviews', .*Received: name='imdb'",
    ),
    "tfds name None": (
        tfds(None),
        ValueError,
        r"`name`, expected a dataset name\. Received: name=None",
    ),
    "tfds task unknown": (
        tfds(task="topic"),
        ValueError,
        r"`task` for 'imdb_reviews', expected one of \['sentiment', None\]",
    ),
    "tfds unsupervised split with labels": (
        tfds(split="unsupervised"),
        ValueError,
        r"`split`: the 'unsupervised' split of imdb_reviews has no labels",
    ),
    "tfds tokenizer None": (
        tfds(tokenizer=None),
        ValueError,
        r"`tokenizer`, expected a tokenizer layer .*tokenizer=None",
    ),
    "tfds batch_size 0 before any download": (
        tfds(batch_size=0),
        ValueError,
        r"`batch_size`, expected a positive integer\. Received: batch_size=0",
    ),
    "tfds num_classes is the dataset's": (
        tfds(num_classes=5),
        ValueError,
        r"unknown argument `num_classes` for `load_long_text`.*"
        r"num_classes=5",
    ),
    "padding_efficiency max_batches 0": (
        lambda s: padding_efficiency([], max_batches=0),
        ValueError,
        r"`max_batches`, expected a positive integer\. Received: "
        r"max_batches=0",
    ),
    "padding_efficiency of raw ids": (
        lambda s: padding_efficiency([tf.constant([[1, 2]])]),
        ValueError,
        r"`dataset`, expected batches of packed inputs .*Received: a batch "
        r"of type EagerTensor",
    ),
    "padding_efficiency of no batches": (
        lambda s: padding_efficiency(tf.data.Dataset.range(0)),
        ValueError,
        r"`dataset`: it has no batches \(or no tokens\)",
    ),
}

CASES = {**LABELS, **FILES, **ARGUMENTS, **BATCHING}


@pytest.mark.parametrize("call, error, pattern", params(CASES))
def test_fault(subjects, call, error, pattern):
    assert_fault(call, subjects, error, pattern)


def test_labels_of_one_kind_still_load(subjects):
    # Integers (also "2.0" and padded " 1"), numbers in numeric order, and
    # names stripped of the spaces after a comma.
    cases = [
        (csv_rows(0, " 1", "2.0"), None, 3, [0, 1, 2]),
        (csv_rows("10.5", "2.5", 1), ("1", "2.5", "10.5"), 3, [2, 1, 0]),
        (csv_rows("pos", " neg", "pos"), ("neg", "pos"), 2, [1, 0, 1]),
    ]
    for index, (content, names, num_classes, labels) in enumerate(cases):
        path = write(subjects, f"good{index}.csv", content)
        batches, info = load_text_files(
            path,
            tokenizer=subjects.tokenizer,
            packer=subjects.packer,
            bucketing=False,
            with_info=True,
        )
        assert (info.label_names, info.num_classes) == (names, num_classes)
        assert [int(y) for _, b in batches for y in b] == labels
