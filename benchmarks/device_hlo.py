"""What XLA makes of the BigBird attention forward: counts from the HLO.

Compiles `BigBirdAttention`'s forward (and, with `--backward`, its
forward+backward) under `jax.jit` for the default device and counts, in
the optimized HLO (`jax.jit(f).lower(...).compile().as_text()`), the
fusions (by kind), the gathers, dots and converts (and their element
types) left at the top level of the entry computation and inside fusions,
and in the unoptimized StableHLO the converts between bf16 and f32. Part of
`device_check.sh` (on a GPU it records the GPU compiler's fusions);
`docs/hlo_notes.md` reads its CPU output.

    KERAS_BACKEND=jax python benchmarks/device_hlo.py --length 4096 \
        [--dtype bfloat16] [--backward] [--dump DIR] [--json out.json]
"""

import argparse
import collections
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(\S+?)(?:\[[^\]]*\])?(?:\{[^}]*\})?\s+"
    r"([\w\-]+)\(",
)


def computations(text):
    """`{name: [lines]}` of an HLO module's text, and the entry's name."""
    blocks, entry, name = {}, None, None
    for line in text.splitlines():
        header = re.match(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if header and not line.startswith(" "):
            name = header.group(2)
            blocks[name] = []
            if header.group(1):
                entry = name
            continue
        if line.startswith("}"):
            name = None
            continue
        if name is not None:
            blocks[name].append(line)
    return blocks, entry


def count(text):
    """Counts of the optimized HLO module `text`."""
    blocks, entry = computations(text)
    top = collections.Counter()
    fusion_kinds = collections.Counter()
    inside = collections.Counter()
    types = collections.Counter()
    called = set()
    for line in blocks.get(entry, []):
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        result_type, opcode = match.groups()
        top[opcode] += 1
        if opcode == "fusion":
            kind = re.search(r"kind=(\w+)", line)
            fusion_kinds[kind.group(1) if kind else "?"] += 1
            calls = re.search(r"calls=%?([\w.\-]+)", line)
            if calls:
                called.add(calls.group(1))
        if opcode in ("dot", "gather", "convert", "custom-call", "convolution"):
            types[f"{opcode}:{result_type.split('[')[0]}"] += 1
    for name in called:
        for line in blocks.get(name, []):
            match = _INSTRUCTION.match(line)
            if match:
                result_type, opcode = match.groups()
                inside[opcode] += 1
                if opcode in ("dot", "gather", "convert"):
                    types[f"{opcode}(fused):{result_type.split('[')[0]}"] += 1
    keep = ("fusion", "gather", "dot", "convert", "custom-call", "copy",
            "transpose", "reduce", "scatter", "dynamic-slice", "concatenate")
    return dict(
        entry_instructions=sum(top.values()),
        entry=dict((k, top[k]) for k in keep if top[k]),
        fusion_kinds=dict(fusion_kinds),
        inside_fusions=dict((k, inside[k]) for k in keep + ("exponential",) if inside[k]),
        types=dict(sorted(types.items())),
    )


def stablehlo_converts(text):
    """`{"bf16->f32": n, "f32->bf16": n}` in the unoptimized StableHLO."""
    found = collections.Counter()
    for match in re.finditer(
        r"stablehlo\.convert\b[^:]*:\s*\(?tensor<([^>]*)>\)?\s*->\s*tensor<([^>]*)>",
        text,
    ):
        source = match.group(1).split("x")[-1]
        target = match.group(2).split("x")[-1]
        found[f"{source}->{target}"] += 1
    return dict(found)


def analyse(length, dtype="bfloat16", backward=False, heads=12, key_dim=64,
            dim=768, block_size=64, random_blocks=3, dump=None):
    import jax
    import jax.numpy as jnp

    from keras_bigbird.layers import BigBirdAttention

    layer = BigBirdAttention(heads, key_dim, block_size=block_size,
                             num_random_blocks=random_blocks, seed=0,
                             dtype=dtype)
    layer.build((1, None, dim))
    trainable = [v.value for v in layer.trainable_variables]
    x = jnp.zeros((1, length, dim), dtype)

    def forward(trainable, x):
        return layer.stateless_call(trainable, [], x)[0]

    function, args = forward, (trainable, x)
    if backward:
        # A cotangent argument: from `sum(output)` it would be a constant
        # that XLA folds into the gradients at compile time.
        function = jax.grad(
            lambda t, x, u: jnp.sum((forward(t, x) * u).astype("float32")),
            argnums=(0, 1),
        )
        args = (trainable, x, jnp.zeros((1, length, dim), dtype))
    lowered = jax.jit(function).lower(*args)
    compiled = lowered.compile()
    optimized = compiled.as_text()
    if dump:
        os.makedirs(dump, exist_ok=True)
        tag = f"{dtype}_{length}_{'fwd_bwd' if backward else 'fwd'}"
        with open(os.path.join(dump, f"{tag}.stablehlo.txt"), "w") as f:
            f.write(lowered.as_text())
        with open(os.path.join(dump, f"{tag}.optimized.hlo.txt"), "w") as f:
            f.write(optimized)
    result = dict(
        device=str(jax.devices()[0]), length=length, dtype=dtype,
        pass_="forward_backward" if backward else "forward",
        optimized=count(optimized),
        stablehlo_converts=stablehlo_converts(lowered.as_text()),
    )
    result["pass"] = result.pop("pass_")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, nargs="+", default=[4096])
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes (2 heads x 16, block 16)")
    parser.add_argument("--dump", help="write the HLO texts here")
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, ROOT)
    sizes = {}
    if args.smoke:
        sizes = dict(heads=2, key_dim=16, dim=32, block_size=16, random_blocks=1)
    results = []
    for length in args.length:
        for backward in ((False, True) if args.backward else (False,)):
            result = analyse(length, args.dtype, backward, dump=args.dump, **sizes)
            results.append(result)
            print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
