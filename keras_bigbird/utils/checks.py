"""Argument checks that raise `ValueError` naming the argument and value."""

import numbers


def _fail(name, expected, value):
    raise ValueError(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}. Received: {name}={value!r}"
    )


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value):
    if not _is_int(value) or value < 1:
        _fail(name, "a positive integer", value)


def non_negative_int(name, value):
    if not _is_int(value) or value < 0:
        _fail(name, "a non-negative integer", value)


def int_in_range(name, value, low, high):
    if not _is_int(value) or not low <= value <= high:
        _fail(name, f"an integer in [{low}, {high}]", value)


def odd_positive_int(name, value):
    if not _is_int(value) or value < 1 or value % 2 == 0:
        _fail(name, "an odd positive integer", value)


def one_of(name, value, options):
    if value not in options:
        _fail(name, f"one of {tuple(options)}", value)


def rate(name, value):
    if not isinstance(value, numbers.Real) or not 0 <= value < 1:
        _fail(name, "a float in [0, 1)", value)


def shape_tuple(name, value):
    """Returns `value` (an int or a sequence of ints) as a tuple."""
    dims = (value,) if _is_int(value) else value
    try:
        dims = tuple(dims)
    except TypeError:
        _fail(name, "a positive integer or a tuple of them", value)
    if not dims or not all(_is_int(d) and d > 0 for d in dims):
        _fail(name, "a positive integer or a tuple of them", value)
    return tuple(int(d) for d in dims)


def at_most_in_graph(value, limit, message):
    """Runtime check `value <= limit` of a scalar unknown while tracing.

    For TensorFlow graphs traced with an unknown length (JAX traces with
    static shapes, so there the caller's `ValueError` has fired already).
    Returns a callable that makes a tensor depend on the check, or None on
    other backends. XLA (`jit_compile=True`) drops assertions: the caller's
    shape error then surfaces instead.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    check = tf.debugging.Assert(
        value <= tf.constant(limit, value.dtype), [message, "Received:", value]
    )

    def depend(x):
        with tf.control_dependencies([check]):
            return tf.identity(x)

    return depend


def concrete_value(x):
    """`x` as numpy when its value is known now (eager), else None.

    None inside a `tf.function` or a JAX trace, where the value is only
    known when the graph runs.
    """
    import keras
    import numpy as np

    if isinstance(x, keras.KerasTensor):
        return None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(x, tf.Tensor) and not hasattr(x, "numpy"):
            return None
        if tf.is_symbolic_tensor(x):
            return None
    elif keras.backend.backend() == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    return np.asarray(keras.ops.convert_to_numpy(x))


def at_most(value, limit, message, name):
    """Checks `value <= limit` for a scalar that may be known only at run time.

    Known now: a `ValueError`, "`message` Received: `value` `name`" (so
    `name` says what was counted, e.g. "global tokens in an example").
    Otherwise on TensorFlow, a callable that makes a tensor depend on an
    in-graph assertion (see `at_most_in_graph`); None where no check can
    run (under `jax.jit`; XLA drops TensorFlow assertions too), and the
    caller's documented fallback applies.
    """
    concrete = concrete_value(value)
    if concrete is not None:
        if int(concrete) > limit:
            raise ValueError(f"{message} Received: {int(concrete)} {name}")
        return None
    return at_most_in_graph(value, limit, message)
