"""Attention time and memory on one accelerator, JAX backend.

Part of `device_check.sh`. One process runs every configuration, each under
`jax.jit`, with compiled memory figures and a time guard:

- `bigbird`: the `BigBirdAttention` layer (projections and block-sparse
  core), 12 heads x 64, block 64, 3 random blocks;
- `mha`: `keras.layers.MultiHeadAttention` (the same projections; its own
  dense core);
- `bigbird_core`: the block-sparse core alone on projected `q, k, v`
  (gathers, block products, softmax, global rows): its FLOP rate is the
  block products' share of the machine's matmul rate;
- `dense`: `keras.ops.dot_product_attention(flash_attention=False)` on
  `q, k, v` (XLA's dense attention);
- `flash`: `jax.nn.dot_product_attention(implementation="cudnn")`, what
  `keras.ops.dot_product_attention(flash_attention=True)` runs on an NVIDIA
  GPU (Keras falls back to XLA silently when cuDNN refuses; this does not).
  Where JAX offers none (a CPU, float32) it is recorded as unavailable,
  with JAX's reason.

Per configuration (impl, dtype, length, pass `forward` or
`forward_backward`): compile seconds; the median of the timed runs; FLOPs
counted for what each graph needs (`benchmarks/attention.py`: projections
plus 4 * depth per allowed (query, key) pair and head; backward twice the
forward) and their rate against a dense matmul of the same dtype timed in
this process; memory from `compiled.memory_analysis()` (XLA's buffer
assignment for the program: arguments + outputs + temporaries - aliased
bytes; what the program needs on the device, beyond the runtime), and on a
GPU also the allocator's high-water mark (`memory_stats()["peak_bytes_in_use"]`,
for the whole process so far: it only grows).

A configuration is skipped, with the reason recorded, when its compiled
memory exceeds 90% of the device's memory, when it fails (e.g. out of
memory), when the time guard predicts it would run past `--deadline`
(from the previous length's time, scaled linearly for the sparse impls and
quadratically for the dense ones), or once the deadline has passed. The JSON
is rewritten after every configuration.

    KERAS_BACKEND=jax python benchmarks/device_attention.py --out a.json
    KERAS_BACKEND=jax python benchmarks/device_attention.py --smoke --out a.json
"""

import argparse
import json
import os
import sys
import time

import attention as attention_benchmark
import measure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPLS = ("bigbird", "mha", "bigbird_core", "dense", "flash")
LAYER_IMPLS = ("bigbird", "mha")
DENSE_IMPLS = ("mha", "dense", "flash")  # quadratic time and memory
PASSES = ("forward", "forward_backward")

FULL = dict(
    heads=12, key_dim=64, dim=768, block_size=64, random_blocks=3,
    # Every 4x first, then the lengths between: when the time guard stops
    # the sweep, the whole range is already covered.
    lengths=[1024, 4096, 16384, 65536, 2048, 8192, 32768],
    dtypes=["bfloat16", "float32"], repeats=5, run_cap_s=1.0,
    matmul_size=8192,
)
SMOKE = dict(
    heads=2, key_dim=16, dim=32, block_size=16, random_blocks=1,
    lengths=[256, 512], dtypes=["bfloat16", "float32"], repeats=2,
    run_cap_s=0.5, matmul_size=512,
    # Every impl and pass at the first dtype and length; then only
    # BigBirdAttention's forward+backward.
    reduced=True,
)
# The share of the time left that the first dtype (bfloat16) may use.
FIRST_DTYPE_SHARE = 0.6


def device_memory_limit(jax):
    """Bytes a program may use: the GPU's limit, or the RAM available."""
    stats = _memory_stats(jax)
    if stats and stats.get("bytes_limit"):
        return stats["bytes_limit"]
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _memory_stats(jax):
    try:
        return jax.local_devices()[0].memory_stats()
    except Exception:
        return None


def memory_figures(compiled):
    """`compiled.memory_analysis()` as a dict, with its total."""
    try:
        analysis = compiled.memory_analysis()
    except Exception:
        analysis = None
    if analysis is None:
        return None
    names = ("argument", "output", "temp", "alias", "generated_code")
    figures = {
        name: int(getattr(analysis, f"{name}_size_in_bytes", 0) or 0)
        for name in names
    }
    figures["total"] = (
        figures["argument"] + figures["output"] + figures["temp"]
        - figures["alias"]
    )
    return figures


