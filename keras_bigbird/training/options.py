"""Command-line options of `keras-bigbird train` and the examples.

A run is configured by a dict of options. `parse_config` fills it from, in
increasing priority: the parser's defaults, a JSON `--config` file, a smoke
preset (`--smoke`, examples only) and the flags given on the command line.
"""

import argparse
import json

from keras_bigbird.training import encoder_options
from keras_bigbird.utils import flags
from keras_bigbird.utils.seeds import MAX_SEED

# Every option of `train()`, with its default.
DEFAULTS = {
    # Data: the user's files ...
    "data": None,
    "validation_data": None,
    "test_data": None,
    "text_column": "text",
    "label_column": "label",
    "label_names": None,
    "num_classes": None,
    "file_format": None,
    # ... or a TFDS dataset.
    "tfds": None,
    "task": "default",
    "train_split": "train",
    "validation_split": None,
    "test_split": None,
    "data_dir": None,
    "download": True,
    "skip_empty": False,
    # Tokenizer.
    "sentencepiece_model": None,
    "wordpiece_vocabulary": None,
    "lowercase": False,
    "vocabulary_size": 8000,
    "tokenizer_documents": 10000,
    # Model.
    "preset": "bigbird_tiny",
    "encoder_config": None,
    # A label 700 words in is ~1400 tokens in for a vocabulary trained on
    # a few hundred documents (about 2 pieces a word): 1024 cut it off.
    "max_sequence_length": 2048,
    "dropout": 0.1,
    "seed": 0,
    # Fit.
    "output_dir": None,
    "batch_size": 8,
    "bucket_width": None,
    # At most: early stopping ends the run once `patience` epochs bring no
    # better validation loss (counted once the model beats a constant
    # prediction), and the best epoch's weights are kept.
    "epochs": 20,
    "steps_per_epoch": None,
    "learning_rate": 2e-3,
    "warmup_fraction": 0.1,
    "patience": 4,
    "validation_fraction": 0.1,
}


# The options of each data source; an option of the other source is an
# error (`train` checks), not silently ignored.
OPTIONS_OF = {
    "data": (
        "validation_data",
        "test_data",
        "text_column",
        "label_column",
        "label_names",
        "num_classes",
        "file_format",
    ),
    "tfds": (
        "task",
        "train_split",
        "validation_split",
        "test_split",
        "data_dir",
        "download",
    ),
}


def add_data_arguments(parser):
    group = parser.add_argument_group(
        "data", "the user's files (--data) or a TFDS dataset (--tfds)"
    )
    group.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="training documents: CSV/TSV/JSONL files with a text and a "
        "label column, or a directory of <label>/<doc>.txt",
    )
    group.add_argument(
        "--validation-data",
        nargs="+",
        metavar="PATH",
        help="validation documents, evaluated after each epoch (--data "
        "only)",
    )
    group.add_argument(
        "--test-data",
        nargs="+",
        metavar="PATH",
        help="test documents, evaluated once at the end (--data only; "
        "None: the validation documents)",
    )
    group.add_argument(
        "--text-column", help="column / key of the text (--data only)"
    )
    group.add_argument(
        "--label-column", help="column / key of the label (--data only)"
    )
    group.add_argument(
        "--label-names",
        nargs="+",
        help="class names in label order (--data only)",
    )
    group.add_argument(
        "--num-classes",
        type=flags.integer(2),
        help="classes of integer labels (--data only; None: the largest "
        "label + 1)",
    )
    group.add_argument(
        "--file-format",
        choices=("csv", "tsv", "jsonl", "txt"),
        help="--data only; None: from the file extension",
    )
    group.add_argument(
        "--tfds",
        metavar="NAME",
        help="a keras_bigbird.data.load_long_text dataset, e.g. imdb_reviews",
    )
    group.add_argument(
        "--task",
        help='the load_long_text task (--tfds only; "default": the '
        "dataset's first)",
    )
    group.add_argument(
        "--train-split", help="TFDS split to train on (--tfds only)"
    )
    group.add_argument(
        "--validation-split",
        help="TFDS split evaluated after each epoch (--tfds only)",
    )
    group.add_argument(
        "--test-split",
        help="TFDS split evaluated once at the end (--tfds only)",
    )
    group.add_argument(
        "--data-dir", help="the TFDS data directory (--tfds only)"
    )
    group.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        help="let tfds.load download and prepare the dataset (--tfds only)",
    )
    group.add_argument(
        "--skip-empty",
        action="store_true",
        help="drop documents that are empty or tokenize to nothing",
    )


def add_tokenizer_arguments(parser):
    group = parser.add_argument_group(
        "tokenizer",
        "an existing vocabulary, or a SentencePiece model trained on the "
        "training texts and saved beside the model",
    )
    group.add_argument(
        "--sentencepiece-model", metavar="FILE", type=flags.existing_file
    )
    group.add_argument(
        "--wordpiece-vocabulary",
        metavar="FILE",
        type=flags.existing_file,
        help="one token a line",
    )
    group.add_argument(
        "--lowercase", action="store_true", help="case-fold (WordPiece)"
    )
    group.add_argument(
        "--vocabulary-size",
        # More ids than the 7 special tokens `train_sentencepiece` reserves.
        type=flags.integer(8),
        help="size of the SentencePiece vocabulary trained",
    )
    group.add_argument(
        "--tokenizer-documents",
        type=flags.positive_int,
        help="documents the SentencePiece model is trained on",
    )


