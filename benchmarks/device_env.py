"""The machine `device_check.sh` runs on, and whether the package imports.

Writes `env.json`: Python, jax, jaxlib, keras and numpy versions, the JAX
devices and their memory, the default matmul precision, and whether
`keras_bigbird` (with everything the oracle tests import) imports on the
JAX backend without TensorFlow. TensorFlow is blocked for the check (an
import of it fails as on the GPU machine, which has none), so the check
means the same where TensorFlow is installed (CI) and where it is not.
Exits 1 when the import failed or TensorFlow got loaded.

    KERAS_BACKEND=jax python benchmarks/device_env.py OUTDIR/env.json
"""

import importlib
import importlib.abc
import importlib.util
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the oracle tests of tests/ops and tests/layers import.
MODULES = (
    "keras_bigbird",
    "keras_bigbird.layers",
    "keras_bigbird.ops",
    "keras_bigbird.patterns",
    "tests.attention_oracle",
    "tests.layers.attention_harness",
)


class NoTensorFlow(importlib.abc.MetaPathFinder):
    """Makes `import tensorflow` (and its packages) fail, as without it."""

    PREFIXES = ("tensorflow", "tf_keras")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith(self.PREFIXES):
            raise ModuleNotFoundError(
                f"No module named {name!r} (blocked by device_env.py: the "
                "GPU machine has no TensorFlow)", name=name,
            )
        return None


def device_info(device):
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # CPU devices may not report
        pass
    return dict(
        id=device.id,
        platform=device.platform,
        kind=getattr(device, "device_kind", None),
        bytes_limit=(stats or {}).get("bytes_limit"),
    )


def versions():
    import importlib.metadata as metadata

    found = {}
    for name in ("jax", "jaxlib", "keras", "numpy", "ml_dtypes", "optree",
                 "h5py", "matplotlib", "pytest", "jax-cuda13-plugin",
                 "jax-cuda12-plugin"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def main():
    out = sys.argv[1]
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, ROOT)
    start = time.time()
    result = dict(
        python=platform.python_version(), errors=[],
        tensorflow_installed=importlib.util.find_spec("tensorflow") is not None,
        tensorflow_blocked=True,
    )
    sys.meta_path.insert(0, NoTensorFlow())
    try:
        import jax

        import keras

        for name in MODULES:
            importlib.import_module(name)
        result.update(
            keras_backend=keras.backend.backend(),
            default_backend=jax.default_backend(),
            devices=[device_info(d) for d in jax.devices()],
            matmul_precision=str(jax.config.jax_default_matmul_precision),
        )
    except Exception as error:  # recorded, and the script stops
        result["errors"].append(f"{type(error).__name__}: {error}")
    result["tensorflow_loaded"] = "tensorflow" in sys.modules
    if result["tensorflow_loaded"]:
        result["errors"].append(
            "keras_bigbird loaded TensorFlow on the JAX backend"
        )
    result["versions"] = versions()
    result["import_s"] = time.time() - start
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
