"""The long-range suite: its generators follow their rules (checked by
evaluators written apart from them), and `--quick` writes its outputs."""

import json
import os

import keras
import numpy as np
import pytest

import long_range
import long_range_tasks as tasks

pytestmark = pytest.mark.tf_only


def evaluate_listops(text):
    """A stack evaluator of a ListOps expression, apart from the generator's
    tree: operators push a frame, `]` folds it into its parent."""
    stack = [[]]
    for token in text.split():
        if token.startswith("["):
            stack.append([token])
        elif token == "]":
            operator, *values = stack.pop()
            values = sorted(values)
            stack[-1].append({
                "[MIN": values[0],
                "[MAX": values[-1],
                "[MED": int(np.median(values)),
                "[SM": sum(values) % 10,
            }[operator])
        else:
            stack[-1].append(int(token))
    (value,) = stack[0]
    return value


def test_listops_answers_match_an_independent_evaluator():
    examples = tasks.listops(60, 256, np.random.default_rng(3))
    depths = []
    for row, label, marked in zip(*examples[:3]):
        text = tasks.listops_text(row)
        assert evaluate_listops(text) == label
        length = int((row != 0).sum())
        assert 256 // 4 <= length - 1 <= 255 and row[0] == tasks.CLS
        # Brackets balance; the global tokens are operators.
        assert text.count("[") == text.count("]")
        assert all(
            tasks.LISTOPS_VOCABULARY[row[p]] in tasks.LISTOPS_OPERATORS
            for p in np.flatnonzero(marked)
        )
        depth = peak = 0
        for token in text.split():
            depth += token.startswith("[") - (token == "]")
            peak = max(peak, depth)
        depths.append(peak)
    assert max(depths) >= 3  # nested, not flat lists
    # All ten answers occur.
    labels = tasks.listops(200, 128, np.random.default_rng(4)).labels
    assert set(labels) == set(range(10))


def test_needle_is_present_exactly_once_and_labels_its_value():
    examples = tasks.needle(50, 1024, np.random.default_rng(0))
    positions = []
    for row, label, marked in zip(*examples[:3]):
        value, times, position = tasks.needle_answer(row)
        assert times == 1 and value == label
        assert np.flatnonzero(marked).tolist() == [1]
        # Four distractor pairs, of other keys.
        pairs = (row >= tasks.needle_pair(0, 0)) & (row < tasks.needle_pair(
            tasks.NEEDLE_KEYS, 0))
        assert pairs.sum() == 5 and position >= 3
        positions.append(position)
    # The needle lies all over the sequence, not near the question.
    assert max(positions) > 700 and min(positions) < 300


