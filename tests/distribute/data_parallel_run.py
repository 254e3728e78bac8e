"""`keras.distribution.DataParallel` on 4 virtual CPU devices (JAX).

Run by `data_parallel_test.py` in a fresh process: the device count
(`XLA_FLAGS=--xla_force_host_platform_device_count=4`) must be set before
JAX starts. Trains a small `BigBirdClassifier` (gradient checkpointing and
dropout on) with `model.fit`, once with its variables replicated and every
global batch split over the 4 devices, once on one device, from the same
weights and the same global batches (the one-device run without
checkpointing); prints one JSON line.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
)

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from keras_bigbird.models import BigBirdClassifier  # noqa: E402
from keras_bigbird.models import BigBirdEncoder  # noqa: E402
from tests.encoder_helpers import topic_classification_data  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 3


def build(gradient_checkpointing=True):
    keras.utils.set_random_seed(0)
    encoder = BigBirdEncoder(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=96, block_size=8,
        num_random_blocks=1, dropout=0.1, attention_dropout=0.1,
        gradient_checkpointing=gradient_checkpointing, seed=0,
    )
    model = BigBirdClassifier(encoder, num_classes=2, dropout=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def main():
    devices = jax.devices()
    x, y = topic_classification_data(GLOBAL_BATCH * STEPS, seed=0)
    distribution = keras.distribution.DataParallel(devices=devices)
    with distribution.scope():
        distributed = build()
        initial = distributed.get_weights()
        history = distributed.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1,
                                  shuffle=False, verbose=0)
        variable = distributed.trainable_variables[0].value
        data_layout = distribution.get_data_layout((GLOBAL_BATCH, 96))
    # One device, without checkpointing: the same updates.
    single = build(gradient_checkpointing=False)
    single.set_weights(initial)
    reference = single.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1,
                           shuffle=False, verbose=0)
    after = distributed.get_weights()
    print(json.dumps({
        "devices": len(devices),
        "variable_devices": len(variable.sharding.device_set),
        "variable_replicated": bool(variable.sharding.is_fully_replicated),
        "data_layout": list(data_layout.axes),
        "mesh": dict(zip(distribution.device_mesh.axis_names,
                         distribution.device_mesh.shape)),
        "single_variable_devices": len(
            single.trainable_variables[0].value.sharding.device_set
        ),
        "loss": history.history["loss"],
        "single_loss": reference.history["loss"],
        "max_weight_difference_vs_one_device": max(
            float(np.abs(a - b).max())
            for a, b in zip(after, single.get_weights())
        ),
        "max_weight_change": max(
            float(np.abs(a - b).max()) for a, b in zip(after, initial)
        ),
    }))


if __name__ == "__main__":
    main()
