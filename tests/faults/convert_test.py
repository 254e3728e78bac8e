"""Fault cases of the converter and presets: broken checkpoints and the
exact error each gets, naming the file and what is wrong with it.

Each case breaks a fresh copy of one tiny transformers checkpoint
(`save_pretrained` plus a SentencePiece model), then loads it with
`from_transformers`, `load_encoder` or `load_tokenizer`; the CLI cases
run `keras-bigbird convert` on some of the same breakages.
"""

import json
import os
import re
import shutil
import types

import pytest

from tests.convert.conftest import save_preset
from tests.convert.conftest import torch
from tests.faults.fault_cases import assert_fault
from tests.faults.fault_cases import params

from keras_bigbird import cli
from keras_bigbird.convert import from_transformers
from keras_bigbird.models.presets import load_encoder
from keras_bigbird.models.presets import load_tokenizer

pytestmark = pytest.mark.tf_only

ST = "model.safetensors"
BIN = "pytorch_model.bin"
INDEX = "model.safetensors.index.json"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return save_preset(tmp_path_factory.mktemp("faults") / "checkpoint")


@pytest.fixture
def subjects(source, tmp_path):
    directory = tmp_path / "checkpoint"
    shutil.copytree(source.path, directory)
    return types.SimpleNamespace(path=directory)


# Breakages: each takes the checkpoint directory and changes it.
def write(name, content):
    def breakage(d):
        data = content if isinstance(content, bytes) else content.encode()
        (d / name).write_bytes(data)

    return breakage


def truncate(name, keep):
    def breakage(d):
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: keep(len(data))])

    return breakage


def remove(*names):
    def breakage(d):
        for name in names:
            os.remove(d / name)

    return breakage


def edit_config(**changes):
    def breakage(d):
        config = json.loads((d / "config.json").read_text())
        for key, value in changes.items():
            if value is remove:
                config.pop(key)
            else:
                config[key] = value
        (d / "config.json").write_text(json.dumps(config))

    return breakage


def as_bin(state):
    """Replaces the safetensors weights with `torch.save(state(d))`."""

    def breakage(d):
        from safetensors.torch import load_file

        tensors = load_file(d / ST)
        os.remove(d / ST)
        torch.save(state(tensors), d / BIN)

    return breakage


def sharded(index):
    """The weights as one shard named by the index JSON `index`."""

    def breakage(d):
        os.rename(d / ST, d / "model-00001-of-00001.safetensors")
        (d / INDEX).write_text(index if isinstance(index, str) else json.dumps(index))

    return breakage


def then(*breakages):
    def breakage(d):
        for b in breakages:
            b(d)

    return breakage


def encoder(breakage, **kwargs):
    def call(s):
        breakage(s.path)
        return from_transformers(s.path, **kwargs)

    return call


def preset(breakage, load=load_encoder, **kwargs):
    def call(s):
        breakage(s.path)
        return load(s.path, **kwargs)

    return call


def nothing(d):
    pass


CANNOT_READ = r"Cannot read the weights '.*/checkpoint/{}': the file is "
SHAPE = (
    r"Tensor '{}' of '.*/checkpoint' has shape \({}\), which does not fit "
    r"variable '{}' of shape \({}\) of the model built from its config"
)
CONFIG = r"'.*/checkpoint/config\.json'"

