"""The `keras-bigbird` console script: `keras_bigbird.cli` on a lazily
imported package, so `--help` and usage errors import no TensorFlow.

`import keras_bigbird` imports every module that registers a Keras class
(a library user's `keras.saving.load_model` needs them, see
`keras_bigbird._exports`), and with them Keras and TensorFlow: seconds, and
TensorFlow's start-up logs before the CLI could hide them. This module
lives outside the package so that it can ask for the lazy import before
the package is first imported; `keras_bigbird.cli.main` completes the
import once the command line is parsed, before the command runs.

`python -m keras_bigbird_cli` is the same command. `python -m
keras_bigbird.cli` works too, but imports the whole package (and
TensorFlow, with its start-up logs) before the CLI starts.
"""

import os
import sys

# `keras_bigbird._exports.LAZY_IMPORT`, which reads and removes it.
LAZY_IMPORT = "_KERAS_BIGBIRD_LAZY_IMPORT"


def main(argv=None):
    """Runs the command line; returns the exit code."""
    os.environ[LAZY_IMPORT] = "1"
    try:
        from keras_bigbird import cli
    finally:  # also when the package was imported already
        os.environ.pop(LAZY_IMPORT, None)
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