def matmul_rate(jax, dtype, size, repeats=5):
    """FLOP/s of a dense `size x size` matmul in `dtype`, on this device."""
    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), dtype)
    matmul = jax.jit(lambda a: a @ a)
    matmul(a).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).block_until_ready()
        times.append(time.perf_counter() - start)
    del a
    return 2 * size**3 / measure.median(times)


def flash_availability(jax, cfg, dtype):
    """None when cuDNN's fused attention runs here, else JAX's reason."""
    import jax.numpy as jnp

    shape = (1, 4 * cfg["block_size"], cfg["heads"], cfg["key_dim"])
    q = jnp.zeros(shape, dtype)
    try:
        jax.jit(
            lambda q: jax.nn.dot_product_attention(q, q, q, implementation="cudnn")
        )(q).block_until_ready()
    except Exception as error:
        reason = str(error).strip().splitlines()
        return f"unavailable: {type(error).__name__}: {reason[0] if reason else ''}"[:300]
    return None


class Case:
    """The jitted forward and forward+backward of one impl at one shape."""

    def __init__(self, impl, cfg, dtype, length):
        import jax
        import jax.numpy as jnp
        import keras
        from keras import ops

        from keras_bigbird.layers import BigBirdAttention

        self.impl = impl
        heads, key_dim, dim = cfg["heads"], cfg["key_dim"], cfg["dim"]
        rng = jax.random.PRNGKey(0)
        # The BigBird layer also gives the graph the FLOPs are counted on.
        self.bigbird = BigBirdAttention(
            heads, key_dim, block_size=cfg["block_size"],
            num_random_blocks=cfg["random_blocks"], seed=0, dtype=dtype,
        )
        self.bigbird.build((1, None, dim))
        flop_cfg = dict(heads=heads, key_dim=key_dim, dim=dim)
        if impl in LAYER_IMPLS:
            if impl == "bigbird":
                layer = self.bigbird
            else:
                layer = keras.layers.MultiHeadAttention(heads, key_dim, dtype=dtype)
                layer.build((1, None, dim), (1, None, dim))
            trainable = [v.value for v in layer.trainable_variables]
            non_trainable = [v.value for v in layer.non_trainable_variables]
            x = jax.random.normal(rng, (1, length, dim), dtype)
            self.args = (trainable, x)

            def forward(trainable, x):
                call_args = (x, x) if impl == "mha" else (x,)
                return layer.stateless_call(trainable, non_trainable, *call_args)[0]

            self.flops = attention_benchmark.forward_flops(
                "mha" if impl == "mha" else "bigbird", self.bigbird, length,
                flop_cfg,
            )
        else:
            keys = jax.random.split(rng, 3)
            if impl == "bigbird_core":
                shape = (1, heads, length, key_dim)
            else:  # dot_product_attention's layout
                shape = (1, length, heads, key_dim)
            self.args = tuple(jax.random.normal(k, shape, dtype) for k in keys)
            scale = 1.0 / key_dim**0.5
            if impl == "bigbird_core":
                bigbird = self.bigbird

                def forward(q, k, v):
                    q = q * jnp.asarray(scale, q.dtype)
                    return bigbird._attend(q, k, v, None, None, False, None, False)[0]

                pairs = attention_benchmark.graph_pairs(self.bigbird, length)
            elif impl == "dense":

                def forward(q, k, v):
                    return ops.dot_product_attention(q, k, v, flash_attention=False)

                pairs = heads * float(length) ** 2
            else:

                def forward(q, k, v):
                    return jax.nn.dot_product_attention(
                        q, k, v, implementation="cudnn"
                    )

                pairs = heads * float(length) ** 2
            self.flops = pairs * 2 * (key_dim + key_dim)

        # The backward pass starts from a random cotangent passed as an
        # argument: from `sum(output)` it would be a constant, and XLA would
        # fold what depends on it alone (e.g. the bias gradients) at compile
        # time, slowly.
        num_args = len(self.args)
        output_shape = jax.eval_shape(forward, *self.args)
        upstream = jax.random.normal(
            jax.random.PRNGKey(1), output_shape.shape, output_shape.dtype
        )

        def loss(*args):
            *inputs, cotangent = args
            return jnp.sum((forward(*inputs) * cotangent).astype("float32"))

        backward = jax.grad(loss, argnums=tuple(range(num_args)))
        self.functions = {
            "forward": jax.jit(forward),
            "forward_backward": jax.jit(backward),
        }
        self.pass_args = {
            "forward": self.args,
            "forward_backward": (*self.args, upstream),
        }


