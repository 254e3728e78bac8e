"""`BigBirdEncoderBlock`: composition, masks, configs, checkpointing.

The numerical reference is `keras.layers.MultiHeadAttention` inside the same
block (`attention_type="original_full"`, the same weights) with a per-head
`[batch, heads, T, S]` mask built from the documented `attention_graph`:
independent code computing dense attention restricted to the same graph.
"""

import math

import keras
import numpy as np
import pytest

from keras_bigbird.layers import BigBirdEncoderBlock
from tests.attention_oracle import OracleWeights
from tests.attention_oracle import assert_close as oracle_close
from tests.attention_oracle import oracle_forward
from tests.test_case import BACKEND
from tests.test_case import assert_grads_close
from tests.test_case import loss_and_grads
from keras_bigbird.patterns import BigBirdPattern
from keras_bigbird.patterns import WindowPattern

HIDDEN = 16


def make_block(attention_type="block_sparse", **kwargs):
    """`attention_type` "window" is the block-sparse type on a window."""
    pattern = WindowPattern(3) if attention_type == "window" else BigBirdPattern(1)
    config = dict(
        num_heads=2,
        intermediate_dim=32,
        block_size=8,
        pattern=pattern,
        attention_type="original_full" if attention_type == "original_full" else "block_sparse",
        seed=7,
    )
    config.update(kwargs)
    block = BigBirdEncoderBlock(**config)
    block.build((None, None, HIDDEN))
    return block


def inputs(batch, length, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, length, HIDDEN)).astype("float32")
    lengths = lengths or [length] * batch
    mask = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
    return x, mask


def dense_reference(block, x, mask, graph):
    """The block's output with MHA under `graph` (bool [heads, T, T])."""
    dense = make_block(
        "original_full",
        normalize_first=block.normalize_first,
        activation=block.activation,
    )
    dense.set_weights(block.get_weights())
    if graph.ndim == 3:
        graph = np.broadcast_to(graph[None], (x.shape[0], *graph.shape))
    out = dense(x, padding_mask=mask, attention_mask=graph)
    return keras.ops.convert_to_numpy(out)


def assert_close(actual, expected, rtol=1e-5):
    # Block outputs are layer-normalised (scale ~1): floor the scale at 1.
    oracle_close(actual, expected, rtol, min_scale=1.0)


# === Shapes ===


