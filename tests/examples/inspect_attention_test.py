"""examples/inspect_attention.py on a model the long-range suite trains:
its float64 recomputation must match the layers (it raises otherwise), each
layer's shares are a split of the probability mass, and a bad task is an
error naming it."""

import os

import numpy as np
import pytest

import inspect_attention
import long_range  # inspect_attention put benchmarks/ on the path

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def needle_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("m") / "needle.keras")
    size = dict(length=128, train=16, test=8, epochs=1, batch=8, span=4,
                distractors=2, eager=True)
    long_range.train_one("needle", "bigbird_global", size, 0, path)
    return path


def test_inspect_plots_where_attention_goes(needle_model, tmp_path):
    output = str(tmp_path / "attention.png")
    layers = inspect_attention.main(["--model", needle_model, "--output",
                                     output, "--set", "span=4"])
    assert len(layers) == long_range.ENCODER["num_layers"]
    for layer in layers:
        shares = layer["shares"]
        # Every non-global row's mass lies on window, random or global keys.
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6)
        assert min(shares.values()) > 0
        # Each head's question rows spread a probability of 1 over keys.
        assert np.sum(layer["head_rows"], -1) == pytest.approx(1.0, abs=1e-6)
    assert os.path.getsize(output) > 1000


def test_an_unknown_task_is_an_error_naming_it(needle_model, tmp_path):
    with pytest.raises(ValueError, match="--task.*'poem'"):
        inspect_attention.main(["--model", needle_model, "--task", "poem",
                                "--output", str(tmp_path / "a.png")])
    with pytest.raises(ValueError, match="--set.*'span=none'"):
        inspect_attention.main(["--model", needle_model, "--set", "span=none"])
