"""`BigBirdEncoder`: shapes, padding, the dense reference, saving, presets."""

import keras
import numpy as np
import pytest

from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models import PRESETS
from keras_bigbird.ops import original_pattern
from keras_bigbird.patterns import BigBirdPattern
from keras_bigbird.patterns import OriginalBigBirdPattern
from keras_bigbird.patterns import WindowPattern
from tests import test_case
from tests.test_case import encoder_inputs

VOCAB = 97


def tiny_encoder(**kwargs):
    config = dict(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=2048,
        block_size=16,
        pattern=BigBirdPattern(2),
        dropout=0.1,
        attention_dropout=0.1,
        seed=5,
    )
    return test_case.tiny_encoder(**dict(config, **kwargs))


numpy_outputs = test_case.to_numpy


# === Shapes, lengths and padding ===


@pytest.mark.parametrize("length", [1, 63, 64, 65, 700, 1000, 2048])
def test_shapes_and_dtypes_for_variable_lengths(length):
    # Block 64: 63/64/65 straddle a block boundary, 2048 is 32 blocks (the
    # sparse path); the second sequence of the batch is padded.
    encoder = tiny_encoder(block_size=64, pattern=BigBirdPattern(1))
    inputs = encoder_inputs(2, length, VOCAB, lengths=[length, (length + 1) // 2])
    outputs = numpy_outputs(encoder(inputs))
    assert outputs["sequence_output"].shape == (2, length, 16)
    assert outputs["pooled_output"].shape == (2, 16)
    assert outputs["sequence_output"].dtype == np.float32
    assert outputs["pooled_output"].dtype == np.float32
    assert np.isfinite(outputs["sequence_output"]).all()


def test_padded_batch_rows_equal_the_rows_alone():
    encoder = tiny_encoder()
    batch = encoder_inputs(3, 300, VOCAB, lengths=[300, 211, 17])
    together = numpy_outputs(encoder(batch))
    for row in range(3):
        alone = numpy_outputs(
            encoder({k: v[row : row + 1] for k, v in batch.items()})
        )
        real = batch["padding_mask"][row].astype(bool)
        np.testing.assert_allclose(
            together["sequence_output"][row][real],
            alone["sequence_output"][0][real],
            atol=1e-5,
        )
        np.testing.assert_allclose(
            together["pooled_output"][row], alone["pooled_output"][0], atol=1e-5
        )


@pytest.mark.parametrize(
    "real,padded",
    [
        (290, 300),  # 19 blocks of 16 either way: the sparse graph
        (20, 100),  # 2 and 7 blocks: both within the dense regime
        (200, 1000),  # 13 and 63 blocks
        (17, 2048),  # the dense regime padded into the sparse one
    ],
)
def test_extra_padding_does_not_change_real_outputs(real, padded):
    # Each example's graph comes from its own real length (its last
    # global block is its last real block, its random blocks are drawn
    # among its real blocks), so padding never changes real outputs.
    encoder = tiny_encoder()
    inputs = encoder_inputs(2, padded, VOCAB, lengths=[real, real])
    short = numpy_outputs(encoder({k: v[:, :real] for k, v in inputs.items()}))
    long = numpy_outputs(encoder(inputs))
    np.testing.assert_allclose(
        long["sequence_output"][:, :real], short["sequence_output"], atol=1e-5
    )
    np.testing.assert_allclose(
        long["pooled_output"], short["pooled_output"], atol=1e-5
    )


def test_global_mask_makes_tokens_global_in_every_layer():
    encoder = tiny_encoder(max_global_tokens=8)
    inputs = encoder_inputs(2, 400, VOCAB, lengths=[400, 333])
    globals_ = np.zeros((2, 400), "int32")
    globals_[:, [0, 5, 6, 200]] = 1
    with_global = numpy_outputs(encoder(dict(inputs, global_mask=globals_)))
    without = numpy_outputs(encoder(inputs))
    # Small initial attention weights: a change well above float noise (1e-7).
    assert np.abs(
        with_global["sequence_output"] - without["sequence_output"]
    ).max() > 1e-4
    for i in range(2):
        graph = encoder.attention_graph(i, 400, inputs["padding_mask"], globals_)
        assert graph[:, :, :, 200].all() and graph[0, :, 200, :].all()
    # An all-zero global mask is no global token.
    zeros = numpy_outputs(encoder(dict(inputs, global_mask=0 * globals_)))
    np.testing.assert_allclose(
        zeros["sequence_output"], without["sequence_output"], atol=1e-5
    )


def test_segment_ids_are_optional():
    encoder = tiny_encoder()
    inputs = encoder_inputs(2, 50, VOCAB)
    without = {k: inputs[k] for k in ("token_ids", "padding_mask")}
    zeros = dict(without, segment_ids=np.zeros_like(inputs["token_ids"]))
    np.testing.assert_allclose(
        numpy_outputs(encoder(without))["sequence_output"],
        numpy_outputs(encoder(zeros))["sequence_output"],
        atol=1e-6,
    )
    assert "segment_ids" not in tiny_encoder(num_segments=0).input


# === Composition adds no error: the dense reference ===


@pytest.mark.parametrize("normalize_first", [False, True])
def test_equals_dense_attention_encoder_restricted_to_the_same_graph(
    normalize_first,
):
    # The same weights in an encoder with keras.layers.MultiHeadAttention
    # ("original_full"), each layer given a per-head [batch, heads, T, T]
    # mask built from the documented graph of the same layer.
    sparse = tiny_encoder(normalize_first=normalize_first)
    dense = tiny_encoder(
        normalize_first=normalize_first, attention_type="original_full"
    )
    dense.set_weights(sparse.get_weights())
    length = 700  # 44 blocks of 16: the sparse path
    inputs = encoder_inputs(2, length, VOCAB, lengths=[700, 523])
    expected = numpy_outputs(sparse(inputs))

    graphs = [
        sparse.attention_graph(i, length, inputs["padding_mask"])
        for i in range(2)
    ]
    assert (graphs[0] != graphs[1]).any()  # every layer has its own pattern
    assert not graphs[0].all()
    x = dense.embeddings(inputs["token_ids"], inputs["segment_ids"])
    for layer, graph in zip(dense.encoder_layers, graphs):
        x = layer(
            x, padding_mask=inputs["padding_mask"], attention_mask=graph
        )
    if dense.final_layer_norm is not None:
        x = dense.final_layer_norm(x)
    pooled = keras.ops.convert_to_numpy(dense.pooled_dense(x[:, 0]))
    x = keras.ops.convert_to_numpy(x)

    real = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(
        expected["sequence_output"][real], x[real], rtol=0, atol=2e-5
    )
    np.testing.assert_allclose(
        expected["pooled_output"], pooled, rtol=0, atol=2e-5
    )


def test_window_encoder_differs_and_shares_weights():
    sparse = tiny_encoder()
    window = tiny_encoder(pattern=WindowPattern(3))
    window.set_weights(sparse.get_weights())
    inputs = encoder_inputs(1, 300, VOCAB)
    a = numpy_outputs(sparse(inputs))["sequence_output"]
    b = numpy_outputs(window(inputs))["sequence_output"]
    assert np.abs(a - b).max() > 1e-3


# === Seeds ===


def test_layer_seeds_are_derived_from_seed_and_index():
    a, b, c = tiny_encoder(seed=1), tiny_encoder(seed=1), tiny_encoder(seed=2)
    seeds = [layer.seed for layer in a.encoder_layers]
    assert seeds == [BigBirdEncoder.layer_seed(1, i) for i in range(2)]
    assert len(set(seeds)) == 2
    assert seeds == [layer.seed for layer in b.encoder_layers]
    assert seeds != [layer.seed for layer in c.encoder_layers]
    np.testing.assert_array_equal(a.attention_graph(1, 500),
                                  b.attention_graph(1, 500))
    assert (a.attention_graph(1, 500) != c.attention_graph(1, 500)).any()


def test_original_pattern_seeds_layer_i_with_i():
    """`OriginalBigBirdPattern`: layer `i` attends the blocks the original
    generator draws with numpy seed `i` for `table_length` tokens, as the
    published checkpoints (whose outputs tests/convert/transformers_test.py
    compares with transformers)."""
    encoder = tiny_encoder(
        pattern=OriginalBigBirdPattern(2, table_length=2048), num_layers=3
    )
    for i in range(3):
        np.testing.assert_array_equal(
            encoder.attention_graph(i, 500),
            original_pattern.attention_graph(500, 16, 2, 2, i, 2048),
        )
    # Sparse for 500 tokens (32 blocks), and not the hashed pattern.
    assert not encoder.attention_graph(0, 500).all()
    hashed = tiny_encoder(num_layers=3)
    assert (encoder.attention_graph(1, 500) != hashed.attention_graph(1, 500)).any()
    outputs = encoder(encoder_inputs(2, 300, VOCAB))["sequence_output"]
    assert np.isfinite(keras.ops.convert_to_numpy(outputs)).all()


# === Errors ===


def test_longer_than_max_sequence_length_raises_value_error():
    encoder = tiny_encoder(max_sequence_length=128)
    with pytest.raises(ValueError, match="max_sequence_length=128"):
        encoder(encoder_inputs(1, 129, VOCAB))


@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_longer_than_max_sequence_length_with_unknown_length(jit_compile):
    import tensorflow as tf

    encoder = tiny_encoder(max_sequence_length=128)
    spec = tf.TensorSpec((None, None), tf.int32)

    @tf.function(
        input_signature=[{"token_ids": spec, "padding_mask": spec}],
        jit_compile=jit_compile,
    )
    def run(inputs):
        return encoder(inputs)["sequence_output"]

    def ids(n):
        return {"token_ids": tf.ones((1, n), tf.int32),
                "padding_mask": tf.ones((1, n), tf.int32)}

    assert run(ids(128)).shape == (1, 128, 16)
    # Graph mode: the assertion names the limit. XLA drops assertions; the
    # position slice then fails for that shape ("Expected size[0] in [0,
    # 128], but got 129").
    match = "max_sequence_length" if not jit_compile else r"\[0, 128\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        run(ids(129))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_layers=0), "num_layers"),
        (dict(hidden_dim=18, num_heads=4), "multiple of `num_heads`"),
        (dict(attention_type="dense"), "attention_type"),
        (dict(seed=2**31), "seed"),
        (dict(block_size=0), "block_size"),
        (dict(random_pattern="numpy", pattern=None), "random_pattern='numpy'"),
        (dict(pattern="window"), "pattern='window'"),
        (dict(num_random_blocks=2), "either `pattern` or"),
        (dict(max_global_tokens=-1), "max_global_tokens"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_encoder(**kwargs)


# === Configs, saving, presets ===


def test_get_config_round_trip():
    encoder = tiny_encoder(
        normalize_first=True, gradient_checkpointing=True, num_segments=3,
        pattern=WindowPattern(5, 2) | BigBirdPattern(1), activation="relu",
        layer_norm_epsilon=1e-6, causal=True, max_global_tokens=9,
    )
    config = encoder.get_config()
    restored = BigBirdEncoder.from_config(config)
    assert restored.get_config() == config
    assert restored.pattern == encoder.pattern
    for name in (
        "vocabulary_size", "num_layers", "num_heads", "hidden_dim",
        "intermediate_dim", "max_sequence_length", "block_size",
        "pattern", "dropout", "attention_dropout", "num_segments",
        "normalize_first", "gradient_checkpointing", "seed",
        "attention_type", "activation", "layer_norm_epsilon",
        "initializer_range", "causal", "max_global_tokens",
    ):
        assert name in config


def test_release_0_1_pattern_arguments_become_patterns():
    assert tiny_encoder(pattern=None, num_random_blocks=1).pattern == (
        BigBirdPattern(1)
    )
    window = tiny_encoder(pattern=None, attention_type="window")
    assert window.pattern == WindowPattern(3)
    assert window.attention_type == "block_sparse"
    original = tiny_encoder(pattern=None, random_pattern="bigbird_original")
    assert original.pattern == OriginalBigBirdPattern(3, table_length=2048)


def test_keras_save_and_load_round_trip(tmp_path):
    encoder = tiny_encoder(normalize_first=True)
    inputs = encoder_inputs(2, 300, VOCAB, lengths=[300, 200])
    expected = numpy_outputs(encoder(inputs))
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, BigBirdEncoder)
    actual = numpy_outputs(restored(inputs))
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


# === The `dtype` policy and the keyword arguments of the model ===


def policy_name(policy):
    return keras.dtype_policies.get(policy).name


@pytest.fixture
def policy_scope():
    """Sets a global dtype policy for one test, restores the previous one."""
    previous = keras.mixed_precision.dtype_policy()
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize(
    "dtype", ["mixed_bfloat16", "mixed_float16", "bfloat16"]
)
def test_dtype_is_the_policy_of_the_model_and_of_its_config(dtype):
    # Keras' functional constructor ignores `dtype`: the model itself must
    # report the policy, not only its layers, and save it in its config.
    encoder = tiny_encoder(num_layers=1, dtype=dtype)
    assert encoder.dtype_policy.name == dtype
    assert encoder.embeddings.dtype_policy.name == dtype
    assert encoder.encoder_layers[0].dtype_policy.name == dtype
    config = encoder.get_config()
    assert policy_name(config["dtype"]) == dtype
    restored = BigBirdEncoder.from_config(config)
    assert restored.dtype_policy.name == dtype
    assert restored.encoder_layers[0].dtype_policy.name == dtype
    assert restored.get_config() == config


def test_default_dtype_is_the_global_policy(policy_scope):
    assert tiny_encoder(num_layers=1).dtype_policy.name == "float32"
    policy_scope("mixed_bfloat16")
    encoder = tiny_encoder(num_layers=1)
    assert encoder.dtype_policy.name == "mixed_bfloat16"
    assert encoder.encoder_layers[0].dtype_policy.name == "mixed_bfloat16"


def test_mixed_precision_encoder_saves_and_loads_with_its_policy(tmp_path):
    encoder = tiny_encoder(dtype="mixed_bfloat16")
    inputs = encoder_inputs(2, 160, VOCAB, lengths=[160, 97])
    expected = numpy_outputs(encoder(inputs))
    # An independent reference: the float32 encoder with the same weights.
    # bfloat16 compute stays close to it, but is not float32 compute.
    reference = tiny_encoder()
    reference.set_weights(encoder.get_weights())
    float32 = numpy_outputs(reference(inputs))
    real = inputs["padding_mask"].astype(bool)
    got = expected["sequence_output"].astype("float32")[real]
    want = float32["sequence_output"][real]
    np.testing.assert_allclose(got, want, atol=0.1)
    assert not np.array_equal(got, want)

    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path)
    assert restored.dtype_policy.name == "mixed_bfloat16"
    assert restored.embeddings.dtype_policy.name == "mixed_bfloat16"
    for layer in restored.encoder_layers:
        assert layer.dtype_policy.name == "mixed_bfloat16"
    actual = numpy_outputs(restored(inputs))
    for key in expected:
        assert actual[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(actual[key], expected[key])


def test_compile_under_mixed_float16_adds_loss_scaling():
    encoder = tiny_encoder(num_layers=1, dtype="mixed_float16")
    encoder.compile(optimizer="adam", loss="mse")
    assert isinstance(encoder.optimizer, keras.optimizers.LossScaleOptimizer)
    encoder = tiny_encoder(num_layers=1)
    encoder.compile(optimizer="adam", loss="mse")
    assert not isinstance(
        encoder.optimizer, keras.optimizers.LossScaleOptimizer
    )


@pytest.mark.parametrize(
    "kwargs,bad",
    [
        (dict(num_layer=1, hiden_dim=8, block_sise=4),
         ["num_layer", "hiden_dim", "block_sise"]),
        (dict(dropuot=0.5), ["dropuot"]),
        # Layer arguments the functional constructor would drop too.
        (dict(autocast=False), ["autocast"]),
    ],
)
def test_unrecognized_keyword_arguments_raise(kwargs, bad):
    with pytest.raises(ValueError) as error:
        tiny_encoder(**kwargs)
    message = str(error.value)
    assert "Unrecognized keyword arguments passed to BigBirdEncoder" in message
    for name in bad:
        assert repr(name) in message
    with pytest.raises(ValueError, match="num_layer"):
        BigBirdEncoder.from_preset(
            "bigbird_tiny", vocabulary_size=VOCAB, num_layer=1
        )


def test_model_keyword_arguments_are_honoured():
    encoder = tiny_encoder(num_layers=1, name="my_encoder", trainable=False)
    assert encoder.name == "my_encoder"
    assert not encoder.trainable and not encoder.trainable_weights
    restored = BigBirdEncoder.from_config(encoder.get_config())
    assert restored.name == "my_encoder" and not restored.trainable


@pytest.mark.tf_only
def test_predict_on_variable_length_tf_data():
    import tensorflow as tf

    encoder = tiny_encoder()
    rows = [encoder_inputs(1, n, VOCAB, seed=n) for n in (40, 300, 129, 7)]
    def generator():
        for row in rows:
            yield {k: v[0] for k, v in row.items()}
    spec = tf.TensorSpec((None,), tf.int32)
    dataset = tf.data.Dataset.from_generator(
        generator,
        output_signature={"token_ids": spec, "padding_mask": spec,
                          "segment_ids": spec},
    ).batch(1)
    outputs = encoder.predict(dataset, verbose=0)
    # One traced function serves every length; sequence outputs come back
    # ragged, pooled outputs stacked.
    assert outputs["pooled_output"].shape == (4, 16)
    for i, row in enumerate(rows):
        expected = numpy_outputs(encoder(row))
        np.testing.assert_allclose(
            outputs["pooled_output"][i], expected["pooled_output"][0], atol=1e-5
        )
        np.testing.assert_allclose(
            outputs["sequence_output"][i].numpy(),
            expected["sequence_output"][0],
            atol=1e-5,
        )


def _parameter_count(config):
    h, i, v = config["hidden_dim"], config["intermediate_dim"], config["vocabulary_size"]
    embeddings = (v + config["max_sequence_length"] + config["num_segments"]) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return embeddings + config["num_layers"] * layer + h * h + h


def test_presets_build_the_published_architectures():
    base = BigBirdEncoder.from_preset("bigbird_roberta_base")
    config = base.get_config()
    assert (config["num_layers"], config["hidden_dim"], config["num_heads"],
            config["intermediate_dim"], config["vocabulary_size"],
            config["max_sequence_length"], config["block_size"],
            config["pattern"]["config"]["num_random_blocks"]) == (
                12, 768, 12, 3072, 50358, 4096, 64, 3)
    assert base.count_params() == _parameter_count(config) == 127_468_800
    large = PRESETS["bigbird_roberta_large"]["config"]
    assert (large["num_layers"], large["hidden_dim"], large["num_heads"],
            large["intermediate_dim"]) == (24, 1024, 16, 4096)
    # Building it takes ~20 s; the count formula is checked on base above.
    assert _parameter_count(large) == 359_123_968
    assert set(BigBirdEncoder.presets) == set(PRESETS)


def test_tiny_preset_and_overrides():
    encoder = BigBirdEncoder.from_preset("bigbird_tiny", num_layers=1)
    assert encoder.num_layers == 1 and encoder.hidden_dim == 32
    outputs = encoder(encoder_inputs(1, 100, 1000))
    assert outputs["sequence_output"].shape == (1, 100, 32)
    with pytest.raises(ValueError, match="preset"):
        BigBirdEncoder.from_preset("bigbird_huge")


def test_backbone_harness(tmp_path):
    def build(dtype):
        return test_case.tiny_encoder(dtype=dtype, max_global_tokens=8)

    inputs = test_case.ids_and_mask(4, 64, 50, real=[64, 40, 17, 1])
    inputs["segment_ids"] = (np.arange(64)[None] >= 30).astype("int32") * (
        inputs["padding_mask"]
    )
    test_case.run_backbone_test(build, inputs, tmp_path)
