"""`SlidingWindowAttention` against `MultiHeadAttention` on a band mask and
the float64 oracle restricted to the documented `attention_graph`."""

import keras
import numpy as np
import pytest

from keras_bigbird.layers import SlidingWindowAttention
from tests.attention_oracle import OracleWeights
from tests.attention_oracle import assert_close
from tests.attention_oracle import dynamic_signature
from tests.attention_oracle import oracle_forward
from tests.test_case import to_numpy

RTOL = 1e-5


def oracle(layer, x, mask):
    return oracle_forward(
        OracleWeights.from_layer(layer),
        x,
        graph=layer.attention_graph(x.shape[1]),
        padding_mask=mask,
    )


def built_layer(dim, **kwargs):
    config = dict(num_heads=2, key_dim=4, block_size=4, seed=0)
    config.update(kwargs)
    layer = SlidingWindowAttention(**config)
    layer.build((None, None, dim))
    return layer


def example(batch, length, dim, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, length, dim)).astype("float32")
    lengths = rng.integers(length // 2, length + 1, (batch, 1))
    lengths[0] = length
    return x, np.arange(length)[None] < lengths


@pytest.mark.parametrize("length,block_size", [(1, 4), (37, 4), (64, 16)])
def test_equals_mha_with_the_band_mask(length, block_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, length, 12)).astype("float32")
    mask = np.arange(length)[None] < np.array([[length], [max(length - 9, 1)]])
    layer = SlidingWindowAttention(num_heads=3, key_dim=4, block_size=block_size)
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    out = keras.ops.convert_to_numpy(layer(x, padding_mask=mask))
    mha(x, x)
    mha.set_weights(layer.get_weights())
    graph = layer.attention_graph(length)
    dense_mask = graph[None] & mask[:, None, None, :]
    expected = keras.ops.convert_to_numpy(mha(x, x, attention_mask=dense_mask))
    real = mask[..., None]
    np.testing.assert_allclose(np.where(real, out, 0),
                               np.where(real, expected, 0), atol=1e-5)
    assert np.isfinite(out).all()


def test_graph_is_the_block_window():
    layer = SlidingWindowAttention(num_heads=2, key_dim=4, block_size=3)
    graph = layer.attention_graph(10)
    assert graph.shape == (2, 10, 10)
    assert graph[0, 0, :6].all() and not graph[0, 0, 6:].any()
    assert graph[1, 9, 6:].all() and not graph[1, 9, :6].any()


def test_get_config_round_trip_and_invalid_arguments():
    layer = SlidingWindowAttention(num_heads=2, key_dim=4, block_size=8,
                                   dropout=0.1, seed=3)
    config = layer.get_config()
    assert SlidingWindowAttention.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="block_size"):
        SlidingWindowAttention(num_heads=2, key_dim=4, block_size=0)


@pytest.mark.parametrize("shape", [(2, 1), (8,), (2, 9), (1, 8)])
def test_padding_mask_must_be_batch_by_length(shape):
    # (2, 1) and (8,) used to broadcast over every key without an error.
    layer = built_layer(6)
    x, _ = example(2, 8, 6)
    with pytest.raises(ValueError, match=r"padding_mask\.shape="):
        layer(x, padding_mask=np.ones(shape, bool))


def test_an_mha_style_call_with_a_value_is_rejected():
    # `layer(x, x)` would pass `x` as the padding mask.
    layer = built_layer(6)
    x, _ = example(2, 8, 6)
    with pytest.raises(ValueError, match="self-attention.*padding_mask"):
        layer(x, x)


def test_keras_mask_and_padding_mask_are_combined():
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 20, size=(2, 30))
    ids[1, 21:] = 0
    ids[0, 5:9] = 0
    embedding = keras.layers.Embedding(20, 6, mask_zero=True)
    layer = built_layer(6)
    token_in = keras.Input((None,), dtype="int32")
    model = keras.Model(token_in, layer(embedding(token_in)))
    x = keras.ops.convert_to_numpy(embedding(ids))
    real = ids != 0
    expected = oracle(layer, x, real).output
    assert_close(to_numpy(model(ids))[real], expected[real], RTOL, "model")
    extra = rng.random(ids.shape) < 0.8
    both = real & extra
    assert_close(
        to_numpy(layer(embedding(ids), padding_mask=extra))[both],
        oracle(layer, x, both).output[both],
        RTOL,
        "eager Keras mask and padding_mask",
    )


@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_length_unknown_while_tracing(jit_compile):
    import tensorflow as tf

    layer = built_layer(6, block_size=3)
    run = tf.function(
        lambda x, mask: layer(x, padding_mask=mask),
        input_signature=dynamic_signature(6, with_padding_mask=True),
        jit_compile=jit_compile,
    )
    for length in (1, 5, 13, 30):
        x, mask = example(2, length, 6, seed=length)
        assert_close(
            to_numpy(run(x, mask))[mask],
            oracle(layer, x, mask).output[mask],
            RTOL,
            f"length={length}",
        )


def probe_layer(length, rate):
    """One head whose output features `4:` are the (dropped) attention row
    of the query: the value projection copies a one-hot position and the
    output projection passes it through."""
    features = 4
    dim = features + length
    layer = built_layer(
        dim, num_heads=1, key_dim=length, block_size=4, dropout=rate, seed=5
    )
    value_kernel = np.zeros((dim, 1, length))
    value_kernel[features:, 0, :] = np.eye(length)
    layer.value_dense.kernel.assign(value_kernel)
    layer.value_dense.bias.assign(np.zeros((1, length)))
    output_kernel = np.zeros((1, length, dim))
    output_kernel[0, :, features:] = np.eye(length)
    layer.output_dense.kernel.assign(output_kernel)
    layer.output_dense.bias.assign(np.zeros(dim))
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(4, length, features))
    x = np.concatenate([noise, np.broadcast_to(np.eye(length), (4, length, length))], -1)
    return layer, x.astype("float32"), features


def test_dropout_drops_attention_probabilities():
    length, rate = 24, 0.5
    layer, x, features = probe_layer(length, rate)
    mask = np.arange(length)[None] < np.array([[24], [24], [17], [9]])
    probs = oracle(layer, x, mask).probs[:, 0]
    for training in (None, False):
        out = to_numpy(layer(x, padding_mask=mask, training=training))
        assert_close(out[..., features:], probs, RTOL, f"training={training}")
    dropped = to_numpy(layer(x, padding_mask=mask, training=True))[..., features:]
    kept = dropped != 0
    # Kept weights are scaled by 1 / (1 - rate); keys outside the window
    # or padded stay at exactly 0.
    np.testing.assert_allclose(
        dropped[kept], probs[kept] / (1 - rate), rtol=1e-5
    )
    assert not kept[probs == 0].any()
    assert 0.4 < 1 - kept[probs > 0].mean() < 0.6
    # A second call draws new masks.
    again = to_numpy(layer(x, padding_mask=mask, training=True))[..., features:]
    assert (again != dropped).any()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    layer = built_layer(6, dtype=policy)
    x, mask = example(2, 50, 6)
    out = layer(x, padding_mask=mask)
    compute_dtype = policy.split("_")[1]
    assert keras.backend.standardize_dtype(out.dtype) == compute_dtype
    rtol = 5e-3 if compute_dtype == "float16" else 3e-2
    assert_close(
        to_numpy(out)[mask], oracle(layer, x, mask).output[mask], rtol, policy
    )
