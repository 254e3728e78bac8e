"""What the input checks cost: `InputValidation` against the encoder it
guards.

In one process, for each length, times (median of `--repeats`):

- the checks alone: `InputValidation` on the input dict, plus the NaN
  status multiplied into an embedding-sized tensor (what the encoder adds);
- a forward pass of the encoder that runs them (2 base-sized layers by
  default), and a training step (`train_on_batch` with a token head),

in graph mode (the checks are TensorFlow assertions) and with
`jit_compile=True` (XLA drops the assertions; the status remains), and
prints the checks' share of each.

    python benchmarks/input_checks.py
    python benchmarks/input_checks.py --lengths 1024 4096 --repeats 5
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bigbird.layers.input_validation import InputValidation  # noqa
from keras_bigbird.models import BigBirdEncoder  # noqa: E402
from keras_bigbird.models import BigBirdTokenClassifier  # noqa: E402


def median_seconds(fn, repeats):
    fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    encoder = BigBirdEncoder(
        vocabulary_size=50358, num_layers=args.num_layers, num_heads=12,
        hidden_dim=768, intermediate_dim=3072, max_sequence_length=16384,
    )
    task = BigBirdTokenClassifier(encoder, num_classes=2)
    checks = InputValidation(50358, 2)
    print(f"{'length':>6} {'mode':>5} {'checks ms':>10} {'forward ms':>11} "
          f"{'share':>7} {'train ms':>9} {'share':>7}")
    for length in args.lengths:
        rng = np.random.default_rng(0)
        inputs = {
            "token_ids": tf.constant(rng.integers(0, 50358, (1, length)),
                                     tf.int32),
            "padding_mask": tf.ones((1, length), tf.int32),
            "segment_ids": tf.zeros((1, length), tf.int32),
        }
        labels = tf.zeros((1, length), tf.int32)
        hidden = tf.ones((1, length, 768))
        for mode, jit in (("graph", False), ("xla", True)):

            def check(x):
                out = checks(x)
                return hidden * out["status"][:, None, None]

            check_fn = tf.function(check, jit_compile=jit)
            forward_fn = tf.function(
                lambda x: encoder(x)["sequence_output"], jit_compile=jit
            )
            task.compile(
                "adam",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=jit,
            )
            check_s = median_seconds(lambda: check_fn(inputs), args.repeats)
            forward_s = median_seconds(
                lambda: forward_fn(inputs), args.repeats
            )
            train_s = median_seconds(
                lambda: task.train_on_batch(inputs, labels), args.repeats
            )
            print(
                f"{length:>6} {mode:>5} {check_s * 1e3:>10.2f} "
                f"{forward_s * 1e3:>11.1f} {check_s / forward_s:>7.2%} "
                f"{train_s * 1e3:>9.1f} {check_s / train_s:>7.2%}"
            )


if __name__ == "__main__":
    main()
