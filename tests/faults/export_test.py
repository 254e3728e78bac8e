"""Fault cases of the export surface: each bad argument to
`export_for_serving` and `keras-bigbird export`, and each bad request to
the served signatures (loaded back with `tf.saved_model.load`, as a
Python client does), with the exact error it gets. One tiny task model is
exported once per session and every request case reuses it."""

import os
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird import cli
from keras_bigbird.export import export_for_serving
from keras_bigbird.export import signatures
from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.preprocessing import BigBirdPreprocessor
from keras_bigbird.preprocessing import WordPieceTokenizer
from tests.export import toy_models
from tests.faults.fault_cases import params
from tests.faults.fault_cases import replaced

pytestmark = pytest.mark.tf_only

VOCAB = toy_models.VOCABULARY_SIZE
MAX = toy_models.MAX_SEQUENCE_LENGTH


@pytest.fixture(scope="session")
def task():
    """A BigBirdClassifier on the toy encoder, owning its preprocessor."""
    encoder = toy_models.bigbird_encoder()
    tokenizer = WordPieceTokenizer(toy_models.VOCABULARY, lowercase=True)
    return BigBirdClassifier(
        encoder,
        num_classes=3,
        preprocessor=BigBirdPreprocessor.from_encoder(
            encoder, tokenizer, sequence_length=32
        ),
    )


@pytest.fixture(scope="session")
def served(task, tmp_path_factory):
    """The task exported with no `preprocessor=` (so `serve_text` comes from
    the task's own), loaded back."""
    import tensorflow_text  # noqa: F401  (registers the text ops)

    base = tmp_path_factory.mktemp("fault_export")
    path = export_for_serving(task, base, name="toy", warmup_lengths=[8])
    return tf.saved_model.load(path)


@pytest.fixture(scope="session")
def saved_task(task, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fault_cli") / "toy.keras")
    task.save(path)
    return path


def plain_model(names=("token_ids", "padding_mask"), units=3, **dense):
    """A user's own functional model (no serving facts): an embedding, a
    mean over tokens and a dense layer."""
    inputs = {n: keras.Input((None,), dtype="int32", name=n) for n in names}
    x = keras.layers.Embedding(VOCAB, 4)(inputs["token_ids"])
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(units, **dense)(x))


class BadFacts(keras.Model):
    def serving_facts(self):
        return {"max_sequence_length": 64}


def bad_facts_model():
    model = plain_model()
    return BadFacts(model.input, model.output)


# === export_for_serving: bad arguments, rejected before anything is written ===

