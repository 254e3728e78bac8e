"""Running the attention layers in every mode, and their oracle references.

Shared by the tests of `BlockSparseAttention`, `BigBirdAttention` and
`SlidingWindowAttention`: build a layer with random weights, call it eagerly,
in a `tf.function` (unknown or static shapes), under XLA, inside a
`tf.while_loop` or under `jax.jit`, take its gradients the same ways, and
compute the float64 oracle (`tests.attention_oracle`) on the layer's
documented `attention_graph`.
"""

import keras
import numpy as np
import pytest

from tests.attention_oracle import OracleWeights
from tests.attention_oracle import assert_close
from tests.attention_oracle import dynamic_signature
from tests.attention_oracle import oracle_backward
from tests.attention_oracle import oracle_forward
from tests.test_case import to_numpy

BACKEND = keras.backend.backend()
RTOL = 1e-5  # float32 against the float64 oracle, relative to the scale

jax_only = pytest.mark.skipif(
    BACKEND != "jax", reason="needs KERAS_BACKEND=jax"
)

# How the layer is run: eager; TF graph and XLA with a dynamic
# [None, None, dim] signature (the symbolic-length path); jax.jit.
MODES = [
    "eager",
    pytest.param("graph", marks=pytest.mark.tf_only),
    pytest.param("xla", marks=pytest.mark.tf_only),
    pytest.param("jit", marks=jax_only),
]
# tf.function and XLA traced with the static shapes of the inputs.
STATIC_TF_MODES = ("graph_static", "xla_static")
STATIC_MODES = [
    pytest.param(mode, marks=pytest.mark.tf_only) for mode in STATIC_TF_MODES
]
# The layer called in the body of a `tf.while_loop` (how Keras runs
# `steps_per_execution > 1` steps), traced with a dynamic or static shape.
LOOP_MODES = ("while_loop", "while_loop_static")


def eager_jax_only_if(keep, mode):
    """Eager JAX compiles every op anew for each shape (seconds per call,
    slower than one `jax.jit`), so on JAX most configurations run under
    `jax.jit` only and a representative subset also runs eagerly."""
    if BACKEND == "jax" and mode == "eager" and not keep:
        pytest.skip("eager JAX: this configuration runs under jax.jit")


def randomize_weights(layer, rng):
    """Random kernels and biases (the default zero biases would leave
    them untested)."""
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense):
        kernel = dense.kernel
        kernel.assign(rng.normal(size=kernel.shape) / np.sqrt(kernel.shape[0]))
    kernel = layer.output_dense.kernel
    fan_in = kernel.shape[0] * kernel.shape[1]
    kernel.assign(rng.normal(size=kernel.shape) / np.sqrt(fan_in))
    if layer.use_bias:
        for dense in (
            layer.query_dense,
            layer.key_dense,
            layer.value_dense,
            layer.output_dense,
        ):
            dense.bias.assign(0.5 * rng.normal(size=dense.bias.shape))


def built(layer, dims, rng):
    """`layer` built for `dims` (the query's last dimension, or those of
    `(query, value, key)`) with random weights."""
    dims = (dims,) if isinstance(dims, int) else dims
    layer.build(*((None, None, dim) for dim in dims))
    randomize_weights(layer, rng)
    return layer


