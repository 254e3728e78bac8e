"""From raw text to a compiled model: corpus, tokenizer, task compilation."""

import os
import shutil

import keras
import numpy as np

from keras_bigbird.preprocessing import SentencePieceTokenizer
from keras_bigbird.preprocessing import WordPieceTokenizer
from keras_bigbird.preprocessing import train_sentencepiece

SENTENCEPIECE_PREFIX = "spm"
WORDPIECE_FILE = "vocabulary.txt"


def corpus_texts(
    data=None,
    *,
    tfds=None,
    split="train",
    text_column="text",
    limit=None,
    file_format=None,
    data_dir=None,
    download=True,
):
    """Returns the raw documents of a dataset, for training a tokenizer.

    Exactly one source, given as the user gave it: `data` (local files) or
    `tfds` (a dataset name). A `tfds` name is never read as a path, nor a
    `data` path as a dataset name, whatever the file system holds.

    Args:
        data: the user's files as `load_text_files` reads them: a path or a
            list of paths (CSV, TSV, JSONL, `.txt`, a directory).
        tfds: a `load_long_text` dataset name (`"imdb_reviews"`,
            `"scientific_papers/arxiv"`, ...).
        split: the TFDS split (`tfds` only).
        text_column: the column / key holding the text (`data` only).
        limit: read at most this many documents (per TFDS config for
            multi-config datasets).
        file_format: as in `load_text_files` (`data` only).
        data_dir, download: passed to `tfds.load` (`tfds` only).

    Returns:
        A list of strings.
    """
    if (data is None) == (tfds is None):
        raise ValueError(
            "Pass exactly one of `data` (the user's files) and `tfds` (a "
            f"dataset name). Received: data={data!r}, tfds={tfds!r}"
        )
    if data is not None:
        return _file_texts(data, text_column, file_format, limit)
    if not isinstance(tfds, str) or not tfds:
        raise ValueError(
            "Received an invalid value for argument `tfds`, expected a "
            f"dataset name. Received: tfds={tfds!r}"
        )
    import tensorflow_datasets

    from keras_bigbird.data.load_long_text import _dataset_spec

    base, _, version = tfds.partition(":")
    names, text_feature, _ = _dataset_spec(base)
    texts = []
    for name in names:
        dataset = tensorflow_datasets.load(
            f"{name}:{version}" if version else name,
            split=split,
            data_dir=data_dir,
            download=download,
        )
        if limit is not None:
            dataset = dataset.take(limit)
        texts += [
            text.decode("utf-8")
            for text in dataset.map(
                lambda x: x[text_feature]
            ).as_numpy_iterator()
        ]
    return texts


