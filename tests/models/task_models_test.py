"""Task models: outputs, masks, configs and `.keras` round trips."""

import keras
import numpy as np
import pytest

from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.models import BigBirdTokenClassifier
from tests.encoder_helpers import encoder_inputs

VOCAB = 50


def encoder(**kwargs):
    config = dict(vocabulary_size=VOCAB, num_layers=1, num_heads=2,
                  hidden_dim=16, intermediate_dim=32, max_sequence_length=512,
                  block_size=16, num_random_blocks=1, seed=3)
    config.update(kwargs)
    return BigBirdEncoder(**config)


def build(kind, **encoder_kwargs):
    if kind == "classifier":
        return BigBirdClassifier(encoder(**encoder_kwargs), num_classes=4)
    if kind == "token_classifier":
        return BigBirdTokenClassifier(encoder(**encoder_kwargs), num_classes=5)
    return BigBirdQuestionAnswerer(encoder(**encoder_kwargs))


def to_numpy(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


KINDS = ["classifier", "token_classifier", "question_answerer"]


@pytest.mark.parametrize("kind", KINDS)
def test_output_shapes_and_float32_under_mixed_precision(kind):
    inputs = encoder_inputs(2, 300, VOCAB, lengths=[300, 123])
    for dtype in (None, "mixed_bfloat16"):
        model = build(kind, dtype=dtype)
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


@pytest.mark.parametrize("kind", KINDS)
def test_get_config_round_trip(kind):
    model = build(kind)
    config = model.get_config()
    restored = model.__class__.from_config(config)
    assert restored.get_config() == config
    assert restored.encoder.get_config() == model.encoder.get_config()


@pytest.mark.parametrize("kind", KINDS)
def test_keras_save_and_load_round_trip(kind, tmp_path):
    model = build(kind, dropout=0.1, attention_dropout=0.1)
    inputs = encoder_inputs(2, 200, VOCAB, lengths=[200, 150])
    expected = to_numpy(model(inputs))
    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    actual = to_numpy(restored(inputs))
    if isinstance(expected, dict):
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key])
    else:
        np.testing.assert_array_equal(actual, expected)


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
