"""`BigBirdAttention` against an independent dense float64 oracle.

Every numerical test compares the layer with `tests.attention_oracle`
(numpy, float64, dense softmax attention restricted to
`layer.attention_graph` and the padding mask), with
`keras.layers.MultiHeadAttention`, or with an exact property (zeros,
finiteness, dropout structure); never with the layer itself.
"""

import json

import keras
import numpy as np
import pytest

from keras_bigbird.layers import BigBirdAttention
from tests.attention_oracle import OracleWeights
from tests.attention_oracle import assert_close
from tests.attention_oracle import dynamic_signature
from tests.attention_oracle import oracle_backward
from tests.attention_oracle import oracle_forward
from tests.layers.attention_harness import LOOP_MODES
from tests.layers.attention_harness import MODES
from tests.layers.attention_harness import RTOL
from tests.layers.attention_harness import STATIC_MODES
from tests.layers.attention_harness import built
from tests.layers.attention_harness import check_gradients
from tests.layers.attention_harness import eager_jax_only_if
from tests.layers.attention_harness import inputs
from tests.layers.attention_harness import jax_only
from tests.layers.attention_harness import make_mask
from tests.layers.attention_harness import layer_gradients
from tests.layers.attention_harness import oracle_for
from tests.layers.attention_harness import randomize_weights
from tests.layers.attention_harness import run_layer
from tests.layers.attention_harness import to_numpy

SEED = 20260


# === Helpers ===


def make_layer(dims, rng, *, heads, key_dim, block, r, seed=SEED, **kwargs):
    """A built layer with random kernels and biases."""
    layer = BigBirdAttention(
        num_heads=heads,
        key_dim=key_dim,
        block_size=block,
        num_random_blocks=r,
        seed=seed,
        **kwargs,
    )
    return built(layer, dims, rng)


def mha_output(mha, x, padding_mask):
    """`MultiHeadAttention` self-attention over the real keys."""
    # With scores requested MHA takes its einsum path: its fused path fails
    # on JAX when value_dim != key_dim (Keras 3.15).
    output, _ = mha(
        x,
        x,
        attention_mask=padding_mask[:, None, :],
        return_attention_scores=True,
    )
    return to_numpy(output)


# === Oracle self-checks ===


def test_oracle_gradient_matches_finite_differences():
    """The hand-written oracle backward pass is the derivative of its
    forward pass (central differences in float64)."""
    rng = np.random.default_rng(0)
    heads, dim, key_dim, value_dim, out, length = 2, 3, 2, 3, 4, 6
    weights = OracleWeights(
        rng.normal(size=(dim, heads, key_dim)),
        rng.normal(size=(heads, key_dim)),
        rng.normal(size=(dim, heads, key_dim)),
        rng.normal(size=(heads, key_dim)),
        rng.normal(size=(dim, heads, value_dim)),
        rng.normal(size=(heads, value_dim)),
        rng.normal(size=(heads, value_dim, out)),
        rng.normal(size=(out,)),
    )
    x = rng.normal(size=(2, length, dim))
    graph = rng.random((heads, length, length)) < 0.6
    mask = np.array([[1, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0]], bool)
    upstream = rng.normal(size=(2, length, out))

    def loss(weights, x):
        f = oracle_forward(weights, x, graph=graph, padding_mask=mask)
        return float((f.output * upstream).sum())

    forward = oracle_forward(weights, x, graph=graph, padding_mask=mask)
    input_grads, weight_grads = oracle_backward(weights, forward, upstream)
    eps = 1e-6

    def numeric(array, evaluate):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            plus = evaluate()
            array[index] = saved - eps
            minus = evaluate()
            array[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
        return grad

    x_grad = sum(input_grads.values())
    np.testing.assert_allclose(
        x_grad, numeric(x, lambda: loss(weights, x)), rtol=1e-6, atol=1e-7
    )
    for name, array in vars(weights).items():
        np.testing.assert_allclose(
            getattr(weight_grads, name),
            numeric(array, lambda: loss(weights, x)),
            rtol=1e-6,
            atol=1e-7,
            err_msg=name,
        )


def test_oracle_matches_keras_multi_head_attention():
    """With a dense graph the oracle is plain MHA (an independent
    implementation), padding included."""
    rng = np.random.default_rng(1)
    mha = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5)
    x = inputs(rng, 2, 9, 6)
    mha.build(x.shape, x.shape)
    mha.set_weights([rng.normal(size=w.shape) for w in mha.get_weights()])
    mask = np.ones((2, 9), bool)
    mask[0, 6:] = False
    mask[1, :2] = False
    expected = mha_output(mha, x, mask)
    forward = oracle_forward(
        OracleWeights.from_layer(mha), x, graph=None, padding_mask=mask
    )
    assert_close(forward.output, expected, 1e-5)


# === Oracle equality ===

