"""`keras-bigbird`: the command line, a thin dispatcher to subcommands.

Each subcommand lives in its own module exposing `add_arguments(parser)`
and `run(args) -> exit code`; this file only wires them to argparse. To add
one (`train`, `info`, `convert`, ...), add its module to `COMMANDS`.

Only the module of the command given is imported, and the modules import
TensorFlow and Keras only in `run`. Run through the `keras-bigbird` console
script (`keras_bigbird_cli`), which imports the package lazily, `--help`
and usage errors import no TensorFlow and take a fraction of a second;
before a command runs, `main` loads TensorFlow (silenced unless
`--verbose`) and completes the package's import, so every serializable
class is registered before a `.keras` file is read or written. `python -m
keras_bigbird.cli` imports the whole package first: the same commands,
slower, and TensorFlow's start-up logs are printed before `main` starts.

A user error is one line on stderr and exit code 2: a usage error, or a
`ValueError` / `OSError` (the package's argument checks raise `ValueError`
naming the argument; `OSError` names the file). Anything else is a bug and
keeps its traceback.
"""

import argparse
import importlib
import logging
import os
import sys

from keras_bigbird import _exports

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

USER_ERRORS = (ValueError, OSError)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (`--help` shows the usage), and no
    abbreviated flags (a script's `--epoch` would change meaning once a
    second `--epoch...` flag exists)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _verbose_parser(default):
    parser = _Parser(add_help=False)
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help="show TensorFlow's start-up logs",
    )
    return parser


def build_parser(commands=None):
    """The parser, with the arguments of `commands` (default: all).

    Only those commands' modules are imported; the others are listed by
    name and help.
    """
    parser = _Parser(
        prog="keras-bigbird",
        description="BigBird block-sparse attention for Keras 3.",
        parents=[_verbose_parser(False)],
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    # Given after the command too; SUPPRESS keeps the global value then.
    verbose = _verbose_parser(argparse.SUPPRESS)
    for name, (module_name, help_text) in COMMANDS.items():
        if commands is not None and name not in commands:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        subparser = subparsers.add_parser(
            name, help=help_text, description=module.__doc__, parents=[verbose]
        )
        module.add_arguments(subparser)
        subparser.set_defaults(_run=module.run, _parser=subparser)
    return parser


def quiet_tensorflow():
    """Loads TensorFlow and Keras without their start-up logs.

    The oneDNN, CUDA (`cuInit`) and cpu-feature lines come from absl's C++
    logging before any log level applies, so stderr is closed meanwhile.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # absl's Python logs (TFDS's) go to the standard logger "absl".
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401 (its backend logs at import too)
        import tensorflow as tf

        tf.config.list_physical_devices()  # initialises CUDA
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None):
    """Runs the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Global flags take no value: the first other word names the command.
    position = next((i for i, a in enumerate(argv) if a[:1] != "-"), None)
    command = argv[position] if position is not None else None
    args, unknown = build_parser([command]).parse_known_args(argv)
    if unknown:  # named by the command's parser, not the top one
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.argv = argv  # lets a command re-run itself in another process
    args.command_argv = argv[position + 1 :]
    if not args.verbose:
        quiet_tensorflow()
    _exports.finish()
    try:
        return args._run(args)
    except USER_ERRORS as error:
        message = " ".join(str(error).split())
        print(f"keras-bigbird {command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
