"""`load_text_files`: the user's own CSV, JSONL or text files as batches."""

import csv
import io
import json
import os

import numpy as np
import tensorflow as tf

from keras_bigbird.data.batch_long_text import batch_long_text
from keras_bigbird.data.batch_long_text import check_batch_options
from keras_bigbird.data.batch_long_text import check_tokenizer
from keras_bigbird.data.labels import class_labels
from keras_bigbird.data.text_data_info import TextDataInfo
from keras_bigbird.preprocessing.text_files import read_text_file
from keras_bigbird.utils import checks

FORMATS = ("csv", "tsv", "jsonl", "txt")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}
_TOKENIZE_CHUNK = 256


def _check_columns(where, columns, text_column, label_column):
    for argument, column in (
        ("text_column", text_column),
        ("label_column", label_column),
    ):
        if column is not None and column not in columns:
            raise ValueError(
                f"Received an invalid value for argument `{argument}`: "
                f"{where} has no such column (it has {sorted(columns)}). "
                f"Received: {argument}={column!r}"
            )


def _csv_header(path, reader):
    """Returns the header row, checked non-empty and without repeats."""
    header = next(reader, None)
    if header is None:
        raise ValueError(
            "Received an invalid value for argument `path`: the file is "
            f"empty (no header row). Received: path={path!r}"
        )
    for column, name in enumerate(header):
        if name and name in header[:column]:
            raise ValueError(
                f"Received a header naming the column {name!r} twice in "
                f"{path} (columns {header.index(name) + 1} and {column + 1}):"
                " which one holds the data is ambiguous. Received: header="
                f"{header!r}"[:400]
            )
    return header


def _check_column_arguments(text_column, label_column):
    if not isinstance(text_column, str) or not text_column:
        raise ValueError(
            "Received an invalid value for argument `text_column`, expected "
            f"a column name. Received: text_column={text_column!r}"
        )
    if label_column is not None and not isinstance(label_column, str):
        raise ValueError(
            "Received an invalid value for argument `label_column`, expected "
            f"a column name or None. Received: label_column={label_column!r}"
        )
    if label_column == text_column:
        raise ValueError(
            "Received an invalid value for argument `label_column`: it is "
            "the text column, so each document would be its own label. "
            f"Received: label_column={label_column!r}, "
            f"text_column={text_column!r}"
        )


def _read_csv(path, delimiter, text_column, label_column):
    # Long documents exceed csv's default field limit of 128 KiB.
    previous = csv.field_size_limit(2**31 - 1)
    try:
        lines = io.StringIO(read_text_file(path), newline="")
        reader = csv.reader(lines, delimiter=delimiter)
        header = _csv_header(path, reader)
        _check_columns(path, header, text_column, label_column)
        text_at = header.index(text_column)
        label_at = header.index(label_column) if label_column else None
        records, end = [], reader.line_num
        for row in reader:
            # A quoted field may span lines: a row starts after the last.
            start, end = end + 1, reader.line_num
            if not row:
                continue
            where = f"{path} row {len(records) + 1} (line {start})"
            if len(row) != len(header):
                raise ValueError(
                    f"Received a row of {len(row)} fields in {where}, the "
                    f"header has {len(header)} (is a {delimiter!r} in the "
                    f"text unquoted?). Received: {row!r}"[:400]
                )
            label = row[label_at] if label_at is not None else None
            records.append((row[text_at], label, where))
        return records
    finally:
        csv.field_size_limit(previous)


def _read_jsonl(path, text_column, label_column):
    records = []
    # Universal newlines, as `open` reads (JSON text holds no raw "\r").
    lines = io.StringIO(read_text_file(path), newline=None)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Received an invalid JSON line in {where}: {error}. "
                f"Received: {line[:80]!r}"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(
                f"Expected a JSON object a line in {where}. Received: "
                f"{line[:80]!r}"
            )
        _check_columns(where, row, text_column, label_column)
        text = row[text_column]
        if not isinstance(text, str):
            raise ValueError(
                f"Received an invalid value for argument `text_column`: "
                f"in {where} it holds a {type(text).__name__}, not a "
                f"string. Received: text_column={text_column!r}"
            )
        records.append(
            (text, row[label_column] if label_column else None, where)
        )
    return records


