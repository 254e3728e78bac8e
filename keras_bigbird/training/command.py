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

from keras_bigbird.training import encoder_options
from keras_bigbird.training import options
from keras_bigbird.utils import flags


def add_arguments(parser):
    options.add_config_argument(parser)
    options.add_data_arguments(parser)
    options.add_tokenizer_arguments(parser)
    options.add_model_arguments(parser)
    options.add_fit_arguments(parser)
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.set_defaults(**options.DEFAULTS)


def run(args):
    # Re-parsed: options of a --config file give way to explicit flags.
    config = options.parse_config(args._parser, args.command_argv)
    for name in ("_parser", "_run", "command", "verbose"):
        config.pop(name, None)
    if config["output_dir"]:
        flags.check_output("--output-dir", config["output_dir"], directory=True)
    # The checks of --encoder-config that need Keras, before any work.
    encoder_options.check_with_preset(config["preset"], config["encoder_config"])

    from keras_bigbird.training.train import train

    train(config)
    return 0
