"""Where the time of one attention forward pass goes, op by op.

Freezes one of the attention benchmark's layers (`--impl`, default
`bigbird`) at one length (`BigBirdAttention`:
12 heads, key_dim 64, model dim 768, block 64, 3 random blocks, batch 1,
float32), runs it in a TensorFlow session with full tracing and prints the
ops by time, after TensorFlow's graph rewrites (so the kernels that really
ran, e.g. oneDNN's `_Mkl*` ops). Ops run one at a time
(`inter_op_parallelism_threads=1`, each op still uses every core), so the
op times add up to the step time; with the default concurrent scheduling
the step time is about the same on 2 cores, but ops overlap and their times
do not add up.

    python benchmarks/attention_profile.py              # 4096 tokens
    python benchmarks/attention_profile.py --length 8192 --top 15
    python benchmarks/attention_profile.py --impl global64
"""

import argparse
import collections
import time

import measure
from attention import DEFAULTS
from attention import IMPLS
from attention import build_layer
from attention import forward_flops
from attention import layer_call


def frozen_forward(tf, impl, layer, length, dim):
    """The layer's call as a GraphDef with its weights as constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    function = tf.function(layer_call(impl, layer, length))
    concrete = function.get_concrete_function(
        tf.TensorSpec((1, length, dim), tf.float32)
    )
    frozen = convert_variables_to_constants_v2(concrete)
    return frozen.graph.as_graph_def(), frozen.inputs[0].name, frozen.outputs[0].name


def op_times(tf, session, output, feed, runs):
    """Mean milliseconds per (node, op, output shape) over `runs` runs."""
    totals = collections.defaultdict(float)
    options = tf.compat.v1.RunOptions(
        trace_level=tf.compat.v1.RunOptions.FULL_TRACE
    )
    for _ in range(runs):
        metadata = tf.compat.v1.RunMetadata()
        session.run(output, feed, options=options, run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                op = node.timeline_label.split("=")[-1].split("(")[0].strip()
                shape = "x".join(
                    str(d.size)
                    for d in node.output[0].tensor_description.shape.dim
                ) if node.output else ""
                key = (node.node_name.split(":")[0], op, shape)
                totals[key] += node.all_end_rel_micros / 1e3 / runs
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--impl", default="bigbird", choices=IMPLS)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    cfg = DEFAULTS
    layer = build_layer(args.impl, cfg, args.length)
    graph_def, input_name, output_name = frozen_forward(
        tf, args.impl, layer, args.length, cfg["dim"]
    )
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, args.length, cfg["dim"]))
        (output,) = tf.import_graph_def(
            graph_def, input_map={input_name: x}, return_elements=[output_name]
        )
    feed = {x: np.random.default_rng(0).normal(
        size=(1, args.length, cfg["dim"])).astype(np.float32)}
    config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)
    reference = measure.MatmulReference(tf)
    # Not `with session:` (it makes `graph` the default graph, where the
    # eager reference matmul cannot run).
    session = tf.compat.v1.Session(graph=graph, config=config)
    for _ in range(2):
        session.run(output, feed)
    steps = []
    for _ in range(7):
        start = time.perf_counter()
        session.run(output, feed)
        steps.append(time.perf_counter() - start)
        reference.seconds()
    totals = op_times(tf, session, output, feed, args.runs)
    session.close()

    step = measure.median(steps)
    flops = forward_flops(args.impl, layer, args.length, cfg)
    rate = reference.rate()
    total = sum(totals.values())
    print(f"{args.impl} forward, {args.length} tokens: step "
          f"{1e3 * step:.1f} ms, {flops / step / 1e9:.0f} GFLOP/s = "
          f"{100 * flops / step / rate:.0f}% of the dense matmul "
          f"({rate / 1e9:.0f} GFLOP/s); traced op times add up to "
          f"{total:.1f} ms\n")
    print(f"{'ms':>7} {'share':>6}  {'op':<24} {'output shape':<18} node")
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    for (node, op, shape), ms in ranked[: args.top]:
        print(f"{ms:7.2f} {100 * ms / total:5.1f}%  {op:<24} {shape:<18} "
              f"{node.split('/', 1)[-1][-48:]}")
    rest = sum(ms for _, ms in ranked[args.top:])
    print(f"{rest:7.2f} {100 * rest / total:5.1f}%  ({len(ranked) - args.top} "
          f"other ops)")
    by_op = collections.Counter()
    for (_, op, _), ms in totals.items():
        by_op[op] += ms
    print("\nby op type: " + ", ".join(
        f"{op} {ms:.1f}" for op, ms in by_op.most_common(8)))


if __name__ == "__main__":
    main()
