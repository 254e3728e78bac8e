"""Task models with a preprocessor: raw text in `fit`, `evaluate`, `predict`.

Expectations come from the independent path: the preprocessor run by hand
on each text alone and the model called on the ids. Runs on TensorFlow and
JAX (the preprocessing runs in `tf.data` on both).
"""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.models import BigBirdTokenClassifier
from tests.models import text_fixtures

TEXTS, LABELS = text_fixtures.texts(24)


def classifier(**kwargs):
    enc = text_fixtures.encoder()
    model = BigBirdClassifier(
        enc, num_classes=2, preprocessor=text_fixtures.preprocessor(enc),
        **kwargs,
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def one_by_one(model, texts):
    """The model on each text packed alone (no padding from other texts)."""
    outputs = []
    for text in texts:
        x = model.preprocessor([text] if isinstance(text, str) else text)
        outputs.append(
            keras.tree.map_structure(
                keras.ops.convert_to_numpy,
                model({k: keras.ops.convert_to_tensor(v.numpy())
                       for k, v in x.items()}),
            )
        )
    return outputs


@pytest.mark.parametrize(
    "form",
    ["list", "numpy", "tensor", "dataset"],
)
def test_predict_on_raw_text_equals_each_text_alone(form):
    model = classifier()
    texts = TEXTS[:10]
    x = {
        "list": texts,
        "numpy": np.array(texts),
        "tensor": tf.constant(texts),
        "dataset": tf.data.Dataset.from_tensor_slices(texts).batch(4),
    }[form]
    predicted = model.predict(x, batch_size=4, verbose=0)
    expected = np.concatenate(one_by_one(model, texts))
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
    single = model.predict(texts[0], verbose=0)
    np.testing.assert_allclose(single, expected[:1], rtol=1e-5, atol=1e-6)


def packed(model, texts):
    out = model.preprocessor(texts)
    return {k: v.numpy() for k, v in out.items()}


def test_fit_on_raw_text_equals_fit_on_the_packed_batches():
    raw, ids = classifier(), classifier()
    ids.set_weights(raw.get_weights())
    raw.fit(TEXTS, LABELS, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, len(TEXTS), 8):
            batch = slice(start, start + 8)
            ids.train_on_batch(packed(ids, TEXTS[batch]), LABELS[batch])
    for a, b in zip(raw.get_weights(), ids.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_evaluate_and_validation_split_on_raw_text():
    model = classifier()
    history = model.fit(
        TEXTS, LABELS, batch_size=8, validation_split=0.25, verbose=0
    )
    held_out = model.evaluate(
        TEXTS[18:], LABELS[18:], batch_size=8, verbose=0, return_dict=True
    )
    np.testing.assert_allclose(
        history.history["val_loss"][-1], held_out["loss"], rtol=1e-5
    )
    dataset = tf.data.Dataset.from_tensor_slices((TEXTS, LABELS)).batch(6)
    by_dataset = model.evaluate(dataset, verbose=0, return_dict=True)
    logits = np.concatenate(one_by_one(model, TEXTS))
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    np.testing.assert_allclose(
        by_dataset["loss"], -log_p[np.arange(24), LABELS].mean(), rtol=1e-4
    )


def test_keras_file_holds_the_preprocessor(tmp_path):
    model = classifier()
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.preprocessor.get_config() == model.preprocessor.get_config()
    np.testing.assert_allclose(
        restored.predict(TEXTS[:6], verbose=0),
        model.predict(TEXTS[:6], verbose=0),
        rtol=1e-6,
    )


def test_sequence_outputs_of_raw_text_share_one_width():
    enc = text_fixtures.encoder()
    pre = text_fixtures.preprocessor(enc)
    tagger = BigBirdTokenClassifier(enc, num_classes=3, preprocessor=pre)
    predicted = tagger.predict(TEXTS[:10], batch_size=4, verbose=0)
    for row, alone in zip(predicted, one_by_one(tagger, TEXTS[:10])):
        width = alone.shape[1]
        np.testing.assert_allclose(row[:width], alone[0], rtol=1e-5, atol=1e-6)
    answerer = BigBirdQuestionAnswerer(enc, preprocessor=pre)
    questions = ["w1 w2", "w3", "w4 w5 w6"]
    spans = answerer.predict((questions, TEXTS[:3]), verbose=0)
    alone = one_by_one(
        answerer, [([q], [t]) for q, t in zip(questions, TEXTS[:3])]
    )
    for i, expected in enumerate(alone):
        width = expected["start_logits"].shape[1]
        np.testing.assert_allclose(
            spans["start_logits"][i, :width], expected["start_logits"][0],
            rtol=1e-5, atol=1e-5,
        )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m.predict(TEXTS), r"no preprocessor.*BigBirdPreprocessor"),
        (lambda m: m.fit(TEXTS, LABELS), r"no preprocessor"),
    ],
)
def test_raw_text_without_a_preprocessor_is_an_error(call, match):
    model = BigBirdClassifier(text_fixtures.encoder(), num_classes=2)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=match):
        call(model)