# (block_size, random blocks, heads, key_dim, value_dim, dim, length, batch,
# mask kind). The layer takes its dense path when the length is static and
# has no more than 5 + r blocks; graph/XLA always take the sparse path.
CONFIGS = [
    (1, 0, 1, 4, None, 3, 1, 1, "none"),
    (1, 2, 3, 4, None, 5, 17, 2, "random"),
    (1, 1, 2, 3, 2, 4, 40, 2, "middle"),
    (2, 1, 2, 3, None, 4, 5, 2, "full_pad"),
    (2, 3, 4, 4, None, 6, 17, 2, "right"),  # 9 blocks: sparse
    (3, 4, 4, 8, None, 6, 50, 2, "left"),
    (4, 3, 12, 4, None, 8, 61, 2, "middle"),
    (5, 2, 2, 8, 3, 6, 64, 2, "right"),
    (7, 1, 5, 6, None, 6, 100, 2, "random"),
    (8, 4, 8, 8, None, 8, 130, 2, "random"),
    (13, 4, 2, 4, None, 4, 117, 2, "random"),  # 9 blocks: dense path
    (13, 4, 2, 4, None, 4, 118, 2, "single"),  # 10 blocks: sparse path
    (16, 3, 6, 8, None, 8, 257, 2, "full_pad"),
    (32, 2, 2, 8, None, 4, 500, 1, "left"),
    (64, 0, 2, 4, None, 4, 192, 2, "random"),  # exactly 3 blocks
    (64, 1, 3, 4, None, 4, 1, 2, "single"),
    (64, 2, 1, 4, None, 4, 773, 1, "middle"),
    (64, 3, 1, 4, None, 4, 2051, 1, "random"),
    (10, 2, 1, 2, None, 3, 2003, 1, "right"),
]


def config_id(config):
    block, r, heads, _, _, _, length, _, kind = config
    return f"b{block}-r{r}-h{heads}-T{length}-{kind}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_output_matches_oracle(config, mode):
    block, r, heads, key_dim, value_dim, dim, length, batch, kind = config
    eager_jax_only_if(CONFIGS.index(config) in (0, 3, 11, 17), mode)
    rng = np.random.default_rng(CONFIGS.index(config))
    layer = make_layer(
        dim,
        rng,
        heads=heads,
        key_dim=key_dim,
        block=block,
        r=r,
        value_dim=value_dim,
    )
    x = inputs(rng, batch, length, dim)
    mask = make_mask(kind, batch, length, rng)
    output = run_layer(layer, mode, x, mask)
    expected = oracle_for(layer, x, mask).output
    assert_close(output, expected, RTOL, config_id(config))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "block,r,length,kind",
    [
        (4, 1, 27, "random"),  # 7 blocks: full attention, as the original
        (4, 1, 50, "full_pad"),
        (2, 2, 61, "middle"),
        (8, 3, 250, "left"),
    ],
)
def test_original_pattern_output_matches_oracle(block, r, length, kind, mode):
    """`random_pattern="bigbird_original"` computes its `attention_graph`
    (at lengths off the paper plan, where no key block is drawn twice)."""
    eager_jax_only_if(length == 50, mode)
    rng = np.random.default_rng(length)
    dim, batch = 6, 2
    layer = make_layer(
        dim,
        rng,
        heads=3,
        key_dim=4,
        block=block,
        r=r,
        seed=2,
        random_pattern="bigbird_original",
        max_sequence_length=512,
    )
    x = inputs(rng, batch, length, dim)
    mask = make_mask(kind, batch, length, rng)
    output = run_layer(layer, mode, x, mask)
    assert_close(output, oracle_for(layer, x, mask).output, RTOL)