def make_mask(kind, batch, length, rng):
    """Padding masks (True = real token) of a few shapes."""
    if kind == "none":
        return None
    mask = np.ones((batch, length), bool)
    if kind == "random":
        mask = rng.random((batch, length)) < 0.7
    elif kind == "right":
        for b in range(batch):
            mask[b, rng.integers(1, length + 1) :] = False
    elif kind == "left":
        for b in range(batch):
            mask[b, : rng.integers(0, length)] = False
    elif kind == "middle":
        for b in range(batch):
            start = rng.integers(0, length)
            mask[b, start : start + max(1, length // 3)] = False
    elif kind == "full_pad":
        # The first sequence is all padding, the others random.
        mask = rng.random((batch, length)) < 0.6
        mask[0] = False
    elif kind == "single":
        mask[:] = False
        mask[np.arange(batch), rng.integers(0, length, batch)] = True
    else:
        raise ValueError(kind)
    return mask


def global_tokens(batch, length, count, rng):
    """A bool `[batch, length]` mask with `count` random global tokens per
    example (fewer where the sequence is shorter)."""
    mask = np.zeros((batch, length), bool)
    for b in range(batch):
        mask[b, rng.permutation(length)[:count]] = True
    return mask


def inputs(rng, batch, length, dim, scale=1.5):
    return (scale * rng.normal(size=(batch, length, dim))).astype("float32")


def _arguments(query, padding_mask, global_mask):
    """The tensor arguments, and a call of the layer taking them."""
    names = ["padding_mask", "global_mask"]
    given = [
        (name, value)
        for name, value in zip(names, (padding_mask, global_mask))
        if value is not None
    ]
    return [query] + [v for _, v in given], [n for n, _ in given]


def _signature(query, names):
    return dynamic_signature(
        query.shape[-1],
        "padding_mask" in names,
        with_global_mask="global_mask" in names,
    )


def run_layer(
    layer, mode, query, padding_mask=None, global_mask=None, **kwargs
):
    """Calls `layer(query, padding_mask=..., global_mask=..., **kwargs)` in
    `mode`."""
    args, names = _arguments(query, padding_mask, global_mask)

    def call(query, *masks):
        return layer(query, **dict(zip(names, masks)), **kwargs)

    if mode == "eager":
        return to_numpy(call(*args))
    if mode in ("graph", "xla"):
        import tensorflow as tf

        function = tf.function(
            call,
            input_signature=_signature(query, names),
            jit_compile=mode == "xla",
        )
        return to_numpy(function(*args))
    if mode in STATIC_TF_MODES:
        import tensorflow as tf

        function = tf.function(call, jit_compile=mode == "xla_static")
        return to_numpy(function(*args))
    if mode in LOOP_MODES:
        import tensorflow as tf

        def looped(*inputs):
            def body(step, output):
                return step + 1, call(*inputs)

            initial = (0, tf.zeros_like(inputs[0]))
            return tf.while_loop(lambda step, _: step < 1, body, initial)[1]

        specs = _signature(query, names) if mode == "while_loop" else None
        return to_numpy(tf.function(looped, input_signature=specs)(*args))
    if mode == "jit":
        import jax

        def stateless(trainable, non_trainable, query, *masks):
            output, _ = layer.stateless_call(
                trainable,
                non_trainable,
                query,
                **dict(zip(names, masks)),
                **kwargs,
            )
            return output

        return to_numpy(
            jax.jit(stateless)(
                [v.value for v in layer.trainable_variables],
                [v.value for v in layer.non_trainable_variables],
                *args,
            )
        )
    raise ValueError(mode)


def oracle_for(
    layer, query, padding_mask=None, value=None, key=None, global_mask=None,
    causal=None,
):
    """The oracle on the layer's documented per-example graph."""
    per_example = padding_mask is not None or global_mask is not None
    graph = layer.attention_graph(
        query.shape[1],
        padding_mask=padding_mask,
        global_mask=global_mask,
        causal=causal,
    )
    assert graph.ndim == (4 if per_example else 3)
    return oracle_forward(
        OracleWeights.from_layer(layer),
        query,
        value=value,
        key=key,
        graph=graph,
        padding_mask=padding_mask,
    )


def layer_gradients(layer, mode, x, padding_mask, upstream, global_mask=None):
    """Gradients of `sum(layer(x) * upstream)` w.r.t. `x` and the weights
    (in `get_weights()` order)."""
    assert [id(w) for w in layer.trainable_weights] == [
        id(w) for w in layer.weights
    ]
    args, names = _arguments(x, padding_mask, global_mask)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def grads(x, *masks):
            with tf.GradientTape() as tape:
                tape.watch(x)
                output = layer(x, **dict(zip(names, masks)))
                loss = tf.reduce_sum(output * upstream)
            return tape.gradient(loss, [x] + layer.trainable_weights)

        if mode in ("graph", "xla"):
            grads = tf.function(
                grads,
                input_signature=_signature(x, names),
                jit_compile=mode == "xla",
            )
        elif mode in STATIC_TF_MODES:
            grads = tf.function(grads, jit_compile=mode == "xla_static")
        result = grads(*(tf.constant(a) for a in args))
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]
        masks = dict(zip(names, args[1:]))

        def loss(trainable, x):
            output, _ = layer.stateless_call(
                trainable, non_trainable, x, **masks
            )
            return (output * upstream).sum()

        grads = jax.grad(loss, argnums=(0, 1))
        if mode == "jit":
            grads = jax.jit(grads)
        weight_grads, x_grad = grads(
            [v.value for v in layer.trainable_variables], x
        )
        result = [x_grad] + list(weight_grads)
    else:
        pytest.skip(f"no gradient helper for {BACKEND}")
    return [to_numpy(g) for g in result]


def check_gradients(layer, mode, x, padding_mask, upstream, global_mask=None):
    """The layer's input and weight gradients equal the oracle's."""
    grads = layer_gradients(layer, mode, x, padding_mask, upstream, global_mask)
    weights = OracleWeights.from_layer(layer)
    forward = oracle_for(layer, x, padding_mask, global_mask=global_mask)
    input_grads, weight_grads = oracle_backward(weights, forward, upstream)
    assert_close(grads[0], sum(input_grads.values()), RTOL, "d input")
    # Softmax is invariant to the key bias (it shifts a whole row of
    # scores), so its exact gradient is zero: measure it on the scale of
    # the key-kernel gradient.
    scales = [None] * 8
    scales[3] = float(np.abs(weight_grads.key_kernel).max())
    assert np.abs(weight_grads.key_bias).max() < 1e-12 * max(scales[3], 1e-300)
    assert len(grads) == 1 + 8
    for weight, actual, expected, scale in zip(
        layer.weights, grads[1:], weight_grads.as_list(), scales
    ):
        assert_close(actual, expected, RTOL, f"d {weight.path}", scale=scale)
