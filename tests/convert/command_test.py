"""The `convert` command: checkpoint in, `.keras` file (and tokenizer) out."""

import json
import shutil

import keras
import numpy as np
import pytest

from tests.convert.conftest import random_inputs

from keras_bigbird import cli
from keras_bigbird.convert import from_transformers


def run(argv):
    """`keras-bigbird convert ARGV` in this process: the exit code."""
    return cli.main(["convert", *argv])


def test_convert_transformers_checkpoint(checkpoints, tmp_path, capsys):
    source = tmp_path / "checkpoint"
    shutil.copytree(checkpoints.classifier.path, source)
    output = tmp_path / "classifier.keras"
    assert run(["--from", "transformers", str(source), "--output", str(output)]) == 0
    assert "TransformersClassifier" in capsys.readouterr().out
    restored = keras.saving.load_model(output)
    inputs = random_inputs(2, 1024, seed=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(inputs)),
        keras.ops.convert_to_numpy(from_transformers(source)(inputs)),
        atol=1e-6,
    )
    # An existing output is kept unless --overwrite.
    assert run(["--from", "transformers", str(source), "--output", str(output)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.tf_only
def test_convert_google_checkpoint_with_tokenizer(checkpoints, tmp_path, capsys):
    from tests.convert.google_checkpoint_test import GOOGLE_CONFIG
    from tests.convert.google_checkpoint_test import google_variables
    from tests.convert.google_checkpoint_test import write_checkpoint

    model = checkpoints.model.model_class.from_pretrained(checkpoints.model.path)
    directory = tmp_path / "google"
    directory.mkdir()
    prefix = write_checkpoint(
        directory / "model.ckpt-1", google_variables(model.state_dict(), 2, 4)
    )
    (directory / "config.json").write_text(json.dumps(GOOGLE_CONFIG))
    output = tmp_path / "encoder.keras"
    # No SentencePiece model in the directory: a clear error, exit code 2.
    argv = ["--from", "google", prefix, "--config", str(directory / "config.json"),
            "--output", str(output)]
    assert run(argv + ["--tokenizer-output", str(tmp_path / "t.json")]) == 2
    assert "No SentencePiece model" in capsys.readouterr().err
    assert run(["--from", "google", prefix, "--output", str(output)]) == 2
    assert "--config" in capsys.readouterr().err
    assert run(argv) == 0
    restored = keras.saving.load_model(output)
    inputs = random_inputs(1, 300, seed=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(inputs)["sequence_output"]),
        keras.ops.convert_to_numpy(
            from_transformers(checkpoints.model.path)(inputs)["sequence_output"]
        ),
        atol=1e-5,
    )


def test_options_of_the_other_source_are_errors(checkpoints, tmp_path, capsys):
    output = tmp_path / "model.keras"
    config = tmp_path / "config.json"
    config.write_text("{}")
    # A google checkpoint converts to an encoder: no head to write.
    argv = ["--from", "google", str(tmp_path / "model.ckpt-1"),
            "--config", str(tmp_path / "config.json"), "--output", str(output)]
    for head in ("question_answerer", "classifier"):
        assert run(argv + ["--head", head]) == 2
        assert f"--head {head}" in capsys.readouterr().err
    # transformers reads its own config.json; --config would be ignored.
    argv = ["--from", "transformers", checkpoints.model.path,
            "--config", str(config), "--output", str(output)]
    assert run(argv) == 2
    assert f"--config {config}" in capsys.readouterr().err
    assert not output.exists()
