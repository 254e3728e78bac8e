"""`keras.distribution.DataParallel` over 4 virtual CPU devices on JAX:
`fit` gives the same weights as one device with the same global batches
(gradient checkpointing and dropout on), in a subprocess
(`data_parallel_run.py`: the device count is fixed before JAX starts).
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_data_parallel_fit_equals_one_device():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "data_parallel_run.py")],
        capture_output=True, text=True, timeout=400, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["mesh"] == {"batch": 4}
    # Variables replicated on the 4 devices, batches split along the batch.
    assert result["variable_devices"] == 4 and result["variable_replicated"]
    assert result["data_layout"] == ["batch", None]
    assert result["single_variable_devices"] == 1
    assert result["max_weight_change"] > 1e-3  # it trained
    assert result["max_weight_difference_vs_one_device"] < 1e-5, result
    assert abs(result["loss"][0] - result["single_loss"][0]) < 1e-5