ARGUMENT_CASES = {
    "name with a slash": (
        lambda t: (t, dict(name="a/b")),
        ValueError,
        r"invalid value for argument `name`.*Received: name='a/b'",
    ),
    "version 0": (
        lambda t: (t, dict(version=0)),
        ValueError,
        r"argument `version`, expected a positive integer or None\. "
        r"Received: version=0",
    ),
    "version as a string": (
        lambda t: (t, dict(version="1")),
        ValueError,
        r"argument `version`.*Received: version='1'",
    ),
    "probabilities unknown": (
        lambda t: (t, dict(probabilities="argmax")),
        ValueError,
        r"argument `probabilities`, expected one of .*Received: "
        r"probabilities='argmax'",
    ),
    "softmax over one logit": (
        lambda t: (plain_model(units=1), dict(
            max_sequence_length=MAX, probabilities="softmax")),
        ValueError,
        r"a softmax over the model's single logit is always 1\.0",
    ),
    "warmup length over the maximum": (
        lambda t: (t, dict(warmup_lengths=[MAX + 1])),
        ValueError,
        rf"argument `warmup_lengths`.*Received: warmup_lengths={MAX + 1}",
    ),
    "warmup batch size 0": (
        lambda t: (t, dict(warmup_batch_size=0)),
        ValueError,
        r"argument `warmup_batch_size`.*Received: warmup_batch_size=0",
    ),
    "max_sequence_length 0": (
        lambda t: (t, dict(max_sequence_length=0)),
        ValueError,
        r"argument `max_sequence_length`.*Received: max_sequence_length=0",
    ),
    "max_sequence_length over the model's": (
        lambda t: (t, dict(max_sequence_length=2 * MAX)),
        ValueError,
        rf"max_sequence_length={2 * MAX} exceeds the model's "
        rf"max_sequence_length \({MAX}\)",
    ),
    "vocabulary_size negative": (
        lambda t: (t, dict(vocabulary_size=-1)),
        ValueError,
        r"argument `vocabulary_size`.*Received: vocabulary_size=-1",
    ),
    "num_segments negative": (
        lambda t: (t, dict(num_segments=-1)),
        ValueError,
        r"argument `num_segments`.*Received: num_segments=-1",
    ),
    "output_activation not a name": (
        lambda t: (t, dict(output_activation=3)),
        ValueError,
        r"argument `output_activation`.*Received: output_activation=3",
    ),
    "preprocessor not callable": (
        lambda t: (t, dict(preprocessor="not callable")),
        ValueError,
        r"argument `preprocessor`: it must be a callable.*Received: "
        r"preprocessor='not callable'",
    ),
    "preprocessor an empty list": (
        lambda t: (t, dict(preprocessor=[])),
        ValueError,
        r"argument `preprocessor`: an empty list",
    ),
    "preprocessor longer than the model": (
        lambda t: (t, dict(
            preprocessor=toy_models.preprocessor(max_sequence_length=128))),
        ValueError,
        rf"The preprocessor packs to 128 tokens, more than the model's "
        rf"max_sequence_length={MAX}",
    ),
    "serve_text not a bool": (
        lambda t: (t, dict(serve_text="yes")),
        ValueError,
        r"argument `serve_text`, expected True or False\. Received: "
        r"serve_text='yes'",
    ),
    "model not a Keras model": (
        lambda t: ("model.keras", {}),
        ValueError,
        r"argument `model`, expected a Keras model\. Received: "
        r"model='model.keras'",
    ),
    "own model, no facts, no max_sequence_length": (
        lambda t: (plain_model(), {}),
        ValueError,
        r"Cannot tell the model's maximum sequence length: pass "
        r"`max_sequence_length`.*Functional declares no serving facts",
    ),
    "own model on a list of inputs": (
        lambda t: (_list_input_model(), dict(max_sequence_length=MAX)),
        ValueError,
        r"needs a model called on a dict of inputs named `token_ids` and "
        r"`padding_mask`",
    ),
    "own model with an unservable input": (
        lambda t: (
            plain_model(("token_ids", "padding_mask", "attention_mask")),
            dict(max_sequence_length=MAX),
        ),
        ValueError,
        r"Missing: \[\]; not servable: \['attention_mask'\]",
    ),
    "own model without padding_mask": (
        lambda t: (plain_model(("token_ids",)), dict(max_sequence_length=MAX)),
        ValueError,
        r"Missing: \['padding_mask'\]; not servable: \[\]",
    ),
    "serving_facts() not ServingFacts": (
        lambda t: (bad_facts_model(), {}),
        ValueError,
        r"BadFacts\.serving_facts\(\) must return a `ServingFacts`\. "
        r"Received: \{'max_sequence_length': 64\}",
    ),
    "own model ending in a softmax, undeclared": (
        lambda t: (
            plain_model(activation="softmax"), dict(max_sequence_length=MAX)
        ),
        UserWarning,
        r"ends in a softmax, but the model does not declare it.*"
        r"`probabilities` would be a softmax of those probabilities\. Pass "
        r"`output_activation='softmax'`",
    ),
    "own model ending in a sigmoid layer, undeclared": (
        lambda t: (_sigmoid_layer_model(), dict(max_sequence_length=MAX)),
        UserWarning,
        r"ends in a sigmoid.*Pass `output_activation='sigmoid'`",
    ),
}


def _list_input_model():
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Embedding(VOCAB, 4)(ids)
    )
    return keras.Model([ids], keras.layers.Dense(2)(x))


