"""Long-range benchmark: generated tasks, five models, one training budget.

Tasks (`benchmarks/long_range_tasks.py`): ListOps in LRA's form,
retrieval of a shared key across two documents, a needle among
distractors, and a promoter-like genomics rule on 6-mer tokens. Models,
all with the same encoder size, head and training budget:

- `bigbird`: `BigBirdPattern(num_random_blocks=2)` (window 3, first and last
  blocks global);
- `bigbird_global`: the same plus the task's question tokens as ETC-style
  global tokens (`global_mask`);
- `window`: `WindowPattern(3)`, no global or random blocks;
- `dense`: `attention_type="original_full"`, where the length is at most
  `--dense-max-length`;
- `bag`: a bag of embeddings (mean) and a two-layer MLP.

Every model pools its first token, the mean over the task's question
tokens (the `global_mask` of `long_range_tasks`) and the mean over all
tokens into one linear layer: every model reads its question's outputs
and no model depends on its first token seeing the whole sequence, so
attention alone decides whether the question's outputs hold the answer.
Adam's rate warms up to 3e-3 over a tenth of the steps, then decays on a
half cosine. Each (task, model, seed) runs in a fresh worker process
(its peak memory is its own): the data are fixed per task, the seed sets
the weights and the order of the batches. `--jobs` workers run at once
(default: one a core), each on one core of its own, so every tokens/s
figure is one core's; a worker a seed lets the seeds of the slowest model
run side by side.

Reported per (task, model): held-out accuracy mean and spread (max - min)
over the seeds, training tokens/s (real tokens, evaluation excluded),
the TensorFlow allocator's training peak and the process's resident
peak, wall time; learning curves (held-out accuracy against steps and
against training seconds, first seed) and accuracy at shorter lengths
(1/4, 1/2 of the training length). Written to `--output` (default
`docs/long_range`): `.json`, `.md`, `_curves.png`, `_length.png`
(matplotlib optional). The
seed-0 `bigbird_global` model of each task is saved to
`--model-dir/<task>.keras` for `examples/inspect_attention.py`.

    python benchmarks/long_range.py                 # default size
    python benchmarks/long_range.py --quick          # seconds (CI)
    python benchmarks/long_range.py --scale --tasks needle
    python benchmarks/long_range.py --tasks needle --set length=512 \
        --initializer-range 0.2 --output /tmp/needle   # probe a change
    python benchmarks/long_range.py --tasks needle --set span=16 \
        distractors=0 --output /tmp/needle   # a weaker needle, no rivals
    python benchmarks/long_range.py --tasks listops --merge  # add to docs/
    python benchmarks/long_range.py --combine /tmp/a.json /tmp/b.json

`--merge` keeps the earlier results of `--output` for the (task, model)
pairs this run leaves alone, so partial runs build one table; `--combine`
merges reports written by runs in parallel (one core each) without
training. Each worker prints its progress, and for the first seed its
held-out accuracy at every point of the learning curve.
"""

import argparse
import concurrent.futures
import json
import os
import queue
import sys
import time

import keras
import numpy as np
from keras import ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import long_range_tasks  # noqa: E402
import measure  # noqa: E402

MODELS = ("bigbird", "bigbird_global", "window", "dense", "bag")
# Their time on one core, longest first (a seed's fit seconds, 2026-12-07:
# needle at 4096 tokens, bigbird_global 329-388, bigbird 268-328, window
# 146-207, bag 6-11; genomics at 1024, dense 226 a seed on average,
# bigbird 107, window 86).
SLOWEST_FIRST = ("dense", "bigbird_global", "bigbird", "window", "bag")

