"""Fault cases of the models' inputs and labels: each bad input, the exact
error it gets, in eager calls, TensorFlow graphs, XLA and `jax.jit`
(where bad examples get NaN outputs), and in `fit`/`evaluate`/`predict`
on arrays and `tf.data` datasets (checked on the host, also under XLA)."""

import keras
import numpy as np
import pytest

from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.models import BigBirdTokenClassifier
from tests import test_case
from tests.faults.fault_cases import replaced

VOCAB = 50
LENGTH = 32
BATCH = 2

TF = keras.backend.backend() == "tensorflow"
tf_only = pytest.mark.tf_only


def tiny_encoder(**kwargs):
    config = dict(
        vocabulary_size=VOCAB, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=64, block_size=8, max_global_tokens=4,
        dropout=0.0, attention_dropout=0.0, seed=1,
    )
    return test_case.tiny_encoder(**dict(config, **kwargs))


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder()


@pytest.fixture(scope="module")
def encoder_without_segments():
    return tiny_encoder(num_segments=0)


def good_inputs(batch=BATCH, length=LENGTH):
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(1, VOCAB, (batch, length)).astype("int32"),
        "padding_mask": np.ones((batch, length), "int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
    }


def changed(**changes):
    """Good inputs with entries replaced (None removes one)."""
    return replaced(good_inputs(), **changes)


def with_entry(name, index, value, dtype="int32"):
    """Good inputs with `inputs[name][index] = value` (example 1 only)."""
    inputs = good_inputs()
    if name not in inputs:
        inputs[name] = np.zeros((BATCH, LENGTH), dtype)
    array = inputs[name].astype(dtype)
    array[index] = value
    inputs[name] = array
    return inputs


# === Structure: names, dtypes, ranks, shapes (every backend, every mode) ===