@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full", "window"])
@pytest.mark.parametrize("length", [1, 64, 100])
def test_output_shape_dtype_and_finite(attention_type, length):
    block = make_block(attention_type)
    x, mask = inputs(2, length, lengths=[length, max(length // 2, 1)])
    out = keras.ops.convert_to_numpy(block(x, padding_mask=mask))
    assert out.shape == (2, length, HIDDEN)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()


def test_compute_output_shape_and_symbolic_call():
    block = make_block()
    assert block.compute_output_shape((3, None, HIDDEN)) == (3, None, HIDDEN)
    x = keras.Input((None, HIDDEN))
    mask = keras.Input((None,), dtype="int32")
    assert tuple(block(x, padding_mask=mask).shape) == (None, None, HIDDEN)


# === Numerics against MultiHeadAttention on the same graph ===


@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize(
    "length,lengths",
    [(100, [100, 77]), (33, [33, 20])],
)
def test_block_sparse_equals_mha_restricted_to_graph(
    normalize_first, length, lengths
):
    # 100 tokens, block 8: 13 blocks, the sparse path; 33 tokens (5 blocks)
    # take the exact dense path of the attention layer.
    block = make_block(normalize_first=normalize_first, dropout=0.1,
                       attention_dropout=0.1)
    x, mask = inputs(2, length, lengths)
    expected = dense_reference(
        block, x, mask, block.attention_graph(length, padding_mask=mask)
    )
    actual = block(x, padding_mask=mask, training=False)
    real = mask[..., None]
    assert_close(np.where(real, actual, 0), np.where(real, expected, 0))


def test_window_equals_mha_restricted_to_band():
    block = make_block("window")
    x, mask = inputs(2, 100, [100, 61])
    graph = block.attention_graph(100)
    blocks = np.arange(100) // 8
    np.testing.assert_array_equal(
        graph[0], np.abs(blocks[:, None] - blocks[None, :]) <= 1
    )
    expected = dense_reference(block, x, mask, graph)
    actual = block(x, padding_mask=mask)
    real = mask[..., None]
    assert_close(np.where(real, actual, 0), np.where(real, expected, 0))


def test_original_full_is_dense_attention():
    block = make_block("original_full")
    assert isinstance(block.attention_layer, keras.layers.MultiHeadAttention)
    assert block.attention_graph(10).all()


def test_weights_move_between_attention_types():
    blocks = [make_block(t) for t in ("block_sparse", "original_full", "window")]
    layouts = [
        [(w.path.split("/", 1)[1], tuple(w.shape)) for w in b.weights]
        for b in blocks
    ]
    assert layouts[0] == layouts[1] == layouts[2]
    assert [name for name, _ in layouts[0][:8]] == [
        f"self_attention/{n}/{w}"
        for n in ("query", "key", "value", "attention_output")
        for w in ("kernel", "bias")
    ]


# === Masks ===


def test_padded_positions_do_not_affect_real_tokens():
    block = make_block()
    x, mask = inputs(2, 100, [100, 61])
    noisy = np.where(mask[..., None], x, 1e3 * np.random.default_rng(1).normal(
        size=x.shape)).astype("float32")
    a = keras.ops.convert_to_numpy(block(x, padding_mask=mask))
    b = keras.ops.convert_to_numpy(block(noisy, padding_mask=mask))
    assert np.isfinite(b).all()
    np.testing.assert_allclose(a[1, :61], b[1, :61], rtol=0, atol=1e-5)


@pytest.mark.parametrize("real,padded", [(50, 56), (20, 40)])
def test_extra_padding_keeps_real_outputs_at_the_same_number_of_blocks(
    real, padded
):
    # 50 -> 56: 7 blocks of 8 either way; 20 -> 40: 3 and 5 blocks, both
    # dense graphs (at most 5 + num_random_blocks blocks).
    block = make_block()
    x, _ = inputs(1, padded)
    mask = np.arange(padded)[None] < real
    short = block(x[:, :real], padding_mask=mask[:, :real])
    long = block(x, padding_mask=mask)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(long)[:, :real],
        keras.ops.convert_to_numpy(short),
        rtol=0,
        atol=1e-5,
    )


def test_keras_mask_equals_padding_mask():
    block = make_block()
    token_ids = np.random.default_rng(0).integers(1, 50, (2, 60))
    token_ids[1, 45:] = 0
    embedding = keras.layers.Embedding(50, HIDDEN, mask_zero=True)
    embedded = embedding(token_ids)
    via_keras_mask = block(embedded)
    via_padding_mask = block(
        keras.ops.convert_to_numpy(embedded), padding_mask=token_ids != 0
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(via_keras_mask)[1, :45],
        keras.ops.convert_to_numpy(via_padding_mask)[1, :45],
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full", "window"])
def test_keras_mask_and_padding_mask_are_combined(attention_type):
    block = make_block(attention_type)
    rng = np.random.default_rng(2)
    token_ids = rng.integers(1, 50, (2, 60))
    token_ids[1, 45:] = 0
    token_ids[0, 10:14] = 0
    extra = rng.random(token_ids.shape) < 0.8
    embedding = keras.layers.Embedding(50, HIDDEN, mask_zero=True)
    embedded = embedding(token_ids)
    x = keras.ops.convert_to_numpy(embedded)
    both = (token_ids != 0) & extra
    expected = dense_reference(
        block, x, both, block.attention_graph(60, padding_mask=both)
    )
    actual = keras.ops.convert_to_numpy(block(embedded, padding_mask=extra))
    assert_close(actual[both], expected[both])


@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full", "window"])
@pytest.mark.parametrize("shape", [(2, 1), (12,), (2, 13)])
def test_padding_mask_must_be_batch_by_length(attention_type, shape):
    # A [batch, 1] mask used to broadcast over every key (window and
    # original_full) and the others failed with backend shape errors.
    block = make_block(attention_type)
    x, _ = inputs(2, 12)
    with pytest.raises(ValueError, match=r"padding_mask\.shape="):
        block(x, padding_mask=np.ones(shape, bool))


@pytest.mark.parametrize("attention_type", ["block_sparse", "window"])
def test_dense_attention_mask_is_rejected(attention_type):
    block = make_block(attention_type)
    x, _ = inputs(1, 20)
    with pytest.raises(ValueError, match="attention_mask.*original_full"):
        block(x, attention_mask=np.ones((1, 20, 20), bool))


# === Arguments and config ===


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_heads=0), "num_heads"),
        (dict(intermediate_dim=2.5), "intermediate_dim"),
        (dict(block_size=0), "block_size"),
        (dict(num_random_blocks=-1), "num_random_blocks"),
        (dict(attention_type="sparse"), "attention_type"),
        (dict(dropout=1.0), "dropout"),
        (dict(attention_dropout=-0.1), "attention_dropout"),
        (dict(seed=-3), "seed"),
        (dict(random_pattern="numpy"), "random_pattern='numpy'"),
        (dict(max_sequence_length=0), "max_sequence_length"),
        (dict(pattern="bigbird"), "pattern='bigbird'"),
        (dict(max_global_tokens=-1), "max_global_tokens"),
        (
            dict(pattern=BigBirdPattern(), num_random_blocks=2),
            "either `pattern` or",
        ),
    ],
)
def test_invalid_arguments(kwargs, match):
    config = dict(num_heads=2, intermediate_dim=8)
    config.update(kwargs)
    with pytest.raises(ValueError, match=match):
        BigBirdEncoderBlock(**config)