def _read_directory(path, labelled):
    """Class subdirectories of `.txt` files, or `.txt` files unlabelled.

    Args:
        path: the directory.
        labelled: label each document by its subdirectory; if False, the
            documents of the subdirectories are read unlabelled.
    """

    def txt_files(folder):
        return sorted(
            os.path.join(folder, entry)
            for entry in os.listdir(folder)
            if entry.endswith(".txt")
            and os.path.isfile(os.path.join(folder, entry))
        )

    # Hidden folders (`.ipynb_checkpoints`, `.git`) are not classes, as in
    # `keras.utils.text_dataset_from_directory`.
    classes = sorted(
        entry
        for entry in os.listdir(path)
        if not entry.startswith(".")
        and os.path.isdir(os.path.join(path, entry))
        and txt_files(os.path.join(path, entry))
    )
    if not classes:
        return [(read_text_file(f), None, f) for f in txt_files(path)]
    return [
        (read_text_file(f), name if labelled else None, f)
        for name in classes
        for f in txt_files(os.path.join(path, name))
    ]


def _read(path, file_format, text_column, label_column):
    if not os.path.exists(path):
        raise ValueError(
            "Received an invalid value for argument `path`: it does not "
            f"exist. Received: path={path!r}"
        )
    if os.path.isdir(path):
        return _read_directory(path, labelled=label_column is not None)
    if file_format is None:
        file_format = _EXTENSIONS.get(os.path.splitext(path)[1].lower(), "txt")
    if file_format in ("csv", "tsv"):
        delimiter = "," if file_format == "csv" else "\t"
        return _read_csv(path, delimiter, text_column, label_column)
    if file_format == "jsonl":
        return _read_jsonl(path, text_column, label_column)
    return [(read_text_file(path), None, path)]


def _tokenize(tokenizer, records):
    """Returns the ragged ids of every record, tokenized in chunks."""
    chunks = [
        tokenizer(
            tf.constant(
                [text for text, _, _ in records[i : i + _TOKENIZE_CHUNK]]
            )
        )
        for i in range(0, len(records), _TOKENIZE_CHUNK)
    ]
    return tf.concat(chunks, axis=0)


