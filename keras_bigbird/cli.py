"""`keras-bigbird`: the command line, a thin dispatcher to subcommands.

Each subcommand lives in its own module exposing `add_arguments(parser)`
and `run(args) -> exit code`; this file only wires them to argparse. To add
one (`train`, `info`, `convert`, ...), add its module to `COMMANDS`.
"""

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "convert": (
        "keras_bigbird.convert.command",
        "convert a transformers or google BigBird checkpoint to .keras",
    ),
    "export": (
        "keras_bigbird.export.command",
        "export a .keras model as a TF Serving SavedModel version",
    ),
    "train": (
        "keras_bigbird.training.command",
        "train a BigBirdClassifier on files or a TFDS dataset and save it",
    ),
    "info": (
        "keras_bigbird.info",
        "versions, Keras backend, devices and XLA availability",
    ),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-bigbird",
        description="BigBird block-sparse attention for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        subparser = subparsers.add_parser(
            name, help=help_text, description=module.__doc__
        )
        module.add_arguments(subparser)
        subparser.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # lets a command re-run itself in another process
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
