"""The long-range suite: its generators follow their rules (checked by
evaluators written apart from them), and `--quick` writes its outputs."""

import json
import os
import sys

import numpy as np
import pytest

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "benchmarks"
)
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)

import long_range  # noqa: E402
import long_range_tasks as tasks  # noqa: E402

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
    for row, label, marked in zip(*examples):
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
    for row, label, marked in zip(*examples):
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


def test_retrieval_labels_are_marked_key_equality():
    examples = tasks.retrieval(100, 512, np.random.default_rng(0))
    assert 30 < examples.labels.sum() < 70
    for row, label, marked in zip(*examples):
        first, second = tasks.retrieval_marked_keys(row)
        assert (first == second) == bool(label)
        separators = np.flatnonzero(row == tasks.SEP)
        assert np.flatnonzero(marked).tolist() == separators.tolist()
        # One mark a document.
        marks = np.flatnonzero(row == 3)
        assert marks[0] < separators[0] < marks[1] < separators[1]


def test_genomics_labels_follow_the_spacing_rule():
    examples = tasks.genomics(100, 128, np.random.default_rng(0))
    assert 30 < examples.labels.sum() < 70
    for row, label in zip(examples.token_ids, examples.labels):
        bases = tasks.kmer_bases(row)
        assert len(bases) == 127 * 3
        # The rule read directly: a -35 box, 16..18 bases, a -10 box.
        found = any(
            bases[i : i + 6] == "TTGACA"
            and bases[i + 6 + s : i + 12 + s] == "TATAAT"
            for i in range(len(bases))
            for s in (16, 17, 18)
        )
        assert found == bool(label)
        if not label:
            # Negatives hold a box too: presence alone does not decide.
            assert "TTGACA" in bases or "TATAAT" in bases


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


def test_needle_lies_mostly_beyond_a_window_models_reach():
    # Two layers of `WindowPattern(3)` at block 16 carry the question (at
    # position 1) at most 2 blocks further: a needle within them is the
    # only one a window-only model can answer.
    length = long_range.DEFAULT_SIZES["needle"]["length"]
    examples = tasks.needle(200, length, np.random.default_rng(1))
    reach = 3 * long_range.ENCODER["block_size"]
    positions = [tasks.needle_answer(row)[2] for row in examples.token_ids]
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
    size = dict(long_range.DEFAULT_SIZES["needle"], length=64, test=20)
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
    with pytest.raises(ValueError, match=r"span.*\('needle',\).*listops"):
        long_range.parse(["--tasks", "needle", "listops", "--set", "span=4"])
