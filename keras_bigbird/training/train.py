"""`train`: documents and labels to a saved `BigBirdClassifier`."""

import argparse
import functools
import json
import os

import keras

from keras_bigbird.data import load_long_text
from keras_bigbird.data import load_text_files
from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models.presets import checkpoint_directory
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.training.encoder_options import check_encoder_config
from keras_bigbird.training.holdout import count_batches
from keras_bigbird.training.holdout import hold_out
from keras_bigbird.training.loop import fit_evaluate_save
from keras_bigbird.training.loop import report
from keras_bigbird.training.options import DEFAULTS
from keras_bigbird.training.options import OPTIONS_OF
from keras_bigbird.training.text import _missing_paths
from keras_bigbird.training.text import compile_for_task
from keras_bigbird.training.text import corpus_texts
from keras_bigbird.training.text import label_baseline
from keras_bigbird.training.text import text_tokenizer

CONFIG_FILE = "config.json"
# Learned: a validation loss under this share of a constant prediction's.
LEARNED = 0.9


def _check_config(config):
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"Received unknown options {unknown}; expected some of "
            f"{sorted(DEFAULTS)}."
        )
    config = {**DEFAULTS, **config}
    if not config["output_dir"]:
        raise ValueError(
            "Received an invalid value for option `output_dir`, expected the "
            "directory of the trained model. Received: output_dir="
            f"{config['output_dir']!r}"
        )
    if bool(config["data"]) == bool(config["tfds"]):
        raise ValueError(
            "Give exactly one of `data` (the user's files) and `tfds` (a "
            f"dataset name). Received: data={config['data']!r}, "
            f"tfds={config['tfds']!r}"
        )
    source, other = ("tfds", "data") if config["tfds"] else ("data", "tfds")
    for name in OPTIONS_OF[other]:
        if config[name] != DEFAULTS[name]:
            raise ValueError(
                f"Received option `{name}`, which applies only to "
                f"{_SOURCES[other]} (`{other}`), not to {_SOURCES[source]} "
                f"(`{source}`): {_WHY_NOT[name]}. Received: "
                f"{name}={config[name]!r}, {source}={config[source]!r}"
            )
    if source == "data":
        for name in ("data", "validation_data", "test_data"):
            missing = _missing_paths(config[name] or [])
            if missing:
                raise ValueError(
                    f"Received an invalid value for option `{name}`: the "
                    f"path {os.fspath(missing[0])!r} does not exist. "
                    f"Received: {name}={config[name]!r}"
                )
    return config


_SOURCES = {"data": "the user's files", "tfds": "a TFDS dataset"}
# Why an option of one source means nothing for the other.
_WHY_NOT = {
    "validation_data": "use `validation_split`",
    "test_data": "use `test_split`",
    "text_column": "the dataset has its own text feature",
    "label_column": "the dataset's `task` defines the labels",
    "label_names": "the dataset's `task` defines the labels",
    "num_classes": "the dataset's `task` defines the labels",
    "file_format": "TFDS reads its own format",
    "task": "the labels are the files' `label_column`",
    "train_split": "the files of `data` are the training set",
    "validation_split": "use `validation_data`",
    "test_split": "use `test_data`",
    "data_dir": "it is where TFDS keeps its datasets",
    "download": "nothing is downloaded",
}


def _check_encoder_config(config, vocabulary_size, vocabulary_source):
    """`encoder_config` sizes that cannot hold the tokenizer's ids or the
    packer's sequences are an error (else `fit` fails deep in TensorFlow),
    and so are keys `BigBirdEncoder` does not take (before any work: the
    encoder would raise the same only after the tokenizer is trained)."""
    encoder_config = config["encoder_config"] or {}
    try:
        check_encoder_config(encoder_config)
    except argparse.ArgumentTypeError as error:
        raise ValueError(
            f"Received an invalid value for option `encoder_config`: "
            f"{error}"
        ) from None
    size = encoder_config.get("vocabulary_size")
    if size is not None and size < vocabulary_size:
        raise ValueError(
            "Received conflicting options: `encoder_config` sets "
            f"vocabulary_size={size}, fewer ids than the tokenizer's "
            f"vocabulary of {vocabulary_size} ({vocabulary_source}). Drop "
            "it from `encoder_config` (the encoder then takes the "
            "tokenizer's size) or raise it. Received: "
            f"encoder_config={encoder_config!r}"
        )
    length = encoder_config.get("max_sequence_length")
    packed = config["max_sequence_length"]
    if length is not None and length < packed:
        raise ValueError(
            "Received conflicting options: `encoder_config` sets "
            f"max_sequence_length={length}, fewer positions than the "
            f"packed sequences of max_sequence_length={packed} need. Drop "
            "it from `encoder_config` (the encoder then takes "
            "`max_sequence_length`) or raise it. Received: "
            f"encoder_config={encoder_config!r}, max_sequence_length={packed}"
        )


