"""Where a trained BigBird model's attention goes, layer by layer.

Loads a classifier the long-range suite saved (`benchmarks/long_range.py`
writes its seed-0 "BigBird with global tokens" model of each task to
runs/long_range/<task>.keras), or trains one quickly on a short needle
task with --quick-train. For one long held-out input it recomputes every
layer's attention probabilities in float64 numpy from the layer's query
and key weights, restricted to the layer's own `attention_graph` (the
keys each query may attend), and plots per layer:

- top: where the question attends: per head, the probability mass each
  block of keys receives from the task's question tokens (global in this
  model), or from every global query (the pattern's global blocks) where
  a task has no question;
- bottom: for the other queries, the share of probability mass on window
  keys (their own and adjacent blocks), random keys, and global keys.

The recomputation leaves the layer code alone; its probabilities are
checked against the layer's output (the attention output they imply, with
the layer's value and output projections, matches the layer's own to
float32 precision) before anything is plotted.

  python benchmarks/long_range.py --tasks needle   # saves needle.keras
  python examples/inspect_attention.py --model runs/long_range/needle.keras
  python examples/inspect_attention.py --quick-train
"""

import argparse
import os
import sys

import numpy as np

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"
)
sys.path.insert(0, BENCHMARKS)

import long_range  # noqa: E402  (registers the suite's pooling layers)
import long_range_tasks  # noqa: E402
from keras_bigbird.ops import random_pattern  # noqa: E402


# --quick-train: a 512-token needle, minutes on a CPU.
QUICK_SIZE = dict(length=512, train=480, test=64, epochs=2, batch=8, span=32,
                  distractors=2)


def parse(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/long_range/needle.keras",
                        help="a .keras classifier of the long-range suite")
    parser.add_argument("--task", default=None,
                        help="its task (default: the file's name)")
    parser.add_argument("--quick-train", action="store_true",
                        help="train a small needle model first (minutes)")
    parser.add_argument("--output", default="docs/attention_inspect.png")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="the task's size as the model was trained "
                             "(benchmarks/long_range.py --set), e.g. span=32")
    args = parser.parse_args(argv)
    args.set = long_range.size_overrides(args.set)
    return args


def _numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _projection(dense, x):
    """An `EinsumDense` projection of `x` in float64 from its weights."""
    weights = [_numpy(w) for w in dense.weights]
    y = np.einsum(dense.equation, x, weights[0])
    return y + weights[1] if len(weights) > 1 else y


def attention_probabilities(block, x, padding_mask, global_mask):
    """`[heads, length, length]` float64 probabilities of one encoder
    block's attention on `x` (`[1, length, hidden]`), zero off the graph.

    Checked: these probabilities, applied to the layer's values and output
    projection, give the layer's own attention output.
    """
    attention = block._self_attention_layer
    q = _projection(attention._query_dense, x)[0]  # [length, heads, dim]
    k = _projection(attention._key_dense, x)[0]
    scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(q.shape[-1])
    graph = block.attention_graph(
        x.shape[1], padding_mask=padding_mask, global_mask=global_mask
    )[0]
    scores = np.where(graph, scores, -np.inf)
    scores -= scores.max(-1, keepdims=True)
    probabilities = np.where(graph, np.exp(scores), 0.0)
    probabilities /= probabilities.sum(-1, keepdims=True)
    v = _projection(attention._value_dense, x)[0]
    # The output projection takes [batch, heads, length, depth].
    mixed = np.einsum("hqk,khd->hqd", probabilities, v)[None]
    ours = _projection(attention._output_dense, mixed)
    theirs = _numpy(attention(
        x.astype("float32"), padding_mask=padding_mask,
        global_mask=global_mask,
    ))
    real = np.asarray(padding_mask[0], bool)
    error = np.abs(ours - theirs)[0, real].max()
    if error > 1e-3 * max(1.0, np.abs(theirs).max()):
        raise AssertionError(
            f"The recomputed attention differs from the layer's by {error}."
        )
    return probabilities


def key_kinds(block, length, global_rows):
    """`[length, length]` kinds of each (query, key): 0 window, 1 random,
    2 global (the key is a global token or in a global block)."""
    attention = block._self_attention_layer
    size = attention.block_size
    blocks = np.arange(length) // size
    window = np.abs(blocks[:, None] - blocks[None, :]) <= (
        getattr(attention.pattern, "num_window_blocks", 3) // 2
    )
    kinds = np.where(window, 0, 1)
    return np.where(global_rows[None, :], 2, kinds)


