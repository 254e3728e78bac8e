"""Train a BigBirdClassifier on documents and labels, and save it.

The data is the user's files (--data: CSV/TSV/JSONL with a text and a label
column, or a directory of <label>/<document>.txt) or a TFDS dataset (--tfds,
as keras_bigbird.data.load_long_text loads it). Without --sentencepiece-model
or --wordpiece-vocabulary, a SentencePiece model is trained on the training
texts. OUTPUT_DIR receives model.keras, checkpoint.keras, logs/ (TensorBoard),
the tokenizer (spm.model or vocabulary.txt), preprocessor.json (for
`keras-bigbird export --preprocessor`), config.json and figures.json.
Options come from the defaults, then a JSON --config file, then the flags.
"""

import argparse
import sys

from keras_bigbird.training import options


def add_arguments(parser):
    options.add_config_argument(parser)
    options.add_data_arguments(parser)
    options.add_tokenizer_arguments(parser)
    options.add_model_arguments(parser)
    options.add_fit_arguments(parser)
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.set_defaults(**options.DEFAULTS, _parser=parser)


def run(args):
    from keras_bigbird.training.train import train

    # Re-parsed: options of a --config file give way to explicit flags.
    # `args.argv` is ["train", ...]: the command has no global options.
    config = options.parse_config(args._parser, args.argv[1:])
    for name in ("_parser", "_run", "command", "argv"):
        config.pop(name, None)
    try:
        train(config)
    except ValueError as error:
        print(f"keras-bigbird train: error: {error}", file=sys.stderr)
        return 2
    return 0