def _training_texts(config):
    """The raw training documents, for a new SentencePiece model."""
    if config["tfds"]:
        return corpus_texts(
            tfds=config["tfds"],
            split=config["train_split"],
            limit=config["tokenizer_documents"],
            data_dir=config["data_dir"],
            download=config["download"],
        )
    return corpus_texts(
        config["data"],
        text_column=config["text_column"],
        file_format=config["file_format"],
        limit=config["tokenizer_documents"],
    )


def _load_data(config, tokenizer, packer):
    """Returns `(train, validation, test, info)`; missing splits are None."""
    options = dict(
        tokenizer=tokenizer,
        packer=packer,
        batch_size=config["batch_size"],
        bucket_width=config["bucket_width"],
        skip_empty=config["skip_empty"],
        seed=config["seed"],
    )
    if config["tfds"]:
        load = functools.partial(
            load_long_text,
            config["tfds"],
            task=config["task"],
            data_dir=config["data_dir"],
            download=config["download"],
            **options,
        )
        splits = (
            config["train_split"],
            config["validation_split"],
            config["test_split"],
        )
    else:
        load = functools.partial(
            load_text_files,
            text_column=config["text_column"],
            label_column=config["label_column"],
            file_format=config["file_format"],
            label_names=config["label_names"],
            num_classes=config["num_classes"],
            **options,
        )
        splits = (
            config["data"],
            config["validation_data"],
            config["test_data"],
        )
    train, info = load(splits[0], with_info=True, shuffle=True)
    if info.task is None:
        raise ValueError(
            "Received unlabelled training data: `train` needs labels "
            f"(a label column, or a TFDS task). Received: {info.name!r}"
        )
    if not config["tfds"]:
        # Evaluation files map their labels as the training files do.
        load = functools.partial(
            load, label_names=info.label_names, num_classes=info.num_classes
        )
    others = [
        load(split, shuffle=False) if split else None for split in splits[1:]
    ]
    return (train, *others, info)


def encoder_from_options(config, vocabulary_size):
    """A `BigBirdEncoder` (no weights) from the options of a run.

    The `preset` architecture with `vocabulary_size` ids, `max_sequence_length`
    positions and `seed`, then the `encoder_config` overrides.
    """
    return BigBirdEncoder.from_preset(
        config.get("preset", DEFAULTS["preset"]),
        **{
            "vocabulary_size": vocabulary_size,
            "max_sequence_length": config.get(
                "max_sequence_length", DEFAULTS["max_sequence_length"]
            ),
            "seed": config.get("seed", DEFAULTS["seed"]),
            **(config.get("encoder_config") or {}),
        },
    )


def _from_scratch(config):
    """The tokenizer (given or trained) and an untrained encoder of the
    built-in `preset`."""
    vocabulary_file = (
        config["sentencepiece_model"] or config["wordpiece_vocabulary"]
    )
    if not vocabulary_file:
        # The SentencePiece model to train will have `vocabulary_size` ids.
        _check_encoder_config(
            config,
            config["vocabulary_size"],
            f"vocabulary_size={config['vocabulary_size']}",
        )
    tokenizer = text_tokenizer(
        config["output_dir"],
        sentencepiece_model=config["sentencepiece_model"],
        wordpiece_vocabulary=config["wordpiece_vocabulary"],
        lowercase=config["lowercase"],
        texts=lambda: _training_texts(config),
        vocabulary_size=config["vocabulary_size"],
    )
    if vocabulary_file:
        _check_encoder_config(
            config, tokenizer.vocabulary_size(), repr(vocabulary_file)
        )
    return tokenizer, encoder_from_options(config, tokenizer.vocabulary_size())


