"""Shared helpers of the fault tables: cases as pytest params, graph runs."""

import pytest
import tensorflow as tf


def params(cases):
    """`{name: (call, error, pattern)}` as pytest params named by the key."""
    return [
        pytest.param(call, error, pattern, id=name)
        for name, (call, error, pattern) in cases.items()
    ]


def assert_fault(call, subjects, error, pattern):
    """`call(subjects)` raises `error` with a message matching `pattern`."""
    with pytest.raises(error, match=pattern):
        call(subjects)


def in_graph(function, spec, value):
    """`function(value)` traced with the input signature `[spec]`: the
    values are unknown while tracing, as in `tf.data` or a SavedModel."""
    return tf.function(function, input_signature=[spec])(value)


def replaced(inputs, **changes):
    """`inputs` (a dict) with entries replaced; a value of None removes one."""
    inputs = dict(inputs)
    for name, value in changes.items():
        if value is None:
            inputs.pop(name)
        else:
            inputs[name] = value
    return inputs