# Per task: sequence length, train / test examples, epochs, batch size.
DEFAULT_SIZES = {
    "listops": dict(length=512, train=2000, test=400, epochs=2, batch=16),
    # Runs 80 tokens apart (the window model reads 79 at most, two layers
    # of 16-token blocks): span 64 with a distractor left them touching,
    # and no room for the gap; at 20, seed 0: bigbird 0.815, window 0.512
    # (the majority).
    "retrieval": dict(length=512, train=3200, test=400, epochs=2, batch=8,
                      span=20, gap=80, distractors=0),
    # 400 steps and 100 examples a curve point: 500 steps (bigbird 0.658,
    # 2026-12-07) with 200 took its models 23 minutes with --jobs 2, the
    # seeds' fit 2,434 s, the seed-0 curves 231 s of it; 400 steps took 17
    # minutes (bigbird 0.543, window 0.202).
    "needle": dict(length=4096, train=800, test=200, epochs=2, batch=4,
                   span=256, distractors=2, curve=100),
    "genomics": dict(length=1024, train=1600, test=400, epochs=2, batch=8,
                     copies=16),
}
# `--scale`: LRA's lengths (ListOps 2K, retrieval 4K), a 16K needle.
SCALE_SIZES = {
    "listops": dict(length=2048, train=20000, test=2000, epochs=5, batch=32),
    "retrieval": dict(length=4096, train=20000, test=2000, epochs=5, batch=16,
                      span=512, gap=80),
    "needle": dict(length=16384, train=10000, test=1000, epochs=5, batch=4,
                   span=256, distractors=2),
    "genomics": dict(length=4096, train=20000, test=2000, epochs=5, batch=16,
                     copies=64),
}
QUICK_SIZES = {
    task: dict(length=64, train=32, test=16, epochs=1, batch=8, eager=True)
    for task in DEFAULT_SIZES
}
QUICK_SIZES["listops"]["length"] = 128
ENCODER = dict(
    num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128,
    block_size=16, dropout=0.0, attention_dropout=0.0, num_segments=0,
    # 0.02 leaves dense ListOps (512 tokens, 250 steps, seed 0, one core)
    # at a constant prediction, 0.180 (majority 0.177); 0.2 takes it to
    # 0.352 (curve 0.17 -> 0.365 by step 125); window ListOps is 0.360
    # with 0.2, 0.367 with 0.02 (no loss). A needle of one token stays at
    # chance with either (bigbird, window and dense, 250-1000 steps).
    initializer_range=0.2,
)
# Adam's rate: a linear warmup over WARMUP_FRACTION of the steps to
# LEARNING_RATE, then a half cosine to 0 (`training.learning_rate_schedule`).
# A constant 1e-3 (the ListOps rows before 2026-12-07) left every needle
# model at chance; the warmup to 3e-3 takes bigbird to 0.975 at 512 tokens
# (span 16, no distractors).
LEARNING_RATE = 3e-3
WARMUP_FRACTION = 0.1
SCHEDULE = dict(
    epochs=1, learning_rate=LEARNING_RATE, warmup_fraction=WARMUP_FRACTION
)
EVALUATIONS = 8  # points of a learning curve
CURVE_EXAMPLES = 200  # held-out examples at each point (a size's `curve`)


