"""Fit, evaluate and save a model into one output directory."""

import contextlib
import dataclasses
import json
import os
import warnings

import keras
import numpy as np

MODEL_FILE = "model.keras"
CHECKPOINT_FILE = "checkpoint.keras"
PREPROCESSOR_FILE = "preprocessor.json"
FIGURES_FILE = "figures.json"
LOG_DIR = "logs"


@dataclasses.dataclass
class TrainingResult:
    """What `fit_evaluate_save` produced.

    Args:
        model: the trained model (weights of the last epoch, or of the
            best with early stopping).
        history: `History.history`, a metric name to its value each epoch.
        evaluation: the metrics of `model.evaluate` on the evaluation data
            (`{}` without evaluation data).
        output_dir: the directory holding the files below.
        model_path: the saved `.keras` model.
        checkpoint_path: the best checkpoint written by `ModelCheckpoint`.
        log_dir: the TensorBoard logs.
        preprocessor_path: the serialized preprocessing layers, or `None`.
        figures: the figures a script reported, if any (`report`).
    """

    model: keras.Model
    history: dict
    evaluation: dict
    output_dir: str
    model_path: str
    checkpoint_path: str
    log_dir: str
    preprocessor_path: str = None
    figures: dict = None


class EarlyStoppingOnceLearned(keras.callbacks.EarlyStopping):
    """`EarlyStopping` whose patience starts once the model has learned.

    A model trained from scratch on long documents can sit at the loss of a
    constant prediction for several epochs before it finds what sets the
    label, and then learn within an epoch; plain early stopping ends such
    a run on the plateau. Until `monitor` falls below `learned_below`
    (e.g. 0.9 of the constant prediction's loss), epochs are not counted
    and no weights are kept; from then on this is `EarlyStopping`.

    Args:
        learned_below: the `monitor` value that means "learned"; `None`:
            count from the first epoch, as `EarlyStopping` does.
        **kwargs: `keras.callbacks.EarlyStopping` arguments.
    """

    def __init__(self, learned_below=None, **kwargs):
        super().__init__(**kwargs)
        self.learned_below = learned_below
        self.learned_at = None

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if self.learned_at is None and (
            self.learned_below is None
            or (current is not None and current < self.learned_below)
        ):
            self.learned_at = epoch
        if self.learned_at is None:
            self.start_from_epoch = epoch + 1  # `EarlyStopping` skips it
        super().on_epoch_end(epoch, logs)


def training_callbacks(
    output_dir, monitor="val_loss", patience=None, learned_below=None
):
    """A `ModelCheckpoint` of the best epoch and `TensorBoard` logs, and
    with `patience` an `EarlyStopping` that restores the best weights.

    Args:
        output_dir: the checkpoint goes to `<output_dir>/checkpoint.keras`,
            the logs to `<output_dir>/logs`.
        monitor: the metric that picks the best epoch (`"loss"` when there
            is no validation data).
        patience: stop after this many epochs without a better `monitor`,
            and end with the weights of the best epoch; `None`: train every
            epoch and end with the last one's weights.
        learned_below: with `patience`, epochs count only once `monitor`
            is below this (`EarlyStoppingOnceLearned`).

    Example:

    ```python
    model.fit(train, validation_data=validation, epochs=3,
              callbacks=training_callbacks("runs/imdb"))
    ```
    """
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            os.path.join(output_dir, CHECKPOINT_FILE),
            monitor=monitor,
            save_best_only=True,
        ),
        keras.callbacks.TensorBoard(log_dir=os.path.join(output_dir, LOG_DIR)),
    ]
    if patience is not None:
        callbacks.append(
            EarlyStoppingOnceLearned(
                learned_below,
                monitor=monitor,
                patience=patience,
                restore_best_weights=True,
            )
        )
    return callbacks


def save_preprocessor(layers, path):
    """Writes `layers` (tokenizer, packer) as a JSON list of their configs.

    This is the `--preprocessor` file of `keras-bigbird export`, which then
    adds a `serve_text` signature taking raw strings. Read it back with
    `keras.saving.deserialize_keras_object` on each item.
    """
    with open(path, "w") as f:
        json.dump([keras.saving.serialize_keras_object(x) for x in layers], f)


