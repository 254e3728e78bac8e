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
    source,
    *,
    split="train",
    text_column="text",
    limit=None,
    file_format=None,
    data_dir=None,
    download=True,
):
    """Returns the raw documents of a dataset, for training a tokenizer.

    Args:
        source: a `load_long_text` dataset name (`"imdb_reviews"`,
            `"scientific_papers/arxiv"`, ...) or the path of the user's
            files as `load_text_files` reads them (CSV, TSV, JSONL, `.txt`,
            a directory).
        split: the TFDS split (TFDS sources only).
        text_column: the column / key holding the text (files only).
        limit: read at most this many documents (per TFDS config for
            multi-config datasets).
        file_format: as in `load_text_files` (files only).
        data_dir, download: passed to `tfds.load` (TFDS sources only).

    Returns:
        A list of strings.
    """
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source):
        raise ValueError(
            "Received an invalid value for argument `source`, expected a "
            f"dataset name or a path. Received: source={source!r}"
        )
    source = os.fspath(source)
    if os.path.exists(source):
        # The readers of `load_text_files`, without tokenizing.
        from keras_bigbird.data.load_text_files import _read

        records = _read(source, file_format, text_column, None)
        return [text for text, _, _ in records[:limit]]
    import tensorflow_datasets as tfds

    from keras_bigbird.data.load_long_text import _dataset_spec

    base, _, version = source.partition(":")
    names, text_feature, _ = _dataset_spec(base)
    texts = []
    for name in names:
        dataset = tfds.load(
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
        vocabulary_size: size of a trained SentencePiece vocabulary.

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
    if texts is None:
        raise ValueError(
            "Received no vocabulary and no `texts` to train one on: pass "
            "`sentencepiece_model`, `wordpiece_vocabulary` or `texts`."
        )
    model_file = train_sentencepiece(
        texts() if callable(texts) else texts,
        vocab_size=vocabulary_size,
        model_prefix=os.path.join(output_dir, SENTENCEPIECE_PREFIX),
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
        A dict with one figure and the number of labels (`num_labels`).
    """
    labels = np.concatenate(
        [np.reshape(np.asarray(y), [-1]) for _, y in dataset]
    )
    if labels.size == 0:
        raise ValueError("Received a dataset with no labels.")
    if num_classes is None:
        return {
            "mean_predictor_rmse": float(labels.std()),
            "num_labels": int(labels.size),
        }
    counts = np.bincount(labels.astype(np.int64), minlength=num_classes)
    return {
        "majority_accuracy": float(counts.max() / labels.size),
        "num_labels": int(labels.size),
    }