@pytest.mark.tf_only
def test_one_trace_serves_every_length():
    """A dynamic-length `tf.function` (what export and `fit` on ragged
    batches use) is exact at every length, from 1 token up."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    dim = 6
    layer = make_layer(dim, rng, heads=3, key_dim=4, block=4, r=2)
    function = tf.function(
        lambda x, m: layer(x, padding_mask=m),
        input_signature=dynamic_signature(dim, with_padding_mask=True),
    )
    for length in (1, 3, 4, 5, 8, 12, 13, 31, 36, 37, 90):
        x = inputs(rng, 2, length, dim)
        mask = make_mask("random", 2, length, rng)
        assert_close(
            function(x, mask).numpy(),
            oracle_for(layer, x, mask).output,
            RTOL,
            f"length {length}",
        )
    assert function.experimental_get_tracing_count() == 1


# (block, r, heads, length, mask kind)
GRADIENT_CONFIGS = [
    (1, 1, 2, 9, "random"),
    (2, 0, 1, 5, "full_pad"),
    (3, 2, 3, 40, "full_pad"),
    (4, 3, 2, 70, "middle"),
    (16, 1, 2, 150, "left"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "config", GRADIENT_CONFIGS, ids=lambda c: f"b{c[0]}-r{c[1]}-T{c[3]}-{c[4]}"
)
def test_gradients_match_oracle(config, mode):
    eager_jax_only_if(config[3] == 40, mode)
    check_gradients_against_oracle(config, mode)


def check_gradients_against_oracle(config, mode):
    block, r, heads, length, kind = config
    rng = np.random.default_rng(block * 1000 + length)
    dim, batch = 5, 2
    layer = make_layer(dim, rng, heads=heads, key_dim=3, block=block, r=r)
    x = inputs(rng, batch, length, dim)
    mask = make_mask(kind, batch, length, rng)
    upstream = rng.normal(size=(batch, length, dim)).astype("float32")
    check_gradients(layer, mode, x, mask, upstream)


# Static shapes (what `fit` on fixed-length batches and the benchmark trace):
# the key-block table is a numpy constant in the graph.


@pytest.mark.parametrize("mode", STATIC_MODES)
@pytest.mark.parametrize(
    "config", [CONFIGS[i] for i in (2, 7, 12, 17, 18)], ids=config_id
)
def test_static_shapes_match_oracle(config, mode):
    block, r, heads, key_dim, value_dim, dim, length, batch, kind = config
    rng = np.random.default_rng(CONFIGS.index(config))
    layer = make_layer(
        dim, rng, heads=heads, key_dim=key_dim, block=block, r=r,
        value_dim=value_dim,
    )
    x = inputs(rng, batch, length, dim)
    mask = make_mask(kind, batch, length, rng)
    output = run_layer(layer, mode, x, mask)
    assert_close(output, oracle_for(layer, x, mask).output, RTOL)


@pytest.mark.parametrize("mode", STATIC_MODES)
@pytest.mark.parametrize(
    "config", GRADIENT_CONFIGS[3:], ids=lambda c: f"b{c[0]}-r{c[1]}-T{c[3]}"
)
def test_static_shapes_gradients_match_oracle(config, mode):
    check_gradients_against_oracle(config, mode)


@pytest.mark.tf_only
@pytest.mark.parametrize("mode", LOOP_MODES)
@pytest.mark.parametrize("kind", ["none", "random"])
@pytest.mark.parametrize(
    "random_pattern, length",
    [
        ("hashed", 9),  # dense path (3 blocks of 4)
        ("hashed", 27),  # block-sparse path
        ("bigbird_original", 9),  # full attention
        ("bigbird_original", 27),  # full attention, chosen in a tf.cond
        ("bigbird_original", 80),  # block-sparse, chosen in a tf.cond
    ],
)
def test_inside_a_while_loop_matches_oracle(random_pattern, length, kind, mode):
    """Keras runs `steps_per_execution > 1` steps in a `tf.while_loop`.

    Inside a loop or a cond, TensorFlow 2.21's oneDNN rewrite of
    "query * constant, matmul with an explicitly transposed key, add a bias"
    returns an empty tensor (see README, "Where the forward time goes"): the
    layer must keep every path out of that form.
    """
    rng = np.random.default_rng(length)
    dim, batch = 6, 2
    layer = make_layer(
        dim, rng, heads=3, key_dim=4, block=4, r=1, seed=2,
        random_pattern=random_pattern,
    )
    x = inputs(rng, batch, length, dim)
    mask = make_mask(kind, batch, length, rng)
    output = run_layer(layer, mode, x, mask)
    assert_close(output, oracle_for(layer, x, mask).output, RTOL)


# === Masks, explicit key/value, attention scores ===


def test_keras_mask_from_embedding_equals_padding_mask():
    rng = np.random.default_rng(3)
    dim, length = 8, 45
    ids = rng.integers(1, 50, size=(4, length))
    ids[0, 30:] = 0
    ids[1, :7] = 0
    ids[2, 10:25] = 0
    ids[3] = 0  # all padding
    layer = make_layer(dim, rng, heads=2, key_dim=4, block=4, r=2)
    token_ids = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(50, dim, mask_zero=True)
    model = keras.Model(token_ids, layer(embedding(token_ids)))

    output = to_numpy(model(ids))
    x = to_numpy(embedding(ids))
    expected = oracle_for(layer, x, ids != 0).output
    assert_close(output, expected, RTOL)
    assert_close(to_numpy(layer(x, padding_mask=ids != 0)), expected, RTOL)
    # Eagerly, Keras hands the mask of a single tensor argument over as
    # `mask` (in a functional model also as `query_mask`).
    masked = embedding(ids)
    assert_close(to_numpy(layer(masked)), expected, RTOL, "eager Keras mask")
    # A Keras mask and an explicit padding_mask are combined (AND).
    extra = rng.random(ids.shape) < 0.8
    assert_close(
        to_numpy(layer(masked, padding_mask=extra)),
        oracle_for(layer, x, (ids != 0) & extra).output,
        RTOL,
    )


def test_query_mask_masks_keys_only_when_value_is_omitted():
    """Documented: without `value` the keys are the query, so its mask masks
    them; with `value` given only the value's mask does (as in MHA)."""
    rng = np.random.default_rng(15)
    dim, length = 6, 37
    x = rng.normal(size=(2, length, dim)).astype("float32")
    query_mask = np.arange(length)[None] < np.array([[length], [20]])
    layer = make_layer(dim, rng, heads=2, key_dim=4, block=4, r=1)
    assert_close(
        to_numpy(layer(x, query_mask=query_mask)),
        oracle_for(layer, x, query_mask).output,
        RTOL,
        "value omitted",
    )
    unmasked = oracle_for(layer, x, np.ones_like(query_mask)).output
    assert_close(
        to_numpy(layer(x, x, query_mask=query_mask)), unmasked, RTOL, "value"
    )