@contextlib.contextmanager
def _end_of_data_is_expected(expected=True):
    """Silences Keras's "ran out of data" warning where it is no news.

    Bucketed batches have an unknown count: Keras warns at the end of the
    first pass, where it learns the count. With `steps_per_epoch` given,
    running out is a real problem and the warning stays.
    """
    with warnings.catch_warnings():
        if expected:
            warnings.filterwarnings("ignore", "Your input ran out of data")
        yield


def fit_evaluate_save(
    model,
    train,
    *,
    output_dir,
    epochs,
    validation=None,
    evaluation=None,
    steps_per_epoch=None,
    preprocessor=None,
    patience=None,
    learned_below=None,
    verbose="auto",
):
    """Trains with `model.fit`, evaluates, saves a `.keras` file.

    `model` must be compiled. Training writes the best epoch to
    `<output_dir>/checkpoint.keras` (`keras.callbacks.ModelCheckpoint`, on
    `val_loss` when there is validation data, else `loss`) and TensorBoard
    logs to `<output_dir>/logs`. With `patience`, training stops once that
    many epochs bring no better monitored figure, and the model ends with
    the weights of the best epoch (`keras.callbacks.EarlyStopping`); else
    with those of the last epoch. That model is saved to
    `<output_dir>/model.keras` and evaluated.

    Args:
        model: a compiled `keras.Model`.
        train: the training `tf.data.Dataset` of `(inputs, labels)`.
        output_dir: where every file goes; created if needed.
        epochs: passes over `train`.
        validation: data evaluated after each epoch, or `None`.
        evaluation: data evaluated once at the end; defaults to
            `validation`.
        steps_per_epoch: batches an epoch (`None`: all of `train`).
        preprocessor: the layers turning text into the model's inputs
            (tokenizer, packer), saved as `<output_dir>/preprocessor.json`.
        patience: epochs without improvement before stopping early, or
            `None`.
        learned_below: the patience counts only once the monitored figure
            is below this, or from the first epoch if `None`.
        verbose: `model.fit` / `evaluate` verbosity (`"auto"`: progress bar).

    Returns:
        A `TrainingResult`.

    Example:

    ```python
    model.compile(optimizer="adam", loss=..., metrics=["accuracy"])
    result = fit_evaluate_save(model, train, validation=validation,
                               output_dir="runs/imdb", epochs=3,
                               preprocessor=[tokenizer, packer])
    result.evaluation["accuracy"], result.model_path
    ```
    """
    os.makedirs(output_dir, exist_ok=True)
    monitor = "val_loss" if validation is not None else "loss"
    with _end_of_data_is_expected(steps_per_epoch is None):
        history = model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=training_callbacks(
                output_dir, monitor, patience, learned_below
            ),
            verbose=verbose,
            shuffle=False,  # A `tf.data` pipeline shuffles by itself.
        )
    if evaluation is None:
        evaluation = validation
    metrics = {}
    if evaluation is not None:
        with _end_of_data_is_expected():
            metrics = model.evaluate(
                evaluation, return_dict=True, verbose=verbose
            )
    model_path = os.path.join(output_dir, MODEL_FILE)
    model.save(model_path)
    preprocessor_path = None
    if preprocessor:
        preprocessor_path = os.path.join(output_dir, PREPROCESSOR_FILE)
        save_preprocessor(preprocessor, preprocessor_path)
    return TrainingResult(
        model=model,
        history={
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
        evaluation={k: float(v) for k, v in metrics.items()},
        output_dir=output_dir,
        model_path=model_path,
        checkpoint_path=os.path.join(output_dir, CHECKPOINT_FILE),
        log_dir=os.path.join(output_dir, LOG_DIR),
        preprocessor_path=preprocessor_path,
    )


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def report(output_dir, figures, title=None):
    """Prints `figures` (a name to a number or text) and writes them as JSON.

    The figures go to `<output_dir>/figures.json`, so a run's numbers can be
    quoted from the file of the run that produced them.
    """
    figures = {name: _plain(value) for name, value in figures.items()}
    if title:
        print(title)
    width = max(map(len, figures), default=0)
    for name, value in figures.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"  {name:<{width}}  {shown}")
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, FIGURES_FILE), "w") as f:
        json.dump(figures, f, indent=2)
    return figures
