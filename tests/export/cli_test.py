"""`keras-bigbird export`: train, save, export from the command line, serve."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird import cli
from keras_bigbird.export import check
from keras_bigbird.export import serving
from tests.export import toy_models
from tests.export.conftest import MAX_LENGTH
from tests.export.conftest import TEXTS

pytestmark = pytest.mark.tf_only

VOCAB = toy_models.VOCABULARY_SIZE


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained a few steps, saved as .keras, and its
    preprocessor saved as JSON."""
    directory = tmp_path_factory.mktemp("cli")
    model = toy_models.bigbird_classifier(seed=5)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(0, VOCAB, (32, 24)).astype("int32"),
        "padding_mask": np.ones((32, 24), "int32"),
    }
    y = x["token_ids"][:, 1] % 3
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model_path = str(directory / "classifier.keras")
    model.save(model_path)
    preprocessor = toy_models.preprocessor()
    preprocessor_path = str(directory / "preprocessor.json")
    with open(preprocessor_path, "w") as f:
        json.dump(
            [keras.saving.serialize_keras_object(p) for p in preprocessor], f
        )
    return model, model_path, preprocessor, preprocessor_path, directory


def test_cli_export_round_trip_serves_the_trained_model(trained):
    model, model_path, preprocessor, preprocessor_path, directory = trained
    base = str(directory / "models")
    command = [
        sys.executable,
        "-m",
        "keras_bigbird.cli",
        "export",
        model_path,
        "--export-base",
        base,
        "--name",
        "toy",
        "--preprocessor",
        preprocessor_path,
        "--check",
    ]
    # Started under JAX, the command re-runs itself with the TensorFlow
    # backend (a SavedModel needs TensorFlow tensors).
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="jax")
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = os.path.join(base, "toy", "1")
    assert f"Exported {model_path} to {path}" in done.stdout
    assert "Serving check passed" in done.stdout
    assert sorted(check.signature_tensors(path)) == [
        "serve_text",
        "serving_default",
    ]
    # The command's --check compared the export with the model it reloaded
    # from the .keras file; compare it with the model trained here too.
    served = tf.saved_model.load(path).signatures
    steps = serving.preprocessor_steps(preprocessor)
    features = serving.run_preprocessor(steps, tf.constant(TEXTS))
    features = {k: tf.cast(v, tf.int32) for k, v in features.items()}
    expected = model.predict(features, verbose=0)
    for outputs in (
        served["serve_text"](text=tf.constant(TEXTS)),
        served["serving_default"](**features),
    ):
        np.testing.assert_allclose(
            outputs["logits"].numpy(), expected, rtol=0, atol=1e-5
        )


def test_cli_export_errors_are_reported(trained, tmp_path, capsys):
    _, model_path, _, _, _ = trained
    code = cli.main(
        [
            "export",
            str(tmp_path / "missing.keras"),
            "--export-base",
            str(tmp_path),
            "--name",
            "toy",
        ]
    )
    assert code == 2
    assert "no model file" in capsys.readouterr().err
    code = cli.main(
        [
            "export",
            model_path,
            "--export-base",
            str(tmp_path),
            "--name",
            "toy",
            "--max-sequence-length",
            str(MAX_LENGTH + 1),
        ]
    )
    assert code == 2
    assert "exceeds the model's max_sequence_length (64)" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        cli.main(["export", model_path])  # --export-base and --name required


def test_cli_no_text_wins_over_the_preprocessor(trained, tmp_path, capsys):
    _, model_path, _, preprocessor_path, _ = trained
    base = str(tmp_path / "models")
    arguments = ["--export-base", base, "--preprocessor", preprocessor_path]
    # The help says --no-text adds no `serve_text`, whatever the source.
    code = cli.main(
        ["export", model_path, "--name", "t", "--no-text"] + arguments
    )
    assert code == 0, capsys.readouterr().err
    path = os.path.join(base, "t", "1")
    assert sorted(check.signature_tensors(path)) == [
        "serving_default"
    ]


def test_cli_single_logit_model_has_no_softmax(trained, tmp_path, capsys):
    _, _, _, preprocessor_path, _ = trained
    base = str(tmp_path / "models")
    arguments = ["--export-base", base, "--preprocessor", preprocessor_path]
    # The regression model `keras-bigbird train` builds: one logit, so no
    # softmax `probabilities` (always 1.0), and --check agrees.
    regression = str(tmp_path / "regression.keras")
    toy_models.bigbird_classifier(num_classes=1).save(regression)
    code = cli.main(
        ["export", regression, "--name", "r", "--check", "--check-text", "a"]
        + arguments
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Serving check passed" in out
    signatures = check.signature_tensors(
        os.path.join(base, "r", "1")
    )
    assert {k: sorted(v["outputs"]) for k, v in signatures.items()} == {
        "serve_text": ["logits"],
        "serving_default": ["logits"],
    }
    code = cli.main(
        ["export", regression, "--name", "r", "--probabilities", "softmax"]
        + arguments
    )
    assert code == 2
    assert "a softmax over the model's single logit" in capsys.readouterr().err
