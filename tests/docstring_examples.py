"""Runs the `>>>` examples of the package's docstrings (doctest)."""

import doctest
import importlib
import pkgutil


def modules_with_examples(package):
    """Names of the modules of `package` whose source has `>>>` examples."""
    names = []
    path = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(path, package + "."):
        module = importlib.import_module(info.name)
        with open(module.__file__) as f:
            if ">>> " in f.read():
                names.append(info.name)
    return names


def assert_examples_hold(name, **extraglobs):
    """Every example of module `name` runs and prints what it shows."""
    result = doctest.testmod(
        importlib.import_module(name),
        extraglobs=extraglobs,
        optionflags=doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0, name
    assert result.failed == 0, f"{result.failed} failed examples in {name}"