def load_text_files(
    path,
    *,
    tokenizer,
    packer,
    text_column="text",
    label_column="label",
    label_names=None,
    num_classes=None,
    file_format=None,
    skip_empty=False,
    with_info=False,
    **batch_options,
):
    """Loads the user's long documents and labels as batches for BigBird.

    Sources, by the extension of `path` (or `file_format`):

    - `.csv` / `.tsv`: one document a row, with a header naming the columns
      `text_column` and `label_column`.
    - `.jsonl` (or `.json`, one object a line): keys `text_column` and
      `label_column`.
    - `.txt`: the whole file is one unlabelled document.
    - a directory: each `.txt` file in a subdirectory is a document labelled
      by the subdirectory name (`train/pos/1.txt`, `train/neg/2.txt`);
      hidden subdirectories (`.ipynb_checkpoints`) are skipped. If there are
      no such subdirectories, the `.txt` files of the directory itself,
      unlabelled.

    Labels are all integers (class ids, checked against `num_classes`), all
    numbers (class names in numeric order) or all strings (names, mapped to
    ids by `label_names`, or by their sorted order; spaces around them are
    dropped); a label of another kind (`pos` among `0`/`1`) is an error, not
    a new class. Integer-valued numbers count as integers whether they are
    JSON numbers or text: `2`, `2.0` and `"2.0"` are all class 2. Use
    `label_column=None` for unlabelled documents (a directory's
    subdirectory names are then ignored).

    Everything is read and tokenized once, when the function is called, so
    that bad input fails here with a `ValueError` naming the file and the
    row (CSV/TSV, header excluded, with the line it starts on) or line
    (JSONL): bytes that are not UTF-8 (with their byte offset), a header
    naming a column twice, a row with more or fewer fields than the header,
    an empty document, a document that tokenizes to nothing (or use
    `skip_empty=True` to drop them), a label out of range or of another
    kind, a missing column.
    The token ids are kept in memory (4 bytes a token); the batching is the
    `batch_long_text` pipeline.

    Args:
        path: a file or directory path, or a list of paths of one format.
        tokenizer: a tokenizer layer (`SentencePieceTokenizer`,
            `WordPieceTokenizer`).
        packer: a `BlockPacker`.
        text_column: the column / key holding the document text.
        label_column: the column / key holding the label, or `None`.
        label_names: the class names in label order; labels must be one of
            them.
        num_classes: the number of classes for integer labels; labels must
            be in `[0, num_classes)`. Inferred when not given.
        file_format: one of `"csv"`, `"tsv"`, `"jsonl"`, `"txt"` to
            override the extension.
        skip_empty: drop the documents that are empty or tokenize to
            nothing, rather than raise.
        with_info: also return a `TextDataInfo` (`num_classes`,
            `label_names`).
        **batch_options: other `batch_long_text` arguments: `batch_size`,
            `bucketing`, `bucket_width`, `shuffle` (default False),
            `shuffle_buffer_size`, `seed`, `drop_remainder`, `prefetch`.

    Returns:
        A `tf.data.Dataset` of `(inputs, label)` batches (`inputs` alone
        when unlabelled), and a `TextDataInfo` with `with_info=True`.

    Example:

    ```python
    train, info = load_text_files(
        "reviews.csv", tokenizer=tokenizer, packer=packer,
        text_column="body", label_column="stars", num_classes=5,
        shuffle=True, seed=0, with_info=True,
    )
    ```
    """
    if file_format is not None and file_format not in FORMATS:
        raise ValueError(
            "Received an invalid value for argument `file_format`, expected "
            f"one of {FORMATS}. Received: file_format={file_format!r}"
        )
    if num_classes is not None:
        checks.positive_int("num_classes", num_classes)
    _check_column_arguments(text_column, label_column)
    check_tokenizer(tokenizer)
    check_batch_options("load_text_files", packer, batch_options)
    paths = [path] if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(paths, (list, tuple)) or not all(
        isinstance(one, (str, os.PathLike)) and os.fspath(one)
        for one in paths
    ):
        paths = []
    if not paths:
        raise ValueError(
            "Received an invalid value for argument `path`, expected a path "
            f"or a list of paths. Received: path={path!r}"
        )
    records = []
    for one in paths:
        records += _read(os.fspath(one), file_format, text_column, label_column)
    if not records:
        raise ValueError(
            "Received an invalid value for argument `path`: it holds no "
            f"documents. Received: path={path!r}"
        )
    if skip_empty:
        records = [r for r in records if r[0].strip()]
    for text, _, where in records:
        if not text.strip():
            raise ValueError(
                f"Received an empty document in {where} (pass "
                f"skip_empty=True to drop such documents). Received: "
                f"text={text[:80]!r}"
            )
    ids = _tokenize(tokenizer, records)
    lengths = ids.row_lengths().numpy()
    if not lengths.all():
        if not skip_empty:
            text, _, where = records[int(np.argmin(lengths))]
            raise ValueError(
                f"Received a document that tokenizes to no ids in {where} "
                "(pass skip_empty=True to drop such documents). Received: "
                f"text={text[:80]!r}"
            )
        keep = np.flatnonzero(lengths)
        records = [records[i] for i in keep]
        ids = tf.gather(ids, keep)
    labelled = any(label is not None for _, label, _ in records)
    if labelled:
        labels, names, num_classes = class_labels(
            records, label_names, num_classes
        )
        dataset = tf.data.Dataset.from_tensor_slices(
            (ids, tf.constant(labels, tf.int32))
        )
    else:
        names, num_classes = None, None
        dataset = tf.data.Dataset.from_tensor_slices(ids)
    batches = batch_long_text(dataset, None, packer, **batch_options)
    info = TextDataInfo(
        name=os.fspath(paths[0]) if len(paths) == 1 else str(paths),
        task="classification" if labelled else None,
        num_classes=num_classes,
        label_names=names,
        description=f"documents from {text_column!r}"
        + (f", labels from {label_column!r}" if labelled else ""),
    )
    return (batches, info) if with_info else batches
