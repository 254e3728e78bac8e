"""`BigBirdEmbedding`: sums of the three tables, masks, length checks."""

import keras
import numpy as np
import pytest

from keras_bigbird.layers import BigBirdEmbedding


def make_embedding(**kwargs):
    config = dict(vocabulary_size=50, hidden_dim=8, max_sequence_length=64,
                  seed=1)
    config.update(kwargs)
    return BigBirdEmbedding(**config)


def tables(layer):
    return {w.path.split("/", 1)[1]: keras.ops.convert_to_numpy(w)
            for w in layer.weights}


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


@pytest.mark.parametrize("length", [1, 13, 64])
def test_equals_the_sum_of_tables_then_layer_norm(length):
    layer = make_embedding(layer_norm_epsilon=1e-6)
    rng = np.random.default_rng(0)
    token_ids = rng.integers(0, 50, (2, length)).astype("int32")
    segment_ids = rng.integers(0, 2, (2, length)).astype("int32")
    out = keras.ops.convert_to_numpy(layer(token_ids, segment_ids))
    t = tables(layer)
    summed = (
        t["token_embedding/embeddings"][token_ids]
        + t["position_embeddings"][None, :length]
        + t["segment_embedding/embeddings"][segment_ids]
    )
    expected = layer_norm(
        summed, t["embeddings_layer_norm/gamma"],
        t["embeddings_layer_norm/beta"], 1e-6,
    )
    assert out.shape == (2, length, 8)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_segment_ids_default_to_zero():
    layer = make_embedding()
    token_ids = np.ones((1, 10), "int32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(token_ids)),
        keras.ops.convert_to_numpy(layer(token_ids, np.zeros_like(token_ids))),
    )


def test_no_segment_table():
    layer = make_embedding(num_segments=0)
    token_ids = np.ones((1, 10), "int32")
    assert layer(token_ids).shape == (1, 10, 8)
    assert "segment_embedding/embeddings" not in tables(layer)
    with pytest.raises(ValueError, match="num_segments=0"):
        layer(token_ids, token_ids)


def test_weight_names_and_shapes():
    layer = make_embedding()
    layer(np.ones((1, 3), "int32"))
    shapes = {name: value.shape for name, value in tables(layer).items()}
    assert shapes == {
        "position_embeddings": (64, 8),
        "token_embedding/embeddings": (50, 8),
        "segment_embedding/embeddings": (2, 8),
        "embeddings_layer_norm/gamma": (8,),
        "embeddings_layer_norm/beta": (8,),
    }


def test_longer_than_max_sequence_length_raises_value_error():
    layer = make_embedding()
    layer(np.ones((1, 64), "int32"))  # exactly the maximum is fine
    with pytest.raises(ValueError, match="max_sequence_length=64"):
        layer(np.ones((1, 65), "int32"))


@pytest.mark.tf_only
def test_longer_than_max_sequence_length_with_unknown_length_in_graph():
    import tensorflow as tf

    layer = make_embedding()

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def embed(token_ids):
        return layer(token_ids)

    assert embed(tf.ones((1, 64), tf.int32)).shape == (1, 64, 8)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="longer than `max_sequence_length`"):
        embed(tf.ones((1, 65), tf.int32))


def test_mask_zero():
    layer = make_embedding(mask_zero=True)
    token_ids = np.array([[5, 6, 0, 0]], "int32")
    mask = layer.compute_mask(token_ids)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask),
                                  [[True, True, False, False]])
    assert make_embedding().compute_mask(token_ids) is None


def test_dropout_only_in_training():
    layer = make_embedding(dropout=0.5)
    token_ids = np.ones((4, 32), "int32")
    inference = keras.ops.convert_to_numpy(layer(token_ids))
    training = keras.ops.convert_to_numpy(layer(token_ids, training=True))
    zeros = training == 0
    assert 0.3 < zeros.mean() < 0.7
    np.testing.assert_allclose(training[~zeros], 2 * inference[~zeros],
                               rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(vocabulary_size=0), "vocabulary_size"),
        (dict(hidden_dim=1.5), "hidden_dim"),
        (dict(max_sequence_length=0), "max_sequence_length"),
        (dict(num_segments=-1), "num_segments"),
        (dict(dropout=1.0), "dropout"),
        (dict(seed="x"), "seed"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_embedding(**kwargs)


def test_get_config_round_trip():
    layer = make_embedding(num_segments=3, dropout=0.1, mask_zero=True,
                           layer_norm_epsilon=1e-5,
                           embeddings_initializer="truncated_normal")
    config = layer.get_config()
    restored = BigBirdEmbedding.from_config(config)
    assert restored.get_config() == config
    token_ids = np.arange(12, dtype="int32").reshape(2, 6)
    layer(token_ids)
    restored(token_ids)
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(token_ids)),
        keras.ops.convert_to_numpy(layer(token_ids)),
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    layer = make_embedding(dtype=policy)
    rng = np.random.default_rng(0)
    token_ids = rng.integers(0, 50, (2, 40)).astype("int32")
    segment_ids = rng.integers(0, 2, (2, 40)).astype("int32")
    out = layer(token_ids, segment_ids)
    compute_dtype = policy.split("_")[1]
    assert keras.backend.standardize_dtype(out.dtype) == compute_dtype
    # The sum of the (float32) tables in numpy, and the float32 layer with
    # the same weights.
    t = tables(layer)
    summed = (
        t["token_embedding/embeddings"][token_ids]
        + t["position_embeddings"][None, :40]
        + t["segment_embedding/embeddings"][segment_ids]
    ).astype(np.float64)
    expected = layer_norm(
        summed, t["embeddings_layer_norm/gamma"],
        t["embeddings_layer_norm/beta"], layer.layer_norm_epsilon,
    )
    actual = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
    rtol = 5e-3 if compute_dtype == "float16" else 3e-2
    atol = rtol * np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)
    reference = make_embedding()
    reference(token_ids)
    reference.set_weights(layer.get_weights())
    float32 = keras.ops.convert_to_numpy(reference(token_ids, segment_ids))
    np.testing.assert_allclose(float32, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(actual, float32, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "token_shape,segment_shape,match",
    [
        ((5,), None, r"token_ids.*rank 2.*token_ids\.shape=\(5,\)"),
        ((2, 5, 3), None, r"token_ids.*rank 2.*token_ids\.shape=\(2, 5, 3\)"),
        ((2, 5), (2, 1), r"segment_ids\.shape=\(2, 1\)"),
        ((2, 5), (2, 3), r"segment_ids\.shape=\(2, 3\)"),
        ((2, 5), (1, 5), r"segment_ids\.shape=\(1, 5\)"),
        ((2, 5), (2, 5, 1), r"segment_ids\.shape=\(2, 5, 1\)"),
    ],
)
def test_input_shapes_are_checked(token_shape, segment_shape, match):
    # Rank-1 and rank-3 token ids failed with IndexError / AddV2 errors and
    # a [batch, 1] segment_ids was broadcast over the sequence.
    layer = make_embedding()
    segment_ids = None
    if segment_shape is not None:
        segment_ids = np.ones(segment_shape, "int32")
    with pytest.raises(ValueError, match=match):
        layer(np.ones(token_shape, "int32"), segment_ids)