def task_data(task, size, split, length=None):
    """The fixed examples of `task`'s `split` ("train", "test", or
    "test@<length>"), the same for every model and seed."""
    generate = long_range_tasks.TASKS[task][0]
    index = list(long_range_tasks.TASKS).index(task)
    count = size["train"] if split == "train" else size["test"]
    length = length or size["length"]
    seed = [index, ("train", "test").index(split.split("@")[0]), length]
    # The generator arguments a size sets (distractors, span, copies, gap).
    extra = {k: size[k] for k in TASK_KEYS if k in size}
    for key in set(LENGTH_SCALED.get(task, ())) & set(extra):
        # At least 1, but a gap of 0 stays 0.
        extra[key] = max(min(1, extra[key]),
                         extra[key] * length // size["length"])
    return generate(count, length, np.random.default_rng(seed), **extra)


def build_model(task, model_name, length, seed, steps, eager=False,
                encoder=None):
    """The `model_name` classifier of `task` (a compiled `keras.Model`
    whose learning rate warms up and decays over `steps` training steps;
    `eager` runs it without tracing, faster for a few tiny steps;
    `encoder` overrides `ENCODER`)."""
    encoder = dict(ENCODER, **(encoder or {}))
    from keras_bigbird.models import BigBirdEncoder
    from keras_bigbird.patterns import BigBirdPattern
    from keras_bigbird.patterns import WindowPattern
    from keras_bigbird.training import learning_rate_schedule

    keras.utils.set_random_seed(seed)
    _, vocabulary_size, num_classes, num_segments, questions = (
        long_range_tasks.TASKS[task]
    )
    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in feature_names(task)
    }
    token_ids, padding_mask, question_mask = (
        inputs["token_ids"], inputs["padding_mask"], inputs["question_mask"]
    )
    if model_name == "bag":
        x = keras.layers.Embedding(vocabulary_size, encoder["hidden_dim"])(
            token_ids
        )
    else:
        # Global slots for the task's question tokens only: the default 64
        # made a needle step of `bigbird_global` 0.57 s against 0.45 s
        # with 1 (4096 tokens, one core); each slot is a key of every
        # query.
        options = dict(encoder, vocabulary_size=vocabulary_size,
                       max_sequence_length=length, seed=seed,
                       num_segments=num_segments,
                       max_global_tokens=max(1, questions))
        if model_name == "dense":
            options["attention_type"] = "original_full"
        elif model_name == "window":
            options["pattern"] = WindowPattern(3)
        else:
            options["pattern"] = BigBirdPattern(num_random_blocks=2)
        backbone = BigBirdEncoder(**options, name="encoder")
        encoder_inputs = dict(token_ids=token_ids, padding_mask=padding_mask)
        if num_segments:
            encoder_inputs["segment_ids"] = inputs["segment_ids"]
        if model_name == "bigbird_global":
            encoder_inputs["global_mask"] = question_mask
        x = backbone(encoder_inputs)["sequence_output"]
    x = Pool(name="pool")(x, padding_mask, question_mask)
    if model_name == "bag":
        x = keras.layers.Dense(encoder["hidden_dim"], activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    model = keras.Model(inputs, outputs, name=f"{task}_{model_name}")
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate_schedule(SCHEDULE, steps), clipnorm=1.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
        run_eagerly=eager,
    )
    return model


def masked_mean(x, mask):
    """The mean of `x` over the positions `mask` marks (0 where none)."""
    mask = ops.cast(mask, x.dtype)[:, :, None]
    return ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="long_range")
class Pool(keras.layers.Layer):
    """The first position of `x`, the mean over the task's question tokens
    and the mean over the real tokens, side by side. Every model reads its
    question's outputs (zeros where a task has none), so its attention alone
    decides whether they hold the answer; no model depends on its first
    token seeing the whole sequence."""

    def call(self, x, padding_mask, question_mask):
        return ops.concatenate([
            x[:, 0, :],
            masked_mean(x, question_mask),
            masked_mean(x, padding_mask),
        ], axis=-1)


def feature_names(task):
    """The inputs of `task`'s models: `segment_ids` where the task has
    segments (the bag takes and ignores them: an additive segment
    embedding would only shift its mean by a constant)."""
    names = ["token_ids", "padding_mask", "question_mask"]
    if long_range_tasks.TASKS[task][3]:
        names.append("segment_ids")
    return names


def features(task, examples):
    """`task`'s model inputs: the question tokens (the task's `global_mask`)
    are pooled by every model, attended globally by `bigbird_global`."""
    found = {
        "token_ids": examples.token_ids,
        "padding_mask": (examples.token_ids != 0).astype("int32"),
        "question_mask": examples.global_mask,
        "segment_ids": examples.segment_ids,
    }
    return {name: found[name] for name in feature_names(task)}


def accuracy(model, task, examples, batch_size):
    logits = model.predict(
        features(task, examples), batch_size=batch_size, verbose=0
    )
    return float(np.mean(np.argmax(logits, -1) == examples.labels))


