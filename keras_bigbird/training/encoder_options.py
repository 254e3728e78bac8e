"""`--encoder-config`: `BigBirdEncoder` arguments, checked as it is parsed.

`ENCODER_OPTIONS` gives each argument `train` may override the check of
its JSON value, so `--encoder-config '{"num_layer": 1}'` or
`'{"dropout": 1.5}'` is a usage error naming the flag, the key and the
value (exit code 2) before any data is read or tokenizer trained. Light on
purpose, as `utils.flags`: parsing imports neither Keras nor TensorFlow.
What needs Keras (the activation, dtype and pattern names, and how the keys
combine with the preset) is checked by `check_with_preset` in `run`, still
before any work.

Example:

>>> encoder_config('{"num_layers": 4, "block_size": 32}')
{'num_layers': 4, 'block_size': 32}
>>> encoder_config('{"num_layer": 4}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
argparse.ArgumentTypeError: unknown key 'num_layer'; expected some of [...]. Received: num_layer=4
"""

import argparse
import json

from keras_bigbird.utils import flags
from keras_bigbird.utils.seeds import MAX_SEED

# As `patterns.legacy` spells them (a test keeps the two equal).
ATTENTION_TYPES = ("block_sparse", "original_full", "window")
RANDOM_PATTERNS = ("hashed", "bigbird_original")


def _number(check):
    # JSON numbers only: "3" or true would reach the encoder as a str/bool.
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise argparse.ArgumentTypeError(
                f"expected a JSON number. Received: {json.dumps(value)}"
            )
        return check(json.dumps(value))

    return convert


def _boolean(value):
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(
            f"expected true or false. Received: {json.dumps(value)}"
        )
    return value


def _string(choices=None):
    def convert(value):
        if not isinstance(value, str) or (choices and value not in choices):
            expected = f"one of {list(choices)}" if choices else "a string"
            raise argparse.ArgumentTypeError(
                f"expected {expected}. Received: {json.dumps(value)}"
            )
        return value

    return convert


def _pattern(value):
    # A pattern's name or serialized config; `check_with_preset` builds it.
    if not isinstance(value, (str, dict)):
        raise argparse.ArgumentTypeError(
            "expected a pattern name or a serialized pattern {...}. "
            f"Received: {json.dumps(value)}"
        )
    return value


_size = _number(flags.positive_int)
ENCODER_OPTIONS = {
    "vocabulary_size": _size,
    "num_layers": _size,
    "num_heads": _size,
    "hidden_dim": _size,
    "intermediate_dim": _size,
    "max_sequence_length": _size,
    "block_size": _size,
    "pattern": _pattern,
    "dropout": _number(flags.rate),
    "attention_dropout": _number(flags.rate),
    # `train`'s packer feeds segment ids (all 0 for one text): a model
    # without segment embeddings would read them as token ids.
    "num_segments": _size,
    "normalize_first": _boolean,
    "gradient_checkpointing": _boolean,
    "seed": _number(flags.integer(0, MAX_SEED)),
    "attention_type": _string(ATTENTION_TYPES),
    "activation": _string(),
    "layer_norm_epsilon": _number(flags.positive_float),
    "initializer_range": _number(flags.positive_float),
    "causal": _boolean,
    "max_global_tokens": _number(flags.non_negative_int),
    "num_random_blocks": _number(flags.non_negative_int),
    "random_pattern": _string(RANDOM_PATTERNS),
    "dtype": _string(),
    "name": _string(),
    "trainable": _boolean,
}


def check_encoder_config(value):
    """Checks a dict of `BigBirdEncoder` arguments key by key.

    Raises `argparse.ArgumentTypeError` naming the first bad key and its
    value; returns `value`.
    """
    for key, item in value.items():
        if key not in ENCODER_OPTIONS:
            raise argparse.ArgumentTypeError(
                f"unknown key {key!r}; expected some of "
                f"{sorted(ENCODER_OPTIONS)}. Received: {key}="
                f"{json.dumps(item)}"
            )
        try:
            ENCODER_OPTIONS[key](item)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"key {key!r}: {error}") from None
    return value


def encoder_config(text):
    """The `type=` of `--encoder-config`: a JSON object of checked keys."""
    return check_encoder_config(flags.json_object(text))


def check_with_preset(preset, encoder_config):
    """Raises `ValueError` naming `--encoder-config` when its keys, with the
    `preset`'s, cannot make an encoder: the checks that need Keras.

    An unknown `preset` raises `preset_config`'s error naming `preset`; a
    checkpoint directory (or `hf://` name) is only checked to be one here:
    its config fixes the sizes, and loading it checks the keys.
    """
    import keras

    from keras_bigbird import patterns
    from keras_bigbird.models.presets import PRESETS
    from keras_bigbird.models.presets import checkpoint_directory
    from keras_bigbird.models.presets import preset_config

    if preset not in PRESETS and checkpoint_directory(preset) is not None:
        return
    encoder_config = encoder_config or {}
    config = preset_config(preset, **encoder_config)
    problems = []
    if config["hidden_dim"] % config["num_heads"]:
        problems.append(
            f"hidden_dim={config['hidden_dim']} is not a multiple of "
            f"num_heads={config['num_heads']} (preset {preset!r} and these "
            "keys)"
        )
    if config["num_segments"] < 1:
        problems.append(
            f"preset {preset!r} has num_segments={config['num_segments']}; "
            "`train` feeds segment ids, so give num_segments >= 1"
        )
    for key, get in (
        ("activation", keras.activations.get),
        ("dtype", keras.dtype_policies.get),
        ("pattern", patterns.get),
    ):
        if encoder_config.get(key) is not None:
            try:
                get(encoder_config[key])
            except (ValueError, TypeError) as error:
                problems.append(f"key {key!r}: {' '.join(str(error).split())}")
    if problems:
        raise ValueError(
            f"--encoder-config: {problems[0]}. Received: --encoder-config "
            f"{json.dumps(encoder_config)}"
        )
