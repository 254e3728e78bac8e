"""Presets: built-in names, transformers checkpoint directories, `hf://`.

The checkpoint is a tiny random `transformers.BigBirdModel` written by
`save_pretrained`, with a tiny SentencePiece model as its `spiece.model`;
the loaded encoder is compared with transformers' own outputs and the
loaded tokenizer with the `sentencepiece` package.
"""

import shutil

import keras
import numpy as np
import pytest

from tests.convert.conftest import random_inputs
from tests.convert.conftest import reference
from tests.convert.conftest import save_preset

from keras_bigbird.convert import PretrainedBigBirdEncoder
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models.presets import load_encoder
from keras_bigbird.models.presets import load_tokenizer

sentencepiece = pytest.importorskip("sentencepiece")

ATOL = 1e-4  # as tests/convert/transformers_test.py


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_preset(tmp_path_factory.mktemp("preset") / "checkpoint", seed=7)


def test_checkpoint_directory_loads_with_its_weights(checkpoint):
    encoder = BigBirdEncoder.from_preset(checkpoint.path)
    assert isinstance(encoder, PretrainedBigBirdEncoder)
    for length in (100, 1024):  # full attention, then block-sparse
        inputs = random_inputs(2, length, seed=length)
        expected = reference(checkpoint, inputs).last_hidden_state.numpy()
        got = keras.ops.convert_to_numpy(encoder(inputs)["sequence_output"])
        real = inputs["padding_mask"].astype(bool)
        np.testing.assert_allclose(got[real], expected[real], atol=ATOL, rtol=0)


def test_overrides_the_weights_allow(checkpoint):
    encoder = load_encoder(checkpoint.path, dropout=0.3, name="pretrained",
                           num_layers=2)
    assert (encoder.dropout, encoder.name, encoder.num_layers) == (
        0.3, "pretrained", 2
    )
    with pytest.raises(
        ValueError,
        match=r"`num_layers` is fixed by the checkpoint's weights: "
        r"'.*config\.json' gives num_layers=2\. Received: num_layers=3",
    ):
        load_encoder(checkpoint.path, num_layers=3)
    with pytest.raises(ValueError, match=r"Cannot build the encoder .*dropout=2"):
        load_encoder(checkpoint.path, dropout=2)


def test_tokenizer_is_the_checkpoint_vocabulary(checkpoint):
    tokenizer = load_tokenizer(checkpoint.path)
    processor = sentencepiece.SentencePieceProcessor(
        model_file=f"{checkpoint.path}/spiece.model"
    )
    text = "Some words the model has not seen, and [MASK]."
    ids = keras.ops.convert_to_numpy(tokenizer(text)).tolist()
    assert ids == processor.encode(text)
    assert tokenizer.vocabulary_size() == 90
    assert tokenizer.token_to_id("[MASK]") == processor.piece_to_id("[MASK]")


def test_built_in_presets_have_no_weights_nor_tokenizer():
    encoder = load_encoder("bigbird_tiny", num_layers=1)
    assert type(encoder) is BigBirdEncoder and encoder.num_layers == 1
    assert load_tokenizer("bigbird_tiny") is None


def test_checkpoint_without_spiece_model_has_no_tokenizer(checkpoint, tmp_path):
    for name in ("config.json", "model.safetensors"):
        shutil.copy(f"{checkpoint.path}/{name}", tmp_path / name)
    assert load_tokenizer(tmp_path) is None
    assert isinstance(load_encoder(tmp_path), PretrainedBigBirdEncoder)


def invalid(preset, reason):
    return (
        r"argument `preset`, expected one of \['bigbird_roberta_base', "
        r"'bigbird_roberta_large', 'bigbird_tiny'\]\. Received: "
        rf"preset={preset} \({reason}"
    )


@pytest.mark.parametrize("load", [load_encoder, load_tokenizer])
def test_bad_presets_name_the_argument_and_value(load, checkpoint, tmp_path):
    cases = {
        "bigbird_huge": invalid("'bigbird_huge'", "no such preset, file"),
        tmp_path / "missing": invalid(r"PosixPath\('.*missing'\)", "no such"),
        f"{checkpoint.path}/config.json": invalid(".*config.json'", "a file;"),
        str(tmp_path): invalid(".*", "a directory without config.json"),
        3: invalid("3", "not a name or a path"),
        None: invalid("None", "not a name or a path"),
    }
    for preset, pattern in cases.items():
        with pytest.raises(ValueError, match=pattern):
            load(preset)


def test_hub_names_give_one_clear_error_without_a_hub(monkeypatch):
    pytest.importorskip("huggingface_hub")
    prefix = (
        r"Cannot load preset='hf://keras-bigbird/none' from the Hugging Face "
        r"Hub: "
    )
    for load in (load_encoder, load_tokenizer):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(ValueError, match=prefix + "HF_HUB_OFFLINE is set"):
            load("hf://keras-bigbird/none")
        # The test machines have no network (the Hub would say the
        # repository does not exist): the reason is the Hub client's.
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        with pytest.raises(ValueError, match=prefix + r"\w+Error: .+"):
            load("hf://keras-bigbird/none")
    for bad in ("hf://", "hf://owner", "hf://a/b/c", "hf:///name"):
        with pytest.raises(ValueError, match=r"expected 'hf://owner/name'"):
            load_encoder(bad)


def test_hub_names_load_from_the_hub_cache(checkpoint, tmp_path, monkeypatch):
    # huggingface_hub's cache layout, written as a download leaves it:
    # refs/main names the commit whose snapshot folder holds the files.
    pytest.importorskip("huggingface_hub")
    repo = tmp_path / "models--keras-bigbird--tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(checkpoint.path, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = load_encoder("hf://keras-bigbird/tiny")
    inputs = random_inputs(1, 300, seed=3)
    expected = reference(checkpoint, inputs).last_hidden_state.numpy()
    got = keras.ops.convert_to_numpy(encoder(inputs)["sequence_output"])
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    assert load_tokenizer("hf://keras-bigbird/tiny").vocabulary_size() == 90