def batches(task, examples, batch, seed):
    """`examples` as `(features, labels)` batches, in a fresh order each
    pass (set by `seed`), without end; whole batches only."""
    import tensorflow as tf

    # Tensors, captured by the map function rather than copied into it as
    # constants (a `--scale` set is over a gigabyte).
    inputs = {
        name: tf.convert_to_tensor(value)
        for name, value in features(task, examples).items()
    }
    labels = tf.convert_to_tensor(examples.labels)
    return (
        tf.data.Dataset.range(len(examples.labels))
        .shuffle(len(examples.labels), seed=seed)
        .repeat()
        .batch(batch, drop_remainder=True)
        .map(lambda i: (
            {name: tf.gather(value, i) for name, value in inputs.items()},
            tf.gather(labels, i),
        ))
        .prefetch(2)
    )


def train_one(task, model_name, size, seed, model_path=None, encoder=None,
              with_curve=True):
    """Trains one model; returns its figures and, `with_curve`, its
    learning curve (else progress lines only: the plots show the first
    seed's curve, and evaluating it costs a fifth of a run)."""
    import tensorflow as tf

    batch = size["batch"]
    train = task_data(task, size, "train")
    test = task_data(task, size, "test")
    curve_test = long_range_tasks.Examples(
        *(a[:size.get("curve", CURVE_EXAMPLES)] for a in test)
    )
    steps = size["epochs"] * (size["train"] // batch)
    model = build_model(
        task, model_name, size["length"], seed, steps,
        eager=size.get("eager", False), encoder=encoder,
    )
    every = max(1, steps // EVALUATIONS)
    curve = []

    class Curve(keras.callbacks.Callback):
        """Held-out accuracy every `every` steps; its time is not
        training time."""

        def on_train_begin(self, logs=None):
            self.step, self.paused, self.start = 0, 0.0, time.perf_counter()

        def on_train_batch_end(self, batch_index, logs=None):
            self.step += 1
            if self.step % every and self.step != steps:
                return
            pause = time.perf_counter()
            point = dict(
                step=self.step, seconds=pause - self.start - self.paused
            )
            line = (f"{task} {model_name} seed {seed}: step {self.step}/"
                    f"{steps}, {point['seconds']:.0f} s")
            if with_curve:
                point["accuracy"] = accuracy(model, task, curve_test, batch)
                curve.append(point)
                line += f", held-out accuracy {point['accuracy']:.3f}"
            print(measure.PROGRESS + line, file=sys.stderr, flush=True)
            self.paused += time.perf_counter() - pause

    tracker = Curve()
    with measure.AllocatorPeak(tf) as peak:
        started = time.perf_counter()
        # One tf.data iterator for the whole run: Keras replaces its
        # iterator at each epoch's end, and each replacement here took
        # about 30 s on one core, counted as training (genomics bigbird at
        # 1,600 examples: steps 200-250 of 400 in 40 s against 10 s).
        model.fit(
            batches(task, train, batch, seed), epochs=1,
            steps_per_epoch=steps, shuffle=False, callbacks=[tracker],
            verbose=0,
        )
        wall = time.perf_counter() - started
    train_seconds = wall - tracker.paused
    real_tokens = (train.token_ids != 0).sum() / size["train"]
    result = dict(
        seed=seed,
        accuracy=accuracy(model, task, test, batch),
        tokens_per_second=float(steps * batch * real_tokens / train_seconds),
        train_seconds=train_seconds,
        wall_seconds=wall,
        allocator_peak_bytes=int(peak.bytes),
        curve=curve,
        length_accuracy={},
    )
    for length in test_lengths(size):
        shorter = task_data(task, size, f"test@{length}", length)
        result["length_accuracy"][length] = accuracy(
            model, task, shorter, batch
        )
    result["length_accuracy"][size["length"]] = result["accuracy"]
    if model_path:
        os.makedirs(os.path.dirname(model_path), exist_ok=True)
        model.save(model_path)
    return result


def run_model(task, model_name, size, seeds, model_dir, encoder=None,
              first_seed=None):
    """`seeds` of one (task, model); the process's resident peak. The
    first seed (`first_seed`, default `seeds[0]`) evaluates the learning
    curve and saves the `bigbird_global` model."""
    first_seed = seeds[0] if first_seed is None else first_seed
    runs = []
    for seed in seeds:
        path = None
        if seed == first_seed and model_name == "bigbird_global":
            path = os.path.join(model_dir, f"{task}.keras")
        runs.append(train_one(
            task, model_name, size, seed, path, encoder,
            with_curve=seed == first_seed,
        ))
    return dict(runs=runs, peak_rss_bytes=measure.peak_rss_bytes())


def joined(found, seeds):
    """One (task, model)'s `run_model` results of single seeds (`found`,
    by seed) as one result, in `seeds`' order: the first error, if any."""
    errors = [found[s] for s in seeds if "error" in found[s]]
    if errors:
        return errors[0]
    return dict(
        runs=[run for s in seeds for run in found[s]["runs"]],
        peak_rss_bytes=max(found[s]["peak_rss_bytes"] for s in seeds),
    )


def worker(args):
    found = run_model(
        args.task, args.model, json.loads(args.size), args.seeds,
        args.model_dir, encoder_overrides(args), args.first_seed,
    )
    print(json.dumps(found))


def summarize(task, model_name, size, found, encoder):
    if "error" in found:
        return dict(task=task, model=model_name, error=found["error"])
    runs = found["runs"]
    accuracies = [r["accuracy"] for r in runs]
    return dict(
        task=task,
        model=model_name,
        length=size["length"],
        size=size,
        initializer_range=encoder["initializer_range"],
        learning_rate=LEARNING_RATE,
        warmup_fraction=WARMUP_FRACTION,
        seeds=[r["seed"] for r in runs],
        accuracy_mean=float(np.mean(accuracies)),
        accuracy_spread=float(np.max(accuracies) - np.min(accuracies)),
        tokens_per_second=float(np.mean([r["tokens_per_second"] for r in runs])),
        allocator_peak_mib=max(r["allocator_peak_bytes"] for r in runs) / 2**20,
        peak_rss_mib=found["peak_rss_bytes"] / 2**20,
        wall_seconds=float(sum(r["wall_seconds"] for r in runs)),
        runs=runs,
    )


def baseline(task, size):
    """Majority-class accuracy on the held-out set."""
    labels = task_data(task, size, "test").labels
    return float(np.bincount(labels).max() / len(labels))


def markdown(results, baselines):
    lines = [
        "| task | length | model | init | learning rate "
        "| accuracy (mean ± spread) "
        "| tokens/s | allocator peak MiB | RSS peak MiB | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['task']} | | {r['model']} | | | error: "
                         f"{r['error'][:80]} | | | | |")
            continue
        lines.append(
            f"| {r['task']} | {r['length']} | {r['model']} | "
            f"{r.get('initializer_range', 0.02)} | {schedule_text(r)} | "
            f"{r['accuracy_mean']:.3f} ± {r['accuracy_spread']:.3f} "
            f"({len(r['seeds'])} seeds) | {r['tokens_per_second']:.0f} | "
            f"{r['allocator_peak_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
            f"{r['wall_seconds']:.0f} |"
        )
    lines.append("")
    lines.append("Majority-class accuracy: " + ", ".join(
        f"{task} {value:.3f}" for task, value in baselines.items()
    ))
    return "\n".join(lines) + "\n"


def schedule_text(result):
    """A result's learning rate in a few words (results written before
    the schedule ran at a constant 1e-3)."""
    rate = result.get("learning_rate", 1e-3)
    warmup = result.get("warmup_fraction", 0)
    if not warmup:
        return f"{rate:g} constant"
    return f"{rate:g}, {warmup:g} warmup, cosine"


def color(result):
    """One colour a model, in every panel (a task without dense would
    otherwise shift the rest)."""
    return f"C{MODELS.index(result['model'])}"


def plot(results, output):
    """Learning curves (vs steps, vs seconds) and accuracy vs length."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots.")
        return []
    tasks = list(dict.fromkeys(r["task"] for r in results))
    done = [r for r in results if "error" not in r]
    figure, axes = plt.subplots(
        2, len(tasks), figsize=(3.2 * len(tasks), 5.5), squeeze=False
    )
    for column, task in enumerate(tasks):
        for r in (r for r in done if r["task"] == task):
            curve = r["runs"][0]["curve"]
            for row, key in enumerate(("step", "seconds")):
                axes[row, column].plot(
                    [p[key] for p in curve], [p["accuracy"] for p in curve],
                    marker=".", label=r["model"], color=color(r),
                )
        axes[0, column].set_title(task)
        axes[0, column].set_xlabel("training step")
        axes[1, column].set_xlabel("training seconds")
    for row in range(2):
        axes[row, 0].set_ylabel("held-out accuracy (seed 0)")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    curves = f"{output}_curves.png"
    figure.savefig(curves, dpi=80)
    figure, axes = plt.subplots(
        1, len(tasks), figsize=(3.2 * len(tasks), 2.8), squeeze=False
    )
    for column, task in enumerate(tasks):
        for r in (r for r in done if r["task"] == task):
            points = sorted(
                (int(k), np.mean([run["length_accuracy"][k] for run in r["runs"]]))
                for k in r["runs"][0]["length_accuracy"]
            )
            axes[0, column].plot(*zip(*points), marker="o", label=r["model"],
                                 color=color(r))
        axes[0, column].set_title(task)
        axes[0, column].set_xlabel("sequence length")
    axes[0, 0].set_ylabel("held-out accuracy")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    lengths = f"{output}_length.png"
    figure.savefig(lengths, dpi=80)
    return [curves, lengths]


def earlier_report(args):
    """The report at `--output` that `--merge` adds to (empty without),
    with the reports `--combine` names merged into it in turn."""
    paths = list(args.combine or [])
    if args.merge and os.path.exists(f"{args.output}.json"):
        paths.insert(0, f"{args.output}.json")
    report = dict(sizes={}, majority_accuracy={}, results=[])
    for path in paths:
        with open(path) as f:
            found = json.load(f)
        report = dict(
            sizes=dict(report["sizes"], **found["sizes"]),
            majority_accuracy=dict(
                report["majority_accuracy"], **found["majority_accuracy"]
            ),
            results=merged(report["results"], found["results"]),
        )
    return report


def merged(earlier, results):
    """`earlier`'s results with those of the same (task, model) replaced
    by `results`, in `earlier`'s order, new ones after."""
    new = {(r["task"], r["model"]): r for r in results}
    kept = [new.pop((r["task"], r["model"]), r) for r in earlier]
    return kept + list(new.values())


def write_outputs(args, sizes, baselines, results, started, earlier):
    """The .json, .md and .png files of the results so far (beside
    `earlier`'s with `--merge`)."""
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    baselines = dict(earlier["majority_accuracy"], **baselines)
    results = merged(earlier["results"], results)
    report = dict(
        sizes=dict(earlier["sizes"], **{t: sizes[t] for t in sizes}),
        encoder=dict(ENCODER, **encoder_overrides(args)),
        learning_rate=LEARNING_RATE,
        warmup_fraction=WARMUP_FRACTION,
        seeds=args.seeds,
        majority_accuracy=baselines,
        wall_seconds=time.perf_counter() - started,
        results=results,
    )
    with open(f"{args.output}.json", "w") as f:
        json.dump(report, f, indent=1)
    with open(f"{args.output}.md", "w") as f:
        f.write(markdown(results, baselines))
    report["plots"] = plot(results, args.output)
    return report


def parse(argv):
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_SIZES),
                        choices=list(DEFAULT_SIZES))
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="tiny sizes, one seed, in this process (CI)")
    size.add_argument("--scale", action="store_true",
                      help="LRA-like lengths and budgets (hours)")
    parser.add_argument("--jobs", type=int, default=cores,
                        help="(task, model, seed) workers run at once, one "
                             "core each (default: one a core of this "
                             "machine)")
    parser.add_argument("--dense-max-length", type=int, default=2048,
                        help="longest sequence the dense model runs on")
    parser.add_argument("--output", default="docs/long_range",
                        help="prefix of the .json, .md and .png outputs")
    parser.add_argument("--model-dir", default="runs/long_range")
    parser.add_argument("--merge", action="store_true",
                        help="keep --output's earlier results of other "
                             "(task, model) pairs")
    parser.add_argument("--combine", nargs="+", metavar="REPORT.json",
                        help="train nothing: merge these reports (runs made "
                             "in parallel) into --output")
    parser.add_argument("--initializer-range", type=float,
                        help="the encoders' initializer_range "
                             f"(default {ENCODER['initializer_range']})")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override each chosen task's size: "
                             + ", ".join(SIZE_KEYS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--first-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and argv is not None and "--seeds" not in argv:
        args.seeds = [0]
    if len(set(args.seeds)) < len(args.seeds):
        # A worker a seed, joined by seed: a repeated seed would never join.
        raise ValueError(
            "--seeds takes distinct seeds. Received: --seeds "
            + " ".join(map(str, args.seeds))
        )
    if not 1 <= args.jobs <= cores:
        raise ValueError(
            f"--jobs takes 1 to {cores} (one core a worker, {cores} cores "
            f"here). Received: --jobs {args.jobs}"
        )
    args.set = size_overrides(args.set)
    for key in set(args.set) & set(TASK_KEYS):
        others = [t for t in args.tasks if t not in TASK_KEYS[key]]
        if others:
            raise ValueError(
                f"--set {key}=... is an argument of the tasks "
                f"{TASK_KEYS[key]} only; the chosen tasks include "
                f"{others}. Received: --tasks {' '.join(args.tasks)}"
            )
    return args


SIZE_KEYS = (
    "length", "train", "test", "epochs", "batch", "distractors", "span",
    "copies", "curve", "gap",
)
# A shorter test keeps the signal's share of the sequence: genomics writes
# fewer copies (the same tokens per copy), retrieval shorter runs (a needle
# keeps its span: the same needle in less filler).
LENGTH_SCALED = {"genomics": ("copies",), "retrieval": ("span", "gap")}
# Size keys that are arguments of a task's generator, and their tasks.
TASK_KEYS = {
    "distractors": ("retrieval", "needle"),
    "span": ("retrieval", "needle"),
    "copies": ("genomics",),
    "gap": ("retrieval",),
}


def size_overrides(pairs):
    """`--set`'s `KEY=VALUE` pairs as a dict of positive ints."""
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        least = 0 if key in ("distractors", "gap") else 1
        if key not in SIZE_KEYS or not value.isdigit() or int(value) < least:
            raise ValueError(
                f"--set takes KEY=VALUE with KEY one of {SIZE_KEYS} and a "
                "positive integer VALUE (distractors, gap: 0 or more). "
                f"Received: {pair!r}"
            )
        overrides[key] = int(value)
    return overrides


def run_each(run, units, jobs):
    """`run(unit, cpus)` for each of `units`, `jobs` at a time, each on one
    core of its own (where `jobs` > 1: so that every model's tokens/s are
    one core's, whichever ran beside it); yields `(unit, result)` as each
    ends."""
    if jobs == 1:
        for unit in units:
            yield unit, run(unit)
        return
    free = queue.Queue()
    for core in sorted(os.sched_getaffinity(0))[:jobs]:
        free.put(core)

    def on_a_core(unit):
        core = free.get()
        try:
            return unit, run(unit, {core})
        finally:
            free.put(core)

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for future in concurrent.futures.as_completed(
            [pool.submit(on_a_core, unit) for unit in units]
        ):
            yield future.result()


def test_lengths(size):
    """The shorter lengths a model is also tested at (1/4 and 1/2 of its
    training length, where at least 64 tokens)."""
    return [size["length"] // f for f in (4, 2) if size["length"] // f >= 64]


def check_lengths(task, size):
    """Raises the generator's error now when `size` (a `--set` span, say)
    cannot be generated at a length the models are tested at, rather than
    after training."""
    for length in [size["length"], *test_lengths(size)]:
        task_data(task, dict(size, test=2), f"test@{length}", length)


def encoder_overrides(args):
    if args.initializer_range is None:
        return {}
    return dict(initializer_range=args.initializer_range)


def main(argv=None):
    args = parse(argv if argv is not None else sys.argv[1:])
    if args.worker:
        return worker(args)
    sizes = QUICK_SIZES if args.quick else SCALE_SIZES if args.scale else (
        DEFAULT_SIZES)
    sizes = {task: dict(sizes[task], **args.set) for task in args.tasks}
    encoder = dict(ENCODER, **encoder_overrides(args))
    earlier = earlier_report(args)
    baselines = {}
    started = time.perf_counter()
    if args.combine:
        report = write_outputs(args, {}, {}, [], started, earlier)
        print(markdown(report["results"], report["majority_accuracy"]))
        return report
    pairs = [
        (task, model_name) for task in args.tasks for model_name in args.models
        if not (model_name == "dense"
                and sizes[task]["length"] > args.dense_max_length)
    ]
    for task in args.tasks:
        check_lengths(task, sizes[task])  # before any training, not after
        baselines[task] = baseline(task, sizes[task])

    def run(unit, cpus=None):
        task, model_name, seed = unit
        if args.quick:
            # In this process: a worker's start (seconds) would be most of
            # a quick run. The resident peak is then the process's.
            return run_model(
                task, model_name, sizes[task], [seed], args.model_dir,
                encoder_overrides(args), args.seeds[0],
            )
        return measure.run_worker(measure.worker_command(
            __file__, "--task", task, "--model", model_name,
            "--size", json.dumps(sizes[task]), "--model-dir",
            args.model_dir, "--seeds", seed, "--first-seed", args.seeds[0],
            "--initializer-range", encoder["initializer_range"],
        ), cpus=cpus)

    done, by_seed = {}, {pair: {} for pair in pairs}
    # A worker a seed, the slowest models first: with --jobs, the last to
    # start is short.
    units = sorted(
        [(*pair, seed) for pair in pairs for seed in args.seeds],
        key=lambda unit: SLOWEST_FIRST.index(unit[1]),
    )
    jobs = 1 if args.quick else args.jobs
    for (task, model_name, seed), found in run_each(run, units, jobs):
        pair = task, model_name
        by_seed[pair][seed] = found
        if len(by_seed[pair]) < len(args.seeds):
            continue
        done[pair] = summarize(
            task, model_name, sizes[task], joined(by_seed[pair], args.seeds),
            encoder,
        )
        # Written after every model, so a stopped run keeps what it did.
        results = [done[p] for p in pairs if p in done]
        report = write_outputs(
            args, sizes, baselines, results, started, earlier
        )
        line = done[pair]
        print(f"{task:10} {model_name:15} " + (
            line.get("error") or
            f"accuracy {line['accuracy_mean']:.3f} ± "
            f"{line['accuracy_spread']:.3f}, {line['wall_seconds']:.0f} s"
        ), flush=True)
    if not done:  # nothing ran (every model filtered out): still a report
        report = write_outputs(args, sizes, baselines, [], started, earlier)
    print(markdown(report["results"], report["majority_accuracy"]))
    return report


if __name__ == "__main__":
    main()
