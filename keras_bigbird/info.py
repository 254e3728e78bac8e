"""Show versions, the Keras backend, devices and whether XLA compiles.

Reports the versions of keras_bigbird and the libraries it runs on (jax only
if installed), the Keras backend, the devices TensorFlow (and JAX) see, and
whether XLA compiles and runs a tiny function (tf.function(jit_compile=True),
and jax.jit) giving the right result. Paste it into bug reports.
"""

import importlib.metadata
import json
import platform
import time

PACKAGES = (
    "keras",
    "tensorflow",
    "tensorflow-text",
    "tensorflow-datasets",
    "sentencepiece",
    "numpy",
    "jax",
    "jaxlib",
)


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _xla_check(compile_and_run):
    """Runs `compile_and_run()` -> value; 14.0 is right (1+4+9)."""
    start = time.perf_counter()
    try:
        value = float(compile_and_run())
    except Exception as error:  # Report any failure, do not raise it.
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    seconds = time.perf_counter() - start
    if value != 14.0:
        return {"ok": False, "error": f"wrong result {value}, expected 14.0"}
    return {"ok": True, "seconds": round(seconds, 3)}


def _tensorflow_report():
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def squares(x):
        return tf.reduce_sum(x * x)

    devices = [
        f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}"
        for d in tf.config.list_physical_devices()
    ]
    xla = _xla_check(lambda: squares(tf.constant([1.0, 2.0, 3.0])).numpy())
    return devices, xla


def _jax_report():
    import jax
    import jax.numpy as jnp

    devices = [f"{d.platform.upper()}:{d.id}" for d in jax.devices()]
    xla = _xla_check(
        lambda: jax.jit(lambda x: jnp.sum(x * x))(jnp.array([1.0, 2.0, 3.0]))
    )
    return devices, xla


def collect_info():
    """Returns the report as a dict (what `keras-bigbird info --json` prints).

    Keys: `versions` (package to version, `None` when not installed),
    `backend` (Keras backend), `devices` and `xla` (per framework:
    `tensorflow`, and `jax` when installed; `xla[...]["ok"]` tells whether
    the tiny function compiled with XLA and gave the right result).
    """
    import keras

    from keras_bigbird.version import __version__

    versions = {
        "keras_bigbird": __version__,
        "python": platform.python_version(),
    }
    versions.update({package: _version(package) for package in PACKAGES})
    info = {
        "versions": versions,
        "backend": keras.backend.backend(),
        "devices": {},
        "xla": {},
    }
    frameworks = {"tensorflow": _tensorflow_report}
    if versions["jax"]:
        frameworks["jax"] = _jax_report
    for name, report in frameworks.items():
        info["devices"][name], info["xla"][name] = report()
    return info


def format_info(info):
    """The report as lines of text."""
    lines = [
        f"{name}: {version or 'not installed'}"
        for name, version in info["versions"].items()
    ]
    lines.append(f"keras backend: {info['backend']}")
    for name, devices in info["devices"].items():
        lines.append(f"devices ({name}): {', '.join(devices) or 'none'}")
    for name, xla in info["xla"].items():
        how = (
            "tf.function(jit_compile=True)"
            if name == "tensorflow"
            else "jax.jit"
        )
        if xla["ok"]:
            status = f"yes (compiled and ran in {xla['seconds']} s)"
        else:
            status = f"no ({xla['error']})"
        lines.append(f"XLA ({how}): {status}")
    return lines


def add_arguments(parser):
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON"
    )


def run(args):
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print("\n".join(format_info(info)))
    return 0