def test_hidden_size_must_divide_into_heads():
    block = BigBirdEncoderBlock(num_heads=3, intermediate_dim=8)
    with pytest.raises(ValueError, match="multiple of `num_heads`"):
        block(np.zeros((1, 4, HIDDEN), "float32"))


def test_get_config_round_trip():
    block = make_block(
        "window",
        activation="relu",
        dropout=0.2,
        attention_dropout=0.1,
        layer_norm_epsilon=1e-6,
        normalize_first=True,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        gradient_checkpointing=True,
    )
    config = block.get_config()
    restored = BigBirdEncoderBlock.from_config(config)
    assert restored.get_config() == config
    for key in (
        "num_heads", "intermediate_dim", "pattern", "block_size",
        "attention_type", "causal", "max_global_tokens", "activation",
        "dropout", "attention_dropout", "layer_norm_epsilon",
        "normalize_first", "kernel_initializer", "bias_initializer",
        "gradient_checkpointing", "seed",
    ):
        assert key in config
    assert restored.pattern == WindowPattern(3)
    restored.build((None, None, HIDDEN))
    restored.set_weights(block.get_weights())
    x, mask = inputs(2, 100, [100, 61])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x, padding_mask=mask)),
        keras.ops.convert_to_numpy(block(x, padding_mask=mask)),
        atol=1e-6,
    )


def test_seed_none_is_drawn_and_recorded():
    block = BigBirdEncoderBlock(num_heads=2, intermediate_dim=8)
    assert isinstance(block.get_config()["seed"], int)


def test_seed_fixes_the_pattern_and_seeds_differ():
    a, b, c = make_block(seed=1), make_block(seed=1), make_block(seed=2)
    np.testing.assert_array_equal(a.attention_graph(200), b.attention_graph(200))
    assert (a.attention_graph(200) != c.attention_graph(200)).any()


