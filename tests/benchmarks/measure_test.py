"""The benchmarks' worker runner: the worker's result line comes back,
its progress lines reach our stderr as they come, and a failure names
the worker's last words."""

import sys

import pytest

import measure

pytestmark = pytest.mark.tf_only


def python(code):
    return [sys.executable, "-c", code]


def test_run_worker_returns_the_result_and_echoes_progress(capsys):
    found = measure.run_worker(python(
        "import sys\n"
        "print('progress: step 1/2', file=sys.stderr, flush=True)\n"
        "print('noise', file=sys.stderr)\n"
        # More than a pipe's buffer on stdout while stderr is read.
        "print('x' * 200000)\n"
        "print('{\"accuracy\": 0.5}')\n"
    ))
    assert found == {"accuracy": 0.5}
    err = capsys.readouterr().err
    assert "step 1/2" in err and "noise" not in err


def test_a_failed_worker_is_an_error_with_its_stderr_tail():
    found = measure.run_worker(python("raise SystemExit('out of memory')"))
    assert found["error"].startswith("exit 1") and "out of memory" in found[
        "error"]


def test_run_worker_pins_the_worker_to_the_cores_it_is_given():
    core = max(measure.os.sched_getaffinity(0))
    found = measure.run_worker(python(
        "import json, os\n"
        "print(json.dumps({'cores': sorted(os.sched_getaffinity(0))}))\n"
    ), cpus={core})
    assert found == {"cores": [core]}