def add_model_arguments(parser):
    group = parser.add_argument_group("model")
    group.add_argument(
        "--preset",
        help="BigBirdEncoder preset: bigbird_tiny, bigbird_roberta_base, "
        "bigbird_roberta_large (architecture only: no weights), or a "
        "transformers checkpoint directory or hf://owner/name (fine-tunes "
        "its weights with its spiece.model tokenizer)",
    )
    group.add_argument(
        "--encoder-config",
        type=encoder_options.encoder_config,
        metavar="JSON",
        help="BigBirdEncoder arguments overriding the preset, e.g. "
        '\'{"num_layers": 4, "block_size": 32}\'',
    )
    group.add_argument(
        "--max-sequence-length",
        type=flags.positive_int,
        help="tokens a sequence, special tokens included; longer documents "
        "are truncated (a multiple of the block size)",
    )
    group.add_argument(
        "--dropout", type=flags.rate, help="dropout of the head"
    )
    group.add_argument(
        "--seed",
        type=flags.integer(0, MAX_SEED),
        help="seeds weights, dropout and shuffling",
    )


def add_fit_arguments(parser):
    group = parser.add_argument_group("training")
    group.add_argument(
        "--output-dir",
        help="model.keras, checkpoint.keras, logs/ (TensorBoard), the "
        "tokenizer and figures.json go here",
    )
    group.add_argument(
        "--batch-size", type=flags.positive_int, help="sequences a batch"
    )
    group.add_argument(
        "--bucket-width",
        type=flags.positive_int,
        help="width of the length buckets (None: the block size)",
    )
    group.add_argument(
        "--epochs", type=flags.positive_int, help="passes over the data"
    )
    group.add_argument(
        "--steps-per-epoch",
        type=flags.positive_int,
        help="None: the whole training set",
    )
    group.add_argument(
        "--learning-rate",
        type=flags.positive_float,
        help="the peak learning rate of Adam (clipnorm 1), reached after "
        "the warmup and decayed along a half cosine to 0 at the last epoch",
    )
    group.add_argument(
        "--warmup-fraction",
        type=flags.rate,
        help="share of the training steps (epochs x steps an epoch) whose "
        "learning rate rises linearly to --learning-rate",
    )
    group.add_argument(
        "--patience",
        type=flags.positive_int,
        help="stop after this many epochs without a lower validation loss "
        "(counted once it is below 0.9 of a constant prediction's), and "
        "keep the weights of the best epoch",
    )
    group.add_argument(
        "--validation-fraction",
        type=flags.real(0, 1, low_open=True, high_open=True),
        help="share of the training batches held out for validation when "
        "no validation data is given",
    )


def add_config_argument(parser):
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a JSON object of options (keys as the flags, with "
        'underscores: {"tfds": "imdb_reviews", "max_sequence_length": '
        "4096}); flags given on the command line win",
    )


def parse_config(parser, argv=None, defaults=None, smoke=None):
    """Parses `argv` into a dict of options.

    Priority, lowest first: `defaults` (for the flags the parser knows),
    the JSON file of `--config` (if the parser has that flag), `smoke` (if
    the parser has a `--smoke` flag and it is given) and the flags in
    `argv`. Unknown keys in the config file are an error.

    Args:
        parser: an `argparse.ArgumentParser` whose flags default to `None`
            (or are store_true/store_false flags).
        argv: the arguments, `sys.argv[1:]` if `None`.
        defaults: a dict of default values, e.g. `DEFAULTS` updated by an
            example.
        smoke: the values `--smoke` applies.

    Returns:
        A dict: option name (`dest`) to value.
    """
    known = {action.dest for action in parser._actions}
    parser.set_defaults(
        **{k: v for k, v in (defaults or {}).items() if k in known}
    )
    first = parser.parse_args(argv)
    overrides = {}
    if getattr(first, "config", None):
        try:
            with open(first.config) as f:
                overrides = json.load(f)
        except (OSError, json.JSONDecodeError) as error:
            parser.error(f"--config {first.config}: {error}")
        if not isinstance(overrides, dict):
            parser.error(f"--config {first.config}: expected a JSON object")
        unknown = sorted(set(overrides) - known - {"config", "help"})
        if unknown:
            parser.error(
                f"--config {first.config}: unknown options {unknown}; "
                f"expected some of {sorted(known - {'help', 'config'})}"
            )
        actions = {action.dest: action for action in parser._actions}
        for name, value in overrides.items():
            try:
                overrides[name] = _file_value(actions[name], value, parser)
            except argparse.ArgumentTypeError as error:
                parser.error(
                    f"--config {first.config}: option `{name}`: {error}"
                )
    if getattr(first, "smoke", False):
        overrides.update(smoke or {})
    parser.set_defaults(**overrides)
    config = vars(parser.parse_args(argv))
    config.pop("config", None)
    return config


def _file_value(action, value, parser):
    """A `--config` file's `value` for `action`, checked as its flag is.

    argparse applies `type=` and `choices` only to the command line, so a
    file's `{"epochs": 0}` would bypass the range of `--epochs`.
    """
    if value is None and parser.get_default(action.dest) is None:
        return None
    if action.nargs == 0:  # store_true, --x/--no-x
        if not isinstance(value, bool):
            raise argparse.ArgumentTypeError(
                f"expected true or false. Received: {value!r}"
            )
        return value
    many = action.nargs in ("+", "*") and isinstance(value, list)
    items = [_file_item(action, item) for item in (value if many else [value])]
    return items if many else items[0]


def _file_item(action, value):
    if action.type is None and not isinstance(value, str):
        raise argparse.ArgumentTypeError(
            f"expected a string. Received: {value!r}"
        )
    if action.type is not None:
        # JSON text, as the flag would have been typed: 3, 0.001, {...}.
        text = value if isinstance(value, str) else json.dumps(value)
        value = action.type(text)
    if action.choices is not None and value not in action.choices:
        raise argparse.ArgumentTypeError(
            f"expected one of {list(action.choices)}. Received: {value!r}"
        )
    return value
