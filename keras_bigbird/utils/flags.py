"""argparse `type=` checks for the command line, and its user errors.

A `type=` function that raises `argparse.ArgumentTypeError` makes argparse
print one line naming the flag (`argument --epochs: expected an integer >=
1. Received: '0'`) and exit with code 2, before the command does any work.
Light on purpose: `keras-bigbird --help` imports this, not TensorFlow.
"""

import argparse
import json
import math
import os


def _number(parse, kind, low=None, high=None, high_open=False, low_open=False):
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    expected = f"{kind} {' and '.join(bounds)}".strip()

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or (low is not None and (value <= low if low_open else value < low))
            or (
                high is not None
                and (value >= high if high_open else value > high)
            )
        ):
            raise argparse.ArgumentTypeError(
                f"expected {expected}. Received: {text!r}"
            )
        return value

    convert.__name__ = kind
    return convert


def integer(low=None, high=None):
    """An int in `[low, high]` (either end open when None)."""
    return _number(int, "an integer", low, high)


def real(low=None, high=None, low_open=False, high_open=False):
    """A finite float between `low` and `high`."""
    return _number(float, "a number", low, high, high_open, low_open)


positive_int = integer(1)
non_negative_int = integer(0)
positive_float = real(0, low_open=True)
rate = real(0, 1, high_open=True)


def json_object(text):
    """A JSON object given inline, e.g. `'{"num_layers": 2}'`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not JSON ({error}). Received: {text!r}"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object {{...}}. Received: {text!r}"
        )
    return value


def existing_file(text):
    """The path of a file that exists."""
    if not os.path.isfile(text):
        what = "a directory" if os.path.isdir(text) else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {text!r}")
    return text


def check_output(flag, path, directory=False):
    """Raises `ValueError` naming `flag` unless `path` can be written.

    A file's folder must exist; a `directory` is made with its parents, so
    its nearest existing ancestor must be a folder. Either must be writable.
    """
    folder = os.path.abspath(path if directory else os.path.dirname(path))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if existing != folder and not directory:
        problem = f"the folder {folder!r} does not exist"
    elif not os.path.isdir(existing):
        problem = f"{existing!r} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"the folder {existing!r} is not writable"
    else:
        return
    raise ValueError(f"{flag}: {problem}. Received: {flag} {path}")