def _sigmoid_layer_model():
    model = plain_model()
    output = keras.layers.Activation("sigmoid")(model.output)
    return keras.Model(model.input, output)


@pytest.mark.parametrize("make, error, pattern", params(ARGUMENT_CASES))
def test_export_argument_faults(task, tmp_path, make, error, pattern):
    model, kwargs = make(task)
    kwargs = {"name": "m", **kwargs}
    with warnings.catch_warnings():
        # The warning cases stop at the warning, before any writing.
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(error, match=pattern):
            export_for_serving(model, tmp_path, **kwargs)
    assert not os.listdir(tmp_path)


def test_an_existing_version_is_not_replaced_by_accident(task, tmp_path):
    os.makedirs(tmp_path / "m" / "1")
    with pytest.raises(ValueError, match=r"Version 1 already exists at .*m.1"):
        export_for_serving(task, tmp_path, name="m", version=1)
    assert os.listdir(tmp_path / "m") == ["1"]


# === keras-bigbird export: one line on stderr, exit code 2 ===

CLI_CASES = {
    "model file missing": (
        lambda model, tmp: [str(tmp / "missing.keras")],
        r"MODEL: no model file at '.*missing\.keras'",
    ),
    "export base is a file": (
        lambda model, tmp: [model, "--export-base", model],
        r"--export-base: '.*toy\.keras' is a file, not a folder",
    ),
    "version 0": (
        lambda model, tmp: [model, "--version", "0"],
        r"argument --version: expected an integer >= 1\. Received: '0'",
    ),
    "max sequence length not a number": (
        lambda model, tmp: [model, "--max-sequence-length", "long"],
        r"argument --max-sequence-length: expected an integer >= 1\. "
        r"Received: 'long'",
    ),
    "num segments negative": (
        lambda model, tmp: [model, "--num-segments", "-1"],
        r"argument --num-segments: expected an integer >= 0",
    ),
    "warmup length 0": (
        lambda model, tmp: [model, "--warmup-lengths", "8", "0"],
        r"argument --warmup-lengths: expected an integer >= 1\. Received: '0'",
    ),
    "probabilities unknown": (
        lambda model, tmp: [model, "--probabilities", "argmax"],
        r"argument --probabilities: invalid choice: 'argmax'",
    ),
    "preprocessor file missing": (
        lambda model, tmp: [model, "--preprocessor", str(tmp / "none.json")],
        r"argument --preprocessor: .*none\.json",
    ),
    "preprocessor not JSON": (
        lambda model, tmp: [model, "--preprocessor", _file(tmp, "{oops")],
        r"--preprocessor .*p\.json: not JSON",
    ),
    "preprocessor JSON not a layer": (
        lambda model, tmp: [model, "--preprocessor", _file(tmp, "[1, 2]")],
        r"--preprocessor .*p\.json: expected a serialized layer \{\.\.\.\} "
        r"or a list of them\. Received: \[1, 2\]",
    ),
    "max sequence length over the model's": (
        lambda model, tmp: [model, "--max-sequence-length", str(MAX + 1)],
        rf"max_sequence_length={MAX + 1} exceeds the model's "
        rf"max_sequence_length \({MAX}\)",
    ),
    "name with a slash": (
        lambda model, tmp: [model, "--name", "a/b"],
        r"invalid value for argument `name`.*Received: name='a/b'",
    ),
}


def _file(tmp, text):
    path = tmp / "p.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "make, pattern",
    [pytest.param(*case, id=name) for name, case in CLI_CASES.items()],
)
def test_export_cli_faults(saved_task, tmp_path, capsys, make, pattern):
    arguments = make(saved_task, tmp_path)
    defaults = ["--export-base", str(tmp_path / "models"), "--name", "toy"]
    if "--name" in arguments:
        defaults = defaults[:2]
    if "--export-base" in arguments:
        defaults = defaults[2:]
    try:
        code = cli.main(["export", *arguments, *defaults])
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]
    assert not os.path.exists(tmp_path / "models" / "toy")


