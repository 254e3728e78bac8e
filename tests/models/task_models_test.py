"""Task models: outputs, masks, configs and `.keras` round trips."""

import keras
import numpy as np
import pytest

from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.models import BigBirdTokenClassifier
from tests import test_case
from tests.test_case import encoder_inputs

VOCAB = test_case.TINY_ENCODER["vocabulary_size"]


def encoder(**kwargs):
    return test_case.tiny_encoder(**dict(dict(num_random_blocks=1), **kwargs))


def build(kind, **encoder_kwargs):
    if kind == "classifier":
        return BigBirdClassifier(encoder(**encoder_kwargs), num_classes=4)
    if kind == "token_classifier":
        return BigBirdTokenClassifier(encoder(**encoder_kwargs), num_classes=5)
    return BigBirdQuestionAnswerer(encoder(**encoder_kwargs))


to_numpy = test_case.to_numpy


KINDS = ["classifier", "token_classifier", "question_answerer"]


def assert_outputs_close(actual, expected, atol):
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            np.testing.assert_allclose(actual[key], expected[key], atol=atol)
    else:
        np.testing.assert_allclose(actual, expected, atol=atol)


def assert_outputs_equal(actual, expected):
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert actual[key].dtype == expected[key].dtype
            np.testing.assert_array_equal(actual[key], expected[key])
    else:
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)


def policy_name(policy):
    return keras.dtype_policies.get(policy).name


@pytest.mark.parametrize("kind", KINDS)
def test_output_shapes_and_float32_under_mixed_precision(kind):
    inputs = encoder_inputs(2, 300, VOCAB, lengths=[300, 123])
    reference = build(kind)  # float32: the reference outputs
    expected = to_numpy(reference(inputs))
    for dtype in (None, "mixed_bfloat16", "mixed_float16"):
        model = build(kind, dtype=dtype)
        # The task model takes its encoder's policy (so `compile` adds loss
        # scaling under mixed_float16); its head stays float32.
        assert model.dtype_policy.name == (dtype or "float32")
        assert model.encoder.dtype_policy.name == (dtype or "float32")
        assert model.encoder.encoder_layers[0].dtype_policy.name == (
            dtype or "float32"
        )
        head = model.span_dense if kind == "question_answerer" else (
            model.output_dense
        )
        assert head.dtype_policy.name == "float32"
        model.set_weights(reference.get_weights())
        outputs = to_numpy(model(inputs))
        if kind == "classifier":
            assert outputs.shape == (2, 4) and outputs.dtype == np.float32
        elif kind == "token_classifier":
            assert outputs.shape == (2, 300, 5)
            assert outputs.dtype == np.float32
        else:
            assert set(outputs) == {"start_logits", "end_logits"}
            for logits in outputs.values():
                assert logits.shape == (2, 300) and logits.dtype == np.float32
                assert (logits[1, 123:] <= -1e8).all()
                assert (logits[1, :123] > -1e8).all()
        # The same weights give the float32 logits up to the precision of
        # the encoder's compute dtype (and exactly in float32).
        if dtype is None:
            assert_outputs_equal(outputs, expected)
        else:
            assert_outputs_close(outputs, expected, atol=0.05)


def test_token_classifier_losses_skip_padded_positions():
    # The output carries the padding mask as its Keras mask, which Keras
    # losses use: garbage labels at padded positions change nothing, and
    # the loss is the mean over real tokens.
    model = build("token_classifier")
    inputs = encoder_inputs(2, 40, VOCAB, lengths=[40, 25])
    real = inputs["padding_mask"].astype(bool)
    labels = np.where(real, inputs["token_ids"] % 5, 0)
    garbage = np.where(real, labels, 4)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = model(inputs)
    a = float(loss(labels, logits))
    b = float(loss(garbage, logits))
    assert a == pytest.approx(b, rel=1e-6)
    logits = to_numpy(logits)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    per_token = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    assert a == pytest.approx(per_token[real].mean(), rel=1e-5)


@pytest.mark.parametrize("dtype", [None, "mixed_bfloat16"])
@pytest.mark.parametrize("kind", KINDS)
def test_get_config_round_trip(kind, dtype):
    model = build(kind, dtype=dtype)
    config = model.get_config()
    assert policy_name(config["dtype"]) == (dtype or "float32")
    encoder_config = config["encoder"]["config"]
    assert policy_name(encoder_config["dtype"]) == (dtype or "float32")
    restored = model.__class__.from_config(config)
    assert restored.get_config() == config
    assert restored.encoder.get_config() == model.encoder.get_config()
    assert restored.dtype_policy.name == (dtype or "float32")
    assert restored.encoder.encoder_layers[0].dtype_policy.name == (
        dtype or "float32"
    )
    # The restored architecture computes the same function.
    restored.set_weights(model.get_weights())
    inputs = encoder_inputs(2, 96, VOCAB, lengths=[96, 40])
    assert_outputs_equal(to_numpy(restored(inputs)), to_numpy(model(inputs)))


