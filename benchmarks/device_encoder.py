"""Training throughput and peak memory of a base-size BigBird encoder (JAX).

Part of `device_check.sh`. The encoder of `benchmarks/encoder.py`
(hidden 768, 12 heads, intermediate 3072, vocabulary 50358, block 64, 3
random blocks, dropout 0.1) with all 12 layers of the base architecture,
under a per-token classification head, trained with Adam through
`train_on_batch` (jitted by Keras on JAX). Each configuration runs in a
fresh worker process, so that its peak is its own:

- tokens/s: tokens per step / the median step time (after the compiling
  step);
- peak memory: the device allocator's high-water mark over the worker's
  life (`jax.local_devices()[0].memory_stats()["peak_bytes_in_use"]`: the
  weights, Adam slots and the training steps), where the device reports
  one (GPUs); on a CPU, which does not, the process's resident-set
  high-water mark instead (`memory_source` says which).

Configurations run in order (`mixed_bfloat16` first) while the time guard
allows: one whose predicted time (the previous worker's) would pass
`--deadline` is skipped and recorded so; a worker that runs out of time is
stopped.

    KERAS_BACKEND=jax python benchmarks/device_encoder.py --out e.json
    KERAS_BACKEND=jax python benchmarks/device_encoder.py --smoke --out e.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import measure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASE = dict(
    vocabulary_size=50358, num_layers=12, num_heads=12, hidden_dim=768,
    intermediate_dim=3072, block_size=64, num_random_blocks=3, dropout=0.1,
    attention_dropout=0.1,
)
TINY = dict(
    vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=32,
    intermediate_dim=64, block_size=16, num_random_blocks=1, dropout=0.1,
    attention_dropout=0.1,
)
# (dtype policy, length, batch, gradient checkpointing), in priority order.
FULL_CONFIGS = (
    ("mixed_bfloat16", 4096, 4, False),
    ("mixed_bfloat16", 16384, 1, False),
    ("mixed_bfloat16", 16384, 1, True),
    ("float32", 4096, 4, False),
)
SMOKE_CONFIGS = (("mixed_bfloat16", 128, 2, False),)


def worker(args):
    import jax
    import numpy as np
    import keras

    from keras_bigbird.models import BigBirdEncoder
    from keras_bigbird.models import BigBirdTokenClassifier

    config = dict(TINY if args.smoke else BASE)
    encoder = BigBirdEncoder(
        **config,
        max_sequence_length=max(args.length, 4096),
        gradient_checkpointing=args.remat,
        seed=0,
        dtype=args.dtype,
    )
    model = BigBirdTokenClassifier(encoder, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    shape = (args.batch, args.length)
    x = {
        "token_ids": rng.integers(3, config["vocabulary_size"], shape).astype("int32"),
        "padding_mask": np.ones(shape, "int32"),
    }
    y = rng.integers(0, 2, shape).astype("int32")
    start = time.perf_counter()
    model.train_on_batch(x, y)  # traces, compiles, creates the Adam slots
    first = time.perf_counter() - start
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
        if sum(times) > args.cap_s:
            break
    step = measure.median(times)
    stats = None
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:
        pass
    if stats and stats.get("peak_bytes_in_use"):
        peak, source = stats["peak_bytes_in_use"], "device memory_stats peak_bytes_in_use"
    else:
        peak, source = measure.peak_rss_bytes(), "process peak RSS (no device figure)"
    print(json.dumps(dict(
        first_step_s=first, step_s=step, step_times_s=times,
        tokens_per_s=args.batch * args.length / step,
        peak_bytes=peak, memory_source=source,
        loss=float(np.asarray(loss).reshape(-1)[0]),
        parameters=model.count_params(),
        device=str(jax.devices()[0]),
    )))


def run_worker(dtype, length, batch, remat, args, timeout):
    cmd = [
        sys.executable, os.path.abspath(__file__), "--worker",
        "--dtype", dtype, "--length", str(length), "--batch", str(batch),
        "--steps", str(args.steps), "--cap-s", str(args.cap_s),
    ]
    if remat:
        cmd.append("--remat")
    if args.smoke:
        cmd.append("--smoke")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (ROOT, env.get("PYTHONPATH")) if p
    )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(error=f"stopped by the time guard after {timeout:.0f} s")
    return measure.worker_result(done.returncode, done.stdout, done.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--deadline", type=float, default=None,
                        help="Unix time by which to stop (default: 120 s)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--cap-s", type=float, default=10.0,
                        help="stop timing steps after this many seconds")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--remat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, ROOT)
        return worker(args)
    started = time.time()
    deadline = args.deadline or started + 120
    output = dict(
        config=dict(TINY if args.smoke else BASE, steps=args.steps),
        smoke=args.smoke, results=[],
    )
    previous = 0.0
    for dtype, length, batch, remat in (SMOKE_CONFIGS if args.smoke else FULL_CONFIGS):
        row = dict(dtype=dtype, length=length, batch=batch,
                   gradient_checkpointing=remat)
        left = deadline - time.time()
        if left < max(previous, 5.0):
            row["skipped"] = (
                f"skipped: {left:.0f} s left, the previous configuration "
                f"took {previous:.0f} s"
            )
        else:
            begin = time.time()
            row.update(run_worker(dtype, length, batch, remat, args, left))
            previous = time.time() - begin
            row["wall_s"] = previous
        output["results"].append(row)
        if "tokens_per_s" in row:
            print(f"{dtype:>15} {length:>6} x {batch} ckpt={remat!s:5} "
                  f"{row['tokens_per_s']:10.0f} tokens/s  step "
                  f"{row['step_s'] * 1e3:.1f} ms  peak "
                  f"{row['peak_bytes'] / 2**30:.2f} GiB ({row['memory_source']})",
                  flush=True)
        else:
            print(f"{dtype:>15} {length:>6} x {batch} ckpt={remat!s:5} "
                  f"{row.get('skipped') or row.get('error')}", flush=True)
        output["elapsed_s"] = time.time() - started
        if args.out:
            with open(args.out, "w") as f:
                json.dump(output, f, indent=1)
    print(f"wrote {args.out} ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
