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
from tests.distribute.small_model import GLOBAL_BATCH  # noqa: E402
from tests.distribute.small_model import LENGTH  # noqa: E402
from tests.distribute.small_model import build  # noqa: E402
from tests.distribute.small_model import training_data  # noqa: E402


def main():
    devices = jax.devices()
    x, y = training_data()
    distribution = keras.distribution.DataParallel(devices=devices)
    with distribution.scope():
        distributed = build(dropout=0.1)
        initial = distributed.get_weights()
        history = distributed.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1,
                                  shuffle=False, verbose=0)
        variable = distributed.trainable_variables[0].value
        data_layout = distribution.get_data_layout((GLOBAL_BATCH, LENGTH))
    # One device, without checkpointing: the same updates.
    single = build(dropout=0.1, gradient_checkpointing=False)
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