def test_retrieval_labels_are_a_shared_key_and_a_bag_cannot_tell():
    examples = tasks.retrieval(100, 512, np.random.default_rng(0), span=3)
    assert 30 < examples.labels.sum() < 70
    bags = {0: set(), 1: set()}
    for row, label, marked, segments in zip(*examples):
        question, (first, second) = tasks.retrieval_keys(row)
        # The question names the key, always in the first document; label
        # 1 when the second holds it too.
        assert question in first and (question in second) == bool(label)
        assert np.flatnonzero(marked).tolist() == [1]
        # Segments: question 0, then one per document, each closed by its
        # [SEP]; padding 0.
        separators = np.flatnonzero(row == tasks.SEP)
        expected = np.zeros_like(row)
        expected[separators[0] + 1 : separators[1] + 1] = 1
        expected[separators[1] + 1 : separators[2] + 1] = 2
        np.testing.assert_array_equal(segments, expected)
        # Runs of 3: every key is written a multiple of 3 times.
        keys = first + second
        counts = sorted(np.bincount(keys)[np.unique(keys)] // 3)
        # Two runs of one key, one of each other: the same for both labels.
        bags[int(label)].add(tuple(counts))
    assert bags[0] == bags[1] == {(1, 1, 1, 2)}
    # Without distractors each document holds two runs under either label:
    # counting key tokens per segment cannot tell the labels apart.
    plain = tasks.retrieval(
        100, 512, np.random.default_rng(1), distractors=0, span=3
    )
    runs = {0: set(), 1: set()}
    for row, label in zip(plain.token_ids, plain.labels):
        _, documents = tasks.retrieval_keys(row)
        runs[int(label)].add(tuple(len(d) // 3 for d in documents))
    assert runs[0] == runs[1] == {(2, 2)}
    # A shorter test keeps the runs' share of the sequence: a quarter of the
    # length, a quarter of the span and of the gap (runs: x twice, y, z,
    # the distractors).
    size = dict(long_range.DEFAULT_SIZES["retrieval"], test=10)
    run_count = 4 + size.get("distractors", 1)
    short = long_range.task_data("retrieval", size, "test@128", 128)
    for row in short.token_ids:
        _, (first, second) = tasks.retrieval_keys(row)
        assert len(first) + len(second) == run_count * size["span"] // 4


def runs_and_question(row):
    """The question's position and each key run's positions, of one
    retrieval row (read from the tokens)."""
    keys = np.flatnonzero(tasks.is_retrieval_key(row))
    keys = keys[keys > 1]  # position 1 is the question
    breaks = np.flatnonzero(
        (np.diff(keys) > 1) | (row[keys[1:]] != row[keys[:-1]])
    )
    return [np.array([1]), *np.split(keys, breaks + 1)]


def window_reach(length, padding_mask):
    """Where each position of the suite's two-layer window model reads
    from: the composition of its layers' attention graphs."""
    model = long_range.build_model("retrieval", "window", length, 0, 10)
    encoder = model.get_layer("encoder")
    reach = np.eye(length, dtype=bool)[None]
    for index in range(encoder.num_layers):
        graph = encoder.attention_graph(index, length, padding_mask).any(1)
        reach = np.matmul(graph.astype(int), reach.astype(int)) > 0
    return reach


def test_retrieval_gap_hides_the_runs_from_a_window():
    size = long_range.DEFAULT_SIZES["retrieval"]
    length, span = size["length"], size["span"]

    def seen_together(examples):
        padding_mask = examples.token_ids != 0
        reach = window_reach(length, padding_mask)
        worst = 0
        for row, rows_reach in zip(examples.token_ids, reach):
            runs = runs_and_question(row)
            # The runs (and the question) each position's output reads.
            read = np.stack([rows_reach[:, r].any(1) for r in runs], 1)
            worst = max(worst, int(read.sum(1).max()))
        return worst

    rng = np.random.default_rng(0)
    # The suite's default size (`task_data`'s examples, by another seed).
    spaced = tasks.retrieval(
        12, length, rng, distractors=size["distractors"], span=span,
        gap=size["gap"],
    )
    for row in spaced.token_ids:
        question, *runs = runs_and_question(row)
        # Never merged.
        assert [len(r) for r in runs] == [span] * (4 + size["distractors"])
    # No window output reads two runs, or a run and the question; without
    # the gap some do (the task would then be local).
    assert seen_together(spaced) == 1
    touching = tasks.retrieval(12, length, rng, distractors=0, span=span)
    assert seen_together(touching) > 1
    with pytest.raises(ValueError, match=r"gap=200"):
        tasks.retrieval(1, length, rng, span=span, gap=200)


def test_question_tokens_fit_the_models_global_slots():
    # `bigbird_global` has a global slot for each question token a task
    # declares; one more would fail the run after training.
    for task, size in long_range.DEFAULT_SIZES.items():
        most = tasks.TASKS[task][4]
        for length in [size["length"], *long_range.test_lengths(size)]:
            examples = long_range.task_data(
                task, dict(size, test=100), f"test@{length}", length
            )
            assert examples.global_mask.sum(1).max() <= most, (task, length)
    wide = tasks.listops(  # a root of up to 100 arguments: capped
        10, 4096, np.random.default_rng(0), min_tokens=0, max_depth=2,
        max_args=100,
    )
    assert wide.global_mask.sum(1).max() == tasks.LISTOPS_QUESTION_TOKENS
    model = long_range.build_model("needle", "bigbird_global", 64, 0, 10)
    layer = model.get_layer("encoder").encoder_layers[0]
    assert layer.max_global_tokens == 1


def test_genomics_labels_follow_the_spacing_rule():
    examples = tasks.genomics(100, 128, np.random.default_rng(0))
    assert 30 < examples.labels.sum() < 70
    for row, label in zip(examples.token_ids, examples.labels):
        bases = tasks.kmer_bases(row)
        assert len(bases) == 127 * 6
        # The rule read directly: a -35 box, 12..24 bases, a -10 box.
        found = any(
            bases[i : i + 6] == "TTGACA"
            and bases[i + 6 + s : i + 12 + s] == "TATAAT"
            for i in range(len(bases))
            for s in range(12, 25)
        )
        assert found == bool(label)
        # Both boxes, in order, in every sequence: presence alone does not
        # decide, the spacing does.
        first = bases.find("TTGACA")
        assert first >= 0 and bases.find("TATAAT", first + 6) >= 0
    # Copies: that many box pairs, each at the label's spacing.
    size = dict(long_range.DEFAULT_SIZES["genomics"], length=256, test=40,
                copies=4)
    examples = long_range.task_data("genomics", size, "test")
    for row, label in zip(examples.token_ids, examples.labels):
        bases = tasks.kmer_bases(row)
        starts = [i for i in range(len(bases)) if bases[i : i + 6] == "TTGACA"]
        ends = [i for i in range(len(bases)) if bases[i : i + 6] == "TATAAT"]
        assert len(starts) >= 4 and len(ends) >= 4
        near = sum(any(12 <= e - s - 6 <= 24 for e in ends) for s in starts)
        assert near == (4 if label else 0)
    with pytest.raises(ValueError, match="copies=8"):
        tasks.genomics(2, 256, np.random.default_rng(0), copies=8)


def test_quick_run_writes_results(tmp_path):
    output = str(tmp_path / "docs" / "long_range")
    # Two of the five models keep the test within CI's budget; every
    # model runs in `--quick` from the command line.
    models = ["bigbird_global", "bag"]
    report = long_range.main([
        "--quick", "--output", output, "--model-dir", str(tmp_path / "m"),
        "--models", *models,
    ])
    with open(output + ".json") as f:
        saved = json.load(f)
    assert saved["results"] == json.loads(json.dumps(report["results"]))
    found = {(r["task"], r["model"]) for r in saved["results"]}
    assert found == {
        (t, m) for t in long_range.DEFAULT_SIZES for m in models
    }
    for r in saved["results"]:
        assert "error" not in r, r
        assert 0 <= r["accuracy_mean"] <= 1 and r["tokens_per_second"] > 0
        assert r["runs"][0]["curve"][-1]["step"] == 4  # 32 examples / 8
    table = open(output + ".md").read()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(found)  # the header, a row a model
    for path in report["plots"]:
        assert os.path.getsize(path) > 1000
    assert os.path.getsize(tmp_path / "m" / "needle.keras") > 0
    # Reports of runs made apart (here: one a task) combine into the same
    # table, without training.
    parts = []
    for task in long_range.DEFAULT_SIZES:
        part = dict(saved, results=[r for r in saved["results"]
                                    if r["task"] == task])
        parts.append(str(tmp_path / f"{task}.json"))
        with open(parts[-1], "w") as f:
            json.dump(part, f)
    combined = str(tmp_path / "combined")
    long_range.main(["--combine", *parts, "--output", combined])
    assert open(combined + ".md").read() == table


def test_needle_lies_mostly_beyond_a_window_models_reach():
    # Two layers of `WindowPattern(3)` at block 16 carry the question (at
    # position 1) at most 2 blocks further: a needle within them is the
    # only one a window-only model can answer.
    size = dict(long_range.DEFAULT_SIZES["needle"], test=200)
    examples = long_range.task_data("needle", size, "test")
    reach = 3 * long_range.ENCODER["block_size"]
    found = [tasks.needle_answer(row) for row in examples.token_ids]
    assert all(count == size["span"] for _, count, _ in found)
    positions = [position for _, _, position in found]
    assert np.mean(np.less(positions, reach)) < 0.15
    # Balanced labels: no value holds more than twice its share.
    assert np.bincount(examples.labels).max() < 2 * 200 / tasks.NEEDLE_VALUES


def test_merge_replaces_the_same_task_and_model_and_keeps_the_rest():
    earlier = [
        dict(task="needle", model="bigbird", accuracy_mean=0.1),
        dict(task="needle", model="window", accuracy_mean=0.2),
    ]
    new = [
        dict(task="listops", model="dense", accuracy_mean=0.3),
        dict(task="needle", model="bigbird", accuracy_mean=0.9),
    ]
    assert [
        (r["task"], r["model"], r["accuracy_mean"])
        for r in long_range.merged(earlier, new)
    ] == [
        ("needle", "bigbird", 0.9),
        ("needle", "window", 0.2),
        ("listops", "dense", 0.3),
    ]


def test_set_overrides_sizes_and_names_a_bad_pair():
    args = long_range.parse(["--set", "length=512", "train=800"])
    assert args.set == dict(length=512, train=800)
    for bad in ("width=3", "length=0", "length=big", "distractors=-1"):
        with pytest.raises(ValueError, match=f"--set.*{bad}"):
            long_range.parse(["--set", bad])
    args = long_range.parse(["--tasks", "needle", "--set", "distractors=0"])
    assert args.set == dict(distractors=0)
    with pytest.raises(ValueError, match=r"distractors.*\['listops'\]"):
        long_range.parse(["--tasks", "needle", "listops", "--set",
                          "distractors=2"])


def test_distractors_reach_the_generator():
    size = dict(long_range.DEFAULT_SIZES["needle"], length=64, test=20,
                span=1)
    for distractors in (0, 3):
        data = long_range.task_data(
            "needle", dict(size, distractors=distractors), "test"
        )
        pairs = [tasks.needle_answer(row) for row in data.token_ids]
        assert all(count == 1 for _, count, _ in pairs)
        planted = [
            int(((row >= tasks._FIRST_PAIR)
                 & (row < tasks._FIRST_NEEDLE_FILLER)).sum())
            for row in data.token_ids
        ]
        assert planted == [1 + distractors] * 20
    # A span writes the needle that many times in a row, and only it.
    data = long_range.task_data("needle", dict(size, span=8), "test")
    for row, label in zip(data.token_ids, data.labels):
        value, count, first = tasks.needle_answer(row)
        assert value == label and count == 8
        assert (row[first : first + 8] == row[first]).all()
    with pytest.raises(ValueError, match=r"span.*'needle'\).*listops"):
        long_range.parse(["--tasks", "needle", "listops", "--set", "span=4"])


def test_every_model_pools_first_question_and_mean():
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    padding = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], "int32")
    question = np.array([[0, 1, 0, 1, 0, 0], [0] * 6], "int32")
    pooled = np.asarray(long_range.Pool()(x, padding, question))
    # Computed apart: first row, then the means by hand.
    assert np.allclose(pooled[:, :3], x[:, 0])
    assert np.allclose(pooled[0, 3:6], (x[0, 1] + x[0, 3]) / 2, atol=1e-6)
    assert np.allclose(pooled[1, 3:6], 0)  # no question: zeros
    assert np.allclose(pooled[0, 6:], x[0, :4].mean(0), atol=1e-6)
    assert np.allclose(pooled[1, 6:], x[1].mean(0), atol=1e-6)


def test_only_bigbird_global_attends_the_question_globally():
    rng = np.random.default_rng(0)
    inputs = dict(
        token_ids=rng.integers(3, 50, (1, 256)).astype("int32"),
        padding_mask=np.ones((1, 256), "int32"),
    )
    moved = {}
    for name in ("bigbird", "bigbird_global", "window"):
        model = long_range.build_model("needle", name, 256, 0, steps=10)
        assert isinstance(model.optimizer._learning_rate,
                          keras.optimizers.schedules.CosineDecay)
        # The encoder's outputs, as the pool receives them.
        encoder = keras.Model(model.input, model.get_layer("pool").input[0])
        outputs = []
        for question in (0, 1):
            # A question token outside the pattern's global blocks (16
            # blocks: not every block attends every other).
            mask = np.zeros((1, 256), "int32")
            mask[0, 130] = question
            outputs.append(np.asarray(encoder(dict(inputs, question_mask=mask))))
        moved[name] = float(np.abs(outputs[1] - outputs[0]).max())
    assert moved["bigbird_global"] > 1e-3
    assert moved["bigbird"] == moved["window"] == 0.0
    assert set(model.input) == {"token_ids", "padding_mask", "question_mask"}


def test_a_span_too_long_for_the_length_is_an_error():
    for task in ("needle", "retrieval"):
        with pytest.raises(ValueError, match="span=64"):
            tasks.TASKS[task][0](2, 128, np.random.default_rng(0), span=64)


def test_every_default_and_scale_task_generates_at_its_test_lengths():
    # train_one evaluates at 1/4 and 1/2 of the length after training: a
    # size that cannot be generated there would lose the trained model.
    for task, size in long_range.DEFAULT_SIZES.items():
        assert long_range.test_lengths(size) == [
            size["length"] // 4, size["length"] // 2
        ]
        for length in [size["length"], *long_range.test_lengths(size)]:
            data = long_range.task_data(
                task, dict(size, test=4), f"test@{length}", length
            )
            assert data.token_ids.shape == (4, length)
    # `--scale` has never run whole on this machine; its sizes generate.
    for task, size in long_range.SCALE_SIZES.items():
        long_range.check_lengths(task, size)


def test_retrieval_models_read_segments_and_the_bag_does_not():
    rng = np.random.default_rng(0)
    inputs = dict(
        token_ids=rng.integers(3, 50, (1, 128)).astype("int32"),
        padding_mask=np.ones((1, 128), "int32"),
        question_mask=np.zeros((1, 128), "int32"),
    )
    model = long_range.build_model("retrieval", "bigbird", 128, 0, steps=10)
    assert set(model.input) == set(long_range.feature_names("retrieval"))
    logits = [
        np.asarray(model(dict(inputs, segment_ids=np.full((1, 128), s, "int32"))))
        for s in (0, 2)
    ]
    assert np.abs(logits[1] - logits[0]).max() > 1e-4
    bag = long_range.build_model("retrieval", "bag", 128, 0, steps=10)
    bag_logits = [
        np.asarray(bag(dict(inputs, segment_ids=np.full((1, 128), s, "int32"))))
        for s in (0, 2)
    ]
    np.testing.assert_array_equal(*bag_logits)
    assert "segment_ids" not in long_range.feature_names("needle")


def test_batches_are_whole_and_each_pass_a_seeded_permutation():
    examples = tasks.Examples(
        token_ids=np.arange(10, dtype="int32")[:, None] + np.zeros((1, 4), "int32"),
        labels=np.arange(10, dtype="int32"),
        global_mask=np.zeros((10, 4), "int32"),
        segment_ids=np.zeros((10, 4), "int32"),
    )

    def order(seed, count=10):
        found = []
        for inputs, labels in long_range.batches(
            "needle", examples, 5, seed
        ).take(count // 5):
            assert labels.shape == (5,)
            # Inputs and labels stay together.
            np.testing.assert_array_equal(inputs["token_ids"][:, 0], labels)
            found.extend(labels.numpy().tolist())
        return found

    two_passes = order(0, 20)
    assert sorted(two_passes[:10]) == sorted(two_passes[10:]) == list(range(10))
    assert two_passes[:10] != two_passes[10:]  # reshuffled each pass
    assert order(0) == two_passes[:10] and order(1) != order(0)


def test_only_the_first_seed_evaluates_a_learning_curve(tmp_path):
    found = long_range.run_model(
        "needle", "bag", long_range.QUICK_SIZES["needle"], [0, 1],
        str(tmp_path),
    )
    first, second = found["runs"]
    assert [p["step"] for p in first["curve"]] == [1, 2, 3, 4]
    assert second["curve"] == [] and 0 <= second["accuracy"] <= 1
    # A worker a seed: the run's first seed, not the worker's, evaluates it.
    alone = long_range.run_model(
        "needle", "bag", long_range.QUICK_SIZES["needle"], [1],
        str(tmp_path), first_seed=0,
    )
    assert alone["runs"][0]["curve"] == []
    assert alone["runs"][0]["accuracy"] == second["accuracy"]


def test_a_size_sets_the_examples_of_a_curve_point(tmp_path, monkeypatch):
    evaluated, accuracy = [], long_range.accuracy

    def counting(model, task, examples, batch_size):
        evaluated.append(len(examples.labels))
        return accuracy(model, task, examples, batch_size)

    monkeypatch.setattr(long_range, "accuracy", counting)
    size = dict(long_range.QUICK_SIZES["needle"], curve=5)
    long_range.run_model("needle", "bag", size, [0], str(tmp_path))
    # Four curve points of 5, then the whole test set (16).
    assert evaluated[:5] == [5, 5, 5, 5, 16]
    assert long_range.DEFAULT_SIZES["needle"]["curve"] == 100


def test_seeds_run_apart_join_in_seed_order():
    found = {
        2: dict(runs=[dict(seed=2)], peak_rss_bytes=5),
        0: dict(runs=[dict(seed=0)], peak_rss_bytes=9),
    }
    assert long_range.joined(found, [0, 2]) == dict(
        runs=[dict(seed=0), dict(seed=2)], peak_rss_bytes=9
    )
    found[2] = dict(error="worker exited 1")
    assert long_range.joined(found, [0, 2]) == dict(error="worker exited 1")


def test_a_size_that_fails_at_a_test_length_fails_before_training(tmp_path):
    # span=400 fits the 4096-token needle's 3 pair runs, not its
    # 1024-token test (a needle keeps its span).
    with pytest.raises(ValueError, match="span=400"):
        long_range.main([
            "--tasks", "needle", "--set", "span=400", "--output",
            str(tmp_path / "out"),
        ])
    assert not os.path.exists(tmp_path / "out.json")


def test_seeds_must_be_distinct():
    with pytest.raises(ValueError, match="--seeds 0 1 0"):
        long_range.parse(["--seeds", "0", "1", "0"])


def test_jobs_must_fit_the_cores():
    cores = len(os.sched_getaffinity(0))
    for bad in (0, cores + 1):
        with pytest.raises(ValueError, match=f"--jobs {bad}"):
            long_range.parse(["--jobs", str(bad)])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core")
def test_jobs_run_units_at_once_each_on_a_core_of_its_own():
    import threading
    import time

    running, seen, lock = set(), [], threading.Lock()

    def run(pair, cpus=None):
        with lock:
            running.add(pair)
            seen.append((pair, frozenset(cpus), len(running)))
        time.sleep(0.2)
        with lock:
            running.discard(pair)
        return {"pair": pair}

    pairs = [("needle", m) for m in ("bigbird", "window", "dense", "bag")]
    found = dict(long_range.run_each(run, pairs, 2))
    assert found == {pair: {"pair": pair} for pair in pairs}
    assert all(len(cpus) == 1 for _, cpus, _ in seen)
    assert max(n for *_, n in seen) == 2  # two at once, never more
    # Two at once never share a core.
    assert len({cpus for _, cpus, _ in seen}) == 2