def test_keras_mask_of_an_explicit_value_masks_the_keys():
    """With `value` given, its Keras mask says which keys are real."""
    rng = np.random.default_rng(14)
    dim, length = 6, 40
    query_ids = rng.integers(1, 20, size=(2, length))
    value_ids = rng.integers(1, 20, size=(2, length))
    value_ids[0, 30:] = 0
    value_ids[1, 3:9] = 0
    query_ids[1, :5] = 0  # padded queries still attend the real keys
    query_embedding = keras.layers.Embedding(20, dim, mask_zero=True)
    value_embedding = keras.layers.Embedding(20, dim, mask_zero=True)
    layer = make_layer(dim, rng, heads=2, key_dim=4, block=4, r=1)
    query_in = keras.Input((None,), dtype="int32")
    value_in = keras.Input((None,), dtype="int32")
    model = keras.Model(
        [query_in, value_in],
        layer(query_embedding(query_in), value=value_embedding(value_in)),
    )
    expected = oracle_for(
        layer,
        to_numpy(query_embedding(query_ids)),
        value_ids != 0,
        value=to_numpy(value_embedding(value_ids)),
    ).output
    assert_close(to_numpy(model([query_ids, value_ids])), expected, RTOL)
    eager = layer(query_embedding(query_ids), value=value_embedding(value_ids))
    assert_close(to_numpy(eager), expected, RTOL, "eager")


@pytest.mark.parametrize("length", [11, 77])  # dense path, sparse path
@pytest.mark.parametrize("with_key", [True, False])
def test_explicit_value_and_key(length, with_key):
    """`value` and `key` of other widths; `key` defaults to `value`."""
    rng = np.random.default_rng(4)
    query = inputs(rng, 2, length, 6)
    value = inputs(rng, 2, length, 7)
    key = inputs(rng, 2, length, 3) if with_key else None
    dims = (6, 7, 3) if with_key else (6, 7)
    layer = make_layer(dims, rng, heads=3, key_dim=4, block=4, r=1, value_dim=5)
    mask = make_mask("random", 2, length, rng)
    expected = oracle_for(layer, query, mask, value=value, key=key).output
    output = layer(query, value=value, key=key, padding_mask=mask)
    assert_close(to_numpy(output), expected, RTOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "block,r,length", [(4, 1, 10), (4, 2, 70), (1, 3, 23), (8, 0, 100)]
)
def test_attention_scores_are_the_oracle_probabilities(block, r, length, mode):
    eager_jax_only_if(length == 70, mode)
    rng = np.random.default_rng(length)
    dim, heads = 6, 3
    layer = make_layer(dim, rng, heads=heads, key_dim=4, block=block, r=r)
    x = inputs(rng, 3, length, dim)
    mask = make_mask("full_pad", 3, length, rng)
    output, probs = run_layer(
        layer, mode, x, mask, return_attention_scores=True
    )
    forward = oracle_for(layer, x, mask)
    assert_close(output, forward.output, RTOL, "output")
    assert probs.shape == (3, heads, length, length)
    assert_close(probs, forward.probs, RTOL, "probabilities")
    allowed = layer.attention_graph(length, padding_mask=mask)
    # Exactly zero outside the graph and on padded keys.
    assert np.all(probs[~np.broadcast_to(allowed, probs.shape)] == 0)
    # Rows sum to one when they have an attendable key, else to zero.
    has_key = allowed.any(axis=-1)
    np.testing.assert_allclose(probs.sum(-1), has_key.astype(float), atol=1e-5)
    assert not has_key[0].any()  # the fully padded sequence


# === Drop-in replacement for MultiHeadAttention ===


def test_weights_have_the_names_shapes_and_order_of_mha():
    for kwargs in (
        dict(num_heads=3, key_dim=4),
        dict(num_heads=2, key_dim=4, value_dim=6, output_shape=5),
        dict(num_heads=2, key_dim=4, use_bias=False, output_shape=(2, 3)),
    ):
        mha = keras.layers.MultiHeadAttention(**kwargs)
        mha.build((None, None, 7), (None, None, 7))
        bigbird = BigBirdAttention(block_size=4, seed=0, **kwargs)
        bigbird.build((None, None, 7))

        def describe(layer):
            return [
                (w.path.split("/", 1)[1], tuple(w.shape)) for w in layer.weights
            ]

        assert describe(bigbird) == describe(mha), kwargs


@pytest.mark.parametrize("value_dim,output_shape", [(None, None), (6, (2, 3))])
def test_dense_graph_equals_mha_with_the_same_weights(value_dim, output_shape):
    """Short sequences (at most 3 blocks) have a dense graph, so BigBird is
    exactly MHA; weights move both ways."""
    rng = np.random.default_rng(5)
    dim, length = 7, 11  # 3 blocks of 4
    kwargs = dict(
        num_heads=3, key_dim=4, value_dim=value_dim, output_shape=output_shape
    )
    x = inputs(rng, 2, length, dim)
    mask = np.ones((2, length), bool)
    mask[1, 8:] = False
    mha = keras.layers.MultiHeadAttention(**kwargs)
    mha.build(x.shape, x.shape)
    mha.set_weights([0.5 * rng.normal(size=w.shape) for w in mha.get_weights()])
    expected = mha_output(mha, x, mask)

    bigbird = BigBirdAttention(
        block_size=4, num_random_blocks=2, seed=1, **kwargs
    )
    bigbird.build(x.shape)
    assert bigbird.attention_graph(length).all()
    bigbird.set_weights(mha.get_weights())
    assert_close(to_numpy(bigbird(x, padding_mask=mask)), expected, RTOL)

    # And back: a fresh MHA takes BigBird's weights.
    randomize_weights(bigbird, rng)
    mha_back = keras.layers.MultiHeadAttention(**kwargs)
    mha_back.build(x.shape, x.shape)
    mha_back.set_weights(bigbird.get_weights())
    assert_close(
        to_numpy(bigbird(x, padding_mask=mask)),
        mha_output(mha_back, x, mask),
        RTOL,
    )


