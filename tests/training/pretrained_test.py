"""`keras-bigbird train --preset <checkpoint>` fine-tunes a transformers
checkpoint: its converted weights and its SentencePiece tokenizer."""

import json
import re

import keras
import numpy as np
import pytest

from keras_bigbird import cli
from keras_bigbird.models import presets
from keras_bigbird.training import synthetic

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = pytest.mark.tf_only

from tests.convert.conftest import save_preset  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_preset(tmp_path_factory.mktemp("pretrained") / "checkpoint")


def short_documents(tmp_path, count):
    return synthetic.write_csv(
        tmp_path / "planted.csv", count, seed=0, words=(40, 120),
        position=(5, 20),
    )


def train(data, output_dir, checkpoint, *flags):
    return cli.main([
        "train", "--data", str(data), "--output-dir", str(output_dir),
        "--preset", checkpoint.path, "--max-sequence-length", "128",
        "--epochs", "1", "--batch-size", "8", *flags,
    ])


def test_train_starts_from_the_checkpoint_and_its_tokenizer(
    checkpoint, tmp_path, capsys
):
    data = short_documents(tmp_path, 24)
    # A tiny learning rate: the encoder keeps the checkpoint's weights to
    # the precision a few steps can move them.
    code = train(data, tmp_path / "run", checkpoint, "--learning-rate", "1e-9")
    assert code == 0, capsys.readouterr().out[-2000:]
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    pretrained = presets.load_encoder(checkpoint.path)
    (encoder,) = [layer for layer in model.layers
                  if isinstance(layer, type(pretrained))]
    assert len(encoder.weights) == len(pretrained.weights) > 20
    for trained, weight in zip(encoder.weights, pretrained.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(trained),
            keras.ops.convert_to_numpy(weight), atol=1e-6, err_msg=weight.path,
        )
    # The tokenizer saved with the run is the checkpoint's, not a new one.
    tokenizer = presets.load_tokenizer(checkpoint.path)
    with open(tmp_path / "run" / "preprocessor.json") as f:
        saved = keras.saving.deserialize_keras_object(json.load(f)[0])
    text = "one two three"
    np.testing.assert_array_equal(
        saved(text).numpy(), tokenizer(text).numpy()
    )
    assert not (tmp_path / "run" / "spm.model").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-sequence-length", "8192"],
         r"max_sequence_length.*4096 positions.*8192"),
        (["--wordpiece-vocabulary", "{vocabulary}"],
         r"checkpoint.*own tokenizer.*--wordpiece-vocabulary"),
        (["--encoder-config", '{"hidden_dim": 64}'], r"hidden_dim"),
    ],
)
def test_checkpoint_faults_name_the_flag(checkpoint, tmp_path, capsys, flags,
                                         message):
    data = short_documents(tmp_path, 16)
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n")
    flags = [f.replace("{vocabulary}", str(vocabulary)) for f in flags]
    code = train(data, tmp_path / "run", checkpoint, *flags)
    error = capsys.readouterr().err
    assert code == 2, error
    assert len(error.strip().splitlines()) == 1, error
    assert re.search(message, error), error