STRUCTURE_CASES = {
    "array instead of dict": (
        lambda: good_inputs()["token_ids"],
        r"BigBirdEncoder takes a dict of inputs with keys `token_ids`, "
        r"`padding_mask` and optionally `segment_ids`, `global_mask`\. "
        r"Received: ndarray",
    ),
    "list instead of dict": (
        lambda: list(good_inputs().values()),
        r"takes a dict of inputs .* Received: list",
    ),
    "unknown key attention_mask": (
        lambda: changed(attention_mask=np.ones((BATCH, LENGTH), "int32")),
        r"BigBirdEncoder got unknown inputs \['attention_mask'\]; it takes "
        r"`token_ids`, `padding_mask` and optionally",
    ),
    "two unknown keys": (
        lambda: changed(input_ids=np.ones((BATCH, LENGTH), "int32"),
                        token_type_ids=np.ones((BATCH, LENGTH), "int32")),
        r"unknown inputs \['input_ids', 'token_type_ids'\]",
    ),
    "labels in the input dict": (
        lambda: changed(labels=np.ones((BATCH,), "int32")),
        r"unknown inputs \['labels'\].*Labels are not inputs: pass them as "
        r"`y`",
    ),
    "label in the input dict": (
        lambda: changed(label=np.ones((BATCH,), "int32")),
        r"unknown inputs \['label'\].*Labels are not inputs",
    ),
    "missing padding_mask": (
        lambda: changed(padding_mask=None),
        r"BigBirdEncoder is missing the inputs \['padding_mask'\]; .* "
        r"Received keys: \['segment_ids', 'token_ids'\]",
    ),
    "missing token_ids": (
        lambda: changed(token_ids=None),
        r"missing the inputs \['token_ids'\]",
    ),
    "missing both": (
        lambda: {"segment_ids": good_inputs()["segment_ids"]},
        r"missing the inputs \['token_ids', 'padding_mask'\]",
    ),
    "empty dict": (
        lambda: {},
        r"missing the inputs \['token_ids', 'padding_mask'\]",
    ),
    "float token_ids (would be truncated)": (
        lambda: changed(token_ids=good_inputs()["token_ids"] + 0.7),
        r"`token_ids` must be integer ids\. Received: "
        r"token_ids\.dtype=float64",
    ),
    "float32 token_ids": (
        lambda: changed(
            token_ids=good_inputs()["token_ids"].astype("float32")
        ),
        r"token_ids\.dtype=float32",
    ),
    "bool token_ids": (
        lambda: changed(token_ids=np.ones((BATCH, LENGTH), bool)),
        r"`token_ids` must be integer ids\. Received: token_ids\.dtype=bool",
    ),
    "float padding_mask with 0.001 on padding": (
        lambda: changed(padding_mask=np.full((BATCH, LENGTH), 0.001)),
        r"`padding_mask` must be bool, or integers 0 and 1\. Received: "
        r"padding_mask\.dtype=float64",
    ),
    "float32 padding_mask": (
        lambda: changed(padding_mask=np.ones((BATCH, LENGTH), "float32")),
        r"padding_mask\.dtype=float32",
    ),
    "float segment_ids": (
        lambda: changed(segment_ids=np.zeros((BATCH, LENGTH), "float32")),
        r"`segment_ids` must be integer ids\. Received: "
        r"segment_ids\.dtype=float32",
    ),
    "float global_mask": (
        lambda: changed(global_mask=np.zeros((BATCH, LENGTH), "float32")),
        r"`global_mask` must be bool, or integers 0 and 1\. Received: "
        r"global_mask\.dtype=float32",
    ),
    "rank-1 token_ids": (
        lambda: changed(token_ids=np.ones((LENGTH,), "int32"),
                        padding_mask=np.ones((LENGTH,), "int32"),
                        segment_ids=None),
        r"`token_ids` must have shape \[batch, length\]\. Received: "
        r"token_ids\.shape=\(32,\)",
    ),
    "rank-3 token_ids": (
        lambda: changed(token_ids=np.ones((BATCH, LENGTH, 1), "int32")),
        r"token_ids\.shape=\(2, 32, 1\)",
    ),
    "rank-3 padding_mask": (
        lambda: changed(padding_mask=np.ones((BATCH, LENGTH, 1), "int32")),
        r"`padding_mask` must have shape \[batch, length\]\. Received: "
        r"padding_mask\.shape=\(2, 32, 1\)",
    ),
    "padding_mask one token shorter": (
        lambda: changed(padding_mask=np.ones((BATCH, LENGTH - 1), "int32")),
        r"`padding_mask` must have the shape of `token_ids` \(2, 32\)\. "
        r"Received: padding_mask\.shape=\(2, 31\)",
    ),
    "padding_mask [batch, 1] (would broadcast)": (
        lambda: changed(padding_mask=np.ones((BATCH, 1), "int32")),
        r"padding_mask\.shape=\(2, 1\)",
    ),
    "segment_ids of another batch": (
        lambda: changed(segment_ids=np.zeros((BATCH + 1, LENGTH), "int32")),
        r"`segment_ids` must have the shape of `token_ids` \(2, 32\)\. "
        r"Received: segment_ids\.shape=\(3, 32\)",
    ),
    "global_mask longer": (
        lambda: changed(global_mask=np.zeros((BATCH, LENGTH + 8), "int32")),
        r"global_mask\.shape=\(2, 40\)",
    ),
    "empty sequences": (
        lambda: changed(token_ids=np.zeros((BATCH, 0), "int32"),
                        padding_mask=np.zeros((BATCH, 0), "int32"),
                        segment_ids=np.zeros((BATCH, 0), "int32")),
        r"The input sequences are empty: they need at least one token\. "
        r"Received: token_ids\.shape=\(2, 0\)",
    ),
    "longer than max_sequence_length": (
        lambda: {"token_ids": np.ones((1, 72), "int32"),
                 "padding_mask": np.ones((1, 72), "int32")},
        r"longer than `max_sequence_length`.*72 > max_sequence_length=64",
    ),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_structure_faults(encoder, case):
    make, message = STRUCTURE_CASES[case]
    with pytest.raises(ValueError, match=message):
        encoder(make())


def test_segment_ids_on_an_encoder_without_segments(encoder_without_segments):
    # Matched by position, `segment_ids` used to become `token_ids`.
    with pytest.raises(
        ValueError, match=r"unknown inputs \['segment_ids'\]; it takes "
        r"`token_ids`, `padding_mask` and optionally `global_mask`\."
    ):
        encoder_without_segments(good_inputs())


@pytest.mark.parametrize(
    "task", ["classifier", "token_classifier", "question_answerer"]
)
def test_task_models_check_their_own_input_names(encoder, task):
    model = make_task(encoder, task)
    with pytest.raises(
        ValueError, match=rf"{type(model).__name__} got unknown inputs "
        r"\['attention_mask'\]"
    ):
        model(changed(attention_mask=np.ones((BATCH, LENGTH), "int32")))


def test_question_answerer_derives_its_global_mask(encoder):
    model = BigBirdQuestionAnswerer(encoder)
    with pytest.raises(ValueError, match=r"unknown inputs \['global_mask'\]"):
        model(changed(global_mask=np.zeros((BATCH, LENGTH), "int32")))


def test_symbolic_float_input_is_rejected_when_nesting(encoder):
    token_ids = keras.Input((None,), dtype="float32", name="token_ids")
    padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
    with pytest.raises(ValueError, match=r"token_ids\.dtype=float32"):
        encoder({"token_ids": token_ids, "padding_mask": padding_mask})


# === Values: ranges of ids, 0/1 masks ===

VALUE_CASES = {
    "negative token id": (
        with_entry("token_ids", (1, 5), -1),
        r"`token_ids` must be in \[0, 50\) \(vocabulary_size=50\)",
        r"token_ids\[1, 5\]=-1",
    ),
    "token id equal to vocabulary_size": (
        with_entry("token_ids", (1, 0), VOCAB),
        r"`token_ids` must be in \[0, 50\)",
        r"token_ids\[1, 0\]=50",
    ),
    "huge token id": (
        with_entry("token_ids", (1, 31), 2**30),
        r"`token_ids` must be in \[0, 50\)",
        r"token_ids\[1, 31\]=1073741824",
    ),
    "token id past the vocabulary at a padded position": (
        dict(with_entry("token_ids", (1, 31), VOCAB + 3),
             padding_mask=np.concatenate(
                 [np.ones((BATCH, 16), "int32"),
                  np.zeros((BATCH, 16), "int32")], axis=1)),
        r"`token_ids` must be in \[0, 50\)",
        r"token_ids\[1, 31\]=53",
    ),
    "negative segment id": (
        with_entry("segment_ids", (1, 2), -1),
        r"`segment_ids` must be in \[0, 2\) \(num_segments=2\)",
        r"segment_ids\[1, 2\]=-1",
    ),
    "segment id equal to num_segments": (
        with_entry("segment_ids", (1, 7), 2),
        r"`segment_ids` must be in \[0, 2\) \(num_segments=2\)",
        r"segment_ids\[1, 7\]=2",
    ),
    "padding_mask of 2": (
        with_entry("padding_mask", (1, 3), 2),
        r"`padding_mask` must be in \[0, 2\) \(0 for padding, 1 for tokens\)",
        r"padding_mask\[1, 3\]=2",
    ),
    "padding_mask of -1 (counted as a token)": (
        with_entry("padding_mask", (1, 30), -1),
        r"`padding_mask` must be in \[0, 2\)",
        r"padding_mask\[1, 30\]=-1",
    ),
    "global_mask of 2": (
        with_entry("global_mask", (1, 0), 2),
        r"`global_mask` must be in \[0, 2\) \(1 for global tokens\)",
        r"global_mask\[1, 0\]=2",
    ),
    "global_mask of -1": (
        with_entry("global_mask", (1, 9), -1),
        r"`global_mask` must be in \[0, 2\)",
        r"global_mask\[1, 9\]=-1",
    ),
    "int64 token id past int32": (
        with_entry("token_ids", (1, 4), 2**33, dtype="int64"),
        r"`token_ids` must be in \[0, 50\)",
        r"token_ids\[1, 4\]=8589934592",
    ),
}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_value_faults_eager(encoder, case):
    inputs, rule, entry = VALUE_CASES[case]
    with pytest.raises(ValueError, match=rf"{rule}.*Received: {entry}"):
        encoder(inputs)


@tf_only
@pytest.mark.parametrize(
    "case", sorted(c for c in VALUE_CASES if "int64" not in c)
)
def test_value_faults_in_a_tf_function(encoder, case):
    import tensorflow as tf

    inputs, rule, _ = VALUE_CASES[case]
    run = tf.function(lambda x: encoder(x)["sequence_output"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=rule):
        run({k: tf.constant(v) for k, v in inputs.items()})


def compiled(encoder):
    """The encoder's forward pass as XLA (TensorFlow) or `jax.jit` compiles
    it: no assertion can stop it."""
    if TF:
        import tensorflow as tf

        return tf.function(
            lambda x: encoder(x)["sequence_output"], jit_compile=True
        )
    import jax

    trainable = [v.value for v in encoder.trainable_variables]
    non_trainable = [v.value for v in encoder.non_trainable_variables]

    @jax.jit
    def run(x):
        outputs, _ = encoder.stateless_call(trainable, non_trainable, x)
        return outputs["sequence_output"]

    return run


@pytest.mark.parametrize(
    "case", sorted(c for c in VALUE_CASES if "int64" not in c)
)
def test_value_faults_compiled_give_nan_for_the_bad_example(encoder, case):
    inputs, _, _ = VALUE_CASES[case]
    inputs = dict(inputs)
    if "global_mask" not in inputs:
        inputs["global_mask"] = np.zeros((BATCH, LENGTH), "int32")
    outputs = np.asarray(compiled(encoder)(inputs))
    # Every case breaks example 1 only: example 0 is answered exactly.
    assert np.all(np.isnan(outputs[1]))
    assert np.all(np.isfinite(outputs[0]))
    np.testing.assert_allclose(
        outputs[0],
        np.asarray(encoder({k: v[:1] for k, v in inputs.items()})[
            "sequence_output"])[0],
        rtol=1e-5, atol=1e-5,
    )


def test_valid_inputs_are_not_changed_by_the_checks(encoder):
    inputs = dict(good_inputs(), global_mask=np.zeros((BATCH, LENGTH), "int32"))
    eager = np.asarray(encoder(inputs)["sequence_output"])
    assert np.all(np.isfinite(eager))
    np.testing.assert_allclose(
        np.asarray(compiled(encoder)(inputs)), eager, rtol=1e-5, atol=1e-5
    )


# === fit / evaluate / predict: arrays and tf.data, also under XLA ===


def make_task(encoder, task):
    if task == "classifier":
        return BigBirdClassifier(encoder, num_classes=3)
    if task == "token_classifier":
        return BigBirdTokenClassifier(encoder, num_classes=3)
    return BigBirdQuestionAnswerer(encoder)


def compiled_task(encoder, task, jit_compile=True):
    model = make_task(encoder, task)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("sgd", loss, jit_compile=jit_compile)
    return model


def task_inputs():
    inputs = good_inputs()
    inputs["padding_mask"][:, 24:] = 0
    return inputs


LABEL_CASES = {
    "class equal to num_classes": (
        "classifier", np.array([0, 3]),
        r"`labels` must be in \[0, 3\) \(num_classes=3\)",
        r"labels\[1\]=3",
    ),
    "negative class": (
        "classifier", np.array([-1, 0]),
        r"`labels` must be in \[0, 3\)", r"labels\[0\]=-1",
    ),
    "class column [batch, 1]": (
        "classifier", np.array([[1], [7]]),
        r"`labels` must be in \[0, 3\)", r"labels\[1, 0\]=7",
    ),
    "token class out of range at a real position": (
        "token_classifier",
        np.where(np.arange(LENGTH) == 3, 5, 0)[None].repeat(BATCH, 0),
        r"`labels` must be in \[0, 3\)", r"labels\[0, 3\]=5",
    ),
    "token class -100 at a padded position (NaN under XLA)": (
        "token_classifier",
        np.where(np.arange(LENGTH) >= 24, -100, 0)[None].repeat(BATCH, 0),
        r"`labels` must be in \[0, 3\)", r"labels\[0, 24\]=-100",
    ),
    "negative token class at a real position": (
        "token_classifier",
        np.where(np.arange(LENGTH) == 23, -1, 0)[None].repeat(BATCH, 0),
        r"`labels` must be in \[0, 3\)", r"labels\[0, 23\]=-1",
    ),
    "answer start past the sequence": (
        "question_answerer",
        {"start_logits": np.array([1, LENGTH]), "end_logits": np.array([1, 2])},
        # The sequence length: known in arrays, a tensor in a dataset.
        r"`start_logits` must be in \[0, (32|length)\) "
        r"\(a position in the sequence\)",
        r"start_logits\[1\]=32",
    ),
    "negative answer end": (
        "question_answerer",
        {"start_logits": np.array([1, 2]), "end_logits": np.array([-1, 2])},
        r"`end_logits` must be in \[0, (32|length)\)", r"end_logits\[0\]=-1",
    ),
}


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_label_faults_in_fit_on_arrays(encoder, case):
    task, labels, rule, entry = LABEL_CASES[case]
    model = compiled_task(encoder, task)
    with pytest.raises(ValueError, match=rf"{rule}.*Received: {entry}"):
        model.fit(task_inputs(), labels, verbose=0)
    with pytest.raises(ValueError, match=rule):
        model.evaluate(task_inputs(), labels, verbose=0)


@tf_only
@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_label_faults_in_fit_on_a_dataset_under_xla(encoder, case):
    import tensorflow as tf

    task, labels, rule, _ = LABEL_CASES[case]
    model = compiled_task(encoder, task, jit_compile=True)
    dataset = tf.data.Dataset.from_tensor_slices(
        (task_inputs(), labels)
    ).batch(BATCH)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rule):
        model.fit(dataset, verbose=0)


def test_token_labels_at_padded_positions_do_not_count(encoder):
    inputs = task_inputs()  # padding from position 24 on
    labels = np.zeros((BATCH, LENGTH), "int32")
    other = labels.copy()
    other[:, 24:] = 2
    model = make_task(encoder, "token_classifier")
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    losses = [model.evaluate(inputs, y, verbose=0) for y in (labels, other)]
    assert np.isfinite(losses[0])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_one_hot_labels_are_not_range_checked(encoder):
    model = make_task(encoder, "classifier")
    model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
    labels = np.eye(3, dtype="float32")[[0, 2]]
    history = model.fit(task_inputs(), labels, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@tf_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_input_faults_in_fit_on_a_dataset(encoder, jit_compile):
    import tensorflow as tf

    model = compiled_task(encoder, "classifier", jit_compile=jit_compile)
    inputs = task_inputs()
    inputs["token_ids"][1, 4] = VOCAB
    dataset = tf.data.Dataset.from_tensor_slices(
        (inputs, np.array([0, 1]))
    ).batch(BATCH)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"`token_ids` must be in \[0, 50\)"
    ):
        model.fit(dataset, verbose=0)


@tf_only
def test_unknown_key_in_a_dataset_fails_before_training(encoder):
    import tensorflow as tf

    model = compiled_task(encoder, "classifier")
    inputs = dict(task_inputs(), attention_mask=task_inputs()["padding_mask"])
    dataset = tf.data.Dataset.from_tensor_slices(
        (inputs, np.array([0, 1]))
    ).batch(BATCH)
    with pytest.raises(ValueError, match=r"unknown inputs \['attention_mask'\]"):
        model.fit(dataset, verbose=0)
    with pytest.raises(ValueError, match=r"unknown inputs \['attention_mask'\]"):
        model.predict(dataset, verbose=0)


def test_predict_with_an_extra_key_is_an_error(encoder):
    # It used to shift token_ids, segment_ids and padding_mask onto each other.
    model = make_task(encoder, "classifier")
    with pytest.raises(ValueError, match=r"unknown inputs \['attention_mask'\]"):
        model.predict(
            dict(task_inputs(), attention_mask=task_inputs()["padding_mask"]),
            verbose=0,
        )


def test_predict_on_an_empty_batch(encoder):
    model = make_task(encoder, "classifier")
    inputs = {k: v[:0] for k, v in task_inputs().items()}
    with pytest.raises(
        ValueError,
        match=r"`predict` got no examples: `token_ids` has shape \(0, 32\)",
    ):
        model.predict(inputs, verbose=0)


def test_fit_with_fewer_labels_than_examples(encoder):
    model = compiled_task(encoder, "classifier")
    with pytest.raises(
        ValueError, match=r"Received: 1 labels for 2 examples"
    ):
        model.fit(task_inputs(), np.array([0]), verbose=0)


def test_fit_checks_validation_data(encoder):
    model = compiled_task(encoder, "classifier")
    with pytest.raises(ValueError, match=r"labels\[1\]=9"):
        model.fit(
            task_inputs(), np.array([0, 1]), verbose=0,
            validation_data=(task_inputs(), np.array([0, 9])),
        )


def test_predict_on_bad_values_names_the_entry(encoder):
    model = make_task(encoder, "token_classifier")
    inputs = task_inputs()
    inputs["segment_ids"][0, 2] = 5
    with pytest.raises(
        ValueError, match=r"`segment_ids` must be in \[0, 2\).*"
        r"segment_ids\[0, 2\]=5",
    ):
        model.predict(inputs, verbose=0)
