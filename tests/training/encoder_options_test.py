"""`--encoder-config`'s table of `BigBirdEncoder` arguments: it names every
argument of the encoder, and its checks take good values and refuse bad
ones (the command-line cases are in tests/faults/cli_test.py)."""

import argparse
import inspect

import pytest

from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.patterns import legacy
from keras_bigbird.training import encoder_options


def test_the_table_names_every_encoder_argument():
    parameters = set(inspect.signature(BigBirdEncoder.__init__).parameters)
    arguments = parameters - {"self", "kwargs"} | {"name", "trainable"}
    assert set(encoder_options.ENCODER_OPTIONS) == arguments


def test_choices_are_the_encoders():
    assert encoder_options.ATTENTION_TYPES == legacy.ATTENTION_TYPES
    assert encoder_options.RANDOM_PATTERNS == legacy.RANDOM_PATTERNS


def test_good_values_pass_and_build_an_encoder():
    config = {
        "num_layers": 1,
        "num_heads": 2,
        "hidden_dim": 16,
        "intermediate_dim": 32,
        "block_size": 8,
        "max_sequence_length": 64,
        "dropout": 0.0,
        "attention_dropout": 0,
        "layer_norm_epsilon": 1e-6,
        "causal": False,
        "num_random_blocks": 1,
        "random_pattern": "hashed",
        "activation": "relu",
        "name": "encoder",
    }
    text = __import__("json").dumps(config)
    assert encoder_options.encoder_config(text) == config
    encoder_options.check_with_preset("bigbird_tiny", config)
    encoder = BigBirdEncoder(vocabulary_size=50, **config)
    assert encoder.name == "encoder"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"vocabulary_size": 0}, "key 'vocabulary_size': expected an integer >= 1"),
        ({"max_global_tokens": -1}, "key 'max_global_tokens': expected an integer >= 0"),
        ({"gradient_checkpointing": "yes"}, "key 'gradient_checkpointing': expected true or false"),
        ({"dtype": 32}, "key 'dtype': expected a string"),
        ({"initializer_range": float("inf")}, "key 'initializer_range': expected a number > 0"),
    ],
)
def test_bad_values(config, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        encoder_options.check_encoder_config(config)


def test_preset_checks_name_the_flag():
    with pytest.raises(ValueError, match="num_heads=12 .*preset 'bigbird_roberta_base'"):
        encoder_options.check_with_preset("bigbird_roberta_base", {"hidden_dim": 100})
    with pytest.raises(ValueError, match="expected one of"):
        encoder_options.check_with_preset("bigbird_huge", {})
