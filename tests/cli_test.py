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
    from keras_bigbird.training import options

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
    assert config["learning_rate"] == options.DEFAULTS["learning_rate"]
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


# A one-layer tiny model, one epoch on 128-token sequences.
# `train` on the (mocked, `fake_imdb`) IMDB reviews of TFDS.
TRAIN_IMDB = ["train", "--tfds", "imdb_reviews", "--no-download"]
TINY = [
    "--vocabulary-size",
    "60",
    "--encoder-config",
    '{"num_layers": 1}',
    "--max-sequence-length",
    "128",
    "--batch-size",
    "4",
    "--epochs",
    "1",
]


@pytest.fixture()
def fake_imdb():
    """16 short generated documents behind `tfds.load` (imdb_reviews's
    features, labels 0/1 in turn); records every `(dataset, split)` read."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    calls = []

    def as_dataset(
        self, split, decoders=None, read_config=None, shuffle_files=False
    ):
        calls.append((f"{self.name}/{self.builder_config.name}", str(split)))
        words = synthetic_text.pseudo_words(100, seed=4)
        lengths = synthetic_text.log_uniform_lengths(16, 20, 200, seed=5)
        texts = synthetic_text.documents(lengths, words, seed=5)
        labels = np.arange(16, dtype=np.int64) % 2
        return tf.data.Dataset.from_tensor_slices(
            {"text": texts, "label": labels}
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        yield calls


def test_train_missing_data_path_is_reported_as_a_missing_path(
    tmp_path, capsys
):
    from keras_bigbird.training import corpus_texts

    train_csv = write_csv(tmp_path / "train.csv", 4, seed=1)
    output_dir = tmp_path / "run"
    columns = ["--text-column", "body", "--label-column", "sentiment"]
    for flags, option in [
        (["--data", "missing.csv"], "data"),
        (["--data", train_csv, "--validation-data", "missing.csv"], ""),
    ]:
        code = cli.main(
            ["train", *flags, *columns, "--output-dir", str(output_dir)]
        )
        assert code == 2
        error = capsys.readouterr().err
        option = option or "validation_data"
        assert f"`{option}`" in error, error
        assert "'missing.csv' does not exist" in error, error
        assert "imdb_reviews" not in error
        # Checked before any work: no tokenizer trained, nothing written.
        assert not output_dir.exists()
    # Nor is a missing path read as a dataset name by the helper.
    with pytest.raises(ValueError, match="'missing.csv' does not exist"):
        corpus_texts("missing.csv")


def test_train_tfds_name_spelled_like_a_local_path(
    fake_imdb, tmp_path, monkeypatch, capsys
):
    # `imdb_reviews` is both the dataset and the (relative) output folder.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imdb_reviews").mkdir()
    code = cli.main([*TRAIN_IMDB, "--output-dir", "imdb_reviews", *TINY])
    assert code == 0, capsys.readouterr().err
    # The tokenizer's corpus, then the training split: both from TFDS.
    assert fake_imdb == [("imdb_reviews/plain_text", "train")] * 2
    with open(tmp_path / "imdb_reviews" / "config.json") as f:
        config = json.load(f)
    assert config["tfds"] == "imdb_reviews" and config["num_classes"] == 2
    assert (tmp_path / "imdb_reviews" / "model.keras").is_file()


def csv_train_error(tmp_path, capsys, *flags, output_made=False):
    """`train` on a small CSV with `flags`: must be a usage error (exit 2),
    before any work (no output directory) unless `output_made`; returns the
    error text."""
    train_csv = write_csv(tmp_path / "train.csv", 4, seed=1)
    output_dir = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "--data",
            train_csv,
            "--text-column",
            "body",
            "--label-column",
            "sentiment",
            "--output-dir",
            str(output_dir),
            *flags,
        ]
    )
    error = capsys.readouterr().err
    assert code == 2, error
    assert output_dir.exists() == output_made
    return error


@pytest.mark.parametrize(
    "encoder_config, values",
    [
        (
            {"max_sequence_length": 128},
            ("max_sequence_length=128", "max_sequence_length=256"),
        ),
        ({"vocabulary_size": 10}, ("vocabulary_size=10", "vocabulary_size=60")),
    ],
)
def test_train_encoder_config_conflicts_are_checked_before_any_work(
    tmp_path, capsys, encoder_config, values
):
    # Checked before a SentencePiece model is trained.
    error = csv_train_error(
        tmp_path,
        capsys,
        "--vocabulary-size",
        "60",
        "--max-sequence-length",
        "256",
        "--encoder-config",
        json.dumps({"num_layers": 1, **encoder_config}),
    )
    assert "conflicting options" in error and "`encoder_config`" in error
    for value in values:
        assert value in error, error


def test_train_misspelled_encoder_config_key_is_an_error_before_any_work(
    tmp_path, capsys
):
    # `--encoder-config` ends in `BigBirdEncoder(...)`: a misspelled key is a
    # usage error naming it, not a default model, and no tokenizer is trained.
    # Checked as the flag is parsed: a usage error (SystemExit).
    train_csv = write_csv(tmp_path / "train.csv", 4, seed=1)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "train",
                "--data",
                train_csv,
                "--output-dir",
                str(tmp_path / "run"),
                "--vocabulary-size",
                "60",
                "--encoder-config",
                json.dumps({"num_layer": 1}),
            ]
        )
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert (
        "error: argument --encoder-config: unknown key 'num_layer'" in error
    ), error
    assert not (tmp_path / "run").exists()


def test_train_encoder_vocabulary_smaller_than_a_given_vocabulary(
    tmp_path, capsys
):
    vocabulary = tmp_path / "vocabulary.txt"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += synthetic_text.pseudo_words(300, seed=3)
    vocabulary.write_text("\n".join(tokens) + "\n")
    # Checked once the vocabulary is read (it is copied beside the model).
    error = csv_train_error(
        tmp_path,
        capsys,
        "--wordpiece-vocabulary",
        str(vocabulary),
        "--encoder-config",
        '{"num_layers": 1, "vocabulary_size": 100}',
        "--max-sequence-length",
        "128",
        output_made=True,
    )
    assert "vocabulary_size=100" in error and f"of {len(tokens)}" in error
    assert str(vocabulary) in error


@pytest.mark.parametrize(
    "flags, option",
    [
        (["--num-classes", "3"], "num_classes"),
        (["--label-names", "negative", "positive"], "label_names"),
        (["--text-column", "body"], "text_column"),
        (["--label-column", "stars"], "label_column"),
    ],
)
def test_train_tfds_rejects_the_options_of_files(
    fake_imdb, tmp_path, capsys, flags, option
):
    output_dir = tmp_path / "run"
    code = cli.main(
        [*TRAIN_IMDB, "--output-dir", str(output_dir), *TINY, *flags]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert f"option `{option}`" in error and "`tfds`" in error, error
    assert "tfds='imdb_reviews'" in error
    assert fake_imdb == [] and not output_dir.exists()


@pytest.mark.parametrize(
    "flags, option",
    [
        (["--task", "sentiment"], "task"),
        (["--train-split", "train[:50%]"], "train_split"),
        (["--no-download"], "download"),
    ],
)
def test_train_files_reject_the_options_of_tfds(
    tmp_path, capsys, flags, option
):
    error = csv_train_error(tmp_path, capsys, *TINY, *flags)
    assert f"option `{option}`" in error and "`data`" in error, error


def test_train_download_flags_and_their_help(capsys):
    import argparse

    from keras_bigbird.training import command
    from keras_bigbird.training import options

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert options.parse_config(parser, [])["download"] is True
    assert options.parse_config(parser, ["--no-download"])["download"] is False
    assert options.parse_config(parser, ["--download"])["download"] is True
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    # The default shown belongs to --download, not to --no-download.
    assert "--download, --no-download let tfds.load download" in help_text
    assert "--no-download do not" not in help_text


# Modules whose import costs seconds: `--help` must not load them.
HEAVY = ("tensorflow", "keras", "jax", "torch", "tensorflow_text")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(*arguments, env=None):
    """`python -m keras_bigbird.cli ARGUMENTS` on this checkout: the package
    imported eagerly, before the CLI starts (slower than the console
    script, the same commands)."""
    env = {**os.environ, "PYTHONPATH": REPO, **(env or {})}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-m", "keras_bigbird.cli", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def module_level_imports(path):
    """The modules `path` imports when it is imported (not in functions)."""
    import ast

    with open(path) as f:
        tree = ast.parse(f.read())
    for node in list(ast.walk(tree)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = []  # imported when called, not when loaded
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_command_modules_import_tensorflow_only_when_they_run():
    import importlib.util

    seen = set()
    todo = ["keras_bigbird_cli", "keras_bigbird.cli"]
    todo += [m for m, _ in cli.COMMANDS.values()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # `from module import NAME`
            continue
        if spec is None:
            continue
        seen.add(name)
        # Importing `a.b.c` runs `a` and `a.b` first.
        todo.append(name.rpartition(".")[0] or name)
        for module in module_level_imports(spec.origin):
            assert module.split(".")[0] not in HEAVY, (name, module)
            if module.split(".")[0] == "keras_bigbird":
                todo.append(module)
    # The package `__init__`s too: they import their names through
    # `_exports`, which defers them in the console script (its import of
    # them is checked by test_help_loads_no_tensorflow).
    assert {
        "keras_bigbird",
        "keras_bigbird.convert",
        "keras_bigbird.export",
        "keras_bigbird.training",
        "keras_bigbird.utils.flags",
    } <= seen


def imported_modules(command):
    """Runs `python -X importtime COMMAND` (which lists every module
    imported on stderr): the modules, the process and its wall time.
    `done.stderr` keeps the other lines of stderr."""
    import time

    env = {**os.environ, "PYTHONPATH": REPO}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    seconds = time.perf_counter() - start
    lines = done.stderr.splitlines(keepends=True)
    timed = [line for line in lines if line.startswith("import time:")]
    done.stderr = "".join(line for line in lines if line not in timed)
    modules = {line.rsplit("|", 1)[1].strip() for line in timed}
    return modules, done, seconds


def heavy_modules(modules):
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize("command", ["", "train", "export", "convert", "info"])
def test_help_loads_no_tensorflow(command):
    arguments = [command, "--help"] if command else ["--help"]
    for launcher in ([console_script()], ["-m", "keras_bigbird_cli"]):
        modules, done, seconds = imported_modules([*launcher, *arguments])
        assert done.returncode == 0, done.stderr[-2000:]
        assert "usage: keras-bigbird" in done.stdout
        assert "keras_bigbird.cli" in modules
        assert heavy_modules(modules) == [], launcher
        # About 0.2 s; loose, as CI machines are shared and noisy (it took
        # 4 s or more when the package imported TensorFlow).
        assert seconds < 3, (launcher, seconds)


def test_a_usage_error_is_one_line_and_loads_no_tensorflow():
    modules, done, _ = imported_modules(
        [console_script(), "train", "--epochs", "0"]
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "keras-bigbird train: error: argument --epochs: expected an integer "
        ">= 1. Received: '0'"
    ]
    assert heavy_modules(modules) == []


def test_tensorflow_start_up_logs_only_with_verbose():
    # TF_CPP_MIN_LOG_LEVEL unset, as a user has it.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [console_script(), "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0 and "keras backend:" in done.stdout
    assert done.stderr == "", done.stderr[-2000:]


def test_verbose_is_a_global_flag_and_a_command_flag(capsys):
    assert cli.main(["--verbose", "info"]) == 0
    assert "keras backend:" in capsys.readouterr().out
    assert cli.main(["info", "--verbose", "--json"]) == 0
    assert "backend" in json.loads(capsys.readouterr().out)


def test_a_user_error_is_one_line_with_exit_code_2():
    # In a process of its own: what a shell user sees.
    done = run_module("train", "--epochs", "0")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "keras-bigbird train: error: argument --epochs: expected an integer "
        ">= 1. Received: '0'"
    )


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    """A raw-text `BigBirdClassifier` (its preprocessor inside) saved as
    `.keras`: its path, some texts and its logits on them."""
    from keras_bigbird.models import BigBirdClassifier
    from tests.models import text_fixtures

    encoder = text_fixtures.encoder()
    model = BigBirdClassifier(
        encoder,
        num_classes=2,
        preprocessor=text_fixtures.preprocessor(encoder),
    )
    texts, _ = text_fixtures.texts(4)
    path = tmp_path_factory.mktemp("saved") / "classifier.keras"
    model.save(path)
    return str(path), texts, model.predict(texts, verbose=0)


# Run in a fresh process after START: loads MODEL, predicts TEXTS, then
# imports every module of the package to see what START had not registered.
LOAD_CHECK = """
import importlib, json, os, pkgutil, sys, types
{start}
import keras

