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


def _check_encoder(config):
    """The preset and `encoder_config` the data pipeline can feed, checked
    before a tokenizer is trained."""
    from keras_bigbird.models.presets import preset_config

    encoder = preset_config(config["preset"], **(config["encoder_config"] or {}))
    num_segments = encoder["num_segments"]
    if not isinstance(num_segments, int) or num_segments < 1:
        # The packer feeds `segment_ids` (all 0 for one text) to the model.
        raise ValueError(
            "--encoder-config: `train` feeds segment ids, so num_segments "
            "must be an integer >= 1. Received: num_segments="
            f"{num_segments!r}"
        )


def run(args):
    # Re-parsed: options of a --config file give way to explicit flags.
    config = options.parse_config(args._parser, args.command_argv)
    for name in ("_parser", "_run", "command", "verbose"):
        config.pop(name, None)
    if config["output_dir"]:
        flags.check_output("--output-dir", config["output_dir"], directory=True)
    _check_encoder(config)

    from keras_bigbird.training.train import train

    train(config)
    return 0
