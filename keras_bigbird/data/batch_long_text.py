"""`batch_long_text`: documents to padded, length-bucketed BigBird batches."""

import inspect

import tensorflow as tf

from keras_bigbird.preprocessing.block_packer import BlockPacker
from keras_bigbird.preprocessing.tokenizer import check_tokenizer
from keras_bigbird.utils import checks

# How much of a bad document an error message shows.
_PREVIEW_CHARS = 200

# The pipeline functions have no tensor-dependent Python control flow:
# tracing them as they are is exact and much faster than AutoGraph.
_plain_python = tf.autograph.experimental.do_not_convert


def check_batch_options(caller, packer, options, taken=()):
    """Checks the packer and batching options `caller` passes on, before
    any reading or downloading (Python's error for an unknown option would
    name `batch_long_text`, not `caller`)."""
    parameters = inspect.signature(batch_long_text).parameters
    known = set(parameters) - {"dataset", "tokenizer", "packer", *taken}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"Received an unknown argument `{unknown[0]}` for `{caller}`, "
            f"whose batching options are {sorted(known)}. Received: "
            f"{unknown[0]}={options[unknown[0]]!r}"
        )
    merged = {name: parameters[name].default for name in known}
    merged.update(options)
    _check_arguments(
        packer,
        merged["batch_size"],
        merged["bucket_width"],
        merged["shuffle_buffer_size"],
    )


def _check_arguments(packer, batch_size, bucket_width, shuffle_buffer_size):
    if not isinstance(packer, BlockPacker):
        raise ValueError(
            "Received an invalid value for argument `packer`, expected a "
            f"`BlockPacker`. Received: packer={packer!r}"
        )
    checks.positive_int("batch_size", batch_size)
    checks.positive_int("shuffle_buffer_size", shuffle_buffer_size)
    if bucket_width is None:
        return packer.block_size
    checks.positive_int("bucket_width", bucket_width)
    if bucket_width % packer.block_size:
        raise ValueError(
            "Received an invalid value for argument `bucket_width`, expected "
            f"a multiple of the packer's block_size={packer.block_size}. "
            f"Received: bucket_width={bucket_width}"
        )
    return bucket_width


def _check_element_spec(element_spec, tokenizer):
    """Returns whether the elements are `(document, label)` pairs.

    Checked before any mapping, so that a dataset of dicts (raw TFDS
    features) fails here rather than deep inside the tokenizer.

    Args:
        element_spec: the dataset's `element_spec`.
        tokenizer: the tokenizer, or `None` for documents of token ids.
    """
    labelled = isinstance(element_spec, tuple)
    parts = element_spec if labelled else (element_spec,)
    document = parts[0] if parts else None
    if tokenizer is None:
        names, kind = ("ids", "(ids, label)"), "a 1-D int tensor of token ids"
        # Slices of a ragged batch are `RaggedTensorSpec`s of rank 1.
        valid = (
            isinstance(document, (tf.TensorSpec, tf.RaggedTensorSpec))
            and document.dtype.is_integer
            and document.shape.rank in (None, 1)
        )
    else:
        names, kind = ("text", "(text, label)"), "a scalar string tensor"
        valid = (
            isinstance(document, tf.TensorSpec)
            and document.dtype == tf.string
            and document.shape.rank in (None, 0)
        )
    if labelled:
        valid = (
            valid and len(parts) == 2 and isinstance(parts[1], tf.TensorSpec)
        )
    if valid:
        return labelled
    hint = ""
    if any(isinstance(part, dict) for part in parts):
        hint = (
            " A dataset of dicts (such as TFDS features) must be mapped "
            'first, e.g. `dataset.map(lambda x: (x["text"], x["label"]))`, '
            "or loaded with `as_supervised=True`."
        )
    raise ValueError(
        "Received an invalid value for argument `dataset`, expected "
        f"elements `{names[0]}` or `{names[1]}` with `{names[0]}` {kind}"
        f"{' (tokenizer=None)' if tokenizer is None else ''}.{hint} "
        f"Received: element_spec={element_spec}"
    )


def _check_document(text, ids):
    """Returns `ids` after asserting the document is not empty (graph op)."""
    if text is None:
        preview, rules = "<token ids>", []
    else:
        preview = tf.strings.substr(text, 0, _PREVIEW_CHARS, unit="UTF8_CHAR")
        empty = tf.strings.length(tf.strings.strip(text)) == 0
        rules = [(empty, "Received an empty document (only whitespace).")]
    rules.append(
        (tf.size(ids) == 0, "Received a document that tokenizes to no ids.")
    )
    asserts = [
        tf.debugging.Assert(
            tf.logical_not(failed),
            [
                f"{message} Pass skip_empty=True to drop such documents. "
                "Received: text=",
                preview,
            ],
        )
        for failed, message in rules
    ]
    with tf.control_dependencies(asserts):
        return tf.identity(ids)


def _check_label(label, num_classes):
    if num_classes is None:
        return label
    check = tf.debugging.Assert(
        tf.reduce_all(tf.logical_and(label >= 0, label < num_classes)),
        [
            f"Received a label out of range [0, num_classes={num_classes}). "
            "Received: label=",
            label,
        ],
        name="label_in_range",
    )
    with tf.control_dependencies([check]):
        return tf.identity(label)


