"""Measuring helpers shared by the benchmark scripts.

Each benchmark runs every configuration in a fresh worker process; these
helpers measure inside the worker (matmul reference rate, TensorFlow
allocator peak, CPU time) and run the worker from the parent.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time


def median(values):
    return sorted(values)[len(values) // 2]


class MatmulReference:
    """A dense float32 `size x size` matmul: the machine's FLOP rate.

    Time it between the measured runs (`seconds()` once per run) so that
    both see the same machine: on a shared or throttled machine the rate
    moves by tens of percent within seconds.
    """

    def __init__(self, tf, size=2048):
        self.size = size
        self._a = tf.random.normal([size, size])
        self._matmul = tf.function(lambda a: tf.matmul(a, a))
        self._matmul(self._a).numpy()
        self.times = []

    def seconds(self):
        start = time.perf_counter()
        self._matmul(self._a).numpy()
        self.times.append(time.perf_counter() - start)
        return self.times[-1]

    def rate(self):
        """FLOP/s of the median timed matmul."""
        return 2 * self.size**3 / median(self.times)


def matmul_rate(tf, size=2048, repeats=7):
    """Median float32 dense matmul FLOP/s of this machine, now."""
    reference = MatmulReference(tf, size)
    for _ in range(repeats):
        reference.seconds()
    return reference.rate()


class AllocatorPeak:
    """Peak bytes the TensorFlow CPU allocator held above its use at start.

    What the measured computation allocates (activations, gradients,
    workspace), without the runtime, the weights or allocator caching;
    complements the process's resident-set high-water mark.

        with AllocatorPeak(tf) as peak:
            run()
        peak.bytes
    """

    def __init__(self, tf):
        self._tf = tf
        self.bytes = None

    def __enter__(self):
        self._tf.config.experimental.reset_memory_stats("CPU:0")
        self._start = self._info()["current"]
        return self

    def __exit__(self, *exc):
        self.bytes = self._info()["peak"] - self._start

    def _info(self):
        return self._tf.config.experimental.get_memory_info("CPU:0")


def rss_bytes(pid="self"):
    """A process's resident set now (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def peak_rss_bytes():
    """The process's resident-set high-water mark."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_command(script, *args):
    """`python script --worker args...`, as a list."""
    return [sys.executable, os.path.abspath(script), "--worker", *map(str, args)]


def worker_env():
    # Benchmarks measure the TensorFlow backend, quietly.
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")


def worker_result(returncode, stdout, stderr):
    """The worker's last JSON line, or `{"error": ...}` with its stderr tail."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if returncode != 0 or not lines:
        tail = " ".join((stderr or "").strip().splitlines()[-3:])
        return dict(error=f"exit {returncode}: {tail}")
    return json.loads(lines[-1])


PROGRESS = "progress: "  # a worker's stderr lines that `run_worker` echoes


def run_worker(cmd, cpus=None):
    """Runs a worker to its end, on the cores `cpus` (a set; all where
    None); its `PROGRESS` lines are echoed to our stderr as they come (long
    runs show where they are)."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=worker_env(),
    ) as worker:
        if cpus:
            # Pinned from here, not by `preexec_fn` (unsafe where the parent
            # runs threads, as `--jobs` does), before the worker's Python
            # has started any thread of its own.
            os.sched_setaffinity(worker.pid, cpus)
        # stdout on a thread, so neither pipe fills while the other is read.
        stdout = []
        reader = threading.Thread(
            target=lambda: stdout.append(worker.stdout.read())
        )
        reader.start()
        stderr = []
        for line in worker.stderr:
            stderr.append(line)
            if line.startswith(PROGRESS):
                print(line[len(PROGRESS):], end="", file=sys.stderr, flush=True)
        reader.join()
        worker.wait()
    return worker_result(worker.returncode, "".join(stdout), "".join(stderr))


def sweep_parser(description, lengths, impls=("bigbird", "mha"),
                 default_impls=("bigbird", "mha")):
    """An argument parser with the options both benchmarks share.

    `--lengths`, `--modes` (graph, xla), `--impls` (of `impls`), and the
    hidden `--worker --impl --mode --length` the parent passes to a worker.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lengths", type=int, nargs="+", default=lengths)
    parser.add_argument("--modes", nargs="+", default=["graph", "xla"],
                        choices=["graph", "xla"])
    parser.add_argument("--impls", nargs="+", default=list(default_impls),
                        choices=list(impls))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    return parser
