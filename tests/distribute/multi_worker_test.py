"""`tf.distribute.MultiWorkerMirroredStrategy`: two worker processes on
localhost train a `BigBirdClassifier` with `model.fit`; both end with the
same weights, equal to one process running the same global batches.

The workers talk over gRPC on two free loopback ports; every process has
a bounded time. Gradient checkpointing is on in every run.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "multi_worker_run.py")
TIMEOUT = 240


def free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(out, tf_config=None, single=False):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    cmd = [sys.executable, SCRIPT, str(out)] + (["--single"] if single else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def finish(processes):
    """Waits for every process (killing all on a time-out): their JSON."""
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def load(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.mark.tf_only
def test_two_workers_equal_each_other_and_one_process(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = [
        start(tmp_path, {"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(2)
    ]
    processes.append(start(tmp_path, single=True))
    worker0, worker1, single = finish(processes)
    assert worker0["replicas"] == worker1["replicas"] == 2
    assert single["replicas"] == 1
    assert worker0["initial_checksum"] == single["initial_checksum"]
    assert worker0["max_weight_change"] > 1e-3  # it trained
    w0, w1, ws = (load(tmp_path / f"{name}.npz")
                  for name in ("worker0", "worker1", "single"))
    assert len(w0) == len(w1) == len(ws)
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(w0, ws))
    assert difference < 1e-5, difference
    np.testing.assert_allclose(worker0["loss"], single["loss"], rtol=1e-5)
