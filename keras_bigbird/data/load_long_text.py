"""`load_long_text`: TFDS long-document datasets as BigBird batches."""

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_bigbird.data.batch_long_text import batch_long_text
from keras_bigbird.data.batch_long_text import check_batch_options
from keras_bigbird.data.batch_long_text import check_tokenizer
from keras_bigbird.data.text_data_info import TextDataInfo

# The CPC sections of `big_patent`, in label order.
CPC_SECTIONS = ("a", "b", "c", "d", "e", "f", "g", "h", "y")
SCIENTIFIC_SOURCES = ("arxiv", "pubmed")

_ABSTRACT_LENGTH = (
    "regression: log(1 + number of words of the abstract), predicted from "
    "the full text (abstract not included)"
)


def _abstract_length(features, source):
    del source
    words = tf.size(tf.strings.split(features["abstract"]))
    return tf.math.log1p(tf.cast(words, tf.float32))


def _class_label(features, source):
    del source
    return tf.cast(features["label"], tf.int32)


def _source_label(features, source):
    del features
    return tf.constant(source, tf.int32)


def _builder_configs(builder):
    return [config.name for config in tfds.builder_cls(builder).BUILDER_CONFIGS]


def _dataset_spec(name):
    """Returns `(tfds names, text feature, {task: (fn, classes, doc)})`."""
    if name in ("imdb_reviews", "imdb_reviews/plain_text"):
        sentiment = (
            _class_label,
            ("neg", "pos"),
            "review text; 0 negative, 1 positive",
        )
        return ["imdb_reviews/plain_text"], "text", {"sentiment": sentiment}
    if name == "scientific_papers":
        names = [f"scientific_papers/{s}" for s in SCIENTIFIC_SOURCES]
        source = (
            _source_label,
            SCIENTIFIC_SOURCES,
            "article text; 0 arXiv, 1 PubMed",
        )
        return names, "article", {"source": source}
    if name == "big_patent":
        names = [f"big_patent/{s}" for s in CPC_SECTIONS]
        section = (
            _source_label,
            CPC_SECTIONS,
            "patent description; label = CPC section a..h, y (index)",
        )
        return names, "description", {"cpc_section": section}
    builder, _, config = name.partition("/")
    length = (_abstract_length, None, _ABSTRACT_LENGTH)
    if builder == "scientific_papers" and config in _builder_configs(builder):
        return [name], "article", {"abstract_length": length}
    if builder == "big_patent" and config in _builder_configs(builder):
        return [name], "description", {"abstract_length": length}
    raise ValueError(
        "Received an invalid value for argument `name`, expected one of "
        f"{supported_datasets()}. Received: name={name!r}"
    )


def supported_datasets():
    """Returns the dataset names `load_long_text` accepts."""
    names = ["imdb_reviews", "scientific_papers"]
    names += [
        f"scientific_papers/{c}" for c in _builder_configs("scientific_papers")
    ]
    names += ["big_patent"]
    names += [f"big_patent/{c}" for c in _builder_configs("big_patent")]
    return names