def test_raw_text_faults():
    model = classifier()
    unbatched = tf.data.Dataset.from_tensor_slices(TEXTS)
    with pytest.raises(ValueError, match=r"single strings: batch it"):
        model.predict(unbatched, verbose=0)
    with pytest.raises(ValueError, match=r"`y` and `x`.*5 for 24"):
        model.fit(TEXTS, LABELS[:5], verbose=0)
    with pytest.raises(ValueError, match=r"validation_split.*1.0"):
        model.fit(TEXTS, LABELS, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match=r"1-D list.*\(2, 12\)"):
        model.predict(np.array(TEXTS).reshape(2, 12), verbose=0)
    enc = text_fixtures.encoder()
    tagger = BigBirdTokenClassifier(
        enc, num_classes=3, preprocessor=text_fixtures.preprocessor(enc)
    )
    tagger.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"per-token labels"):
        tagger.fit(TEXTS, np.zeros((24, 8)), verbose=0)


def test_a_preprocessor_that_does_not_fit_the_encoder_is_an_error():
    small = text_fixtures.encoder(max_sequence_length=64)
    wide = text_fixtures.preprocessor(text_fixtures.encoder(), 128)
    with pytest.raises(ValueError, match=r"preprocessor.*sequence_length=128"):
        BigBirdClassifier(small, num_classes=2, preprocessor=wide)
    with pytest.raises(ValueError, match=r"preprocessor.*block_size=8 != .*16"):
        BigBirdClassifier(
            text_fixtures.encoder(block_size=16), num_classes=2,
            preprocessor=wide,
        )
    with pytest.raises(ValueError, match=r"preprocessor.*27 ids.*=20"):
        BigBirdClassifier(
            text_fixtures.encoder(vocabulary_size=20, max_sequence_length=128),
            num_classes=2, preprocessor=wide,
        )


@pytest.mark.parametrize("kind", ["tagger", "answerer"])
def test_an_unused_pooler_is_not_trained_and_does_not_warn(kind, caplog):
    enc = text_fixtures.encoder()
    if kind == "tagger":
        model = BigBirdTokenClassifier(enc, num_classes=3)
    else:
        model = BigBirdQuestionAnswerer(enc)
    pooler = [v.path for v in enc.get_layer("pooled_dense").weights]
    assert not {v.path for v in model.trainable_weights} & set(pooler)
    assert set(pooler) <= {v.path for v in model.non_trainable_weights}
    assert len(model.weights) == len(enc.weights) + len(
        [w for layer in model.layers if layer is not enc for w in layer.weights]
    )
    x = packed(
        BigBirdClassifier(
            enc, num_classes=2, preprocessor=text_fixtures.preprocessor(enc)
        ),
        TEXTS[:8],
    )
    if kind == "tagger":
        y = np.zeros(x["token_ids"].shape, "int32")
    else:
        y = {"start_logits": np.ones(8, "int32"),
             "end_logits": np.full(8, 2, "int32")}
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [keras.ops.convert_to_numpy(w) for w in
              enc.get_layer("pooled_dense").weights]
    with caplog.at_level(logging.WARNING):
        model.fit(x, y, epochs=1, verbose=0)
    assert "Gradients do not exist" not in caplog.text
    after = enc.get_layer("pooled_dense").weights
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, keras.ops.convert_to_numpy(new))
    sequence = enc.get_layer("embeddings").weights[0]
    assert sequence.path in {v.path for v in model.trainable_weights}
