"""One worker of a two-process `MultiWorkerMirroredStrategy` run.

Started by `multi_worker_test.py` twice, with `TF_CONFIG` naming both
workers on loopback ports, or once with `--single`: one process, no
strategy, the same global batches. Trains a small `BigBirdClassifier` a
few steps with `model.fit` (gradient checkpointing on, dropout off, so
that the updates are deterministic) and writes its final weights to
`OUT/<name>.npz`; prints one JSON line.

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:P0", "127.0.0.1:P1"]},
                "task": {"type": "worker", "index": 0}}' \
        python tests/distribute/multi_worker_run.py OUT
    python tests/distribute/multi_worker_run.py OUT --single
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tests.distribute.small_model import GLOBAL_BATCH  # noqa: E402
from tests.distribute.small_model import STEPS  # noqa: E402
from tests.distribute.small_model import build  # noqa: E402
from tests.distribute.small_model import training_data  # noqa: E402


def dataset():
    x, y = training_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(
        GLOBAL_BATCH, drop_remainder=True
    )
    options = tf.data.Options()
    # Each worker reads the whole dataset and keeps its part of every
    # global batch (in-memory data has no files to shard).
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return data.with_options(options)


def multi_worker_reduce(strategy):
    """Makes `strategy.reduce` take what Keras 3 (3.15) hands it under
    `MultiWorkerMirroredStrategy`; returns a function that undoes it.

    Keras' `fit` calls `strategy.reduce` twice in ways this strategy
    rejects (keras-team/keras#20329, #20585): once before the first step
    on a whole input batch (a dict of tensors: "Attempt to convert a value
    ({'token_ids': PerReplica...})"), and in every step on the scalar
    loss and metrics with `axis=0` ("Invalid reduction dimension 0 for
    input with 0 dimensions"). Here each leaf is reduced on its own, and a
    scalar across the replicas (`axis=None`: the mean over the workers,
    as Keras means). The training step itself is Keras' own.
    """
    reduce = strategy.reduce

    def rank(value):
        if isinstance(value, tf.distribute.DistributedValues):
            value = strategy.experimental_local_results(value)[0]
        return value.shape.rank

    def leafwise(reduce_op, value, axis=None):
        return tf.nest.map_structure(
            lambda v: reduce(reduce_op, v, axis=axis if rank(v) else None),
            value,
        )

    strategy.reduce = leafwise

    def undo():
        del strategy.reduce

    return undo


def fit(model, strategy, data):
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model.fit(data, epochs=1, verbose=0, shuffle=False)
    undo = multi_worker_reduce(strategy)
    try:
        return model.fit(data, epochs=1, verbose=0, shuffle=False)
    finally:
        undo()


def main():
    out = sys.argv[1]
    single = "--single" in sys.argv
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    if single:
        strategy = tf.distribute.get_strategy()
        name = "single"
    else:
        # Created first: it starts this worker's gRPC server.
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.RING
            )
        )
        name = f"worker{json.loads(os.environ['TF_CONFIG'])['task']['index']}"
    with strategy.scope():
        model = build(dropout=0.0)
    initial = model.get_weights()
    history = fit(model, strategy, dataset())
    weights = model.get_weights()
    np.savez(os.path.join(out, f"{name}.npz"), *weights)
    print(json.dumps({
        "name": name,
        "replicas": strategy.num_replicas_in_sync,
        "steps": STEPS,
        "loss": history.history["loss"],
        "initial_checksum": float(sum(np.abs(w).sum() for w in initial)),
        "max_weight_change": max(
            float(np.abs(a - b).max()) for a, b in zip(weights, initial)
        ),
    }))


if __name__ == "__main__":
    main()