def load_long_text(
    name,
    split="train",
    *,
    tokenizer,
    packer,
    task="default",
    shuffle=None,
    seed=None,
    data_dir=None,
    download=True,
    with_info=False,
    **batch_options,
):
    """Loads a TFDS long-document dataset as batches for a BigBird model.

    It calls the real `tfds.load` (pass `data_dir` and `download` through),
    keeps the document text and the task's label, and hands them to
    `batch_long_text` for tokenizing, packing, length bucketing, shuffling
    and prefetching.

    Datasets and tasks (the first is the default):

    - `"imdb_reviews"`: `"sentiment"`, binary classification of the review
      `text` (`label` 0 negative, 1 positive). The `"unsupervised"` split
      has no labels: use `task=None`.
    - `"scientific_papers/arxiv"`, `"scientific_papers/pubmed"`:
      `"abstract_length"`, regression of `log(1 + words in the abstract)`
      (float32) from the `article`. The articles do not contain their
      abstracts, so this is predicting a property of the summary from the
      full text. A few real articles are empty: pass `skip_empty=True`.
    - `"scientific_papers"`: `"source"`, binary classification of the
      `article`: 0 arXiv, 1 PubMed (loads both configs, alternating).
    - `"big_patent/<config>"` (`all`, `a` ... `h`, `y`): `"abstract_length"`
      from the patent `description`.
    - `"big_patent"`: `"cpc_section"`, 9-way classification of the
      `description` by CPC section (a, b, c, d, e, f, g, h, y in label
      order), loading the nine section configs and alternating between them
      (each must be prepared).

    Args:
        name: a dataset name above.
        split: a TFDS split, slicing included (`"train[:10%]"`).
        tokenizer: a tokenizer layer (`SentencePieceTokenizer`,
            `WordPieceTokenizer`).
        packer: a `BlockPacker`.
        task: a task name above, `"default"` for the dataset's first, or
            `None` for unlabelled inputs.
        shuffle: shuffle the files (`tfds.load(shuffle_files=...)`) and the
            documents; defaults to True for a split starting with "train".
        seed: seeds both shuffles: the same seed gives the same batches.
        data_dir: the TFDS data directory (`tfds.load(data_dir=...)`).
        download: let `tfds.load` download and prepare the dataset.
        with_info: also return a `TextDataInfo`.
        **batch_options: other `batch_long_text` arguments: `batch_size`,
            `bucketing`, `bucket_width`, `shuffle_buffer_size`,
            `skip_empty`, `drop_remainder`, `prefetch`.

    Returns:
        A `tf.data.Dataset` of `(inputs, label)` batches (`inputs` only with
        `task=None`), and a `TextDataInfo` with `with_info=True`.

    Example:

    ```python
    tokenizer = SentencePieceTokenizer("runs/imdb/spm.model")
    packer = BlockPacker.from_tokenizer(tokenizer, max_sequence_length=4096)
    train = load_long_text("imdb_reviews", "train", tokenizer=tokenizer,
                           packer=packer, batch_size=4, seed=0)
    ```
    """
    base, _, version = (
        name.partition(":") if isinstance(name, str) else ("", "", "")
    )
    if not base:
        raise ValueError(
            "Received an invalid value for argument `name`, expected a "
            f"dataset name. Received: name={name!r}"
        )
    sources, text_feature, tasks = _dataset_spec(base)
    check_tokenizer(tokenizer)
    check_batch_options(
        "load_long_text", packer, batch_options, taken=("num_classes",)
    )
    if task == "default":
        task = next(iter(tasks))
    if task is not None and task not in tasks:
        raise ValueError(
            f"Received an invalid value for argument `task` for {base!r}, "
            f"expected one of {list(tasks) + [None]}. Received: task={task!r}"
        )
    if task == "sentiment" and "unsupervised" in str(split):
        raise ValueError(
            "Received an invalid value for argument `split`: the "
            "'unsupervised' split of imdb_reviews has no labels (label -1); "
            f"pass task=None. Received: split={split!r}"
        )
    if shuffle is None:
        shuffle = str(split).startswith("train")
    label_fn, label_names, description = (
        tasks[task] if task else (None, None, "")
    )
    datasets = []
    for index, source in enumerate(sources):
        dataset = tfds.load(
            f"{source}:{version}" if version else source,
            split=split,
            data_dir=data_dir,
            download=download,
            shuffle_files=shuffle,
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )

        @tf.autograph.experimental.do_not_convert
        def select(features, index=index):
            text = features[text_feature]
            return (text, label_fn(features, index)) if label_fn else text

        datasets.append(
            dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE)
        )
    if len(datasets) == 1:
        dataset = datasets[0]
    else:
        order = tf.data.Dataset.range(len(datasets)).repeat()
        dataset = tf.data.Dataset.choose_from_datasets(
            datasets, order, stop_on_empty_dataset=False
        )
    num_classes = len(label_names) if label_names else None
    batches = batch_long_text(
        dataset,
        tokenizer,
        packer,
        shuffle=shuffle,
        seed=seed,
        num_classes=num_classes,
        **batch_options,
    )
    info = TextDataInfo(
        name=name,
        task=task,
        num_classes=num_classes,
        label_names=tuple(label_names) if label_names else None,
        description=description,
    )
    return (batches, info) if with_info else batches
