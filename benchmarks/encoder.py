"""Training speed and peak memory of BigBirdEncoder against dense attention.

The same encoder (base-sized layers: hidden 768, 12 heads, intermediate
3072, vocabulary 50358, block 64, 3 random blocks, dropout 0.1; 2 layers by
default to fit a 2-core machine) with `attention_type="block_sparse"`
(BigBird) and `"original_full"` (`keras.layers.MultiHeadAttention`, the same
weights), under a per-token classification head, trained with Adam through
`train_on_batch` on one sequence per step, in graph mode and with
`jit_compile=True`, with and without gradient checkpointing.

Every configuration runs in a fresh subprocess; the two attention types of
a (length, mode, checkpointing) cell run one after the other, so ratios
come from the same run. Reported per configuration:

- step time: median over the timed steps (after one compiling step);
  tokens/s = tokens per step / step time.
- peak RSS: the worker process's resident-set high-water mark
  (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) over its whole life: the
  TensorFlow runtime, weights, Adam slots and the training steps.
- TF peak: the TensorFlow CPU allocator's peak over the timed steps above
  the memory in use before them (`tf.config.experimental.get_memory_info`),
  i.e. what one training step allocates (activations, gradients, workspace).
- busy / mm GF/s: how many cores the worker kept busy during the timed
  steps and the machine's dense float32 matmul rate right after them; low
  values mean other processes shared the machine (the figures are then
  slower than the hardware allows).

Checkpointing only pays with depth: with 2 layers, the backward pass of one
layer (its recomputed activations plus its gradients) is about as large as
what the other layer would have kept. The second command below measures it
on the 12 layers of the base architecture.

A watchdog stops a worker whose RSS exceeds `--memory-cap-gb` (default 22
GB, and at most the machine's available memory minus 2 GB when the worker
starts, to leave room for other processes on a shared machine); the dense
encoder at 16384 tokens needs 12 GiB for the attention scores of one layer
alone, and keeps the probabilities for the backward pass as well.

    python benchmarks/encoder.py                         # everything
    python benchmarks/encoder.py --lengths 1024 4096 --modes graph
    python benchmarks/encoder.py --num-layers 12 --lengths 4096 16384 \
        --modes graph --impls bigbird --steps 2 \
        --json benchmarks/results/encoder_12_layers.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import measure

DEFAULTS = dict(
    vocabulary_size=50358,
    num_layers=2,
    num_heads=12,
    hidden_dim=768,
    intermediate_dim=3072,
    block_size=64,
    num_random_blocks=3,
    dropout=0.1,
    attention_dropout=0.1,
)
IMPLS = {"bigbird": "block_sparse", "mha": "original_full"}


def worker(args):
    """One configuration in its own process; prints one JSON line."""
    import numpy as np
    import tensorflow as tf
    import keras

    from keras_bigbird.models import BigBirdEncoder
    from keras_bigbird.models import BigBirdTokenClassifier

    config = dict(DEFAULTS, num_layers=args.num_layers,
                  vocabulary_size=args.vocabulary_size)
    encoder = BigBirdEncoder(
        **config,
        max_sequence_length=max(args.length, 4096),
        attention_type=IMPLS[args.impl],
        gradient_checkpointing=args.remat,
        seed=0,
    )
    model = BigBirdTokenClassifier(encoder, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=args.mode == "xla",
    )
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.length)
    x = {
        "token_ids": rng.integers(3, config["vocabulary_size"], shape).astype(
            "int32"
        ),
        "padding_mask": np.ones(shape, "int32"),
    }
    y = rng.integers(0, 2, shape).astype("int32")

    start = time.perf_counter()
    model.train_on_batch(x, y)  # traces, compiles, creates the Adam slots
    first = time.perf_counter() - start
    times = []
    cpu_before, load_before = measure.cpu_seconds(), os.getloadavg()[0]
    with measure.AllocatorPeak(tf) as allocated:
        for _ in range(args.steps):
            start = time.perf_counter()
            loss = model.train_on_batch(x, y)
            times.append(time.perf_counter() - start)
    cpu_used = measure.cpu_seconds() - cpu_before
    step = sorted(times)[len(times) // 2]
    print(json.dumps(dict(
        first_step_s=first,
        step_s=step,
        step_times_s=times,
        tokens_per_s=args.batch_size * args.length / step,
        peak_rss_gb=measure.peak_rss_bytes() / 2**30,
        tf_peak_gb=allocated.bytes / 2**30,
        loss=float(np.asarray(loss).reshape(-1)[0]),
        parameters=model.count_params(),
        # Contention indicators: the cores this process kept busy during
        # the timed steps (2.0 = both of 2 cores), the 1-minute load
        # average when they started, and the dense matmul rate right after.
        cores_busy=cpu_used / sum(times),
        load_average=load_before,
        matmul_gflops=measure.matmul_rate(tf, repeats=5) / 1e9,
    )))


def available_gb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("inf")


def run_worker(impl, mode, length, checkpointing, args):
    cmd = measure.worker_command(
        __file__, "--impl", impl, "--mode", mode, "--length", length,
        "--steps", args.steps, "--num-layers", args.num_layers,
        "--batch-size", args.batch_size,
        "--vocabulary-size", args.vocabulary_size,
    )
    if checkpointing:
        cmd.append("--remat")
    # Leave 2 GB to the rest of the machine (it may be shared).
    cap = min(args.memory_cap_gb, available_gb() - 2)
    if cap < 2:
        return dict(error="skipped: less than 4 GB available on the machine")
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=measure.worker_env(),
    )
    start, highest = time.time(), 0.0
    while process.poll() is None:
        highest = max(highest, measure.rss_bytes(process.pid) / 2**30)
        if highest > cap:
            process.kill()
            process.wait()
            return dict(
                error=f"stopped at {highest:.1f} GB RSS (cap "
                      f"{cap:.1f} GB) after "
                      f"{time.time() - start:.0f} s, before finishing a step",
                stopped_at_gb=highest,
            )
        time.sleep(0.05)
    out, err = process.communicate()
    return measure.worker_result(process.returncode, out, err)


def dense_scores_gib(length, batch_size):
    return batch_size * DEFAULTS["num_heads"] * length**2 * 4 / 2**30


def report(results):
    rows = {
        (r["impl"], r["mode"], r["length"], r["checkpointing"]): r
        for r in results
    }
    header = (
        f"{'length':>6} {'mode':>5} {'ckpt':>4} {'attention':>9} "
        f"{'step s':>8} {'tokens/s':>9} {'peak RSS GB':>11} {'TF peak GB':>10}"
        f" {'busy':>5} {'mm GF/s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cells = (
            f"{r['length']:>6} {r['mode']:>5} "
            f"{'yes' if r['checkpointing'] else 'no':>4} {r['impl']:>9}"
        )
        if "error" in r:
            print(f"{cells}  {r['error']}")
            continue
        print(
            f"{cells} {r['step_s']:8.2f} {r['tokens_per_s']:9.0f} "
            f"{r['peak_rss_gb']:11.2f} {r['tf_peak_gb']:10.2f}"
            f" {r['cores_busy']:5.2f} {r['matmul_gflops']:7.0f}"
        )

    def ok(r):
        return r is not None and "error" not in r

    lengths = sorted({r["length"] for r in results})
    modes = sorted({r["mode"] for r in results})
    print("\nBigBird against MultiHeadAttention (same length, mode, "
          "checkpointing; same run):")
    for length in lengths:
        for mode in modes:
            for ckpt in (False, True):
                b = rows.get(("bigbird", mode, length, ckpt))
                m = rows.get(("mha", mode, length, ckpt))
                if not ok(b):
                    continue
                label = f"  {length:>6} {mode:>5} ckpt={'yes' if ckpt else 'no ':3}"
                if ok(m):
                    print(
                        f"{label}: {m['step_s'] / b['step_s']:.2f}x faster, "
                        f"peak RSS {b['peak_rss_gb']:.1f} vs "
                        f"{m['peak_rss_gb']:.1f} GB, TF peak "
                        f"{b['tf_peak_gb']:.2f} vs {m['tf_peak_gb']:.2f} GB"
                    )
                else:
                    why = m["error"] if m else "not run"
                    print(
                        f"{label}: BigBird trains at "
                        f"{b['tokens_per_s']:.0f} tokens/s in "
                        f"{b['peak_rss_gb']:.1f} GB; MHA {why} (its "
                        f"attention scores alone: "
                        f"{dense_scores_gib(length, 1):.1f} GiB per layer)"
                    )
    print("\nGradient checkpointing (same attention, length, mode):")
    for length in lengths:
        for mode in modes:
            for impl in IMPLS:
                a = rows.get((impl, mode, length, False))
                c = rows.get((impl, mode, length, True))
                if ok(a) and ok(c):
                    print(
                        f"  {length:>6} {mode:>5} {impl:>7}: TF peak "
                        f"{a['tf_peak_gb']:.2f} -> {c['tf_peak_gb']:.2f} GB "
                        f"({c['tf_peak_gb'] / a['tf_peak_gb']:.2f}x), peak RSS "
                        f"{a['peak_rss_gb']:.2f} -> {c['peak_rss_gb']:.2f} GB, "
                        f"step {c['step_s'] / a['step_s']:.2f}x the time"
                    )


def main():
    parser = measure.sweep_parser(
        __doc__.splitlines()[0], lengths=[1024, 4096, 16384]
    )
    parser.add_argument("--checkpointing", nargs="+", default=["no", "yes"],
                        choices=["no", "yes"])
    parser.add_argument("--num-layers", type=int,
                        default=DEFAULTS["num_layers"])
    parser.add_argument("--vocabulary-size", type=int,
                        default=DEFAULTS["vocabulary_size"])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3,
                        help="timed steps after the first (compiling) one")
    parser.add_argument("--mha-max-length", type=int, default=16384,
                        help="longest MultiHeadAttention run")
    parser.add_argument("--memory-cap-gb", type=float, default=22.0,
                        help="stop a worker above this resident set (and at "
                             "most 2 GB below what the machine has available)")
    parser.add_argument("--json", default="benchmarks/results/encoder.json")
    parser.add_argument("--remat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    configs = []
    for length in args.lengths:
        for mode in args.modes:
            for ckpt in args.checkpointing:
                for impl in args.impls:
                    if impl == "mha" and length > args.mha_max_length:
                        continue
                    # Checkpointing cannot shrink the dense scores of the
                    # layer being computed: one dense run at the longest
                    # length is enough to show the limit.
                    if (impl == "mha" and ckpt == "yes"
                            and dense_scores_gib(length, args.batch_size)
                            >= args.memory_cap_gb):
                        continue
                    configs.append((impl, mode, length, ckpt == "yes"))
    results = []
    started = time.time()
    for i, (impl, mode, length, ckpt) in enumerate(configs, 1):
        print(f"[{i}/{len(configs)}] {impl} {mode} {length} "
              f"checkpointing={ckpt} ({time.time() - started:.0f} s)",
              file=sys.stderr, flush=True)
        measured = run_worker(impl, mode, length, ckpt, args)
        results.append(dict(impl=impl, mode=mode, length=length,
                            checkpointing=ckpt, **measured))
    report(results)
    config = dict(DEFAULTS, num_layers=args.num_layers,
                  vocabulary_size=args.vocabulary_size,
                  batch_size=args.batch_size, steps=args.steps,
                  memory_cap_gb=args.memory_cap_gb, cpus=os.cpu_count())
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(dict(config=config, command=" ".join(sys.argv),
                       results=results), f, indent=1)
    print(f"\nwrote {args.json} ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