def test_mha_weights_on_a_sparse_graph_match_the_oracle():
    rng = np.random.default_rng(6)
    x = inputs(rng, 2, 90, 8)
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
    mha.build(x.shape, x.shape)
    mha.set_weights([0.4 * rng.normal(size=w.shape) for w in mha.get_weights()])
    bigbird = BigBirdAttention(num_heads=4, key_dim=4, block_size=5, seed=3)
    bigbird.build(x.shape)
    bigbird.set_weights(mha.get_weights())
    graph = bigbird.attention_graph(90)
    assert not graph.all()
    expected = oracle_forward(OracleWeights.from_layer(mha), x, graph=graph)
    assert_close(to_numpy(bigbird(x)), expected.output, RTOL)


# === Serialization ===


def non_default_kwargs():
    return dict(
        num_heads=3,
        key_dim=5,
        value_dim=7,
        block_size=4,
        num_random_blocks=2,
        seed=77,
        dropout=0.25,
        use_bias=True,
        output_shape=(2, 3),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
        bias_initializer=keras.initializers.Constant(0.1),
        kernel_regularizer=keras.regularizers.L2(0.01),
        bias_regularizer=keras.regularizers.L1(0.02),
        activity_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.002),
        kernel_constraint=keras.constraints.MaxNorm(2.0),
        bias_constraint=keras.constraints.NonNeg(),
        random_pattern="bigbird_original",
        max_sequence_length=1024,
        name="sparse_attention",
        trainable=False,
    )


def test_config_round_trip_with_every_argument():
    kwargs = non_default_kwargs()
    layer = BigBirdAttention(**kwargs)
    config = layer.get_config()
    # Every constructor argument is recorded with its value.
    for name in (
        "num_heads",
        "key_dim",
        "value_dim",
        "block_size",
        "num_random_blocks",
        "seed",
        "dropout",
        "use_bias",
        "name",
        "trainable",
        "random_pattern",
        "max_sequence_length",
    ):
        assert config[name] == kwargs[name], name
    assert tuple(config["output_shape"]) == (2, 3)
    for name in (
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
    ):
        restored = keras.saving.deserialize_keras_object(config[name])
        assert type(restored) is type(kwargs[name]), name
        assert restored.get_config() == kwargs[name].get_config(), name
    # JSON and back gives the same config and a layer with the same graph.
    config = json.loads(json.dumps(config))
    clone = BigBirdAttention.from_config(config)
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(
        clone.attention_graph(50), layer.attention_graph(50)
    )
    # The restored arguments act: initializers, regularizers, constraints.
    rng = np.random.default_rng(7)
    x = inputs(rng, 2, 50, 6)
    clone.build(x.shape)
    assert not clone.trainable
    np.testing.assert_allclose(to_numpy(clone.query_dense.bias), 0.1)
    assert np.std(to_numpy(clone.key_dense.kernel)) > 0.2
    assert isinstance(
        clone.query_dense.kernel.constraint, keras.constraints.MaxNorm
    )
    assert isinstance(
        clone.output_dense.bias.constraint, keras.constraints.NonNeg
    )
    output = clone(x)
    assert output.shape == (2, 50, 2, 3)
    expected = oracle_for(clone, x)
    assert_close(to_numpy(output), expected.output, RTOL)
    # Kernel L2 and bias L1 penalties of the 4 sublayers plus the activity
    # regularizer on the output (Keras divides that one by the batch size).
    weights = OracleWeights.from_layer(clone)
    kernels = weights.as_list()[0::2]
    biases = weights.as_list()[1::2]
    penalty = (
        0.01 * sum((k**2).sum() for k in kernels)
        + 0.02 * sum(np.abs(b).sum() for b in biases)
        + (
            0.001 * np.abs(expected.output).sum()
            + 0.002 * (expected.output**2).sum()
        )
        / len(x)
    )
    clone.trainable = True  # Keras regularizes trainable weights only
    total = sum(float(to_numpy(loss)) for loss in clone.losses)
    assert len(clone.losses) == 1 + 4 + 4
    np.testing.assert_allclose(total, penalty, rtol=1e-4)


def test_config_without_bias_and_defaults_round_trip():
    layer = BigBirdAttention(
        num_heads=2, key_dim=3, use_bias=False, block_size=2, seed=5
    )
    config = layer.get_config()
    clone = BigBirdAttention.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    clone.build((None, None, 4))
    assert len(clone.get_weights()) == 4
    assert config["value_dim"] == 3 and config["output_shape"] is None