def _pretrained(config, checkpoint):
    """The tokenizer and the converted encoder of a transformers checkpoint
    (`preset` a directory or `hf://` name): fine-tuning its weights."""
    from keras_bigbird.models.presets import load_encoder
    from keras_bigbird.models.presets import load_tokenizer

    preset = config["preset"]
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("sentencepiece_model", "wordpiece_vocabulary")
        if config[name]
    ]
    if given:
        raise ValueError(
            f"Received conflicting options: --preset {preset} is a "
            f"checkpoint, whose embeddings belong to its own tokenizer, and "
            f"{given[0]} gives another. Drop {given[0]}."
        )
    tokenizer = load_tokenizer(checkpoint)
    if tokenizer is None:
        raise ValueError(
            f"Received an invalid value for option `preset`: the checkpoint "
            f"{checkpoint!r} holds no spiece.model, and fine-tuning needs "
            f"the tokenizer its embeddings were trained with. Received: "
            f"preset={preset!r}"
        )
    encoder = load_encoder(checkpoint, **(config["encoder_config"] or {}))
    if config["max_sequence_length"] > encoder.max_sequence_length:
        raise ValueError(
            "Received an invalid value for option `max_sequence_length`: "
            f"the checkpoint has {encoder.max_sequence_length} positions. "
            f"Received: max_sequence_length={config['max_sequence_length']}"
        )
    if encoder.num_segments < 1:
        raise ValueError(
            f"Received an invalid value for option `preset`: the checkpoint "
            f"{checkpoint!r} has no segment embeddings, and `train` feeds "
            f"segment ids. Received: preset={preset!r}"
        )
    # Made once the checkpoint loads: a failure leaves nothing behind.
    os.makedirs(config["output_dir"], exist_ok=True)
    return tokenizer, encoder


def train(config):
    """Trains a `BigBirdClassifier` on documents and labels, and saves it.

    The steps, each a public function of the package:

    1. A tokenizer: the SentencePiece model or WordPiece vocabulary given,
       or a SentencePiece model trained on up to `tokenizer_documents`
       training documents (`train_sentencepiece`), saved in `output_dir`.
    2. A `BigBirdEncoder` from `preset` (a built-in name: architecture
       only, no pretrained weights) sized to the vocabulary and
       `max_sequence_length`, and a `BlockPacker` with its block size. A
       transformers checkpoint directory or `hf://` name as `preset` is
       fine-tuned instead: its converted encoder and its `spiece.model`
       tokenizer (`presets.load_encoder`, `presets.load_tokenizer`; no
       tokenizer option may be given, and `max_sequence_length` is at most
       its positions).
    3. The data: `load_text_files` on `data` (CSV, TSV, JSONL, a directory
       of `<label>/<document>.txt`) or `load_long_text` on the TFDS dataset
       `tfds`, as length-bucketed batches.
    4. A `BigBirdClassifier` head: logits of `num_classes` for a
       classification task, one value trained with the mean squared error
       for a regression task (`scientific_papers/*`'s `abstract_length`).
    5. `model.fit`, Adam with a warmup and cosine decay peaking at
       `learning_rate` (`learning_rate_schedule`), on `validation` (or, without validation data,
       `validation_fraction` of the training batches held out), for up to
       `epochs` epochs: early stopping after `patience` epochs without a
       lower validation loss, counted once that loss is below 0.9 of a
       constant prediction's (`EarlyStoppingOnceLearned`: a model can sit
       at chance for epochs before it finds the label), restoring the best
       epoch's weights, with
       `ModelCheckpoint` and `TensorBoard`; `evaluate` on
       the test data (else the validation data), and the files in
       `output_dir`: `model.keras`, `checkpoint.keras`, `logs/`, the
       tokenizer vocabulary, `preprocessor.json` (the tokenizer and packer,
       for `keras-bigbird export --preprocessor`), `config.json` (these
       options with the label names) and `figures.json`.

    The figures printed and saved are the evaluation metrics and the score
    of the best constant prediction on the same data (majority-class
    accuracy, or the RMSE of predicting the mean), so a reader can tell
    whether the model learned anything; the last line printed sums them up
    (`summary`).

    Args:
        config: a dict of options; see `keras_bigbird.training.DEFAULTS`
            and `keras-bigbird train --help` (the keys are the flags with
            underscores). `output_dir` and one of `data` / `tfds` are
            required; an option of the other source (`OPTIONS_OF`, e.g.
            `num_classes` with `tfds`) is an error, as are `encoder_config`
            sizes smaller than the vocabulary or `max_sequence_length`.

    Returns:
        A `TrainingResult` whose `figures` holds the printed figures.

    Example:

    ```python
    result = train({
        "data": "reviews.csv", "validation_data": "reviews_valid.csv",
        "text_column": "body", "label_column": "stars",
        "output_dir": "runs/reviews", "max_sequence_length": 2048,
    })
    keras.saving.load_model(result.model_path)
    ```
    """
    config = _check_config(config)
    output_dir = config["output_dir"]
    keras.utils.set_random_seed(config["seed"])
    checkpoint = checkpoint_directory(config.get("preset", DEFAULTS["preset"]))
    if checkpoint is not None:
        tokenizer, encoder = _pretrained(config, checkpoint)
    else:
        tokenizer, encoder = _from_scratch(config)
    packer = BlockPacker.from_tokenizer(
        tokenizer, config["max_sequence_length"], block_size=encoder.block_size
    )
    train_data, validation, test, info = _load_data(config, tokenizer, packer)
    held_out = validation is None
    if held_out:
        train_data, validation, batches = hold_out(
            train_data, config["validation_fraction"], seed=config["seed"]
        )
    else:
        batches = count_batches(train_data)
    on = "test" if test is not None else "validation"
    evaluated = test if test is not None else validation
    baseline = label_baseline(evaluated, info.num_classes)
    if evaluated is not validation:
        baseline_validation = label_baseline(validation, info.num_classes)
    else:
        baseline_validation = baseline
    model = BigBirdClassifier(
        encoder, num_classes=info.num_classes or 1, dropout=config["dropout"]
    )
    compile_for_task(
        model,
        info.num_classes,
        learning_rate_schedule(config, config["steps_per_epoch"] or batches),
    )
    with open(os.path.join(output_dir, CONFIG_FILE), "w") as f:
        json.dump(
            {
                **config,
                "task": info.task,
                "num_classes": info.num_classes,
                "label_names": info.label_names,
            },
            f,
            indent=2,
        )
    result = fit_evaluate_save(
        model,
        train_data,
        validation=validation,
        evaluation=test,
        output_dir=output_dir,
        epochs=config["epochs"],
        steps_per_epoch=config["steps_per_epoch"],
        preprocessor=[tokenizer, packer],
        patience=config["patience"],
        # The patience counts once the model beats a constant prediction.
        learned_below=LEARNED * baseline_validation["constant_loss"],
    )
    figures = {"dataset": info.name, "task": info.task}
    figures.update({f"{on} {k}": v for k, v in result.evaluation.items()})
    figures.update({f"{on} {k}": v for k, v in baseline.items()})
    losses = result.history["val_loss"]
    figures["epochs run"] = len(losses)
    figures["best epoch"] = losses.index(min(losses)) + 1
    figures.update(
        {f"last epoch {k}": v[-1] for k, v in result.history.items()}
    )
    figures["model"] = result.model_path
    result.figures = report(output_dir, figures, title="Results:")
    print(summary(figures, on, held_out))
    return result


