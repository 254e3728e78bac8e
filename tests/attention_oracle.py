"""An independent float64 numpy reference for `BigBirdAttention`.

Dense softmax attention computed from a layer's weights (in the order of
`keras.layers.MultiHeadAttention.get_weights()`), restricted to a boolean
graph and a padding mask, with its gradient written out by hand. Nothing
here calls `keras_bigbird`: the only input it takes from the layer is the
documented `attention_graph`, whose own properties are tested separately.

Shared by the attention and encoder tests:

    weights = OracleWeights.from_layer(layer)
    forward = oracle_forward(weights, x, graph=layer.attention_graph(T),
                             padding_mask=mask)
    grads = oracle_backward(weights, forward, upstream)
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class OracleWeights:
    """Projection weights in float64; biases are zeros when absent.

    Shapes: `query_kernel`, `key_kernel` `[dim, heads, key_dim]`;
    `value_kernel` `[dim, heads, value_dim]`; their biases `[heads, depth]`;
    `output_kernel` `[heads, value_dim, *output]`, `output_bias`
    `[*output]`.
    """

    query_kernel: np.ndarray
    query_bias: np.ndarray
    key_kernel: np.ndarray
    key_bias: np.ndarray
    value_kernel: np.ndarray
    value_bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray

    @classmethod
    def from_weights(cls, weights):
        """From a `get_weights()` list: 8 arrays with biases, 4 without."""
        weights = [np.asarray(w, np.float64) for w in weights]
        if len(weights) == 4:
            qk, kk, vk, ok = weights
            weights = [
                qk,
                np.zeros(qk.shape[1:]),
                kk,
                np.zeros(kk.shape[1:]),
                vk,
                np.zeros(vk.shape[1:]),
                ok,
                np.zeros(ok.shape[2:]),
            ]
        if len(weights) != 8:
            raise ValueError(f"Expected 4 or 8 weights, got {len(weights)}")
        return cls(*weights)

    @classmethod
    def from_layer(cls, layer):
        return cls.from_weights(layer.get_weights())

    def as_list(self, use_bias=True):
        """In `get_weights()` order (kernels only if `use_bias=False`)."""
        values = [getattr(self, f.name) for f in dataclasses.fields(self)]
        return values if use_bias else values[::2]


@dataclasses.dataclass
class OracleForward:
    """Forward results and the intermediates the backward pass needs."""

    output: np.ndarray  # [batch, length, *output]
    probs: np.ndarray  # [batch, heads, length, length]
    query: np.ndarray  # the three inputs, [batch, length, dim]
    key: np.ndarray
    value: np.ndarray
    q: np.ndarray  # projections, [batch, heads, length, depth]
    k: np.ndarray
    v: np.ndarray
    context: np.ndarray  # probs @ v, [batch, heads, length, value_dim]
    mask: np.ndarray  # [batch, heads, length, length] bool


def _project(x, kernel, bias):
    # [batch, length, dim] x [dim, heads, depth] -> [batch, heads, length,
    # depth]
    return np.einsum("btd,dhk->bhtk", x, kernel) + bias[None, :, None, :]


def oracle_forward(
    weights, query, value=None, key=None, graph=None, padding_mask=None
):
    """Dense attention restricted to `graph` and `padding_mask`.

    Args:
        weights: `OracleWeights`.
        query: `[batch, length, dim]`; `value` defaults to it, `key` to
            `value`.
        graph: bool `[heads, length, length]` (query attends key) or
            `[batch, heads, length, length]` (per example), default all
            True.
        padding_mask: bool `[batch, length]`, True for real tokens (keys
            that may be attended), default all True.

    A query row without any attendable key gets all-zero probabilities, so
    its output is the output bias.
    """
    query = np.asarray(query, np.float64)
    value = query if value is None else np.asarray(value, np.float64)
    key = value if key is None else np.asarray(key, np.float64)
    batch, length = query.shape[:2]
    heads = weights.query_kernel.shape[1]
    if graph is None:
        graph = np.ones((heads, length, length), bool)
    if padding_mask is None:
        padding_mask = np.ones((batch, length), bool)
    graph = np.asarray(graph, bool)
    if graph.ndim == 3:
        graph = graph[None]
    mask = graph & np.asarray(padding_mask, bool)[:, None, None, :]

    q = _project(query, weights.query_kernel, weights.query_bias)
    k = _project(key, weights.key_kernel, weights.key_bias)
    v = _project(value, weights.value_kernel, weights.value_bias)
    scores = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(mask, scores, -np.inf)
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(mask, np.exp(scores - row_max), 0.0)
    total = exp.sum(axis=-1, keepdims=True)
    probs = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    context = np.einsum("bhqk,bhkv->bhqv", probs, v)
    output = (
        np.tensordot(context, weights.output_kernel, axes=([1, 3], [0, 1]))
        + weights.output_bias
    )
    return OracleForward(
        output, probs, query, key, value, q, k, v, context, mask
    )


def oracle_backward(weights, forward, upstream):
    """Gradient of `sum(output * upstream)`, by hand.

    Returns:
        `(input_grads, weight_grads)`: `input_grads` is a dict with the
        gradients for `"query"`, `"key"` and `"value"` (in self-attention,
        where all three are the same tensor, the input gradient is their
        sum); `weight_grads` is an `OracleWeights` of gradients.
    """
    f = forward
    upstream = np.asarray(upstream, np.float64)
    out_rank = weights.output_kernel.ndim - 2
    out_axes = tuple(range(2, 2 + out_rank))
    scale = 1.0 / np.sqrt(f.q.shape[-1])

    # output = context (x) output_kernel + output_bias
    d_output_bias = upstream.sum(axis=(0, 1))
    # context [b,h,t,v], upstream [b,t,*o] -> [h,v,*o]
    d_output_kernel = np.tensordot(
        np.transpose(f.context, (1, 3, 0, 2)), upstream, axes=([2, 3], [0, 1])
    )
    # upstream [b,t,*o], kernel [h,v,*o] -> [b,t,h,v] -> [b,h,t,v]
    d_context = np.tensordot(
        upstream, weights.output_kernel, axes=(out_axes, out_axes)
    ).transpose(0, 2, 1, 3)

    # context = probs @ v
    d_probs = np.einsum("bhqv,bhkv->bhqk", d_context, f.v)
    d_v = np.einsum("bhqk,bhqv->bhkv", f.probs, d_context)
    # softmax (masked entries have zero probability, hence zero gradient)
    d_scores = f.probs * (
        d_probs - np.sum(d_probs * f.probs, axis=-1, keepdims=True)
    )
    d_q = np.einsum("bhqk,bhkd->bhqd", d_scores, f.k) * scale
    d_k = np.einsum("bhqk,bhqd->bhkd", d_scores, f.q) * scale

    def project_back(x, kernel, d_proj):
        d_kernel = np.einsum("btd,bhtk->dhk", x, d_proj)
        d_bias = d_proj.sum(axis=(0, 2))
        d_x = np.einsum("bhtk,dhk->btd", d_proj, kernel)
        return d_x, d_kernel, d_bias

    d_query, dqk, dqb = project_back(f.query, weights.query_kernel, d_q)
    d_key, dkk, dkb = project_back(f.key, weights.key_kernel, d_k)
    d_value, dvk, dvb = project_back(f.value, weights.value_kernel, d_v)
    input_grads = {"query": d_query, "key": d_key, "value": d_value}
    weight_grads = OracleWeights(
        dqk, dqb, dkk, dkb, dvk, dvb, d_output_kernel, d_output_bias
    )
    return input_grads, weight_grads


def dynamic_signature(dim, with_padding_mask, with_global_mask=False):
    """A `tf.function` signature of `(query[, padding_mask][, global_mask])`
    with unknown batch and length."""
    import tensorflow as tf

    specs = [tf.TensorSpec([None, None, dim], tf.float32)]
    if with_padding_mask:
        specs.append(tf.TensorSpec([None, None], tf.bool))
    if with_global_mask:
        specs.append(tf.TensorSpec([None, None], tf.bool))
    return specs


def assert_close(actual, expected, rtol, err_msg="", scale=None,
                 min_scale=0.0):
    """`max |actual - expected| <= rtol * scale` (and finite).

    A tolerance relative to the scale of the whole tensor, by default
    `max |expected|` (at least `min_scale`): elementwise relative errors
    are meaningless for entries that are nearly zero. Pass `scale` for a
    tensor that is zero in exact arithmetic (e.g. the key-bias gradient).
    """
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert (
        actual.shape == expected.shape
    ), f"{err_msg} shape {actual.shape} != expected {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{err_msg} non-finite values"
    if scale is None:
        scale = float(np.max(np.abs(expected), initial=0.0))
    scale = max(scale, min_scale, 1e-12)
    error = float(np.max(np.abs(actual - expected), initial=0.0))
    assert (
        error <= rtol * scale
    ), f"{err_msg} max abs error {error:.3g} > {rtol:g} * scale {scale:.3g}"