def run_one(jax, case, pass_, cfg, limit):
    """Compiles and times one pass: a result dict (or a skip reason)."""
    import jax.tree_util as tree_util

    start = time.perf_counter()
    args = case.pass_args[pass_]
    compiled = case.functions[pass_].lower(*args).compile()
    compile_s = time.perf_counter() - start
    memory = memory_figures(compiled)
    result = dict(compile_s=compile_s, memory=memory)
    if memory and limit and memory["total"] > 0.9 * limit:
        result["skipped"] = (
            f"needs {memory['total'] / 2**30:.1f} GiB (compiled memory "
            f"analysis), over 90% of the {limit / 2**30:.1f} GiB available"
        )
        return result

    def call():
        begin = time.perf_counter()
        tree_util.tree_map(lambda t: t.block_until_ready(), compiled(*args))
        return time.perf_counter() - begin

    first = call()  # the first run allocates; not timed
    times = []
    budget_start = time.perf_counter()
    while len(times) < cfg["repeats"]:
        times.append(call())
        if time.perf_counter() - budget_start > cfg["run_cap_s"]:
            break
    seconds = measure.median(times)
    flops = case.flops * (3 if pass_ == "forward_backward" else 1)
    stats = _memory_stats(jax)
    result.update(
        first_run_s=first, seconds=seconds, runs=len(times), flops=flops,
        flops_per_s=flops / seconds,
        process_peak_bytes=(stats or {}).get("peak_bytes_in_use"),
    )
    return result


def predicted_seconds(history, impl, dtype, pass_, length, cfg):
    """Compile + runs of this config, from the previous length's."""
    previous = history.get((impl, dtype, pass_))
    if previous is None:
        return 0.0
    old_length, compile_s, run_s = previous
    power = 2 if impl in DENSE_IMPLS else 1
    run = run_s * (length / old_length) ** power
    runs = 1 + min(cfg["repeats"], max(1, int(cfg["run_cap_s"] / max(run, 1e-9)) + 1))
    return compile_s + run * runs


def planned(cfg, dtype, length, impls):
    """The impls run at `(dtype, length)`: all, or with `reduced` (the
    smoke run) all at the first dtype and length and then `bigbird`."""
    first = dtype == cfg["dtypes"][0] and length == cfg["lengths"][0]
    if not cfg.get("reduced") or first:
        return list(impls)
    return [impl for impl in impls if impl == "bigbird"]


def planned_passes(cfg, dtype, length):
    first = dtype == cfg["dtypes"][0] and length == cfg["lengths"][0]
    if not cfg.get("reduced") or first:
        return PASSES
    return ("forward_backward",)


