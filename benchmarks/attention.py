"""Speed and memory of the block-sparse layers against MultiHeadAttention.

Every configuration and pass (forward, forward+backward) runs in a fresh
subprocess, so its peak memory is its own: "MB" is the resident-set
high-water mark above the process's size just before the first full-length
call (what the process really took, allocator caching included), "TF MB"
the TensorFlow CPU allocator's peak above its use at that point (what the
computation allocates, without caching noise). Each subprocess also times a
dense float32 matmul after each of its timed runs, so that the achieved FLOP
rate is compared with what the machine delivered at the same moments. Prints
a table, the ratios and the issue's targets, and writes JSON.

    python benchmarks/attention.py                      # the full table
    python benchmarks/attention.py --lengths 1024 4096 --modes graph
    python benchmarks/attention.py --impls bigbird global64 window --lengths 4096

The layers (`--impls`):

- `bigbird`: `BigBirdAttention` (the default `BigBirdPattern`);
- `global64`: the same with 64 global tokens (`global_mask`);
- `window`: `BlockSparseAttention` on `WindowPattern(3)`;
- `layout`: on a `BlockLayoutPattern` (a window of 3 blocks, the first
  block and every 8th block: a fixed strided layout, as in the Sparse
  Transformer);
- `causal`: `BigBirdAttention(causal=True)`;
- `mha`: `keras.layers.MultiHeadAttention`.

FLOPs are counted for what each graph needs: the four projections plus, per
head, 2 * (key_dim + value_dim) for every (query, key) pair the block graph
allows (`keras_bigbird.patterns.block_adjacency`; diagonal blocks of a
causal graph count half, global tokens add their rows and columns).
Backward is counted as twice the forward.
"""

import argparse
import json
import os
import sys
import time

import measure

DEFAULTS = dict(heads=12, key_dim=64, dim=768, block_size=64, random_blocks=3)
NUM_GLOBAL = 64
SPARSE_IMPLS = ("bigbird", "global64", "window", "layout", "causal")
IMPLS = SPARSE_IMPLS + ("mha",)


def strided_layout(num_blocks, stride=8):
    """Window of 3 blocks, the first block, and every `stride`-th block."""
    import numpy as np

    i = np.arange(num_blocks)[:, None]
    j = np.arange(num_blocks)[None, :]
    return (np.abs(i - j) <= 1) | (j == 0) | (j % stride == stride - 1)