def learning_rate_schedule(config, steps_per_epoch):
    """The learning rate of a run: 0 rising linearly to `learning_rate`
    over `warmup_fraction` of the `epochs * steps_per_epoch` steps, then a
    half cosine down to 0 at the end of the last epoch (early stopping may
    end the run before).

    Keras's own `CosineDecay` (with `warmup_target`): saved in the
    optimizer's config and loaded back by `keras.saving.load_model` in a
    process that never imports this package.

    Example:

    >>> schedule = learning_rate_schedule(
    ...     {"epochs": 10, "learning_rate": 2e-3, "warmup_fraction": 0.1}, 10)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 55, 100)]
    [0.0, 0.001, 0.002, 0.001, 0.0]
    """
    total = config["epochs"] * steps_per_epoch
    warmup = round(total * config["warmup_fraction"])
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(total - warmup, 1),
        warmup_target=config["learning_rate"],
        warmup_steps=warmup,
    )


def summary(figures, on, held_out=False):
    """The last line `train` prints: the evaluated figure against the best
    constant prediction's, the epochs and the model file.

    Example:

    >>> summary({"validation accuracy": 0.97, "validation majority_accuracy":
    ...          0.5, "validation num_labels": 40, "best epoch": 6,
    ...          "epochs run": 10, "model": "run/model.keras"}, "validation")
    'validation accuracy 0.970 against 0.500 for the majority class (40 documents); best epoch 6 of 10 run; model: run/model.keras'
    """
    if f"{on} accuracy" in figures:
        score = (
            f"{on} accuracy {figures[f'{on} accuracy']:.3f} against "
            f"{figures[f'{on} majority_accuracy']:.3f} for the majority class"
        )
    else:
        score = (
            f"{on} RMSE {figures[f'{on} rmse']:.4g} against "
            f"{figures[f'{on} mean_predictor_rmse']:.4g} for the mean label"
        )
    where = ", held out from the training data" if held_out else ""
    return (
        f"{score} ({figures[f'{on} num_labels']} documents{where}); best "
        f"epoch {figures['best epoch']} of {figures['epochs run']} run; "
        f"model: {figures['model']}"
    )