@pytest.mark.parametrize("dtype", [None, "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", KINDS)
def test_keras_save_and_load_round_trip(kind, dtype, tmp_path):
    model = build(kind, dropout=0.1, attention_dropout=0.1, dtype=dtype)
    inputs = encoder_inputs(2, 200, VOCAB, lengths=[200, 150])
    expected = to_numpy(model(inputs))
    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.dtype_policy.name == (dtype or "float32")
    assert restored.encoder.dtype_policy.name == (dtype or "float32")
    for layer in restored.encoder.encoder_layers:
        assert layer.dtype_policy.name == (dtype or "float32")
    assert_outputs_equal(to_numpy(restored(inputs)), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_compile_under_mixed_float16_adds_loss_scaling(kind):
    model = build(kind, dtype="mixed_float16")
    model.compile(optimizer="adam", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    restored = model.__class__.from_config(model.get_config())
    restored.compile(optimizer="adam", loss="mse")
    assert isinstance(restored.optimizer, keras.optimizers.LossScaleOptimizer)
    float32 = build(kind)
    float32.compile(optimizer="adam", loss="mse")
    assert not isinstance(
        float32.optimizer, keras.optimizers.LossScaleOptimizer
    )


@pytest.mark.parametrize("kind", KINDS)
def test_dtype_argument_of_the_task_model(kind):
    # A policy given to the task model is its own (the encoder keeps its
    # policy); it is saved in the config and restored.
    model = build_with(kind, encoder(), dtype="mixed_float16")
    assert model.dtype_policy.name == "mixed_float16"
    assert model.encoder.dtype_policy.name == "float32"
    model.compile(optimizer="adam", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    config = model.get_config()
    assert policy_name(config["dtype"]) == "mixed_float16"
    restored = model.__class__.from_config(config)
    assert restored.dtype_policy.name == "mixed_float16"
    assert restored.encoder.dtype_policy.name == "float32"
    # The float32 encoder and float32 head compute in float32.
    restored.set_weights(model.get_weights())
    reference = build_with(kind, encoder())
    reference.set_weights(model.get_weights())
    inputs = encoder_inputs(2, 64, VOCAB, lengths=[64, 33])
    assert_outputs_equal(
        to_numpy(restored(inputs)), to_numpy(reference(inputs))
    )


def build_with(kind, encoder, **kwargs):
    if kind == "classifier":
        return BigBirdClassifier(encoder, num_classes=4, **kwargs)
    if kind == "token_classifier":
        return BigBirdTokenClassifier(encoder, num_classes=5, **kwargs)
    return BigBirdQuestionAnswerer(encoder, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_unrecognized_keyword_arguments_raise(kind):
    name = {
        "classifier": "BigBirdClassifier",
        "token_classifier": "BigBirdTokenClassifier",
        "question_answerer": "BigBirdQuestionAnswerer",
    }[kind]
    with pytest.raises(ValueError) as error:
        build_with(kind, encoder(), dropuot=0.5)
    message = str(error.value)
    assert f"Unrecognized keyword arguments passed to {name}" in message
    assert "'dropuot'" in message
    cls = type(build_with(kind, encoder()))
    extra = {} if kind == "question_answerer" else {"num_classes": 2}
    with pytest.raises(ValueError, match="num_clases"):
        cls.from_preset("bigbird_tiny", num_clases=2, **extra)
    with pytest.raises(ValueError, match="num_layer"):
        cls.from_preset(
            "bigbird_tiny", encoder_kwargs={"num_layer": 1}, **extra
        )
    # What `keras.Model` honours still works.
    model = build_with(kind, encoder(), name="task", trainable=False)
    assert model.name == "task" and not model.trainable_weights


@pytest.mark.parametrize("head", ["classifier", "question_answerer"])
def test_transformers_heads_follow_the_encoder_policy_and_reject_typos(head):
    # The converted checkpoints' heads share the task model base.
    from keras_bigbird.convert import heads

    def make(enc, **kwargs):
        if head == "classifier":
            return heads.TransformersClassifier(enc, num_classes=3, **kwargs)
        return heads.TransformersQuestionAnswerer(enc, sep_token_id=2,
                                                  **kwargs)

    model = make(encoder(dtype="mixed_float16"))
    assert model.dtype_policy.name == "mixed_float16"
    config = model.get_config()
    assert policy_name(config["dtype"]) == "mixed_float16"
    restored = type(model).from_config(config)
    assert restored.dtype_policy.name == "mixed_float16"
    restored.compile(optimizer="adam", loss="mse")
    assert isinstance(restored.optimizer, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="Unrecognized keyword.*'dropuot'"):
        make(encoder(), dropuot=0.5)


def test_segment_ids_optional_for_task_models():
    model = build("classifier")
    inputs = encoder_inputs(1, 30, VOCAB)
    del inputs["segment_ids"]
    assert model(inputs).shape == (1, 4)


def test_task_presets():
    model = BigBirdClassifier.from_preset("bigbird_tiny", num_classes=3,
                                          encoder_kwargs={"num_layers": 1})
    assert model.encoder.num_layers == 1
    assert BigBirdTokenClassifier.from_preset(
        "bigbird_tiny", num_classes=2).num_classes == 2
    assert isinstance(
        BigBirdQuestionAnswerer.from_preset("bigbird_tiny").encoder,
        BigBirdEncoder,
    )


@pytest.mark.parametrize("cls", [BigBirdClassifier, BigBirdTokenClassifier])
def test_invalid_arguments(cls):
    with pytest.raises(ValueError, match="num_classes"):
        cls(encoder(), num_classes=0)
    with pytest.raises(ValueError, match="encoder"):
        cls("not an encoder", num_classes=2)


# === Global tokens derived by the task models ===


def question_inputs(length=300, question=20, seed=0):
    inputs = encoder_inputs(2, length, VOCAB, lengths=[length, length - 60], seed=seed)
    segments = (np.arange(length)[None] >= question).astype("int32")
    inputs["segment_ids"] = np.repeat(segments, 2, 0) * inputs["padding_mask"]
    return inputs


def test_question_answerer_makes_the_question_global():
    """Equals its encoder called with the question (segment 0, real tokens)
    as `global_mask`; off, the encoder without global tokens."""
    inputs = question_inputs()
    model = BigBirdQuestionAnswerer(encoder(num_layers=2), dropout=0.0)
    assert "global_mask" not in model.input
    real = inputs["padding_mask"].astype(bool)
    question = (inputs["segment_ids"] == 0) & real
    sequence = model.encoder(dict(inputs, global_mask=question.astype("int32")))

    def span(sequence):
        logits = model.span_dense(sequence)
        return to_numpy(logits)[..., 0]

    expected = np.where(real, span(sequence["sequence_output"]), -1e9)
    actual = to_numpy(model(inputs))["start_logits"]
    np.testing.assert_allclose(actual, expected, atol=1e-4)
    plain = model.encoder(inputs)["sequence_output"]
    changed = np.abs(to_numpy(plain) - to_numpy(sequence["sequence_output"]))
    assert changed[real].max() > 1e-3  # float noise is ~1e-7

    off = BigBirdQuestionAnswerer(model.encoder, dropout=0.0, global_question=False)
    off.span_dense.set_weights(model.span_dense.get_weights())
    np.testing.assert_allclose(
        to_numpy(off(inputs))["start_logits"],
        np.where(real, span(plain), -1e9), atol=1e-4,
    )


def test_a_long_question_is_capped_at_max_global_tokens():
    inputs = question_inputs(question=200)
    model = BigBirdQuestionAnswerer(encoder(max_global_tokens=16))
    mask = to_numpy(model.get_layer("global_tokens")(inputs["padding_mask"], inputs["segment_ids"]))
    assert (mask.sum(axis=1) == 16).all()
    np.testing.assert_array_equal(mask[:, :16], 1)
    outputs = to_numpy(model(inputs))
    assert np.isfinite(outputs["start_logits"]).all()


def test_classifier_can_make_cls_global():
    from keras_bigbird.patterns import WindowPattern

    inputs = encoder_inputs(2, 300, VOCAB, lengths=[300, 190])
    model = BigBirdClassifier(
        encoder(pattern=WindowPattern(3), num_random_blocks=None),
        num_classes=3, dropout=0.0, global_cls=True,
    )
    cls = np.zeros_like(inputs["padding_mask"])
    cls[:, 0] = 1
    pooled = model.encoder(dict(inputs, global_mask=cls))["pooled_output"]
    expected = to_numpy(model.output_dense(pooled))
    np.testing.assert_allclose(to_numpy(model(inputs)), expected, atol=1e-5)
    restored = BigBirdClassifier.from_config(model.get_config())
    assert restored.global_cls


def test_global_tokens_need_an_encoder_that_takes_them():
    with pytest.raises(ValueError, match="max_global_tokens=0"):
        BigBirdQuestionAnswerer(encoder(max_global_tokens=0))
    BigBirdQuestionAnswerer(encoder(max_global_tokens=0), global_question=False)


@pytest.mark.parametrize("kind", KINDS)
def test_task_harness(kind, tmp_path):
    inputs = test_case.ids_and_mask(4, 64, VOCAB, real=[64, 40, 17, 3])
    inputs["segment_ids"] = (np.arange(64)[None] >= 8) * inputs["padding_mask"]
    inputs["segment_ids"] = inputs["segment_ids"].astype("int32")

    def make(dtype):
        model = build(kind, dtype=dtype)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    y = {
        "classifier": np.array([0, 1, 2, 3]),
        "token_classifier": np.zeros((4, 64), "int32"),
        "question_answerer": {"start_logits": np.array([1, 2, 3, 0]),
                              "end_logits": np.array([2, 5, 9, 1])},
    }[kind]
    test_case.run_task_test(make, inputs, y, tmp_path)
