"""`keras-bigbird info` and `keras-bigbird train`, through the installed
console script."""

import csv
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_bigbird import cli
from tests.preprocessing import synthetic_text

pytestmark = pytest.mark.tf_only


def console_script():
    """The `keras-bigbird` script installed for this Python."""
    beside = os.path.join(os.path.dirname(sys.executable), "keras-bigbird")
    path = beside if os.path.exists(beside) else shutil.which("keras-bigbird")
    assert path, "the keras-bigbird console script is not installed"
    return path


def run_script(*arguments, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    return subprocess.run(
        [console_script(), *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def write_csv(path, count, seed):
    """Long generated documents labelled "good"/"bad" in turn."""
    words = synthetic_text.pseudo_words(300, seed=3)
    lengths = synthetic_text.log_uniform_lengths(count, 100, 1500, seed=seed)
    texts = synthetic_text.documents(lengths, words, seed=seed)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "sentiment"])
        for i, text in enumerate(texts):
            writer.writerow([text, ("good", "bad")[i % 2]])
    return str(path)


def test_info_reports_versions_backend_devices_and_xla():
    import tensorflow as tf

    import keras_bigbird

    done = run_script("info", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout)
    versions = info["versions"]
    assert versions["keras_bigbird"] == keras_bigbird.__version__
    assert versions["keras"] == keras.__version__
    assert versions["tensorflow"] == tf.__version__
    assert versions["tensorflow-text"] and versions["tensorflow-datasets"]
    assert info["backend"] == "tensorflow"
    assert "CPU:0" in info["devices"]["tensorflow"]
    assert info["xla"]["tensorflow"]["ok"], info["xla"]


def test_info_text(capsys):
    assert cli.main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"keras: {keras.__version__}" in lines
    assert f"keras backend: {keras.backend.backend()}" in lines
    assert any(
        line.startswith("XLA (tf.function(jit_compile=True)): yes")
        for line in lines
    )


def test_train_on_csv_saves_a_model_that_evaluates_as_reported(tmp_path):
    from keras_bigbird.data import load_text_files

    train_csv = write_csv(tmp_path / "train.csv", 24, seed=1)
    valid_csv = write_csv(tmp_path / "valid.csv", 8, seed=2)
    config_file = tmp_path / "run.json"
    config_file.write_text(
        json.dumps(
            {
                "data": train_csv,
                "validation_data": valid_csv,
                "text_column": "body",
                "label_column": "sentiment",
                "vocabulary_size": 200,
                "encoder_config": {"num_layers": 1},
                "max_sequence_length": 256,
                "batch_size": 4,
                "epochs": 2,
            }
        )
    )
    output_dir = tmp_path / "run"
    done = run_script(
        "train",
        "--config",
        str(config_file),
        "--max-sequence-length",
        "128",
        "--output-dir",
        str(output_dir),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Results:" in done.stdout
    with open(output_dir / "config.json") as f:
        config = json.load(f)
    # The flag wins over the config file, which wins over the defaults.
    assert config["max_sequence_length"] == 128
    assert config["epochs"] == 2 and config["batch_size"] == 4
    assert config["learning_rate"] == 1e-3
    assert config["label_names"] == ["bad", "good"]
    with open(output_dir / "figures.json") as f:
        figures = json.load(f)
    assert figures["validation majority_accuracy"] == 0.5
    for name in ("model.keras", "checkpoint.keras", "spm.model"):
        assert (output_dir / name).is_file(), name
    assert os.listdir(output_dir / "logs" / "train")

    # The saved model and preprocessor give the figures the run printed.
    model = keras.saving.load_model(output_dir / "model.keras")
    with open(output_dir / "preprocessor.json") as f:
        tokenizer, packer = [
            keras.saving.deserialize_keras_object(c) for c in json.load(f)
        ]
    assert packer.max_sequence_length == 128
    validation = load_text_files(
        valid_csv,
        tokenizer=tokenizer,
        packer=packer,
        text_column="body",
        label_column="sentiment",
        label_names=config["label_names"],
        batch_size=4,
    )
    metrics = model.evaluate(validation, return_dict=True, verbose=0)
    np.testing.assert_allclose(
        metrics["loss"], figures["validation loss"], rtol=1e-4
    )
    assert metrics["accuracy"] == figures["validation accuracy"]


def test_train_errors(tmp_path, capsys):
    train_csv = write_csv(tmp_path / "train.csv", 4, seed=1)
    output_dir = str(tmp_path / "run")
    code = cli.main(
        [
            "train",
            "--data",
            train_csv,
            "--output-dir",
            output_dir,
            "--text-column",
            "body",
            "--vocabulary-size",
            "100",
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert (
        "`label_column`" in error and "Received: label_column='label'" in error
    )

    code = cli.main(
        [
            "train",
            "--data",
            train_csv,
            "--tfds",
            "imdb_reviews",
            "--output-dir",
            output_dir,
        ]
    )
    assert code == 2
    assert "exactly one of `data`" in capsys.readouterr().err

    config_file = tmp_path / "bad.json"
    config_file.write_text(json.dumps({"epoch": 3}))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--config", str(config_file)])
    assert exit_info.value.code == 2
    assert "unknown options ['epoch']" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        cli.main(["train", "--config", str(tmp_path / "missing.json")])
    assert "No such file" in capsys.readouterr().err