def summarize(results, smoke):
    """The issue's targets, read off the results (None where not measured)."""
    rows = {
        (r["impl"], r["dtype"], r["length"], r["pass"]): r
        for r in results if "seconds" in r
    }
    lengths = sorted({r["length"] for r in results})
    dtype = "bfloat16"
    speedups = {}
    for length in lengths:
        b = rows.get(("bigbird_core", dtype, length, "forward_backward"))
        f = rows.get(("flash", dtype, length, "forward_backward"))
        if b and f:
            speedups[length] = f["seconds"] / b["seconds"]
    from_length = 1024 if smoke else 8192
    checked = {k: v for k, v in speedups.items() if k >= from_length}
    memory = {}
    for length in lengths:
        r = rows.get(("bigbird", dtype, length, "forward_backward"))
        if r and r.get("memory"):
            memory[length] = r["memory"]["total"]
    growth = {
        f"{b}/{a}": memory[b] / memory[a]
        for a, b in zip(sorted(memory), sorted(memory)[1:])
    }
    share_length = 16384 if not smoke else max(lengths)
    share = {}
    for pass_ in PASSES:
        r = rows.get(("bigbird_core", dtype, share_length, pass_))
        if r and r.get("pct_of_matmul") is not None:
            share[pass_] = r["pct_of_matmul"]
    return dict(
        bigbird_core_vs_flash_forward_backward_speedup=speedups,
        faster_than_flash_from_8k=(
            all(v > 1 for v in checked.values()) if checked else None
        ),
        bigbird_forward_backward_memory_growth_per_doubling=growth,
        memory_linear=(
            all(v < 2.3 for v in growth.values()) if growth else None
        ),
        matmul_share_length=share_length,
        bigbird_core_pct_of_matmul=share,
        matmul_share_at_least_40pct=(
            share.get("forward_backward", 0) >= 40 if share else None
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--deadline", type=float, default=None,
                        help="Unix time by which to stop (default: 150 s)")
    parser.add_argument("--lengths", type=int, nargs="+")
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--dtypes", nargs="+", choices=["bfloat16", "float32"])
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, ROOT)
    import jax

    cfg = dict(SMOKE if args.smoke else FULL)
    if args.lengths:
        cfg["lengths"] = args.lengths
    if args.dtypes:
        cfg["dtypes"] = args.dtypes
    started = time.time()
    deadline = args.deadline or started + 150
    limit = device_memory_limit(jax)
    rates = {dtype: matmul_rate(jax, dtype, cfg["matmul_size"])
             for dtype in cfg["dtypes"]}
    flash = {dtype: flash_availability(jax, cfg, dtype) for dtype in cfg["dtypes"]}
    output = dict(
        config={k: v for k, v in cfg.items()},
        smoke=args.smoke,
        device=str(jax.devices()[0]),
        device_kind=getattr(jax.devices()[0], "device_kind", None),
        jax=jax.__version__,
        matmul_precision=str(jax.config.jax_default_matmul_precision),
        memory_limit_bytes=limit,
        matmul_flops_per_s=rates,
        flash=flash,
        memory_source="compiled.memory_analysis(): argument + output + temp - alias",
        results=[],
    )

    def save():
        output["elapsed_s"] = time.time() - started
        output["targets"] = summarize(output["results"], args.smoke)
        with open(args.out, "w") as f:
            json.dump(output, f, indent=1)

    history = {}
    # (impl, dtype, pass) -> the shortest length that failed or was
    # skipped: longer lengths are skipped too.
    failed = {}
    for index, dtype in enumerate(cfg["dtypes"]):
        remaining = deadline - time.time()
        phase_end = deadline
        if index == 0 and len(cfg["dtypes"]) > 1:
            phase_end = time.time() + FIRST_DTYPE_SHARE * remaining
        for length in cfg["lengths"]:
            for impl in planned(cfg, dtype, length, args.impls):
                case = None
                for pass_ in planned_passes(cfg, dtype, length):
                    row = dict(impl=impl, dtype=dtype, length=length, pass_=pass_)
                    row["pass"] = row.pop("pass_")
                    key = (impl, dtype, pass_)
                    if impl == "flash" and flash[dtype]:
                        row["skipped"] = flash[dtype]
                    elif length >= failed.get(key, float("inf")):
                        row["skipped"] = (
                            f"skipped: {failed[key]} tokens failed or was skipped"
                        )
                    elif time.time() >= phase_end:
                        row["skipped"] = "skipped: time budget spent"
                    elif time.time() + predicted_seconds(
                        history, impl, dtype, pass_, length, cfg
                    ) > phase_end:
                        row["skipped"] = (
                            "skipped: predicted to run past the time budget"
                        )
                    else:
                        try:
                            if case is None:
                                case = Case(impl, cfg, dtype, length)
                            row.update(run_one(jax, case, pass_, cfg, limit))
                        except Exception as error:
                            text = " ".join(str(error).split())
                            row["skipped"] = (
                                f"failed: {type(error).__name__}: {text[:300]}"
                            )
                    if "seconds" in row:
                        history[key] = (length, row["compile_s"], row["seconds"])
                        rate = rates[dtype]
                        row["pct_of_matmul"] = 100 * row["flops_per_s"] / rate
                    elif not (impl == "flash" and flash[dtype]):
                        if not row["skipped"].startswith("skipped: time"):
                            failed[key] = min(length, failed.get(key, length))
                    output["results"].append(row)
                    print(_line(row), flush=True)
                    save()
                del case
    save()
    print(f"wrote {args.out} ({time.time() - started:.0f} s)")


def _line(row):
    head = f"{row['dtype']:>8} {row['length']:>6} {row['impl']:>12} {row['pass']:>16}"
    if "seconds" not in row:
        return f"{head}  {row['skipped']}"
    memory = row["memory"]["total"] / 2**20 if row.get("memory") else float("nan")
    return (
        f"{head} {1e3 * row['seconds']:9.2f} ms  {row['pct_of_matmul']:5.1f}% mm  "
        f"{memory:9.1f} MiB  compile {row['compile_s']:.1f} s"
    )


if __name__ == "__main__":
    main()