CASES = {
    # Weight files that cannot be read: the path and what is wrong.
    "safetensors_empty": (
        encoder(write(ST, b"")), ValueError,
        CANNOT_READ.format(r"model\.safetensors") + r"empty \(0 bytes\)\. It may be truncated",
    ),
    "safetensors_truncated": (
        encoder(truncate(ST, lambda n: n - 100)), ValueError,
        CANNOT_READ.format(r"model\.safetensors")
        + r"not a readable safetensors file \([\d,]+ bytes: Error while "
        r"deserializing header: incomplete metadata",
    ),
    "safetensors_header_only": (
        encoder(truncate(ST, lambda n: 6)), ValueError,
        CANNOT_READ.format(r"model\.safetensors")
        + r"not a readable safetensors file \(6 bytes: .*header",
    ),
    "safetensors_is_text": (
        encoder(write(ST, "version https://git-lfs.github.com/spec/v1\n")),
        ValueError,
        CANNOT_READ.format(r"model\.safetensors") + r"not a readable safetensors file",
    ),
    "safetensors_is_a_pytorch_file": (
        encoder(then(as_bin(lambda t: t), lambda d: os.rename(d / BIN, d / ST))),
        ValueError,
        CANNOT_READ.format(r"model\.safetensors") + r"not a readable safetensors file",
    ),
    "bin_empty": (
        encoder(then(as_bin(lambda t: t), write(BIN, b""))), ValueError,
        CANNOT_READ.format(r"pytorch_model\.bin") + r"empty \(0 bytes\)",
    ),
    "bin_truncated": (
        encoder(then(as_bin(lambda t: t), truncate(BIN, lambda n: n // 2))),
        ValueError,
        CANNOT_READ.format(r"pytorch_model\.bin")
        + r"not a readable PyTorch file \([\d,]+ bytes: PytorchStreamReader "
        r"failed reading zip archive",
    ),
    "bin_is_text": (
        encoder(then(as_bin(lambda t: t), write(BIN, "not a checkpoint\n" * 9))),
        ValueError,
        CANNOT_READ.format(r"pytorch_model\.bin") + r"not a readable PyTorch file",
    ),
    "bin_is_one_tensor": (
        encoder(as_bin(lambda t: t["embeddings.word_embeddings.weight"])),
        ValueError,
        r"'.*/pytorch_model\.bin' is not a model state dict \(a dict of named "
        r"tensors\): it holds a Tensor\.",
    ),
    "bin_holds_other_values": (
        encoder(as_bin(lambda t: {**t, "step": 3})), ValueError,
        r"'.*/pytorch_model\.bin' is not a model state dict .*: 1 entries "
        r"are not tensors, e.g. \['step'\]",
    ),
    # Missing or wrong files.
    "no_weights": (
        encoder(remove(ST)), ValueError,
        r"No weights found in '.*/checkpoint': expected 'model\.safetensors' "
        r"or 'pytorch_model\.bin' .* It holds: \['config\.json', "
        r"'spiece\.model'\]",
    ),
    "no_config": (
        encoder(remove("config.json")), ValueError,
        rf"No config\.json found: {CONFIG} does not exist\.",
    ),
    "config_is_a_directory": (
        encoder(then(remove("config.json"), lambda d: (d / "config.json").mkdir())),
        ValueError, rf"No config\.json found: {CONFIG} is a directory\.",
    ),
    "no_directory": (
        preset(remove(ST), load=lambda p: from_transformers(p / "missing")),
        ValueError,
        r"argument `path`, expected a transformers checkpoint directory .*"
        r"Received: path='.*/checkpoint/missing'",
    ),
    "shard_index_not_json": (
        encoder(sharded("{")), ValueError,
        r"The shard index '.*/model\.safetensors\.index\.json' is not valid "
        r"JSON: Expecting property name",
    ),
    "shard_index_without_weight_map": (
        encoder(sharded({"metadata": {}})), ValueError,
        r"The shard index '.*index\.json' has no `weight_map` object",
    ),
    "shard_missing": (
        encoder(sharded({"weight_map": {"a": "model-00001-of-00001.safetensors",
                                        "b": "model-00002-of-00002.safetensors"}})),
        ValueError,
        r"The shard index '.*index\.json' names 1 files that '.*/checkpoint' "
        r"does not hold: \['model-00002-of-00002\.safetensors'\]\. The "
        r"download may be incomplete\.",
    ),
    # config.json that is not JSON, not an object, or not BigBird's.
    "config_not_json": (
        encoder(write("config.json", "{'vocab_size': 100}")), ValueError,
        rf"The config\.json {CONFIG} is not valid JSON: Expecting property name",
    ),
    "config_empty": (
        encoder(write("config.json", "")), ValueError,
        rf"The config\.json {CONFIG} is not valid JSON: Expecting value",
    ),
    "config_not_utf8": (
        encoder(write("config.json", b"\xff\xfe{}")), ValueError,
        rf"The config\.json {CONFIG} is not valid JSON: 'utf-8' codec",
    ),
    "config_a_list": (
        encoder(write("config.json", "[1, 2]")), ValueError,
        rf"The config\.json {CONFIG} must hold a JSON object \{{\.\.\.\}}\. "
        r"Received: a list",
    ),
    "config_without_model_type": (
        encoder(edit_config(model_type=remove)), ValueError,
        rf"{CONFIG} has no `model_type` entry, so it is not a transformers "
        r"config .*Its keys: \['add_cross_attention', 'architectures'",
    ),
    "config_of_bert": (
        encoder(edit_config(model_type="bert")), ValueError,
        rf"{CONFIG} describes a 'bert' model, not BigBird",
    ),
    "config_decoder": (
        encoder(edit_config(is_decoder=True)), ValueError,
        rf"{CONFIG} describes a BigBird decoder",
    ),
    "config_activation": (
        encoder(edit_config(hidden_act="gelu_magic")), ValueError,
        rf"Unsupported activation in {CONFIG}: hidden_act='gelu_magic'",
    ),
    "config_attention_type": (
        encoder(edit_config(attention_type="sparse")), ValueError,
        rf"Unsupported attention_type in {CONFIG}.*Received: attention_type='sparse'",
    ),
    "config_size_a_string": (
        encoder(edit_config(hidden_size="32")), ValueError,
        rf"Cannot build the encoder {CONFIG} describes: Received an invalid "
        r"value for argument `hidden_dim`, .*Received: hidden_dim='32'",
    ),
    "config_block_size_zero": (
        encoder(edit_config(block_size=0)), ValueError,
        rf"Cannot build the encoder {CONFIG} describes: .*block_size=0",
    ),
    "config_dropout_null": (
        encoder(edit_config(hidden_dropout_prob=None)), ValueError,
        rf"Cannot build the encoder {CONFIG} describes: .*`dropout`.*dropout=None",
    ),
    # Weights whose shapes or names disagree with config.json.
    "config_hidden_size": (
        encoder(edit_config(hidden_size=64)), ValueError,
        SHAPE.format(r"embeddings\.word_embeddings\.weight", "100, 32",
                     "embeddings/token_embedding/embeddings", "100, 64"),
    ),
    "config_vocab_size": (
        encoder(edit_config(vocab_size=120)), ValueError,
        SHAPE.format(r"embeddings\.word_embeddings\.weight", "100, 32",
                     "embeddings/token_embedding/embeddings", "120, 32"),
    ),
    "config_positions": (
        encoder(edit_config(max_position_embeddings=2048)), ValueError,
        SHAPE.format(r"embeddings\.position_embeddings\.weight", "4096, 32",
                     "embeddings/position_embeddings", "2048, 32"),
    ),
    "config_intermediate_size": (
        encoder(edit_config(intermediate_size=128)), ValueError,
        SHAPE.format(r"encoder\.layer\.0\.intermediate\.dense\.weight",
                     "64, 32", r"encoder_layer_0/feedforward_intermediate_dense/kernel",
                     "32, 128"),
    ),
    "config_heads": (
        encoder(edit_config(num_attention_heads=3)), ValueError,
        rf"Cannot build the encoder {CONFIG} describes: `hidden_dim` must be "
        r"a multiple of `num_heads`\. Received: hidden_dim=32, num_heads=3",
    ),
    "config_more_layers": (
        encoder(edit_config(num_hidden_layers=3)), ValueError,
        r"The checkpoint '.*/checkpoint' has no tensor "
        r"'encoder\.layer\.2\.attention\.self\.query\.weight' \(needed for "
        r"encoder_layer_2/",
    ),
    "config_fewer_layers": (
        encoder(edit_config(num_hidden_layers=1)), ValueError,
        r"16 encoder tensors of '.*/checkpoint' have no place in the model "
        rf"built from {CONFIG} .*'encoder\.layer\.1\.",
    ),
    "config_segments": (
        encoder(edit_config(type_vocab_size=3)), ValueError,
        SHAPE.format(r"embeddings\.token_type_embeddings\.weight", "2, 32",
                     "embeddings/segment_embedding/embeddings", "3, 32"),
    ),
    # Presets: overrides the weights fix; tokenizer files.
    "override_fixed": (
        preset(nothing, hidden_dim=64), ValueError,
        rf"`hidden_dim` is fixed by the checkpoint's weights: {CONFIG} gives "
        r"hidden_dim=32\. Received: hidden_dim=64",
    ),
    "override_unknown": (
        preset(nothing, hiden_dim=32), ValueError,
        rf"Cannot build the encoder {CONFIG} describes with "
        r"encoder_kwargs=\{'hiden_dim': 32\}: .*hiden_dim",
    ),
    "override_not_a_dict": (
        lambda s: from_transformers(s.path, encoder_kwargs=[("dropout", 0)]),
        ValueError, r"argument `encoder_kwargs`, expected a dict",
    ),
    "spiece_corrupt": (
        preset(write("spiece.model", b"\x00garbage"), load=load_tokenizer),
        ValueError,
        r"Cannot make a tokenizer of the SentencePiece model "
        r"'.*/checkpoint/spiece\.model': .*not a SentencePiece model",
    ),
    "spiece_empty": (
        preset(write("spiece.model", b""), load=load_tokenizer), ValueError,
        r"SentencePiece model '.*/checkpoint/spiece\.model'",
    ),
    "spiece_too_many_pieces": (
        preset(edit_config(vocab_size=50), load=load_tokenizer), ValueError,
        r"The SentencePiece model '.*/spiece\.model' has 90 pieces, more "
        rf"than the vocab_size=50 of {CONFIG}",
    ),
    "tokenizer_config_not_json": (
        preset(write("tokenizer_config.json", "{"), load=load_tokenizer),
        ValueError,
        r"The tokenizer_config\.json '.*/checkpoint/tokenizer_config\.json' "
        r"is not valid JSON",
    ),
    "special_tokens_map_a_list": (
        preset(write("special_tokens_map.json", "[]"), load=load_tokenizer),
        ValueError,
        r"The special_tokens_map\.json '.*special_tokens_map\.json' must hold "
        r"a JSON object",
    ),
}


@pytest.mark.parametrize("call, error, pattern", params(CASES))
def test_fault(call, subjects, error, pattern):
    assert_fault(call, subjects, error, pattern)


def test_the_unbroken_checkpoint_loads(subjects):
    # Every case above is one breakage away from this.
    assert load_encoder(subjects.path).num_layers == 2
    assert load_tokenizer(subjects.path).vocabulary_size() == 90
    assert from_transformers(subjects.path, encoder_kwargs={}).hidden_dim == 32


# `keras-bigbird convert` on broken checkpoints: one line, exit code 2.
CLI_CASES = {
    "no_such_path": (nothing, "{tmp}/missing", r"PATH: no checkpoint directory or file at '.*/missing'"),
    "safetensors_truncated": (truncate(ST, lambda n: n - 100), "{ckpt}", CANNOT_READ.format(r"model\.safetensors") + "not a readable safetensors file"),
    "config_not_json": (write("config.json", "{"), "{ckpt}", r"The config\.json .* is not valid JSON"),
    "config_hidden_size": (edit_config(hidden_size=64), "{ckpt}", r"Tensor 'embeddings\.word_embeddings\.weight' of .* has shape \(100, 32\)"),
    "no_spiece_model": (remove("spiece.model"), "{ckpt}", r"No SentencePiece model in '.*/checkpoint'"),
}


@pytest.mark.parametrize(
    "breakage, path, pattern",
    [pytest.param(*case, id=name) for name, case in CLI_CASES.items()],
)
def test_convert_command_fault(breakage, path, pattern, subjects, capsys):
    breakage(subjects.path)
    tmp = subjects.path.parent
    path = path.format(tmp=tmp, ckpt=subjects.path)
    output = tmp / "out.keras"
    code = cli.main(["convert", "--from", "transformers", path, "--output",
                     str(output), "--tokenizer-output", str(tmp / "t.json")])
    err = capsys.readouterr().err
    prefix = "keras-bigbird convert: error: "
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(prefix), err
    assert re.search(pattern, err[len(prefix):]), err
    assert not output.exists() and not (tmp / "t.json").exists()