def global_positions(block, length, global_mask):
    """The global tokens: `global_mask`'s and the pattern's global blocks."""
    attention = block._self_attention_layer
    size = attention.block_size
    found = np.asarray(global_mask[0], bool).copy()
    if hasattr(attention.pattern, "global_blocks"):
        found_blocks = attention.pattern.global_blocks(
            -(-length // size), block_size=size, xp=random_pattern.NUMPY
        )
        if found_blocks is not None:
            blocks, valid = (np.asarray(a)[0] for a in found_blocks)
            for b in blocks[valid]:
                found[b * size : (b + 1) * size] = True
    return found


def inspect(model, examples, row=0):
    """Per layer: the mean probability global rows give each key, and the
    window / random / global shares of the other rows' mass."""
    encoder = model.get_layer("encoder")
    tokens = examples.token_ids[row : row + 1]
    padding_mask = (tokens != 0).astype("int32")
    global_mask = examples.global_mask[row : row + 1]
    segment_ids = examples.segment_ids[row : row + 1]
    length = int(padding_mask.sum())
    tokens, padding_mask, global_mask, segment_ids = (
        a[:, :length] for a in (tokens, padding_mask, global_mask, segment_ids)
    )
    x = _numpy(encoder.embeddings(
        tokens, segment_ids if encoder.num_segments else None
    ))
    # The question's rows where a task marks one (the global blocks' rows
    # would blur them), else every global row of the layer's pattern.
    question = np.asarray(global_mask[0], bool)
    layers = []
    for block in encoder.encoder_layers:
        heads = attention_probabilities(block, x, padding_mask, global_mask)
        probabilities = heads.mean(0)
        rows = global_positions(block, length, global_mask)
        kinds = key_kinds(block, length, rows)
        shares = [
            float((probabilities[~rows] * (kinds[~rows] == kind)).sum(-1).mean())
            for kind in range(3)
        ]
        chosen = question if question.any() else rows
        layers.append(dict(
            # Per head: heads that seek (one finds the needle) and heads
            # that spread would blur each other in their mean.
            head_rows=heads[:, chosen].mean(1),
            rows="question" if question.any() else "global",
            shares=dict(zip(("window", "random", "global"), shares)),
        ))
        x = _numpy(block(
            x.astype("float32"), padding_mask=padding_mask,
            global_mask=global_mask,
        ))
    return layers, tokens[0]


def plot(layers, tokens, path, title, marks, block_size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        2, len(layers), figsize=(4 * len(layers), 5), squeeze=False
    )
    for i, layer in enumerate(layers):
        axis = axes[0, i]
        # Mass per key block: a run of keys shows as one level, not as a
        # thin spread under the spikes of single keys.
        for head, row in enumerate(layer["head_rows"]):
            padded = np.pad(row, (0, -len(row) % block_size))
            mass = padded.reshape(-1, block_size).sum(-1)
            axis.step(np.arange(len(mass)) * block_size, mass, where="post",
                      linewidth=0.8, label=f"head {head}")
        for position, label in marks:
            axis.axvline(position, color="red", linewidth=0.6, linestyle=":")
            axis.text(position, axis.get_ylim()[1], label, fontsize=6,
                      color="red", rotation=90, va="top")
        axis.set_title(f"layer {i}: where the {layer['rows']} rows attend",
                       fontsize=8)
        axis.legend(fontsize=6, loc="upper center")
        axis.set_xlabel("key position", fontsize=8)
        shares = layer["shares"]
        axes[1, i].bar(list(shares), list(shares.values()),
                       color=["tab:blue", "tab:orange", "tab:green"])
        axes[1, i].set_ylim(0, 1)
        axes[1, i].set_title(f"layer {i}: mass of the other rows", fontsize=8)
    axes[0, 0].set_ylabel(f"probability per {block_size}-key block",
                          fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    return path


def main(argv=None):
    args = parse(argv if argv is not None else sys.argv[1:])
    import keras

    task = args.task or os.path.splitext(os.path.basename(args.model))[0]
    if args.quick_train:
        task = "needle"
        long_range.train_one(task, "bigbird_global", QUICK_SIZE, 0, args.model)
    if task not in long_range_tasks.TASKS:
        raise ValueError(
            f"--task must be one of {list(long_range_tasks.TASKS)} (or the "
            f"model file named after one). Received: {task!r}"
        )
    model = keras.saving.load_model(args.model)
    encoder = model.get_layer("encoder")
    length = encoder.max_sequence_length
    # Held-out examples drawn as the suite draws its task's (its span,
    # distractors, copies), at the model's length.
    size = QUICK_SIZE if args.quick_train else long_range.DEFAULT_SIZES[task]
    size = dict(size, **args.set)
    examples = long_range.task_data(
        task, dict(size, length=length, test=8), f"test@{length}", length
    )
    # The first example the model answers (the picture shows how it does;
    # row 0 where it answers none).
    right = np.flatnonzero(np.argmax(model.predict(
        long_range.features(task, examples), verbose=0), -1) == examples.labels)
    row = int(right[0]) if len(right) else 0
    layers, tokens = inspect(model, examples, row)
    marks = [(int(p), "global")
             for p in np.flatnonzero(examples.global_mask[row])]
    if task == "retrieval":
        keys = np.flatnonzero(long_range_tasks.is_retrieval_key(tokens))
        marks += [(int(p), "key") for p in keys]
    if task == "needle":
        _, count, first = long_range_tasks.needle_answer(tokens)
        marks += [(first, "needle"), (first + count - 1, "")]  # its span
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    title = (f"{task}, {len(tokens)} tokens, {os.path.basename(args.model)}"
             f", held-out example {row} (" + (
                 "answered" if row in right else "not answered") + ")")
    plot(layers, tokens, args.output, title, marks, encoder.block_size)
    for i, layer in enumerate(layers):
        line = f"layer {i}: other rows' mass " + ", ".join(
            f"{k} {v:.2f}" for k, v in layer["shares"].items()
        )
        if task == "needle":
            on = [float(r[first : first + count].sum())
                  for r in layer["head_rows"]]
            line += "; the question's mass on the needle, by head: " + (
                ", ".join(f"{m:.2f}" for m in on))
        print(line)
    print(f"wrote {args.output}")
    return layers


if __name__ == "__main__":
    main()
