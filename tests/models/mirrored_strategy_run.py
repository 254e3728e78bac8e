"""Trains a `BigBirdClassifier` under `MirroredStrategy` on 2 logical CPUs.

Run as a script by `training_test.py`, in a fresh process: logical devices
must be configured before TensorFlow initialises its devices. Prints one
JSON line with the figures.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from keras_bigbird.models import BigBirdClassifier  # noqa: E402
from keras_bigbird.models import BigBirdEncoder  # noqa: E402
from tests.test_case import topic_classification_data  # noqa: E402


def build(gradient_checkpointing, dropout):
    keras.utils.set_random_seed(0)
    encoder = BigBirdEncoder(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=128, block_size=8,
        num_random_blocks=1, dropout=dropout, attention_dropout=dropout,
        gradient_checkpointing=gradient_checkpointing, seed=0,
    )
    model = BigBirdClassifier(encoder, num_classes=2, dropout=dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    gradient_checkpointing = "--gradient-checkpointing" in sys.argv
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = topic_classification_data(384, seed=0)
    x_val, y_val = topic_classification_data(256, seed=1)
    # Static shapes: drop the last partial batch (as TPUStrategy needs).
    train = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(384, seed=0)
        .batch(32, drop_remainder=True)
    )
    with strategy.scope():
        model = build(gradient_checkpointing, dropout=0.1)
    history = model.fit(train, epochs=6, verbose=0)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)

    # Two steps without dropout, distributed and on one device from the
    # same initial weights: the same updates (the replicas' gradients of
    # their half batches are averaged into the full-batch gradient).
    steps = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).take(2)
    with strategy.scope():
        distributed = build(gradient_checkpointing, dropout=0.0)
    single = build(gradient_checkpointing, dropout=0.0)
    single.set_weights(distributed.get_weights())
    distributed.fit(steps, epochs=1, verbose=0, shuffle=False)
    single.fit(steps, epochs=1, verbose=0, shuffle=False)
    difference = max(
        float(abs(a - b).max())
        for a, b in zip(distributed.get_weights(), single.get_weights())
    )
    moved = max(
        float(abs(a - b).max())
        for a, b in zip(distributed.get_weights(), build(False, 0.0).get_weights())
    )
    variable = model.trainable_variables[0].value
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "variable_devices": sorted(v.device for v in variable.values),
        "loss": history.history["loss"],
        "val_accuracy": accuracy,
        "max_weight_difference_vs_one_device": difference,
        "max_weight_change": moved,
    }))


if __name__ == "__main__":
    main()
