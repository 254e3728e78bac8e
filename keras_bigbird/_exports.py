"""How the package `__init__`s bind their public names: now, or on first use.

`import keras_bigbird` must register every Keras-serializable class:
Keras 3 finds a `keras_bigbird>Name` in a `.keras` file only in its registry
(it imports a config's `module` only for Keras's own packages), so
`import keras_bigbird; keras.saving.load_model(path)` needs the registering
modules imported. By default each `__init__` therefore imports its names
at once, as plain `from module import name` lines would.

The `keras-bigbird` console script (`keras_bigbird_cli`, outside the
package) asks for the package lazily instead, by setting the environment
variable `LAZY_IMPORT` to "1" around its first `import keras_bigbird`; this
module reads and removes it, so no child process inherits it. Then
`--help` and usage errors import no TensorFlow: each `__init__` binds a
name when it is first read (a PEP 562 module `__getattr__`), and
`finish()`, which `keras_bigbird.cli.main` calls before any command runs,
imports and binds everything as the default import would, so a command
sees the package a library user sees.
"""

import importlib
import os

# Set by `keras_bigbird_cli`; the name is written there too (that module
# must not import this package to set it).
LAZY_IMPORT = "_KERAS_BIGBIRD_LAZY_IMPORT"

_lazy = os.environ.pop(LAZY_IMPORT, None) == "1"
# The namespaces of the packages initialised lazily, and their exports.
_pending = []


def _value(package, name, module):
    if module is None:  # a subpackage or submodule of `package`
        return importlib.import_module(f"{package}.{name}")
    return getattr(importlib.import_module(module, package), name)


# What a TensorFlow-free (JAX-only) install lacks.
_TENSORFLOW = ("tensorflow", "tensorflow_text")


def _bind_all(namespace, exports, optional=()):
    package = namespace["__name__"]
    for name, module in exports.items():
        try:
            namespace[name] = _value(package, name, module)
        except ModuleNotFoundError as error:
            # A TensorFlow-only module (preprocessing) on a JAX-only
            # install: left out, its own import still names TensorFlow.
            missing = (error.name or "").split(".")[0]
            if name not in optional or missing not in _TENSORFLOW:
                raise


def exports(namespace, submodules=(), names=None, needs_tensorflow=()):
    """Binds a package's public names in its globals `namespace`.

    `submodules` are the package's own modules bound by name (`from
    package import submodule`); `names` maps a name to the module it comes
    from (`from module import name`; ".module" is relative to the
    package). They are imported now, in this order, unless the package is
    imported lazily; then each is imported when first read, and all of them
    by `finish()`. The `needs_tensorflow` submodules are skipped where
    TensorFlow cannot be imported (the JAX-only device check).
    """
    table = dict.fromkeys(submodules)
    table.update(names or {})
    optional = tuple(needs_tensorflow)
    if not _lazy:
        _bind_all(namespace, table, optional)
        return
    package = namespace["__name__"]

    def __getattr__(name):
        if name not in table:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            )
        value = namespace[name] = _value(package, name, table[name])
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    _pending.append((namespace, table, optional))


def finish():
    """Completes a lazy import: every package initialised lazily binds all
    its names (so every serializable class is registered), and packages
    imported from now on import theirs at once. Does nothing otherwise."""
    global _lazy
    _lazy = False
    while _pending:
        namespace, table, optional = _pending[0]
        # All bound again, even those read before: a submodule imported
        # meanwhile is bound under its own name (`training.train`, the
        # module) and shadows the export of that name (the function).
        _bind_all(namespace, table, optional)
        del namespace["__getattr__"], namespace["__dir__"]
        _pending.pop(0)
