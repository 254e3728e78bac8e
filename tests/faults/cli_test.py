"""Bad `keras-bigbird` command lines: each one line on stderr, exit code 2,
and nothing written.

`cli.main` runs in this process (TensorFlow is imported once); every case
writes under its own `tmp_path`, which must hold no output afterwards.
"""

import json
import os
import re

import pytest

from keras_bigbird import cli

pytestmark = pytest.mark.tf_only

# The files a case may name, in `tmp_path`; OUTPUTS must not appear.
CSV = "train.csv"
OUTPUTS = ("run", "models", "out.keras", "tokenizer.json")

TRAIN = [
    "train",
    "--data",
    "{tmp}/train.csv",
    "--text-column",
    "body",
    "--label-column",
    "sentiment",
    "--output-dir",
    "{tmp}/run",
]
EXPORT = ["export", "{tmp}/model.keras", "--export-base", "{tmp}/models"]
EXPORT_NAMED = [*EXPORT, "--name", "toy"]
CONVERT = ["convert", "--from", "transformers", "{tmp}", "--output"]

# (command line, regex of the one error line after "keras-bigbird CMD: ")
CASES = [
    # train: numeric ranges, checked by argparse.
    ([*TRAIN, "--epochs", "0"], r"argument --epochs: expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--epochs", "-3"], r"argument --epochs: .* Received: '-3'"),
    ([*TRAIN, "--epochs", "1.5"], r"argument --epochs: expected an integer >= 1\. Received: '1.5'"),
    ([*TRAIN, "--learning-rate", "-1"], r"argument --learning-rate: expected a number > 0\. Received: '-1'"),
    ([*TRAIN, "--learning-rate", "0"], r"argument --learning-rate: .* Received: '0'"),
    ([*TRAIN, "--learning-rate", "nan"], r"argument --learning-rate: .* Received: 'nan'"),
    ([*TRAIN, "--learning-rate", "inf"], r"argument --learning-rate: .* Received: 'inf'"),
    ([*TRAIN, "--batch-size", "0"], r"argument --batch-size: expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--max-sequence-length", "0"], r"argument --max-sequence-length: .* Received: '0'"),
    ([*TRAIN, "--max-sequence-length", "-128"], r"argument --max-sequence-length: .* Received: '-128'"),
    ([*TRAIN, "--bucket-width", "0"], r"argument --bucket-width: .* Received: '0'"),
    ([*TRAIN, "--steps-per-epoch", "0"], r"argument --steps-per-epoch: .* Received: '0'"),
    ([*TRAIN, "--dropout", "1"], r"argument --dropout: expected a number >= 0 and < 1\. Received: '1'"),
    ([*TRAIN, "--dropout", "-0.1"], r"argument --dropout: .* Received: '-0.1'"),
    ([*TRAIN, "--seed", "-1"], r"argument --seed: expected an integer >= 0 and <= 2147483647\. Received: '-1'"),
    ([*TRAIN, "--seed", "2147483648"], r"argument --seed: .* Received: '2147483648'"),
    ([*TRAIN, "--vocabulary-size", "7"], r"argument --vocabulary-size: expected an integer >= 8\. Received: '7'"),
    ([*TRAIN, "--tokenizer-documents", "0"], r"argument --tokenizer-documents: .* Received: '0'"),
    ([*TRAIN, "--num-classes", "1"], r"argument --num-classes: expected an integer >= 2\. Received: '1'"),
    ([*TRAIN, "--warmup-fraction", "1"], r"argument --warmup-fraction: expected a number >= 0 and < 1\. Received: '1'"),
    ([*TRAIN, "--warmup-fraction", "-0.5"], r"argument --warmup-fraction: .* Received: '-0.5'"),
    ([*TRAIN, "--patience", "0"], r"argument --patience: expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--validation-fraction", "0"], r"argument --validation-fraction: expected a number > 0 and < 1\. Received: '0'"),
    ([*TRAIN, "--validation-fraction", "1"], r"argument --validation-fraction: .* Received: '1'"),
    ([*TRAIN, "--epochs"], r"argument --epochs: expected one argument"),
    # No abbreviations: `--epoch` is not `--epochs` (nor, once added, an
    # `--epoch-...` flag).
    ([*TRAIN, "--epoch", "3"], r"unrecognized arguments: --epoch 3"),
    ([*TRAIN, "--file-format", "xml"], r"argument --file-format: invalid choice: 'xml'"),
    # train: JSON and files named by flags.
    ([*TRAIN, "--encoder-config", '{"num_layers": 1'], r"argument --encoder-config: not JSON \(.*\)\. Received: '\{\"num_layers\": 1'"),
    ([*TRAIN, "--encoder-config", "[1, 2]"], r"argument --encoder-config: expected a JSON object \{\.\.\.\}\. Received: '\[1, 2\]'"),
    ([*TRAIN, "--sentencepiece-model", "{tmp}/spm.model"], r"argument --sentencepiece-model: no such file: '.*/spm\.model'"),
    ([*TRAIN, "--wordpiece-vocabulary", "{tmp}"], r"argument --wordpiece-vocabulary: a directory: '.*'"),
    ([*TRAIN, "--config", "{tmp}/missing.json"], r"--config .*/missing\.json: \[Errno 2\] No such file or directory"),
    ([*TRAIN, "--config", "{tmp}/bad.json"], r"--config .*/bad\.json: Expecting value: line 1 column 1"),
    ([*TRAIN, "--config", "{tmp}/list.json"], r"--config .*/list\.json: expected a JSON object"),
    ([*TRAIN, "--config", "{tmp}/unknown.json"], r"--config .*: unknown options \['epoch'\]"),
    ([*TRAIN, "--config", "{tmp}/epochs_0.json"], r"--config .*: option `epochs`: expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--config", "{tmp}/learning_rate.json"], r"--config .*: option `learning_rate`: expected a number > 0\. Received: '-1'"),
    ([*TRAIN, "--config", "{tmp}/epochs_null.json"], r"--config .*: option `epochs`: expected an integer >= 1\. Received: 'null'"),
    ([*TRAIN, "--config", "{tmp}/download.json"], r"--config .*: option `download`: expected true or false\. Received: 'no'"),
    ([*TRAIN, "--config", "{tmp}/file_format.json"], r"--config .*: option `file_format`: expected one of \['csv', 'tsv', 'jsonl', 'txt'\]\. Received: 'xml'"),
    ([*TRAIN, "--config", "{tmp}/encoder_config.json"], r"--config .*: option `encoder_config`: expected a JSON object"),
    ([*TRAIN, "--config", "{tmp}/text_column.json"], r"--config .*: option `text_column`: expected a string\. Received: 3"),
    # train: --encoder-config keys and values, checked as it is parsed.
    ([*TRAIN, "--encoder-config", '{"num_segments": 0}'], r"argument --encoder-config: key 'num_segments': expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--encoder-config", '{"num_layer": 1}'], r"argument --encoder-config: unknown key 'num_layer'; expected some of \['activation', .*'vocabulary_size'\]\. Received: num_layer=1"),
    ([*TRAIN, "--encoder-config", '{"num_layers": 0}'], r"argument --encoder-config: key 'num_layers': expected an integer >= 1\. Received: '0'"),
    ([*TRAIN, "--encoder-config", '{"num_layers": 2.5}'], r"argument --encoder-config: key 'num_layers': expected an integer >= 1\. Received: '2.5'"),
    ([*TRAIN, "--encoder-config", '{"num_layers": "2"}'], r"argument --encoder-config: key 'num_layers': expected a JSON number\. Received: \"2\""),
    ([*TRAIN, "--encoder-config", '{"hidden_dim": true}'], r"argument --encoder-config: key 'hidden_dim': expected a JSON number\. Received: true"),
    ([*TRAIN, "--encoder-config", '{"block_size": -16}'], r"argument --encoder-config: key 'block_size': .* Received: '-16'"),
    ([*TRAIN, "--encoder-config", '{"dropout": 1.5}'], r"argument --encoder-config: key 'dropout': expected a number >= 0 and < 1\. Received: '1.5'"),
    ([*TRAIN, "--encoder-config", '{"attention_dropout": -0.1}'], r"argument --encoder-config: key 'attention_dropout': .* Received: '-0.1'"),
    ([*TRAIN, "--encoder-config", '{"layer_norm_epsilon": 0}'], r"argument --encoder-config: key 'layer_norm_epsilon': expected a number > 0\. Received: '0'"),
    ([*TRAIN, "--encoder-config", '{"seed": -1}'], r"argument --encoder-config: key 'seed': expected an integer >= 0 and <= 2147483647\. Received: '-1'"),
    ([*TRAIN, "--encoder-config", '{"causal": 1}'], r"argument --encoder-config: key 'causal': expected true or false\. Received: 1"),
    ([*TRAIN, "--encoder-config", '{"attention_type": "dense"}'], r"argument --encoder-config: key 'attention_type': expected one of \['block_sparse', 'original_full', 'window'\]\. Received: \"dense\""),
    ([*TRAIN, "--encoder-config", '{"random_pattern": "fixed"}'], r"argument --encoder-config: key 'random_pattern': expected one of \['hashed', 'bigbird_original'\]"),
    ([*TRAIN, "--encoder-config", '{"pattern": 3}'], r"argument --encoder-config: key 'pattern': expected a pattern name or a serialized pattern \{\.\.\.\}\. Received: 3"),
    ([*TRAIN, "--config", "{tmp}/encoder_key.json"], r"--config .*: option `encoder_config`: unknown key 'num_layer'"),
    # train: --encoder-config with the preset, checked in `run` before a
    # tokenizer is trained.
    ([*TRAIN, "--encoder-config", '{"hidden_dim": 33}'], r"--encoder-config: hidden_dim=33 is not a multiple of num_heads=2 \(preset 'bigbird_tiny' and these keys\)\. Received: --encoder-config \{\"hidden_dim\": 33\}"),
    ([*TRAIN, "--encoder-config", '{"activation": "gleu"}'], r"--encoder-config: key 'activation': .*gleu.* Received: --encoder-config \{\"activation\": \"gleu\"\}"),
    ([*TRAIN, "--encoder-config", '{"dtype": "float17"}'], r"--encoder-config: key 'dtype': .*float17.* Received: --encoder-config"),
    ([*TRAIN, "--encoder-config", '{"pattern": "nope"}'], r"--encoder-config: key 'pattern': .*pattern='nope'.* Received: --encoder-config"),
    ([*TRAIN, "--preset", "bigbird_huge"], r"argument `preset`, expected one of \[.*'bigbird_tiny'\]\. Received: preset='bigbird_huge'"),
    ([*TRAIN, "--output-dir", "{tmp}/train.csv/run"], r"--output-dir: '.*/train\.csv' is a file, not a folder\. Received: --output-dir .*/train\.csv/run"),
    ([*TRAIN, "--data", "{tmp}/missing.csv"], r"option `data`: the path '.*/missing\.csv' does not exist"),
    ([*TRAIN, "--validation-data", "{tmp}/missing.csv"], r"option `validation_data`: the path '.*/missing\.csv' does not exist"),
    ([*TRAIN, "--tfds", "imdb_reviews"], r"Give exactly one of `data` .* and `tfds`"),
    ([*TRAIN, "--task", "sentiment"], r"option `task`, which applies only to a TFDS dataset"),
    (["train", "--tfds", "imdb_reviews", "--num-classes", "3", "--output-dir", "{tmp}/run"], r"option `num_classes`, which applies only to the user's files"),
    (["train", "--data", "{tmp}/train.csv"], r"option `output_dir`, expected the directory of the trained model\. Received: output_dir=None"),
    # export
    (["export", "{tmp}/missing.keras", "--export-base", "{tmp}/models", "--name", "toy"], r"MODEL: no model file at '.*/missing\.keras'"),
    (["export", "{tmp}", "--export-base", "{tmp}/models", "--name", "toy"], r"MODEL: no model file at"),
    (EXPORT, r"the following arguments are required: --name"),
    ([*EXPORT_NAMED, "--version", "0"], r"argument --version: expected an integer >= 1\. Received: '0'"),
    ([*EXPORT_NAMED, "--version", "-1"], r"argument --version: .* Received: '-1'"),
    ([*EXPORT_NAMED, "--max-sequence-length", "0"], r"argument --max-sequence-length: .* Received: '0'"),
    ([*EXPORT_NAMED, "--vocabulary-size", "0"], r"argument --vocabulary-size: .* Received: '0'"),
    ([*EXPORT_NAMED, "--num-segments", "-1"], r"argument --num-segments: expected an integer >= 0\. Received: '-1'"),
    ([*EXPORT_NAMED, "--warmup-lengths", "16", "0"], r"argument --warmup-lengths: .* Received: '0'"),
    ([*EXPORT_NAMED, "--probabilities", "maybe"], r"argument --probabilities: invalid choice: 'maybe'"),
    ([*EXPORT_NAMED, "--preprocessor", "{tmp}/missing.json"], r"argument --preprocessor: no such file: '.*/missing\.json'"),
    ([*EXPORT_NAMED, "--preprocessor", "{tmp}/bad.json"], r"--preprocessor .*/bad\.json: not JSON \(Expecting value"),
    ([*EXPORT_NAMED, "--preprocessor", "{tmp}/binary.json"], r"--preprocessor .*/binary\.json: not JSON \('utf-8' codec can't decode"),
    ([*EXPORT_NAMED, "--preprocessor", "{tmp}/list.json"], r"--preprocessor .*/list\.json: expected a serialized layer \{\.\.\.\} or a list of them\. Received: \[1, 2\]"),
    ([*EXPORT_NAMED, "--preprocessor", "{tmp}/no_such_layer.json"], r"--preprocessor .*/no_such_layer\.json: .*NoSuchLayer"),
    (["export", "{tmp}/model.keras", "--export-base", "{tmp}/train.csv/models", "--name", "toy"], r"--export-base: '.*/train\.csv' is a file, not a folder"),
    # convert
    ([*CONVERT, "{tmp}/out.h5"], r"--output must end in \.keras\. Received: .*/out\.h5"),
    ([*CONVERT, "{tmp}/missing/out.keras"], r"--output: the folder '.*/missing' does not exist\. Received: --output .*/missing/out\.keras"),
    ([*CONVERT, "{tmp}/model.keras"], r"--output: .*/model\.keras exists \(pass --overwrite to replace it\)"),
    ([*CONVERT, "{tmp}/out.keras", "--tokenizer-output", "{tmp}/missing/t.json"], r"--tokenizer-output: the folder '.*/missing' does not exist"),
    ([*CONVERT, "{tmp}/out.keras", "--config", "{tmp}/epochs_0.json"], r"--config is for --from google; .* Received: --config .*/epochs_0\.json"),
    ([*CONVERT, "{tmp}/out.keras", "--config", "{tmp}/missing.json"], r"argument --config: no such file"),
    (["convert", "--from", "google", "{tmp}/model.ckpt", "--output", "{tmp}/out.keras"], r"--from google needs --config"),
    (["convert", "--from", "google", "{tmp}/model.ckpt", "--output", "{tmp}/out.keras", "--config", "{tmp}/epochs_0.json", "--head", "classifier"], r"--head is for --from transformers; .* Received: --head classifier"),
    (["convert", "--from", "onnx", "{tmp}", "--output", "{tmp}/out.keras"], r"argument --from: invalid choice: 'onnx'"),
    (["convert", "--from", "transformers", "{tmp}"], r"the following arguments are required: --output"),
    # info, and the command itself
    (["info", "--jsn"], r"unrecognized arguments: --jsn"),
    (["trian"], r"argument COMMAND: invalid choice: 'trian'"),
    ([], r"the following arguments are required: COMMAND"),
]

