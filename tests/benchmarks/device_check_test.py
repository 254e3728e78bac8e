"""`benchmarks/device_check.sh --smoke`: the GPU check, on this CPU.

The script the GPU machine runs (install, import without TensorFlow,
oracle tests in float32 and bfloat16, attention and encoder benchmarks,
JSON and plot), with tiny sizes, in a subprocess on the JAX backend. It
asks for a generous time budget (`DEVICE_CHECK_SECONDS`) so that a busy
machine still runs every configuration; unloaded, it takes about a minute.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "device_check.sh")

pytest.importorskip("jax")


def test_device_check_smoke(tmp_path):
    out = tmp_path / "out"
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        DEVICE_CHECK_SECONDS="400",
        DEVICE_SITE=str(tmp_path / "site"),
    )
    done = subprocess.run(
        ["bash", SCRIPT, "--smoke", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert (out / "device_check.log").read_text().strip()

    environment = json.loads((out / "env.json").read_text())
    assert environment["errors"] == []
    assert environment["tensorflow_loaded"] is False
    assert environment["keras_backend"] == "jax"

    oracle = json.loads((out / "oracle.json").read_text())
    assert oracle["ok"], oracle
    for group in ("float32", "bfloat16"):
        assert oracle[group]["passed"] >= 1 and not oracle[group]["failed"]

    attention = json.loads((out / "attention.json").read_text())
    rows = attention["results"]
    impls = {r["impl"] for r in rows}
    assert impls == {"bigbird", "bigbird_core", "dense", "flash", "mha"}
    assert {r["dtype"] for r in rows} == {"bfloat16", "float32"}
    ran = [r for r in rows if "seconds" in r]
    # Every planned configuration ran, except flash, which JAX's CPU lacks.
    for r in rows:
        if r["impl"] == "flash":
            assert "seconds" in r or r["skipped"].startswith("unavailable")
        else:
            assert "seconds" in r, r
    for r in ran:
        assert r["seconds"] > 0 and r["flops"] > 0
        assert r["memory"]["total"] > 0
    # Memory grows with the length: compiled figures of the two lengths.
    growth = attention["targets"]["bigbird_forward_backward_memory_growth_per_doubling"]
    assert list(growth) == ["512/256"] and 1.0 < growth["512/256"] < 3.0

    encoder = json.loads((out / "encoder.json").read_text())
    (row,) = encoder["results"]
    assert row["tokens_per_s"] > 0 and row["peak_bytes"] > 0, row

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in log
    else:
        assert (out / "attention.png").stat().st_size > 10_000