def test_export_cli_serves_the_saved_tasks_own_preprocessor(
    saved_task, tmp_path, capsys
):
    # The control of the cases above: the same command, without a fault,
    # exports; with no --preprocessor the task's own (saved in its .keras
    # file) is served as `serve_text`.
    from keras_bigbird.export.check import signature_tensors

    base = tmp_path / "models"
    code = cli.main(
        ["export", saved_task, "--export-base", str(base), "--name", "toy",
         "--warmup-lengths", "8"]
    )
    assert code == 0, capsys.readouterr().err
    served = signature_tensors(str(base / "toy" / "1"))
    assert sorted(served) == ["serve_text", "serving_default"]
    assert list(served["serve_text"]["inputs"]) == ["text"]


# === The served signatures: bad requests ===


def good(batch=2, length=9):
    ids = np.arange(batch * length).reshape(batch, length) % (VOCAB - 5) + 5
    return {
        "token_ids": tf.constant(ids, tf.int32),
        "padding_mask": tf.ones((batch, length), tf.int32),
        "segment_ids": tf.zeros((batch, length), tf.int32),
    }


def request(**changes):
    """A good `serving_default` request with entries replaced (None drops
    one)."""
    return replaced(good(), **changes)


def with_entry(name, value):
    inputs = good()
    array = inputs[name].numpy()
    array[1, 3] = value
    inputs[name] = tf.constant(array)
    return inputs


INVALID = tf.errors.InvalidArgumentError

REQUEST_CASES = {
    "unknown input name": (
        lambda: request(attention_mask=tf.ones((2, 9), tf.int32)),
        TypeError,
        r"attention_mask",
    ),
    "missing padding_mask": (
        lambda: request(padding_mask=None),
        TypeError,
        r"padding_mask",
    ),
    # The dtypes are checked by TensorFlow's signature wrapper, before the
    # served graph: it names the input by its index among the sorted names
    # (padding_mask 0, segment_ids 1, token_ids 2), not by name.
    "float token_ids": (
        lambda: request(token_ids=tf.ones((2, 9), tf.float32)),
        INVALID,
        r"input #2\(zero-based\) was expected to be a int32 tensor but is a "
        r"float tensor",
    ),
    "int64 padding_mask": (
        lambda: request(padding_mask=tf.ones((2, 9), tf.int64)),
        INVALID,
        r"input #0\(zero-based\) was expected to be a int32 tensor but is a "
        r"int64 tensor",
    ),
    "token_ids of rank 1": (
        lambda: request(
            token_ids=tf.ones((9,), tf.int32),
            padding_mask=tf.ones((9,), tf.int32),
            segment_ids=tf.zeros((9,), tf.int32),
        ),
        INVALID,
        r"`token_ids` must be a \[batch, length\] int32 tensor \(rank 2\)\. "
        r"Received: token_ids of shape\] \[9\]",
    ),
    "padding_mask of rank 3": (
        lambda: request(padding_mask=tf.ones((2, 9, 1), tf.int32)),
        INVALID,
        r"`padding_mask` must be a \[batch, length\] int32 tensor \(rank 2\)"
        r"\. Received: padding_mask of shape\] \[2 9 1\]",
    ),
    "padding_mask one token short": (
        lambda: request(padding_mask=tf.ones((2, 8), tf.int32)),
        INVALID,
        r"`padding_mask` must have the shape of `token_ids`",
    ),
    "segment_ids of another batch": (
        lambda: request(segment_ids=tf.zeros((3, 9), tf.int32)),
        INVALID,
        r"`segment_ids` must have the shape of `token_ids`",
    ),
    "token id = vocabulary size": (
        lambda: with_entry("token_ids", VOCAB),
        INVALID,
        rf"`token_ids` must be in \[0, {VOCAB}\) \(vocabulary_size={VOCAB}\)"
        rf"\. Received: min\] \[\d+\] \[max\] \[{VOCAB}\]",
    ),
    "token id negative": (
        lambda: with_entry("token_ids", -1),
        INVALID,
        rf"`token_ids` must be in \[0, {VOCAB}\).*min\] \[-1\]",
    ),
    "segment id = num_segments": (
        lambda: with_entry("segment_ids", 2),
        INVALID,
        r"`segment_ids` must be in \[0, 2\) \(num_segments=2\)",
    ),
    "padding_mask -1": (
        lambda: with_entry("padding_mask", -1),
        INVALID,
        r"`padding_mask` must be in \[0, 2\).*min\] \[-1\]",
    ),
    "padding_mask 2": (
        lambda: with_entry("padding_mask", 2),
        INVALID,
        r"`padding_mask` must be in \[0, 2\).*max\] \[2\]",
    ),
    "longer than the maximum": (
        lambda: {k: tf.tile(v, [1, 8]) for k, v in good(length=9).items()},
        INVALID,
        rf"token_ids is longer than the maximum sequence length \({MAX}\)",
    ),
    "empty sequences": (
        lambda: good(length=0),
        INVALID,
        r"The input sequences are empty: they need at least one token "
        r"\(`token_ids`\)",
    ),
}


