"""`model.fit` trains the encoder and task models.

The classification task (`topic_classification_data`): binary, 96 tokens,
block 8 with 1 random block (12 blocks: the block-sparse path), variable
lengths with padding. 384 training sequences, 4 epochs of batch 32, Adam
3e-3: a held-out accuracy of at least 0.95 is required (chance: 0.5); it
reaches 1.0 in every mode on the reference machine.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.models import BigBirdTokenClassifier
from tests import test_case
from tests.test_case import BACKEND
from tests.test_case import assert_grads_close
from tests.test_case import encoder_inputs
from tests.test_case import loss_and_grads
from tests.test_case import topic_classification_data

REQUIRED_ACCURACY = 0.95


def small_encoder(**kwargs):
    config = dict(
        vocabulary_size=64,
        num_layers=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=128,
        block_size=8,
        num_random_blocks=1,
        dropout=0.1,
        attention_dropout=0.1,
        seed=0,
    )
    return test_case.tiny_encoder(**dict(config, **kwargs))


def sparse_crossentropy():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture
def policy():
    """Sets a global dtype policy for one test, restores float32 after."""
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)
    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


def fit_classifier(jit_compile=False, epochs=4, **encoder_kwargs):
    keras.utils.set_random_seed(0)
    model = BigBirdClassifier(small_encoder(**encoder_kwargs), num_classes=2)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=sparse_crossentropy(),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    x, y = topic_classification_data(384, seed=0)
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    x_val, y_val = topic_classification_data(256, seed=1)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    return model, history.history["loss"], accuracy


@pytest.mark.tf_only
@pytest.mark.parametrize(
    "mode",
    ["graph", "jit_compile", "mixed_float16", "mixed_bfloat16",
     "gradient_checkpointing"],
)
def test_fit_reduces_loss_and_reaches_accuracy(mode, policy):
    if mode.startswith("mixed"):
        policy(mode)
    model, losses, accuracy = fit_classifier(
        jit_compile=mode == "jit_compile",
        gradient_checkpointing=mode == "gradient_checkpointing",
    )
    assert losses[-1] < 0.5 * losses[0], losses
    assert accuracy >= REQUIRED_ACCURACY, (mode, losses, accuracy)
    if mode.startswith("mixed"):
        encoder = model.encoder
        assert encoder.dtype_policy.name == mode
        # Float32 logits and float32 variables under mixed precision.
        assert keras.backend.standardize_dtype(model.output.dtype) == "float32"
        assert all(v.dtype == "float32" for v in model.trainable_variables)


@pytest.mark.skipif(BACKEND != "jax", reason="needs KERAS_BACKEND=jax")
def test_fit_on_jax_with_gradient_checkpointing():
    _, losses, accuracy = fit_classifier(gradient_checkpointing=True)
    assert losses[-1] < 0.5 * losses[0], losses
    assert accuracy >= REQUIRED_ACCURACY


@pytest.mark.tf_only
def test_token_classifier_fits_and_padding_labels_do_not_count():
    x, _ = topic_classification_data(384, seed=0)
    real = x["padding_mask"].astype(bool)
    labels = np.where(real, x["token_ids"] % 3, 0)
    model = BigBirdTokenClassifier(small_encoder(), num_classes=3, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=sparse_crossentropy(), metrics=["accuracy"])
    history = model.fit(x, labels, batch_size=32, epochs=3, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    # The loss and accuracy are over real tokens only: garbage labels at
    # padded positions change neither.
    garbage = np.where(real, labels, 2)
    a = model.evaluate(x, labels, verbose=0, return_dict=True)
    b = model.evaluate(x, garbage, verbose=0, return_dict=True)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["accuracy"] == pytest.approx(b["accuracy"])
    predicted = model.predict(x, verbose=0).argmax(-1)
    assert (predicted[real] == labels[real]).mean() >= REQUIRED_ACCURACY


@pytest.mark.tf_only
def test_question_answerer_fits():
    # The span opens at token 2 and closes at token 63, which occur nowhere
    # else; padded positions are never predicted.
    x, _ = topic_classification_data(384, seed=0)
    rng = np.random.default_rng(1)
    lengths = x["padding_mask"].sum(1)
    start = rng.integers(1, lengths - 4)
    end = start + 1 + rng.integers(0, 3, len(start))
    tokens = np.where(x["token_ids"] == 63, 62, x["token_ids"])
    tokens[np.arange(len(start)), start] = 2
    tokens[np.arange(len(start)), end] = 63
    x = dict(x, token_ids=tokens)
    y = {"start_logits": start, "end_logits": end}
    model = BigBirdQuestionAnswerer(small_encoder(), dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=sparse_crossentropy(),
        metrics={"start_logits": ["accuracy"], "end_logits": ["accuracy"]},
    )
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    outputs = model.predict(x, verbose=0)
    assert (outputs["start_logits"].argmax(-1) == start).mean() >= 0.95
    assert (outputs["end_logits"].argmax(-1) == end).mean() >= 0.95
    padded = ~x["padding_mask"].astype(bool)
    assert (outputs["start_logits"][padded] <= -1e8).all()


@pytest.mark.tf_only
def test_steps_per_execution_trains_the_same_weights():
    # Keras runs `steps_per_execution > 1` steps inside a `tf.while_loop`,
    # where TensorFlow's graph rewrites can differ from those of a plain
    # step (see the while-loop test of BigBirdAttention): same batches,
    # same weights.
    x, y = topic_classification_data(96, seed=0)
    initial, trained = [], []
    for steps in (1, 3):
        keras.utils.set_random_seed(0)
        model = BigBirdClassifier(
            small_encoder(dropout=0.0, attention_dropout=0.0),
            num_classes=2,
            dropout=0.0,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss=sparse_crossentropy(),
            steps_per_execution=steps,
        )
        initial.append(model.get_weights())
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    for a, b in zip(*initial):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Six Adam steps moved the weights: the runs are compared after training.
    assert not all(np.allclose(a, b) for a, b in zip(initial[0], trained[0]))


# === Gradient checkpointing at the encoder level ===


def test_encoder_checkpointing_gives_the_same_gradients():
    # Dropout on: the recomputation must redraw exactly the same masks.
    plain = small_encoder(dropout=0.2, attention_dropout=0.2)
    checkpointed = small_encoder(
        dropout=0.2, attention_dropout=0.2, gradient_checkpointing=True
    )
    checkpointed.set_weights(plain.get_weights())
    inputs = encoder_inputs(2, 96, 64, lengths=[96, 70])

    def loss(outputs):
        sequence = keras.ops.sum(keras.ops.square(outputs["sequence_output"]))
        return sequence + keras.ops.sum(outputs["pooled_output"])

    loss_a, grads_a = loss_and_grads(plain, inputs, loss)
    loss_b, grads_b = loss_and_grads(checkpointed, inputs, loss)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert_grads_close(grads_a, grads_b)


def test_fit_runs_the_layers_in_training_mode():
    # Keras passes `training=True` in `fit`/`train_on_batch` only to models
    # whose `call` declares `training`: dropout (and checkpointing) must be
    # active there. With a zero learning rate the weights stay put, so
    # different losses on the same batch can only come from dropout.
    x, y = topic_classification_data(32, seed=0)
    model = BigBirdClassifier(
        small_encoder(dropout=0.3, attention_dropout=0.3), num_classes=2,
        dropout=0.3,
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=sparse_crossentropy())
    first = float(model.train_on_batch(x, y))
    second = float(model.train_on_batch(x, y))
    inference = model.evaluate(x, y, verbose=0)
    assert first != second
    assert inference not in (first, second)


@pytest.mark.tf_only
def test_checkpointing_lowers_peak_training_memory():
    # TensorFlow's CPU allocator statistics (tf.config.experimental.
    # get_memory_info) over one `train_on_batch` step after the first: 6
    # layers, hidden 64, 2 x 2048 tokens, per-token labels. Reference
    # machine: 375 MiB -> 94 MiB, the step 1.3x as long.
    import tensorflow as tf

    inputs = encoder_inputs(2, 2048, 100)
    labels = np.zeros((2, 2048), "int32")
    peaks = {}
    for checkpointing in (False, True):
        encoder = BigBirdEncoder(
            vocabulary_size=100, num_layers=6, num_heads=2, hidden_dim=64,
            intermediate_dim=256, max_sequence_length=2048, block_size=32,
            num_random_blocks=2, dropout=0.1, attention_dropout=0.1,
            gradient_checkpointing=checkpointing, seed=0,
        )
        model = BigBirdTokenClassifier(encoder, num_classes=2)
        model.compile(optimizer="adam", loss=sparse_crossentropy())
        model.train_on_batch(inputs, labels)
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        model.train_on_batch(inputs, labels)
        peaks[checkpointing] = (
            tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
        )
    assert peaks[True] < 0.5 * peaks[False], peaks


# === tf.distribute ===


@pytest.mark.tf_only
def test_mirrored_strategy_on_two_logical_devices():
    # A fresh process: logical devices must be set before TensorFlow
    # initialises its devices. Gradient checkpointing and dropout are on
    # (the dropout seed state is restored inside each replica).
    script = os.path.join(os.path.dirname(__file__), "mirrored_strategy_run.py")
    result = subprocess.run(
        [sys.executable, script, "--gradient-checkpointing"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["replicas"] == 2
    assert figures["variable_devices"][0].endswith("CPU:0")
    assert figures["variable_devices"][1].endswith("CPU:1")
    assert figures["loss"][-1] < 0.5 * figures["loss"][0]
    assert figures["val_accuracy"] >= REQUIRED_ACCURACY
    # Distributed and single-device training make the same updates.
    assert figures["max_weight_difference_vs_one_device"] < 1e-5
    assert figures["max_weight_change"] > 1e-3