@pytest.mark.parametrize("pattern", ["hashed", "bigbird_original"])
def test_keras_file_save_and_load(tmp_path, pattern):
    rng = np.random.default_rng(8)
    dim = 6
    x_in = keras.Input((None, dim))
    mask_in = keras.Input((None,), dtype="bool")
    layer = BigBirdAttention(
        num_heads=2,
        key_dim=4,
        block_size=4,
        num_random_blocks=2,
        seed=123,
        dropout=0.1,
        name="bigbird",
        random_pattern=pattern,
        max_sequence_length=512,
    )
    output = layer(x_in, padding_mask=mask_in)
    model = keras.Model([x_in, mask_in], keras.layers.Dense(3)(output))
    randomize_weights(layer, rng)
    x = inputs(rng, 3, 70, dim)
    mask = make_mask("full_pad", 3, 70, rng)
    before = to_numpy(model.predict([x, mask], verbose=0))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = to_numpy(loaded.predict([x, mask], verbose=0))
    np.testing.assert_array_equal(after, before)
    loaded_layer = loaded.get_layer("bigbird")
    assert isinstance(loaded_layer, BigBirdAttention)
    assert loaded_layer.seed == 123
    assert loaded_layer.random_pattern == pattern
    for length in (1, 70, 301):
        np.testing.assert_array_equal(
            loaded_layer.attention_graph(length), layer.attention_graph(length)
        )
    # And the saved model is right, not only self-consistent.
    attention = oracle_for(loaded_layer, x, mask).output
    dense_kernel, dense_bias = loaded.layers[-1].get_weights()
    assert_close(after, attention @ dense_kernel + dense_bias, RTOL)


def test_seed_none_draws_a_seed_once_and_records_it():
    state = np.random.get_state()
    layers = [
        BigBirdAttention(num_heads=2, key_dim=4, block_size=2) for _ in range(3)
    ]
    seeds = [layer.get_config()["seed"] for layer in layers]
    for seed in seeds:
        assert isinstance(seed, int) and 0 <= seed < 2**31
    assert len(set(seeds)) == 3
    # The recorded seed reproduces the pattern.
    clone = BigBirdAttention.from_config(layers[0].get_config())
    np.testing.assert_array_equal(
        clone.attention_graph(40), layers[0].attention_graph(40)
    )
    # Building, calling (also with dropout) leaves numpy's global RNG alone.
    layer = BigBirdAttention(num_heads=2, key_dim=4, block_size=2, dropout=0.5)
    x = np.ones((1, 20, 4), "float32")
    layer(x, training=True)
    layer.attention_graph(20)
    after = np.random.get_state()
    assert state[0] == after[0]
    np.testing.assert_array_equal(state[1], after[1])
    assert state[2:] == after[2:]


# === Mixed precision ===


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def mixed_policy(request):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    try:
        yield request.param
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize(
    "length,mode",
    [
        (12, "eager"),  # dense path
        (150, "eager"),  # sparse path
        pytest.param(150, "graph", marks=pytest.mark.tf_only),
        pytest.param(150, "xla", marks=pytest.mark.tf_only),
        pytest.param(150, "jit", marks=jax_only),
    ],
)
def test_mixed_precision(mixed_policy, length, mode):
    eager_jax_only_if(length == 12, mode)
    rng = np.random.default_rng(9)
    dim = 8
    layer = make_layer(dim, rng, heads=2, key_dim=4, block=4, r=2)
    compute_dtype = mixed_policy.split("_")[1]
    assert layer.compute_dtype == compute_dtype
    assert layer.variable_dtype == "float32"
    x = inputs(rng, 3, length, dim)
    mask = make_mask("full_pad", 3, length, rng)
    mask[1] = False
    mask[1, -1] = True  # one real token, in the last block
    output, probs = run_layer(
        layer, mode, x, mask, return_attention_scores=True
    )
    assert str(output.dtype) == str(probs.dtype) == compute_dtype
    output, probs = output.astype(np.float64), probs.astype(np.float64)
    assert np.all(np.isfinite(output)) and np.all(np.isfinite(probs))
    forward = oracle_for(layer, x, mask)
    rtol = 5e-3 if compute_dtype == "float16" else 3e-2
    assert_close(output, forward.output, rtol, mixed_policy)
    assert_close(probs, forward.probs, rtol, mixed_policy)
    # Masked keys get exactly zero weight also at low precision.
    allowed = layer.attention_graph(length, padding_mask=mask)
    assert np.all(probs[~np.broadcast_to(allowed, probs.shape)] == 0)
    # The fully padded sequence outputs the output bias.
    bias = to_numpy(layer.output_dense.bias).astype(np.float64)
    np.testing.assert_allclose(
        output[0], np.broadcast_to(bias, output[0].shape), rtol=rtol, atol=rtol
    )


# === Dropout ===


def probe_layer(length, rate, block=4, r=1, seed=SEED):
    """One head whose output row `i` is row `i` of the (dropped) attention
    matrix: the inputs carry a one-hot position that the value projection
    copies and the output projection passes through."""
    rng = np.random.default_rng(10)
    features = 4
    dim = features + length
    layer = make_layer(
        dim,
        rng,
        heads=1,
        key_dim=4,
        block=block,
        r=r,
        seed=seed,
        value_dim=length,
        output_shape=length,
        dropout=rate,
    )
    value_kernel = np.zeros((dim, 1, length))
    value_kernel[features:, 0, :] = np.eye(length)
    layer.value_dense.kernel.assign(value_kernel)
    layer.value_dense.bias.assign(np.zeros((1, length)))
    layer.output_dense.kernel.assign(np.eye(length)[None])
    layer.output_dense.bias.assign(np.zeros(length))

    def make_inputs(batch):
        noise = rng.normal(size=(1, length, features))
        x = np.concatenate([noise, np.eye(length)[None]], axis=-1)
        return np.repeat(x, batch, axis=0).astype("float32")

    return layer, make_inputs


