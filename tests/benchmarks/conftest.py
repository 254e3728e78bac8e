"""The benchmark scripts import each other as top-level modules (they run
as `python benchmarks/<name>.py`): their tests import them the same way."""

import os
import sys

BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "benchmarks",
)
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