def numpy_block(block, x, mask):
    """The post-norm block in float64 numpy: the attention oracle on the
    documented `attention_graph`, then residuals, layer norms and the exact
    GELU feed-forward, from the block's weights."""
    weights = [np.asarray(w, np.float64) for w in block.get_weights()]
    attention = oracle_forward(
        OracleWeights.from_weights(weights[:8]),
        np.asarray(x, np.float64),
        graph=block.attention_graph(x.shape[1], padding_mask=mask),
        padding_mask=mask,
    ).output
    norm1_g, norm1_b, w1, b1, w2, b2, norm2_g, norm2_b = weights[8:]

    def layer_norm(h, gamma, beta):
        mean = h.mean(-1, keepdims=True)
        var = h.var(-1, keepdims=True)
        return (h - mean) / np.sqrt(var + block.layer_norm_epsilon) * gamma + beta

    h = layer_norm(attention + x, norm1_g, norm1_b)
    pre = h @ w1 + b1
    erf = np.vectorize(math.erf)
    gelu = 0.5 * pre * (1.0 + erf(pre / math.sqrt(2.0)))
    return layer_norm(gelu @ w2 + b2 + h, norm2_g, norm2_b)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full", "window"])
def test_mixed_precision_policy(policy, attention_type):
    block = make_block(attention_type, dtype=policy, dropout=0.1)
    x, mask = inputs(2, 100, [100, 50])
    out = block(x, padding_mask=mask, training=True)
    compute_dtype = policy.split("_")[1]
    assert keras.backend.standardize_dtype(out.dtype) == compute_dtype
    assert np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))).all()
    # In inference: the float64 numpy block, and the float32 block with the
    # same weights.
    expected = numpy_block(block, x, mask)
    actual = keras.ops.convert_to_numpy(
        keras.ops.cast(block(x, padding_mask=mask), "float32")
    )
    rtol = 5e-3 if compute_dtype == "float16" else 3e-2
    assert_close(actual[mask], expected[mask], rtol=rtol)
    reference = make_block(attention_type, dropout=0.1)
    reference.set_weights(block.get_weights())
    float32 = keras.ops.convert_to_numpy(reference(x, padding_mask=mask))
    assert_close(float32[mask], expected[mask], rtol=1e-5)
    assert_close(actual[mask], float32[mask], rtol=rtol)


# === Gradient checkpointing ===


class BlockModel(keras.Model):
    """A model around one block, for the gradient helpers."""

    def __init__(self, block):
        super().__init__(name="block_model")
        self.block = block

    def call(self, inputs, training=None):
        x, mask = inputs
        return self.block(x, padding_mask=mask, training=training)


def _checkpointing_pair(**kwargs):
    plain = make_block(dropout=0.3, attention_dropout=0.3, **kwargs)
    checkpointed = make_block(
        dropout=0.3, attention_dropout=0.3, gradient_checkpointing=True, **kwargs
    )
    checkpointed.set_weights(plain.get_weights())
    return BlockModel(plain), BlockModel(checkpointed)


def _loss(outputs):
    weights = keras.ops.arange(HIDDEN, dtype="float32") / HIDDEN
    return keras.ops.sum(keras.ops.square(outputs) * weights)


@pytest.mark.parametrize(
    "graph",
    [
        False,
        pytest.param(True, marks=pytest.mark.tf_only),
        pytest.param("xla", marks=pytest.mark.tf_only),
    ],
)
@pytest.mark.parametrize("attention_type", ["block_sparse", "original_full"])
def test_checkpointing_gives_the_same_gradients_with_dropout(graph, attention_type):
    plain, checkpointed = _checkpointing_pair(attention_type=attention_type)
    x, mask = inputs(2, 100, [100, 70])
    loss_a, grads_a = loss_and_grads(plain, (x, mask), _loss, graph=graph)
    loss_b, grads_b = loss_and_grads(checkpointed, (x, mask), _loss, graph=graph)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert_grads_close(grads_a, grads_b)
    if BACKEND == "tensorflow":
        # Both advanced their dropout seeds by one draw per dropout layer.
        for a, b in zip(plain.non_trainable_variables,
                        checkpointed.non_trainable_variables):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
            )
        # And the next step draws new masks, again the same ones.
        loss_c, _ = loss_and_grads(plain, (x, mask), _loss, graph=graph)
        loss_d, _ = loss_and_grads(checkpointed, (x, mask), _loss, graph=graph)
        assert loss_c != loss_a
        assert loss_c == pytest.approx(loss_d, rel=1e-5)