# The files the cases read: (name, content).
FILES = {
    "bad.json": "not json",
    "list.json": "[1, 2]",
    "unknown.json": json.dumps({"epoch": 3}),
    "epochs_0.json": json.dumps({"epochs": 0}),
    "learning_rate.json": json.dumps({"learning_rate": -1}),
    "epochs_null.json": json.dumps({"epochs": None}),
    "download.json": json.dumps({"download": "no"}),
    "file_format.json": json.dumps({"file_format": "xml"}),
    "encoder_config.json": json.dumps({"encoder_config": [1]}),
    "text_column.json": json.dumps({"text_column": 3}),
    "encoder_key.json": json.dumps({"encoder_config": {"num_layer": 1}}),
    "no_such_layer.json": json.dumps({"class_name": "NoSuchLayer", "config": {}}),
    # Only its name is read: each export case fails before loading it.
    "model.keras": "",
    "binary.json": b"\xff\xfe{",
    "train.csv": "body,sentiment\n"
    + "".join(f"document {i} with a few words,{('good', 'bad')[i % 2]}\n" for i in range(8)),
}


def run(argv, capsys):
    """`cli.main(argv)`: (exit code, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def case_id(case):
    argv, _ = case
    for common in (TRAIN, EXPORT_NAMED, CONVERT):
        if argv[: len(common)] == common:
            argv = [argv[0], "...", *argv[len(common) :]]
    return " ".join(a.replace("{tmp}/", "") for a in argv) or "no-command"


@pytest.mark.parametrize("argv, pattern", CASES, ids=map(case_id, CASES))
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(
    argv, pattern, tmp_path, capsys
):
    for name, content in FILES.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = sorted(os.listdir(tmp_path))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, err = run(argv, capsys)
    assert code == 2, err
    command = f" {argv[0]}" if argv and argv[0] in cli.COMMANDS else ""
    prefix = f"keras-bigbird{command}: error: "
    assert err.count("\n") == 1 and err.startswith(prefix), err
    assert re.search(pattern, err[len(prefix) :]), err
    assert sorted(os.listdir(tmp_path)) == before
    for name in OUTPUTS:
        assert not (tmp_path / name).exists(), name


def test_the_table_covers_every_numeric_flag():
    # A numeric flag added without a case here fails this test.
    covered = {a for argv, _ in CASES for a in argv if a.startswith("--")}
    parser = cli.build_parser()
    numeric = {
        option
        for action in _all_actions(parser)
        if getattr(action.type, "__name__", "") in ("an integer", "a number")
        for option in action.option_strings
        if option.startswith("--")
    }
    assert numeric and numeric <= covered, sorted(numeric - covered)


def _all_actions(parser):
    for action in parser._actions:
        yield action
        for subparser in getattr(action, "choices", None) or ():
            if isinstance(action.choices, dict):
                yield from _all_actions(action.choices[subparser])


# A run that trains in seconds; each fault below is one flag away from it.
TINY = [
    "--vocabulary-size",
    "32",  # SentencePiece takes 31 to 33 on train.csv
    "--encoder-config",
    '{"num_layers": 1}',
    "--max-sequence-length",
    "64",
    "--batch-size",
    "4",
    "--epochs",  # not the default 20: the flag under test comes after
    "2",
]


@pytest.mark.parametrize(
    "flag, value", [("--epochs", "0"), ("--learning-rate", "-1")]
)
def test_nonsense_training_values_write_no_model(flag, value, tmp_path, capsys):
    (tmp_path / CSV).write_text(FILES[CSV])
    argv = [a.replace("{tmp}", str(tmp_path)) for a in TRAIN + TINY]
    code, err = run([*argv, flag, value], capsys)
    assert code == 2 and f"argument {flag}:" in err, err
    assert sorted(os.listdir(tmp_path)) == [CSV]
    # The same run with a sensible value trains and writes its model.
    code, err = run([*argv, flag, {"--epochs": "1"}.get(flag, "0.01")], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "model.keras").is_file()