def build_layer(impl, cfg, length):
    """The benchmarked layer, built on a short input (so that the first
    full-length allocation happens inside the measured runs)."""
    import tensorflow as tf
    import keras

    from keras_bigbird.layers import BigBirdAttention
    from keras_bigbird.layers import BlockSparseAttention
    from keras_bigbird.patterns import BlockLayoutPattern
    from keras_bigbird.patterns import WindowPattern

    heads, key_dim, block = cfg["heads"], cfg["key_dim"], cfg["block_size"]
    if impl in ("bigbird", "global64", "causal"):
        layer = BigBirdAttention(
            heads, key_dim, block_size=block,
            num_random_blocks=cfg["random_blocks"], seed=0,
            causal=impl == "causal", max_global_tokens=NUM_GLOBAL,
        )
    elif impl == "window":
        layer = BlockSparseAttention(
            heads, key_dim, pattern=WindowPattern(3), block_size=block, seed=0
        )
    elif impl == "layout":
        pattern = BlockLayoutPattern(strided_layout(-(-length // block)))
        layer = BlockSparseAttention(
            heads, key_dim, pattern=pattern, block_size=block, seed=0
        )
    else:
        layer = keras.layers.MultiHeadAttention(heads, key_dim)
    short = tf.zeros((1, 4 * block, cfg["dim"]))
    layer(short, short) if impl == "mha" else layer(short)
    return layer


def graph_pairs(layer, length):
    """(query, key) pairs the layer's block graph allows, summed over heads."""
    import numpy as np

    from keras_bigbird.patterns import block_adjacency

    block = layer.block_size
    num_blocks = -(-length // block)
    graph = block_adjacency(
        layer.pattern, num_blocks, layer.num_heads, layer.seed,
        causal=layer.causal, block_size=block,
    )[0].astype(np.float64)
    sizes = np.full(num_blocks, block, np.float64)
    sizes[-1] = length - block * (num_blocks - 1)
    pairs = np.einsum("i,hij,j->hij", sizes, graph, sizes)
    if layer.causal:
        diagonal = np.arange(num_blocks)
        pairs[:, diagonal, diagonal] *= 0.5
    return float(pairs.sum())


def forward_flops(impl, layer, length, cfg):
    heads, key_dim, dim = cfg["heads"], cfg["key_dim"], cfg["dim"]
    projections = 4 * 2 * length * dim * heads * key_dim
    if impl == "mha":
        pairs = heads * length * length
    else:
        pairs = graph_pairs(layer, length)
        if impl == "global64":
            pairs += 2 * heads * NUM_GLOBAL * length
    return projections + pairs * 2 * (key_dim + key_dim)


def global_mask(length):
    """64 global tokens spread over the sequence."""
    import numpy as np

    mask = np.zeros((1, length), bool)
    mask[0, np.linspace(0, length - 1, NUM_GLOBAL).astype(int)] = True
    return mask


def layer_call(impl, layer, length):
    """`x -> layer(x)`: self-attention as each layer is called."""
    import tensorflow as tf

    if impl == "mha":
        return lambda x: layer(x, x)
    mask = tf.constant(global_mask(length)) if impl == "global64" else None
    return lambda x: layer(x, global_mask=mask)


def worker(args):
    """One configuration, in its own process; prints one JSON line."""
    import numpy as np
    import tensorflow as tf

    cfg = DEFAULTS
    layer = build_layer(args.impl, cfg, args.length)
    x = tf.constant(
        np.random.default_rng(0).normal(size=(1, args.length, cfg["dim"])),
        tf.float32,
    )
    jit = args.mode == "xla"
    call = layer_call(args.impl, layer, args.length)

    @tf.function(jit_compile=jit)
    def forward(x):
        return call(x)

    @tf.function(jit_compile=jit)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(call(x))
        return tape.gradient(loss, [x] + layer.trainable_weights)

    def run(fn):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), fn(x))
        return time.perf_counter() - start

    fn = forward if args.pass_ == "forward" else forward_backward
    reference = measure.MatmulReference(tf)
    baseline = measure.rss_bytes()
    with measure.AllocatorPeak(tf) as allocated:
        for _ in range(2):
            run(fn)  # traces, compiles, allocates
        # Interleaved with the reference matmul: both see the same machine.
        times = []
        for _ in range(args.repeats):
            times.append(run(fn))
            reference.seconds()
    peak = measure.peak_rss_bytes() - baseline
    seconds = measure.median(times)
    rate = reference.rate()
    flops = forward_flops(args.impl, layer, args.length, cfg)
    if args.pass_ == "forward_backward":
        flops *= 3
    print(json.dumps(dict(
        seconds=seconds, flops=flops, rate=rate, peak=peak,
        allocated=allocated.bytes,
    )))


def run_config(impl, mode, length, repeats):
    """Both passes of one configuration, each in a fresh process."""
    result = dict(impl=impl, mode=mode, length=length)
    for pass_ in ("forward", "forward_backward"):
        measured = run_worker(impl, mode, length, repeats, pass_)
        if "error" in measured:
            return dict(result, error=measured["error"])
        result.update(
            {
                f"{pass_}_s": measured["seconds"],
                f"{pass_}_flops": measured["flops"],
                f"{pass_}_matmul_flops_per_s": measured["rate"],
                f"{pass_}_pct_of_matmul": 100 * measured["flops"]
                / measured["seconds"] / measured["rate"],
                f"{pass_}_peak_mb": measured["peak"] / 2**20,
                f"{pass_}_allocated_mb": measured["allocated"] / 2**20,
            }
        )
    return result


def run_worker(impl, mode, length, repeats, pass_):
    return measure.run_worker(measure.worker_command(
        __file__, "--impl", impl, "--mode", mode, "--length", length,
        "--repeats", repeats, "--pass", pass_,
    ))


def report(results, mha_max_length):
    rows = {(r["impl"], r["mode"], r["length"]): r for r in results}
    header = (
        f"{'length':>6} {'impl':>7} {'mode':>5} {'fwd ms':>8} {'f+b ms':>8} "
        f"{'fwd %mm':>8} {'f+b %mm':>8} {'fwd MB':>8} {'f+b MB':>8} "
        f"{'fwd TF MB':>9} {'f+b TF MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['length']:>6} {r['impl']:>7} {r['mode']:>5}  {r['error']}")
            continue
        print(
            f"{r['length']:>6} {r['impl']:>7} {r['mode']:>5} "
            f"{1e3 * r['forward_s']:8.1f} {1e3 * r['forward_backward_s']:8.1f} "
            f"{r['forward_pct_of_matmul']:7.0f}% "
            f"{r['forward_backward_pct_of_matmul']:7.0f}% "
            f"{r['forward_peak_mb']:8.0f} {r['forward_backward_peak_mb']:8.0f} "
            f"{r['forward_allocated_mb']:9.0f} "
            f"{r['forward_backward_allocated_mb']:9.0f}"
        )
    rates = [
        r[f"{p}_matmul_flops_per_s"]
        for r in results
        if "error" not in r
        for p in ("forward", "forward_backward")
    ]
    if rates:
        rates.sort()
        print(
            f"\ndense float32 matmul (2048^2), median over runs: "
            f"{rates[len(rates) // 2] / 1e9:.0f} GFLOP/s "
            f"(min {rates[0] / 1e9:.0f}, max {rates[-1] / 1e9:.0f})"
        )
    lengths = sorted({r["length"] for r in results})
    modes = sorted({r["mode"] for r in results})

    def ratios(title, numerator, denominator, missing=None):
        lines = []
        for mode in modes:
            for length in lengths:
                a = rows.get((numerator, mode, length))
                b = rows.get((denominator, mode, length))
                if not b or "error" in b:
                    continue
                if not a or "error" in a:
                    if missing and missing(length):
                        lines.append(f"  {mode:>5} {length:>6}: {missing(length)}")
                    continue
                lines.append(
                    f"  {mode:>5} {length:>6}: forward "
                    f"{a['forward_s'] / b['forward_s']:.2f}x, forward+backward "
                    f"{a['forward_backward_s'] / b['forward_backward_s']:.2f}x"
                )
        if lines:
            print(f"\n{title}")
            print("\n".join(lines))

    ratios(
        "BigBird speed-up over MultiHeadAttention (same mode, same run):",
        "mha", "bigbird",
        lambda length: f"MHA not run (dense scores alone need "
        f"{dense_scores_gb(length):.1f} GB)" if length > mha_max_length else None,
    )
    for impl, title in (
        ("global64", "Cost of 64 global tokens (time with / without):"),
        ("window", "WindowPattern(3) speed-up over the BigBird pattern:"),
        ("layout", "Strided BlockLayoutPattern, time relative to BigBird:"),
        ("causal", "Causal BigBird, time relative to BigBird:"),
    ):
        if impl == "window":
            ratios(title, "bigbird", impl)
        else:
            ratios(title, impl, "bigbird")
    if not any(r["impl"] == "bigbird" for r in results):
        return
    print("\nBigBird peak memory growth (fwd+bwd, 2x the length): "
          "resident set, TF allocator")
    for mode in modes:
        for short in lengths:
            a, b = rows.get(("bigbird", mode, short)), rows.get(("bigbird", mode, 2 * short))
            if a and b and "error" not in a and "error" not in b:
                rss, tf_peak = (
                    b[f"forward_backward_{key}_mb"] / a[f"forward_backward_{key}_mb"]
                    for key in ("peak", "allocated")
                )
                print(
                    f"  {mode:>5} {2 * short:>6} vs {short:>6}: "
                    f"{rss:.2f}x, {tf_peak:.2f}x"
                )


def dense_scores_gb(length):
    return DEFAULTS["heads"] * length * length * 4 / 2**30


def main():
    parser = measure.sweep_parser(
        __doc__.splitlines()[0], lengths=[1024, 2048, 4096, 8192, 16384],
        impls=IMPLS, default_impls=IMPLS,
    )
    parser.add_argument("--mha-max-length", type=int, default=8192,
                        help="longest MultiHeadAttention run (16384 needs "
                             "more than 24 GB)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default="benchmarks/results/attention.json")
    parser.add_argument("--pass", dest="pass_", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    results = []
    configs = [
        (impl, mode, length)
        for length in args.lengths
        for mode in args.modes
        for impl in args.impls
        if not (impl == "mha" and length > args.mha_max_length)
    ]
    for i, (impl, mode, length) in enumerate(configs, 1):
        print(f"[{i}/{len(configs)}] {impl} {mode} {length}", file=sys.stderr,
              flush=True)
        results.append(run_config(impl, mode, length, args.repeats))
    report(results, args.mha_max_length)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(dict(config=DEFAULTS, results=results), f, indent=1)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