@pytest.mark.parametrize("make, error, pattern", params(REQUEST_CASES))
def test_serving_default_request_faults(served, make, error, pattern):
    function = served.signatures[signatures.SERVING_DEFAULT]
    with pytest.raises(error, match=pattern):
        function(**make())


TEXT_CASES = {
    "a [1, 2] string tensor": (
        lambda: {"text": tf.constant([["the cat", "a dog"]])},
        INVALID,
        r"`text` must be a \[batch\] string tensor \(rank 1\)\. Received: "
        r"text of shape\] \[1 2\]",
    ),
    "a scalar string": (
        lambda: {"text": tf.constant("the cat")},
        INVALID,
        r"`text` must be a \[batch\] string tensor \(rank 1\)\. Received: "
        r"text of shape\] \[\]",
    ),
    "a [2, 1, 1] string tensor": (
        lambda: {"text": tf.constant([[["the cat"]], [["a dog"]]])},
        INVALID,
        r"`text` must be a \[batch\] string tensor.*shape\] \[2 1 1\]",
    ),
    "int text": (
        lambda: {"text": tf.constant([1, 2])},
        INVALID,
        r"input #0\(zero-based\) was expected to be a string tensor but is a "
        r"int32 tensor",
    ),
    "unknown input name": (
        lambda: {"texts": tf.constant(["the cat"])},
        TypeError,
        r"texts",
    ),
}


@pytest.mark.parametrize("make, error, pattern", params(TEXT_CASES))
def test_serve_text_request_faults(served, make, error, pattern):
    function = served.signatures[signatures.SERVE_TEXT]
    with pytest.raises(error, match=pattern):
        function(**make())


def test_good_requests_next_to_the_faults_are_answered(served, task):
    # The negative control: the same signatures answer good requests, one
    # row per text, as the Keras model does.
    outputs = served.signatures[signatures.SERVING_DEFAULT](**good())
    np.testing.assert_allclose(outputs["logits"], task(good()), atol=1e-5)
    texts = ["the cat sat", "a dog ran far", "zebra"]
    outputs = served.signatures[signatures.SERVE_TEXT](text=tf.constant(texts))
    expected = task(task.preprocessor(texts))
    assert outputs["logits"].shape == (3, 3)
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-5)


def test_text_of_another_rank_is_a_value_error_eagerly():
    with pytest.raises(
        ValueError,
        match=r"`text` must be a \[batch\] string tensor \(rank 1\)\. "
        r"Received: text of shape \(1, 2\)",
    ):
        signatures.check_text(tf.constant([["the cat", "a dog"]]))
    with pytest.raises(
        ValueError,
        match=r"`text` must be a string tensor\. Received: text of dtype int32",
    ):
        signatures.check_text(tf.constant([1, 2]))