def _missing_paths(paths):
    """The paths of `paths` (one path or a list) that do not exist."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else paths
    return [path for path in paths if not os.path.exists(path)]


def _file_texts(data, text_column, file_format, limit):
    # The readers of `load_text_files`, without tokenizing.
    from keras_bigbird.data.load_text_files import _read

    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not paths or not all(
        isinstance(path, (str, os.PathLike)) and os.fspath(path)
        for path in paths
    ):
        raise ValueError(
            "Received an invalid value for argument `data`, expected a path "
            f"or a list of paths. Received: data={data!r}"
        )
    missing = _missing_paths(paths)
    if missing:
        raise ValueError(
            "Received an invalid value for argument `data`: the path "
            f"{os.fspath(missing[0])!r} does not exist. Received: data={data!r}"
        )
    texts = []
    for path in paths:
        records = _read(os.fspath(path), file_format, text_column, None)
        texts += [text for text, _, _ in records]
        if limit is not None and len(texts) >= limit:
            break
    return texts[:limit]


def text_tokenizer(
    output_dir,
    *,
    sentencepiece_model=None,
    wordpiece_vocabulary=None,
    lowercase=False,
    texts=None,
    vocabulary_size=8000,
):
    """A tokenizer layer, its vocabulary written beside the model.

    Exactly one source: an existing SentencePiece `.model` file, an existing
    WordPiece vocabulary file (one token a line), or, with neither, a new
    SentencePiece model trained on `texts` (`train_sentencepiece`). The
    vocabulary ends up in `output_dir` (`spm.model` / `spm.vocab`, or
    `vocabulary.txt`), so the directory holds everything the model needs.

    Args:
        output_dir: the model's directory.
        sentencepiece_model: path of a SentencePiece model file.
        wordpiece_vocabulary: path of a WordPiece vocabulary file.
        lowercase: case-fold the text (WordPiece only).
        texts: the training documents, or a callable returning them (only
            called when a model is trained).
        vocabulary_size: size of a trained SentencePiece vocabulary, at
            most (a small corpus may support fewer pieces).

    Returns:
        A `SentencePieceTokenizer` or `WordPieceTokenizer`.
    """
    if sentencepiece_model and wordpiece_vocabulary:
        raise ValueError(
            "Pass at most one of `sentencepiece_model` and "
            "`wordpiece_vocabulary`. Received: "
            f"sentencepiece_model={sentencepiece_model!r}, "
            f"wordpiece_vocabulary={wordpiece_vocabulary!r}"
        )
    if not (wordpiece_vocabulary or sentencepiece_model):
        if texts is None:
            raise ValueError(
                "Received no vocabulary and no `texts` to train one on: pass "
                "`sentencepiece_model`, `wordpiece_vocabulary` or `texts`."
            )
        # Read before `output_dir` is made: a source that fails leaves
        # nothing behind.
        texts = texts() if callable(texts) else texts
    os.makedirs(output_dir, exist_ok=True)
    if wordpiece_vocabulary:
        tokenizer = WordPieceTokenizer(
            wordpiece_vocabulary, lowercase=lowercase
        )
        _copy(wordpiece_vocabulary, os.path.join(output_dir, WORDPIECE_FILE))
        return tokenizer
    if sentencepiece_model:
        tokenizer = SentencePieceTokenizer(sentencepiece_model)
        _copy(
            sentencepiece_model,
            os.path.join(output_dir, SENTENCEPIECE_PREFIX + ".model"),
        )
        return tokenizer
    model_file = train_sentencepiece(
        texts,
        vocab_size=vocabulary_size,
        model_prefix=os.path.join(output_dir, SENTENCEPIECE_PREFIX),
        # A corpus of a few hundred documents supports fewer pieces than
        # the default 8000: take what it supports rather than fail (the
        # encoder is sized to the tokenizer's vocabulary).
        hard_vocab_limit=False,
    )
    return SentencePieceTokenizer(model_file)


def _copy(source, destination):
    if os.path.abspath(source) != os.path.abspath(destination):
        shutil.copyfile(source, destination)


def compile_for_task(model, num_classes, learning_rate, jit_compile="auto"):
    """Compiles a one-output model for classification or regression.

    With `num_classes`, the model outputs logits and trains with sparse
    categorical cross-entropy (metric: accuracy); with `num_classes=None`,
    one value trained with the mean squared error (metrics: mean absolute
    error, root mean squared error). Adam with gradient clipping.
    """
    if num_classes is None:
        loss = keras.losses.MeanSquaredError()
        metrics = [
            keras.metrics.MeanAbsoluteError(name="mae"),
            keras.metrics.RootMeanSquaredError(name="rmse"),
        ]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile,
    )
    return model


def label_baseline(dataset, num_classes):
    """The score of the best constant prediction on `dataset`'s labels.

    A model is only useful if it beats this. Classification: the accuracy
    of always predicting the most frequent class (`majority_accuracy`).
    Regression (`num_classes=None`): the root mean squared error of always
    predicting the mean label (`mean_predictor_rmse`, the labels' standard
    deviation).

    Args:
        dataset: batches of `(inputs, labels)`.
        num_classes: the number of classes, or `None` for regression.

    Returns:
        A dict with that figure, the loss of that prediction under
        `compile_for_task`'s loss (`constant_loss`: the entropy of the label
        frequencies, or the labels' variance) and the number of labels
        (`num_labels`).
    """
    labels = np.concatenate(
        [np.reshape(np.asarray(y), [-1]) for _, y in dataset]
    )
    if labels.size == 0:
        raise ValueError("Received a dataset with no labels.")
    if num_classes is None:
        return {
            "mean_predictor_rmse": float(labels.std()),
            "constant_loss": float(labels.var()),  # its mean squared error
            "num_labels": int(labels.size),
        }
    counts = np.bincount(labels.astype(np.int64), minlength=num_classes)
    shares = counts[counts > 0] / labels.size
    return {
        "majority_accuracy": float(counts.max() / labels.size),
        # The cross-entropy of predicting the label frequencies.
        "constant_loss": float(-(shares * np.log(shares)).sum()),
        "num_labels": int(labels.size),
    }