def registered():
    return {{
        name
        for name in keras.saving.get_custom_objects()
        if name.startswith("keras_bigbird>")
    }}

model = keras.saving.load_model({path!r})
logits = model.predict({texts!r}, verbose=0).tolist()
first = registered()
for info in pkgutil.walk_packages(keras_bigbird.__path__, "keras_bigbird."):
    importlib.import_module(info.name)
print(json.dumps({{
    "logits": logits,
    "unregistered": sorted(registered() - first),
    "registered": len(first),
}}))
"""

START = {
    # What a library user writes.
    "library": "import keras_bigbird",
    # What the console script does before a command runs.
    "cli": (
        "os.environ['_KERAS_BIGBIRD_LAZY_IMPORT'] = '1'\n"
        "import keras_bigbird\n"
        "assert '_KERAS_BIGBIRD_LAZY_IMPORT' not in os.environ\n"
        "assert 'keras' not in sys.modules, 'not lazy'\n"
        "import keras_bigbird.training.train  # the module named as `train`\n"
        "keras_bigbird._exports.finish()\n"
        "train = keras_bigbird.training.train\n"
        "assert not isinstance(train, types.ModuleType), train\n"
    ),
}


@pytest.mark.parametrize("start", sorted(START))
def test_importing_the_package_registers_every_class(saved_classifier, start):
    path, texts, logits = saved_classifier
    check = LOAD_CHECK.format(start=START[start], path=path, texts=texts)
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["unregistered"] == []
    assert report["registered"] > 0  # the registry was read
    np.testing.assert_allclose(report["logits"], logits, rtol=1e-5, atol=1e-6)


def test_console_script_exports_a_saved_task_model(saved_classifier, tmp_path):
    # The lazy import completes before the command loads the model.
    path, _, _ = saved_classifier
    base = tmp_path / "models"
    done = run_script("export", path, "--export-base", str(base), "--name", "c")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Exported {path} to {base / 'c' / '1'}" in done.stdout
    assert "serve_text(text: DT_STRING" in done.stdout
