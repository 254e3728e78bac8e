"""`parse_config`: a `--config` file's values are checked and typed as the
flags' are, and the flags still win."""

import argparse
import json

import pytest

from keras_bigbird.training import command
from keras_bigbird.training import options


def parse(tmp_path, values, argv=()):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(values))
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return options.parse_config(parser, ["--config", str(path), *argv])


def test_config_file_values_are_typed_as_the_flags(tmp_path):
    config = parse(
        tmp_path,
        {
            "epochs": "3",  # the flag's text is accepted too
            "learning_rate": 0.01,
            "data": "train.csv",  # one path for an nargs="+" option
            "validation_data": ["a.csv", "b.csv"],
            "encoder_config": {"num_layers": 1},
            "steps_per_epoch": None,  # its default: None allowed
            "download": False,
        },
    )
    assert config["epochs"] == 3 and config["learning_rate"] == 0.01
    assert config["data"] == "train.csv"
    assert config["validation_data"] == ["a.csv", "b.csv"]
    assert config["encoder_config"] == {"num_layers": 1}
    assert config["steps_per_epoch"] is None and config["download"] is False


def test_flags_win_over_the_config_file(tmp_path):
    config = parse(tmp_path, {"epochs": 5, "batch_size": 2}, ["--epochs", "7"])
    assert config["epochs"] == 7 and config["batch_size"] == 2


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 2.5}, "option `epochs`: expected an integer >= 1"),
        ({"validation_data": ["a.csv", 3]}, "option `validation_data`: expected a string"),
        ({"lowercase": 1}, "option `lowercase`: expected true or false"),
        ({"batch_size": True}, "option `batch_size`: expected an integer >= 1"),
    ],
)
def test_bad_config_file_values_are_usage_errors(tmp_path, capsys, values, message):
    with pytest.raises(SystemExit) as exit_info:
        parse(tmp_path, values)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
