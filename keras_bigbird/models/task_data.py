"""Raw text in `fit`, `evaluate` and `predict` of a task with a preprocessor.

Strings (a string, a list, a numpy or TensorFlow string array, a pair
`(questions, documents)` of them, or a `tf.data.Dataset` of such batches
with or without labels) become a `tf.data.Dataset` of packed batches: the
preprocessor runs in `tf.data`, so the model sees int ids on every backend.
Other data passes unchanged.
"""

import numpy as np

try:
    import tensorflow as tf
except ImportError:  # JAX without TensorFlow: no raw text, ids only.
    tf = None

DEFAULT_BATCH_SIZE = 32


def _is_strings(x):
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "US":
            return True
        return x.dtype == object and x.size > 0 and isinstance(
            x.flat[0], (str, bytes)
        )
    if tf is not None and isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x.dtype == tf.string
    if isinstance(x, list):
        return bool(x) and all(isinstance(v, (str, bytes)) for v in x)
    return False


def _is_pair(x):
    return isinstance(x, tuple) and len(x) == 2 and all(map(_is_strings, x))


def _spec_is_strings(spec):
    if isinstance(spec, tuple):
        return len(spec) == 2 and all(map(_spec_is_strings, spec))
    return isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string


def is_dataset(x):
    return tf is not None and isinstance(x, tf.data.Dataset)


def holds_text(x):
    """Whether `x` is raw text (or a dataset of it) for a preprocessor."""
    if is_dataset(x):
        spec = x.element_spec
        if isinstance(spec, tuple) and not _spec_is_strings(spec):
            spec = spec[0]
        return _spec_is_strings(spec)
    return _is_strings(x) or _is_pair(x)


def _texts(x):
    """`x` as a 1-D string array, or a pair of them."""
    if _is_pair(x):
        return tuple(_texts(segment) for segment in x)
    if hasattr(x, "numpy"):
        x = x.numpy()
    texts = np.asarray([x] if isinstance(x, (str, bytes)) else x, object)
    if texts.ndim != 1:
        raise ValueError(
            "Received an invalid value for argument `x`: raw text must be a "
            "string or a 1-D list or array of strings (one text per "
            f"example). Received: x with shape {texts.shape}"
        )
    return texts


def _num_examples(texts):
    return len(texts[0] if isinstance(texts, tuple) else texts)


def _check_batched(dataset, method):
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    while isinstance(first, tuple):
        first = first[0]
    if first.shape.rank == 0:
        raise ValueError(
            f"`{method}` got a `tf.data.Dataset` of single strings: batch it "
            "first (`dataset.batch(batch_size)`), as the preprocessor packs "
            f"whole batches. Received: element_spec={spec}"
        )


def _map(dataset, preprocessor, pad_to=None):
    spec = dataset.element_spec
    # `(questions, documents)` of strings is one pair of texts, not a text
    # with a string label: labels are never strings here.
    labelled = isinstance(spec, tuple) and not _spec_is_strings(spec)

    def preprocess(*element):
        if not labelled:
            element = (element if len(element) > 1 else element[0],)
        packed = preprocessor(*element)
        if pad_to is None:
            return packed
        if isinstance(packed, tuple):
            return (_pad(packed[0], pad_to), *packed[1:])
        return _pad(packed, pad_to)

    return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)


def _pad(packed, width):
    # One width for all of `predict`: per-position outputs of batches of
    # different widths could not be concatenated.
    def pad(value):
        extra = width - tf.shape(value)[1]
        return tf.pad(value, [[0, 0], [0, extra]])

    return {name: pad(value) for name, value in packed.items()}


def _common_width(preprocessor, texts):
    """The packed width of the longest of `texts`, a block multiple."""
    segments = texts if isinstance(texts, tuple) else (texts,)
    tokenize = preprocessor.tokenizer
    lengths = sum(
        tokenize(tf.constant(segment)).row_lengths().numpy()
        for segment in segments
    )
    longest = int(np.max(lengths, initial=0)) + 1 + len(segments)
    block = preprocessor.block_size
    width = -(-longest // block) * block
    return min(width, preprocessor.sequence_length)


def text_dataset(
    preprocessor,
    x,
    y=None,
    sample_weight=None,
    *,
    batch_size=None,
    shuffle=False,
    method="fit",
    same_width=False,
):
    """A dataset of packed batches from raw text `x` (see the module)."""
    if isinstance(x, tf.data.Dataset):
        if y is not None or sample_weight is not None:
            raise ValueError(
                f"`{method}` got a dataset and `y` or `sample_weight`: a "
                "dataset carries its labels as `(text, label)` elements."
            )
        _check_batched(x, method)
        if same_width:  # The widths of the batches are not known ahead.
            preprocessor = _max_length(preprocessor)
        return _map(x, preprocessor)
    texts = _texts(x)
    count = _num_examples(texts)
    if count == 0:
        raise ValueError(f"`{method}` got no examples: `x` is empty.")
    elements = tuple(
        part for part in (texts, y, sample_weight) if part is not None
    )
    for name, part in (("y", y), ("sample_weight", sample_weight)):
        first = next(iter(part.values())) if isinstance(part, dict) else part
        if part is not None and len(first) != count:
            raise ValueError(
                f"`{name}` and `x` have different numbers of examples. "
                f"Received: {len(first)} for {count} texts"
            )
    dataset = tf.data.Dataset.from_tensor_slices(
        elements if len(elements) > 1 else elements[0]
    )
    if shuffle:
        dataset = dataset.shuffle(count, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size or DEFAULT_BATCH_SIZE)
    width = _common_width(preprocessor, texts) if same_width else None
    return _map(dataset, preprocessor, width).prefetch(tf.data.AUTOTUNE)


def _max_length(preprocessor):
    """A copy of `preprocessor` padding every batch to its sequence length."""
    config = preprocessor.get_config()
    config["padding"] = "max_length"
    return type(preprocessor).from_config(config)


def split_validation(x, y, sample_weight, fraction):
    """Keras' `validation_split` on raw text: the last `fraction` of it."""
    texts = _texts(x)
    count = _num_examples(texts)
    cut = int(count * (1 - fraction))
    if not 0 < cut < count:
        raise ValueError(
            "Received an invalid value for argument `validation_split`: it "
            f"leaves no training or no validation text of {count}. "
            f"Received: validation_split={fraction}"
        )

    def split(part):
        if part is None:
            return None, None
        return (
            tf.nest.map_structure(lambda v: np.asarray(v)[:cut], part),
            tf.nest.map_structure(lambda v: np.asarray(v)[cut:], part),
        )

    if isinstance(texts, tuple):
        train_x = tuple(t[:cut] for t in texts)
        val_x = tuple(t[cut:] for t in texts)
    else:
        train_x, val_x = texts[:cut], texts[cut:]
    (train_y, val_y), (train_w, val_w) = split(y), split(sample_weight)
    return (train_x, train_y, train_w), (val_x, val_y, val_w)
