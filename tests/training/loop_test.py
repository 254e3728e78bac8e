"""`EarlyStoppingOnceLearned`: no patience counted on the plateau of a
constant prediction, `EarlyStopping` once the loss is below it."""

import keras

from keras_bigbird.training.loop import EarlyStoppingOnceLearned

# A run at chance for 5 epochs, then learning, then no better.
LOSSES = [0.70, 0.69, 0.70, 0.71, 0.69, 0.30, 0.20, 0.25, 0.26, 0.27]


def run(callback):
    """Epoch indices: (stopped, best), feeding LOSSES as val_loss."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.stop_training = False  # `fit` sets it
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, loss in enumerate(LOSSES):
        callback.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            break
    return callback.stopped_epoch, callback.best_epoch


def test_patience_counts_once_the_loss_is_below_the_threshold():
    options = dict(monitor="val_loss", patience=2, restore_best_weights=True)
    # Plain early stopping ends the run on the plateau ...
    assert run(keras.callbacks.EarlyStopping(**options)) == (3, 1)
    # ... this one once the model has learned and stopped improving.
    callback = EarlyStoppingOnceLearned(0.6, **options)
    assert run(callback) == (8, 6)
    assert callback.learned_at == 5
    # No threshold: as EarlyStopping.
    assert run(EarlyStoppingOnceLearned(None, **options)) == (3, 1)


def test_never_learned_trains_every_epoch():
    callback = EarlyStoppingOnceLearned(
        0.1, monitor="val_loss", patience=2, restore_best_weights=True
    )
    assert run(callback) == (0, 0)  # never stopped, nothing kept
    assert callback.learned_at is None and callback.best_weights is None
