"""Sequence parallelism on JAX: `examples/sequence_parallel.py` shards a
16,384-token sequence over 4 virtual CPU devices (`ModelParallel` with a
`LayoutMap` on the activations' length axis); XLA SPMD inserts the
collectives. The forward and backward pass (gradient checkpointing and
dropout on) equal one device's without checkpointing to 1e-5 relative,
each device holds a fraction of the memory, and `model.fit` trains a step.
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "sequence_parallel.py")


def test_sharded_sequence_equals_one_device(tmp_path):
    out = tmp_path / "figures.json"
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, EXAMPLE, "--virtual-devices", "4", "--length", "16384",
         "--check", "--fit-steps", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=400, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["devices"] == 4 and result["length"] == 16384
    # The output stays split along the length over the 4 devices, and
    # SPMD gathered keys and values and reduced softmax rows and gradients.
    assert result["output_sharding"] == "P(None, 'sequence')"
    assert result["output_shards"] == 4
    assert result["collectives"].get("all-gather", 0) > 0
    assert result["collectives"].get("all-reduce", 0) > 0
    # Equal to one device (whose run has no checkpointing).
    assert result["output_difference"] < 1e-5, result
    assert result["loss_difference"] < 1e-5, result
    assert result["max_gradient_difference"] < 1e-5, result
    # Each device holds a fraction of one device's memory.
    per_device = result["sharded_memory_per_device"]["total"]
    assert result["single_memory"]["total"] > 2.5 * per_device, result
    assert len(result["fit_loss"]) == 1 and 0 < result["fit_loss"][0] < 10
