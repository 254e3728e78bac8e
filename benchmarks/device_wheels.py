"""Which carried wheels a machine still needs (for `device_check.sh`).

The GPU machine has Python 3.12 with jax, numpy, ml_dtypes, h5py, rich
and absl-py, but neither keras nor its small dependencies namex and
optree, and no internet. `device_check.sh` carries wheels for keras and
every dependency it has beyond jax's (`WHEELS` below, made by the
`pip download` command in `device_check.sh`) and installs only those whose
distribution is not installed already, so the machine's own builds stay in
use.

    python benchmarks/device_wheels.py missing benchmarks/wheels
        # prints the wheel files to install, one a line
"""

import argparse
import importlib.metadata
import os
import re
import sys

# The pinned set device_check.sh documents: keras and its dependencies
# beyond jax's own (numpy, ml_dtypes).
WHEELS = (
    "keras==3.15.1",
    "namex==0.1.0",
    "optree==0.20.0",
    "absl-py==2.5.1",
    "h5py==3.14.0",
    "packaging==26.2",
    "rich==15.0.0",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "pygments==2.20.0",
    "typing-extensions==4.16.0",  # optree's
)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(filename):
    """The distribution a wheel file holds (`rich-15.0.0-py3-...` -> rich)."""
    return normalize(os.path.basename(filename).split("-")[0])


def installed(name):
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def missing(wheel_dir):
    """The wheels in `wheel_dir` whose distribution is not installed."""
    if not os.path.isdir(wheel_dir):
        return []
    files = sorted(f for f in os.listdir(wheel_dir) if f.endswith(".whl"))
    return [
        os.path.join(wheel_dir, f) for f in files if not installed(wheel_name(f))
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("missing").add_argument("wheel_dir")
    sub.add_parser("pins")
    args = parser.parse_args(argv)
    if args.command == "pins":
        print(" ".join(WHEELS))
        return 0
    for path in missing(args.wheel_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
