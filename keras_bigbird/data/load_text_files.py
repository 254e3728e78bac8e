"""`load_text_files`: the user's own CSV, JSONL or text files as batches."""

import csv
import json
import os

import numpy as np
import tensorflow as tf

from keras_bigbird.data.batch_long_text import batch_long_text
from keras_bigbird.data.text_data_info import TextDataInfo
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


def _read_csv(path, delimiter, text_column, label_column):
    # Long documents exceed csv's default field limit of 128 KiB.
    previous = csv.field_size_limit(2**31 - 1)
    try:
        # "utf-8-sig" drops the byte-order mark Excel writes, which would
        # otherwise be part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            _check_columns(
                path, reader.fieldnames or [], text_column, label_column
            )
            return [
                (
                    row[text_column] or "",
                    row[label_column] if label_column else None,
                    f"{path} row {number}",
                )
                for number, row in enumerate(reader, start=1)
            ]
    finally:
        csv.field_size_limit(previous)


def _read_jsonl(path, text_column, label_column):
    records = []
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
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


def _read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


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
        return [(_read_text(f), None, f) for f in txt_files(path)]
    return [
        (_read_text(f), name if labelled else None, f)
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
    return [(_read_text(path), None, path)]


def _as_int(value):
    """Returns `value` as an int if it is an integer-valued number (or its
    text) or None.

    Text is read as JSON reads numbers, so that the CSV label "2.0" is the
    class 2, as the JSONL label 2.0 is.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _labels(records, label_names, num_classes):
    """Returns `(int labels, label names or None, num_classes)`."""
    for _, label, where in records:
        if label is None or (isinstance(label, str) and not label.strip()):
            raise ValueError(
                f"Received a missing label in {where}. Received: "
                f"label={label!r}"
            )
    raw = [label for _, label, _ in records]
    if label_names is not None:
        index = {str(name): i for i, name in enumerate(label_names)}
        for _, label, where in records:
            if str(label) not in index:
                raise ValueError(
                    f"Received a label out of range in {where}: it is not in "
                    f"`label_names`={list(label_names)}. Received: "
                    f"label={label!r}"
                )
        return (
            [index[str(label)] for label in raw],
            tuple(label_names),
            len(index),
        )
    ints = [_as_int(label) for label in raw]
    if all(i is not None for i in ints):
        limit = num_classes if num_classes is not None else float("inf")
        for value, (_, label, where) in zip(ints, records):
            if not 0 <= value < limit:
                expected = (
                    f"[0, num_classes={num_classes})"
                    if num_classes is not None
                    else "non-negative"
                )
                raise ValueError(
                    f"Received a label out of range {expected} in {where}. "
                    f"Received: label={label!r}"
                )
        return ints, None, num_classes or (max(ints) + 1 if ints else None)
    names = sorted({str(label) for label in raw})
    if num_classes is not None and len(names) > num_classes:
        raise ValueError(
            f"Received more label names ({len(names)}: {names[:10]}) than "
            f"classes. Received: num_classes={num_classes}"
        )
    return _labels(records, names, None)


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

    Labels may be integers (class ids, checked against `num_classes`) or
    names (mapped to ids by `label_names`, or by their sorted order).
    Integer-valued numbers count as integers whether they are JSON numbers
    or text: `2`, `2.0` and `"2.0"` are all class 2. Use `label_column=None`
    for unlabelled documents (a directory's subdirectory names are then
    ignored).

    Everything is read and tokenized once, when the function is called, so
    that bad input fails here with a `ValueError` naming the file and the
    row (CSV/TSV, header excluded) or line (JSONL): an empty document, a
    document that tokenizes to nothing (or use `skip_empty=True` to drop
    them), a label out of range, a missing column.
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
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise ValueError(
            "Received an invalid value for argument `path`, expected at "
            f"least one path. Received: path={path!r}"
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
        labels, names, num_classes = _labels(records, label_names, num_classes)
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