@pytest.mark.tf_only
def test_checkpointing_recomputes_the_block_in_the_backward_pass():
    import tensorflow as tf

    x, mask = inputs(1, 64)
    for checkpointing, expected_calls in ((False, 1), (True, 2)):
        block = make_block(gradient_checkpointing=checkpointing)
        calls = []
        forward = block._forward

        def counting_forward(*args, forward=forward, calls=calls):
            calls.append(1)
            return forward(*args)

        block._forward = counting_forward
        x_var = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_var)
            loss = tf.reduce_sum(block(x_var, padding_mask=mask, training=True))
        assert len(calls) == 1
        tape.gradient(loss, [x_var] + block.trainable_variables)
        assert len(calls) == expected_calls


@pytest.mark.skipif(BACKEND != "jax", reason="needs KERAS_BACKEND=jax")
def test_checkpointing_is_a_jax_checkpoint():
    import jax

    x, mask = inputs(1, 64)
    for checkpointing in (False, True):
        model = BlockModel(make_block(gradient_checkpointing=checkpointing))
        model((x, mask))
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss(trainable):
            out, _ = model.stateless_call(
                trainable, non_trainable, (x, mask), training=True
            )
            return out.sum()

        jaxpr = str(jax.make_jaxpr(jax.grad(loss))(trainable))
        assert ("checkpoint" in jaxpr or "remat" in jaxpr) == checkpointing


def _traces_a_remat(model, x, mask, training):
    """Whether the traced forward pass of a `BlockModel` rematerialises.

    Read from the traced graph, not from our code: `keras.remat` is
    `tf.recompute_grad` on TensorFlow, a `tf.custom_gradient` (an IdentityN
    op with a "CustomGradient-*" gradient override), and `jax.checkpoint` on
    JAX (a `checkpoint`/`remat` primitive in the jaxpr).
    """
    model((x, mask))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        graph = tf.function(
            lambda x, mask: model((x, mask), training=training)
        ).get_concrete_function(x, mask).graph
        for op in graph.get_operations():
            try:
                override = op.get_attr("_gradient_op_type")
            except ValueError:
                continue
            if override.startswith(b"CustomGradient"):
                return True
        return False
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def forward(trainable):
        return model.stateless_call(
            trainable, non_trainable, (x, mask), training=training
        )[0]

    jaxpr = str(jax.make_jaxpr(forward)(trainable))
    return "checkpoint" in jaxpr or "remat" in jaxpr


def test_checkpointing_is_off_in_inference():
    plain, checkpointed = _checkpointing_pair()
    x, mask = inputs(2, 100)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(checkpointed((x, mask), training=False)),
        keras.ops.convert_to_numpy(plain((x, mask), training=False)),
        atol=1e-6,
    )
    # The detector sees the remat where it belongs, and none elsewhere.
    assert _traces_a_remat(checkpointed, x, mask, training=True)
    assert not _traces_a_remat(plain, x, mask, training=True)
    for training in (False, None):
        assert not _traces_a_remat(checkpointed, x, mask, training=training)


def test_layer_harness(tmp_path):
    from keras_bigbird.layers import BigBirdEncoderBlock
    from tests import test_case

    x = np.random.default_rng(0).normal(size=(2, 64, 16)).astype("float32")
    output = test_case.run_layer_test(
        BigBirdEncoderBlock,
        dict(num_heads=2, intermediate_dim=32, block_size=16, dropout=0.0,
             attention_dropout=0.0),
        x,
        tmp_path,
    )
    assert output.shape == x.shape