def test_dropout_inactive_without_training_matches_oracle():
    layer, make_inputs = probe_layer(64, 0.3)
    x = make_inputs(2)
    mask = make_mask("middle", 2, 64, np.random.default_rng(0))
    expected = oracle_for(layer, x, mask)
    for training in (None, False):
        output = to_numpy(layer(x, padding_mask=mask, training=training))
        assert_close(output, expected.output, RTOL, f"training={training}")
    # The probe reads out the attention matrix.
    assert_close(expected.output, expected.probs[:, 0], 1e-12)


@pytest.mark.parametrize(
    "mode",
    [
        "eager",
        pytest.param("xla", marks=pytest.mark.tf_only),
        pytest.param("jit", marks=jax_only),
    ],
)
@pytest.mark.parametrize("length,block", [(64, 4), (12, 4)])  # sparse, dense
def test_dropout_drops_attention_probabilities(length, block, mode):
    """Each attention weight is either dropped (exactly 0) or scaled by
    1 / (1 - rate); about `rate` of them are dropped, independently per
    sequence; masked and non-graph keys stay at exactly 0."""
    eager_jax_only_if(length == 64, mode)
    rate = 0.3
    layer, make_inputs = probe_layer(length, rate, block=block)
    batch = 32
    x = make_inputs(batch)
    mask = np.ones((batch, length), bool)
    mask[:, length // 2 : length // 2 + 3] = False
    probs = oracle_for(layer, x, mask).probs[:, 0]  # undropped
    dropped, scores = run_layer(
        layer, mode, x, mask, training=True, return_attention_scores=True
    )
    dropped = dropped.astype(np.float64)
    # The returned scores are the probabilities before dropout, as in MHA.
    assert_close(scores[:, 0], probs, RTOL)

    positive = probs > 0
    assert np.all(dropped[~positive] == 0), "masked or non-graph key attended"
    kept = dropped[positive] != 0
    np.testing.assert_allclose(
        dropped[positive][kept], probs[positive][kept] / (1 - rate), rtol=1e-4
    )
    n = positive.sum()
    drop_fraction = 1 - kept.mean()
    assert abs(drop_fraction - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
    # Identical sequences in a batch get different dropout masks, and so do
    # two eager calls (the seed generator advances).
    assert not np.array_equal(dropped[0] != 0, dropped[1] != 0)
    if mode == "eager":
        again = to_numpy(layer(x, padding_mask=mask, training=True))
        assert not np.array_equal(again != 0, dropped != 0)


def test_dropout_output_is_unbiased():
    """The mean output over many dropout draws converges to the output
    without dropout at the 1 / sqrt(draws) rate."""
    rng = np.random.default_rng(11)
    dim, length, draws = 6, 40, 400
    layer = make_layer(dim, rng, heads=2, key_dim=4, block=4, r=1, dropout=0.4)
    x = np.repeat(inputs(rng, 1, length, dim), draws, axis=0)
    mask = np.ones((draws, length), bool)
    mask[:, -5:] = False
    expected = oracle_for(layer, x[:1], mask[:1]).output[0]
    samples = to_numpy(layer(x, padding_mask=mask, training=True)).astype(float)
    single_error = np.sqrt(((samples - expected) ** 2).mean())
    mean_error = np.sqrt(((samples.mean(0) - expected) ** 2).mean())
    assert single_error > 0.05 * np.abs(expected).mean(), "dropout inactive"
    ratio = mean_error / single_error
    assert ratio < 2.0 / np.sqrt(draws), ratio


def test_dropout_never_attends_padded_keys():
    """Under training=True, changing padded tokens changes nothing in the
    real rows (same seed, hence the same dropout masks)."""
    rng = np.random.default_rng(12)
    dim, length = 6, 90
    x = inputs(rng, 2, length, dim)
    mask = make_mask("middle", 2, length, rng)
    changed = np.where(mask[..., None], x, 100.0 * rng.normal(size=x.shape))
    outputs = []
    for data in (x, changed):
        layer = make_layer(
            dim,
            np.random.default_rng(0),
            heads=2,
            key_dim=4,
            block=8,
            r=2,
            dropout=0.5,
        )
        outputs.append(
            to_numpy(
                layer(data.astype("float32"), padding_mask=mask, training=True)
            )
        )
    np.testing.assert_allclose(
        outputs[0][mask], outputs[1][mask], rtol=1e-5, atol=1e-6
    )
    no_dropout = oracle_for(layer, x, mask).output
    assert not np.allclose(outputs[0][mask], no_dropout[mask], atol=1e-3)


# === Errors ===


@pytest.mark.parametrize(
    "kwargs,argument,received",
    [
        (dict(block_size=0), "block_size", "block_size=0"),
        (dict(block_size=-3), "block_size", "block_size=-3"),
        (dict(block_size=2.5), "block_size", "block_size=2.5"),
        (dict(block_size="8"), "block_size", "block_size='8'"),
        (
            dict(num_random_blocks=-1),
            "num_random_blocks",
            "num_random_blocks=-1",
        ),
        (
            dict(num_random_blocks=1.0),
            "num_random_blocks",
            "num_random_blocks=1.0",
        ),
        (dict(num_heads=0), "num_heads", "num_heads=0"),
        (dict(num_heads=2.0), "num_heads", "num_heads=2.0"),
        (dict(key_dim=None), "key_dim", "key_dim=None"),
        (dict(key_dim=True), "key_dim", "key_dim=True"),
        (dict(value_dim=0), "value_dim", "value_dim=0"),
        (dict(seed=1.5), "seed", "seed=1.5"),
        (dict(seed=-1), "seed", "seed=-1"),
        (dict(seed=2**31), "seed", f"seed={2**31}"),
        (dict(dropout=1.0), "dropout", "dropout=1.0"),
        (dict(output_shape=(3, 0)), "output_shape", "output_shape=(3, 0)"),
    ],
)
def test_constructor_errors_name_argument_and_value(kwargs, argument, received):
    arguments = dict(num_heads=2, key_dim=4, block_size=4, seed=1)
    arguments.update(kwargs)
    with pytest.raises(ValueError) as error:
        BigBirdAttention(**arguments)
    message = str(error.value)
    assert f"`{argument}`" in message, message
    assert received in message, message


def small_layer():
    return BigBirdAttention(num_heads=2, key_dim=4, block_size=4, seed=1)


@pytest.mark.parametrize("shape", [(2, 8), (2, 3, 8, 4), (8,)])
@pytest.mark.parametrize("argument", ["query", "value", "key"])
def test_wrong_rank(shape, argument):
    tensors = {name: np.zeros((2, 8, 8), "float32") for name in ("query",)}
    tensors[argument] = np.zeros(shape, "float32")
    with pytest.raises(ValueError) as error:
        small_layer()(**tensors)
    message = str(error.value)
    assert f"`{argument}`" in message and "rank 3" in message, message
    assert f"{argument}.shape={shape}" in message, message


@pytest.mark.parametrize("mask_shape", [(2, 21), (3, 20), (2, 20, 1), (20,)])
def test_mismatched_padding_mask(mask_shape):
    x = np.zeros((2, 20, 8), "float32")
    with pytest.raises(ValueError) as error:
        small_layer()(x, padding_mask=np.ones(mask_shape, bool))
    message = str(error.value)
    assert "`padding_mask`" in message, message
    assert f"padding_mask.shape={mask_shape}" in message, message


def test_dense_attention_mask_is_rejected():
    x = np.zeros((2, 20, 8), "float32")
    with pytest.raises(ValueError) as error:
        small_layer()(x, attention_mask=np.ones((2, 20, 20), bool))
    message = str(error.value)
    assert "`attention_mask`" in message and "(2, 20, 20)" in message, message
    assert "padding_mask" in message, message


@pytest.mark.parametrize("value_len,key_len", [(30, None), (20, 30), (30, 30)])
def test_cross_attention_with_different_lengths_is_rejected(value_len, key_len):
    query = np.zeros((2, 20, 8), "float32")
    value = np.zeros((2, value_len, 8), "float32")
    key = None if key_len is None else np.zeros((2, key_len, 8), "float32")
    with pytest.raises(ValueError) as error:
        small_layer()(query, value=value, key=key)
    message = str(error.value)
    assert "cross-attention" in message, message
    assert "query.shape=(2, 20, 8)" in message, message
    assert f"value.shape=(2, {value_len}, 8)" in message, message


def test_attention_graph_argument_check():
    with pytest.raises(ValueError, match="seq_len=0"):
        small_layer().attention_graph(0)


# === Heavy padding ===


@pytest.mark.parametrize(
    "mode",
    [
        "eager",
        pytest.param("graph", marks=pytest.mark.tf_only),
        pytest.param("jit", marks=jax_only),
    ],
)
@pytest.mark.parametrize("length", [3, 24, 131])
def test_no_nan_or_inf_with_heavy_padding(length, mode):
    eager_jax_only_if(length == 131, mode)
    rng = np.random.default_rng(13)
    dim, batch = 5, 6
    layer = make_layer(dim, rng, heads=2, key_dim=3, block=4, r=3)
    mask = np.zeros((batch, length), bool)  # sequence 0: all padding
    mask[1, 0] = True  # one token in the first (global) block
    mask[2, -1] = True  # one token in the last (global) block
    mask[3, length // 2] = True  # one token in a middle block
    mask[4, ::7] = True
    mask[5] = rng.random(length) < 0.1
    x = inputs(rng, batch, length, dim, scale=3.0)
    upstream = rng.normal(size=(batch, length, dim)).astype("float32")
    forward = oracle_for(layer, x, mask)
    input_grads, _ = oracle_backward(
        OracleWeights.from_layer(layer), forward, upstream
    )
    # The same sequences again at 30x the scale (scores in the thousands)
    # in the same batch: finite everywhere. (No oracle comparison there:
    # float32 rounding of a score of ~5000 is ~3e-4 of a logit.)
    x2, mask2 = np.concatenate([x, 30 * x]), np.concatenate([mask, mask])
    upstream2 = np.concatenate([upstream, upstream])
    output = run_layer(layer, mode, x2, mask2)
    assert np.all(np.isfinite(output))
    assert_close(output[:batch], forward.output, RTOL)
    grads = layer_gradients(layer, mode, x2, mask2, upstream2)
    for grad in grads:
        assert np.all(np.isfinite(grad))
    # Input gradients do not mix sequences.
    assert_close(grads[0][:batch], sum(input_grads.values()), RTOL, "d input")