def batch_long_text(
    dataset,
    tokenizer,
    packer,
    *,
    batch_size=8,
    bucketing=True,
    bucket_width=None,
    shuffle=False,
    shuffle_buffer_size=1024,
    seed=None,
    skip_empty=False,
    num_classes=None,
    drop_remainder=False,
    prefetch=True,
):
    """Tokenizes, packs and batches documents, bucketed by length.

    Each batch is padded to its longest packed document rounded up to a
    multiple of the packer's `block_size` (with `packer.padding="block"`).
    With `bucketing=True`, documents are first grouped by packed length into
    buckets `bucket_width` tokens wide (`tf.data.Dataset.group_by_window`),
    so a batch holds documents of similar length and little of it is
    padding: `padding_efficiency` measures it. Without bucketing a batch is
    padded to its longest document, whatever the others are.

    Bucketing changes the order of the documents (a batch is emitted when
    its bucket is full, and the last, partial batches at the end). It is
    deterministic: the same input order gives the same batches. Each pass
    ends with at most one partial batch per bucket
    (`max_sequence_length / bucket_width` of them): on a small dataset, widen
    `bucket_width` (or set `drop_remainder=True`).

    Args:
        dataset: a `tf.data.Dataset` of documents: scalar strings, or
            `(text, label)` pairs. With `tokenizer=None`, the documents are
            1-D int tensors of token ids instead of strings.
        tokenizer: a tokenizer layer (`SentencePieceTokenizer`,
            `WordPieceTokenizer`), or `None` for pre-tokenized documents.
        packer: a `BlockPacker`; its `max_sequence_length` truncates and its
            `block_size` sets the padding multiple.
        batch_size: documents a batch.
        bucketing: group documents of similar length into a batch.
        bucket_width: width of a length bucket in tokens, a multiple of
            `block_size`; defaults to `block_size` (one bucket per padded
            length).
        shuffle: shuffle the documents (before tokenizing) with a buffer of
            `shuffle_buffer_size`, reshuffled every epoch.
        shuffle_buffer_size: documents held by the shuffle buffer.
        seed: shuffle seed: the same seed gives the same batches.
        skip_empty: drop documents that are empty or tokenize to no ids;
            by default such a document stops the iteration with a
            `tf.errors.InvalidArgumentError` that shows its start.
        num_classes: if set, labels outside `[0, num_classes)` stop the
            iteration with a `tf.errors.InvalidArgumentError`.
        drop_remainder: drop batches smaller than `batch_size`.
        prefetch: prefetch batches (`tf.data.AUTOTUNE`).

    Returns:
        A `tf.data.Dataset` of `(inputs, label)` (or `inputs` without
        labels), `inputs` being the packer's dict `{"token_ids",
        "padding_mask", "segment_ids"}` of `[batch, padded_length]` tensors.

    Example:

    ```python
    documents = tf.data.Dataset.from_tensor_slices((texts, labels))
    batches = batch_long_text(
        documents, tokenizer, packer, batch_size=8, shuffle=True, seed=0
    )
    model.fit(batches, epochs=3)
    ```
    """
    bucket_width = _check_arguments(
        packer, batch_size, bucket_width, shuffle_buffer_size
    )
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "Received an invalid value for argument `dataset`, expected a "
            f"`tf.data.Dataset`. Received: dataset={dataset!r}"[:400]
        )
    check_tokenizer(tokenizer, optional=True)
    if num_classes is not None:
        checks.positive_int("num_classes", num_classes)
    labelled = _check_element_spec(dataset.element_spec, tokenizer)
    label_spec = dataset.element_spec[1] if labelled else None
    if num_classes is not None and label_spec is not None:
        if not label_spec.dtype.is_integer:
            raise ValueError(
                "Received an invalid value for argument `dataset`, expected "
                f"integer class labels for num_classes={num_classes} (a "
                "cast would truncate 1.5 to class 1). Received: labels with "
                f"dtype={label_spec.dtype.name}"
            )
    if shuffle:
        dataset = dataset.shuffle(
            shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True
        )

    def split(*element):
        return element if labelled else (element[0], None)

    @_plain_python
    def tokenize(*element):
        document, label = split(*element)
        if tokenizer is None:
            text, ids = None, tf.cast(document, tf.int32)
        else:
            text, ids = document, tokenizer(document)
        if not skip_empty:
            ids = _check_document(text, ids)
        if label is None:
            return ids
        return ids, _check_label(label, num_classes)

    dataset = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    if skip_empty:
        dataset = dataset.filter(lambda ids, *_: tf.size(ids) > 0)

    @_plain_python
    def bucket(ids, *_):
        length = tf.minimum(
            tf.size(ids, out_type=tf.int64) + packer.num_special_tokens(),
            packer.max_sequence_length,
        )
        return (length - 1) // bucket_width

    if bucketing:
        dataset = dataset.group_by_window(
            key_func=bucket,
            reduce_func=lambda _, window: window.ragged_batch(
                batch_size, drop_remainder=drop_remainder
            ),
            window_size=batch_size,
        )
    else:
        dataset = dataset.ragged_batch(
            batch_size, drop_remainder=drop_remainder
        )

    @_plain_python
    def pack(ids, *label):
        return (packer(ids), *label) if label else packer(ids)

    dataset = dataset.map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset
