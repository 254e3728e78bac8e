"""Shared test set-up: quiet TensorFlow logs, the backend marker."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tf_only: needs the TensorFlow backend (tf.data, export)"
    )


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="needs KERAS_BACKEND=tensorflow")
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)
