"""export_for_serving: layout, signatures, a clean-process load, bad inputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bigbird.export import check
from keras_bigbird.export import export_for_serving
from keras_bigbird.export import layout
from keras_bigbird.preprocessing import BlockPacker
from tests.export import toy_models
from tests.export.conftest import MAX_LENGTH
from tests.export.conftest import TEXTS

pytestmark = pytest.mark.tf_only

VOCAB = toy_models.VOCABULARY_SIZE
# 1, non-multiples of the block size (4) below and above the dense-path
# threshold, a block multiple, the maximum.
LENGTHS = (1, 6, 37, 40, MAX_LENGTH - 1, MAX_LENGTH)


def test_layout_is_a_tf_serving_version_directory(classifier_export):
    path = classifier_export.path
    assert path == os.path.join(classifier_export.base, "classifier", "1")
    assert sorted(os.listdir(path)) == [
        "assets",
        "assets.extra",
        "fingerprint.pb",
        "saved_model.pb",
        "variables",
    ]
    assert os.listdir(os.path.join(path, "variables"))
    # Nothing but the published version is left next to it.
    assert os.listdir(os.path.dirname(path)) == ["1"]


def test_versions_count_up_and_are_never_overwritten_by_accident(tmp_path):
    model = toy_models.classifier()
    kwargs = dict(max_sequence_length=MAX_LENGTH, warmup_lengths=[8])
    first = export_for_serving(model, tmp_path, name="m", **kwargs)
    (tmp_path / "m" / "not_a_version").mkdir()
    second = export_for_serving(model, tmp_path, name="m", **kwargs)
    assert [os.path.basename(p) for p in (first, second)] == ["1", "2"]
    with pytest.raises(ValueError, match="Version 2 already exists"):
        export_for_serving(model, tmp_path, name="m", version=2, **kwargs)
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "2", "not_a_version"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_sequence_length": None}, "Cannot tell the model's maximum"),
        ({"name": "a/b"}, "invalid value for argument `name`"),
        ({"probabilities": "argmax"}, "argument `probabilities`"),
        ({"warmup_lengths": [MAX_LENGTH + 1]}, "`warmup_lengths`"),
        ({"preprocessor": "not callable"}, "must be a callable"),
    ],
)
def test_invalid_arguments_are_rejected_before_writing(
    tmp_path, kwargs, message
):
    model = toy_models.classifier()
    arguments = dict(name="m", max_sequence_length=MAX_LENGTH)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        export_for_serving(model, tmp_path, **arguments)
    assert not os.listdir(tmp_path)


def test_preprocessor_longer_than_the_model_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="packs to 128 tokens"):
        export_for_serving(
            toy_models.bigbird_classifier(),
            tmp_path,
            name="m",
            preprocessor=toy_models.preprocessor(max_sequence_length=128),
        )
    with pytest.raises(ValueError, match="exceeds the model's"):
        export_for_serving(
            toy_models.bigbird_classifier(),
            tmp_path,
            name="m",
            max_sequence_length=MAX_LENGTH * 2,
        )
    assert not os.listdir(tmp_path)


def test_signatures_take_dynamic_int32_inputs_and_name_outputs(
    classifier_export, encoder_export
):
    classifier = check.signature_tensors(classifier_export.path)
    assert sorted(classifier) == ["serve_text", "serving_default"]
    default = classifier["serving_default"]
    assert {
        k: (v["dtype"], v["shape"]) for k, v in default["inputs"].items()
    } == {
        "token_ids": ("DT_INT32", [None, None]),
        "padding_mask": ("DT_INT32", [None, None]),
        "segment_ids": ("DT_INT32", [None, None]),
    }
    assert sorted(default["outputs"]) == ["logits", "probabilities"]
    text = classifier["serve_text"]
    assert {k: (v["dtype"], v["shape"]) for k, v in text["inputs"].items()} == {
        "text": ("DT_STRING", [None])
    }
    assert sorted(text["outputs"]) == ["logits", "probabilities"]

    encoder = check.signature_tensors(encoder_export.path)
    assert sorted(encoder) == ["serving_default"]
    default = encoder["serving_default"]
    assert sorted(default["inputs"]) == [
        "padding_mask",
        "segment_ids",
        "token_ids",
    ]
    assert default["outputs"]["sequence_output"]["shape"] == [None, None, 16]
    assert default["outputs"]["pooled_output"]["shape"] == [None, 16]


def test_clean_process_matches_predict_classifier_and_text(classifier_export):
    report = check.check_export(
        classifier_export.path,
        classifier_export.model,
        preprocessor=classifier_export.preprocessor,
        texts=TEXTS,
        lengths=LENGTHS,
        batch_sizes=(1, 4),
    )
    assert report["requests"] == len(LENGTHS) * 2 + 1
    assert report["serving_default"] <= 1e-5
    assert report["serve_text"] is not None and report["serve_text"] <= 1e-5


def test_clean_process_matches_predict_encoder(encoder_export):
    report = check.check_export(
        encoder_export.path,
        encoder_export.model,
        lengths=(3, 37, MAX_LENGTH),
        batch_sizes=(2, 5),
    )
    assert report["serving_default"] <= 1e-5


def test_single_logit_model_has_no_softmax_probabilities(tmp_path):
    # A regression model (`keras-bigbird train` builds
    # BigBirdClassifier(num_classes=1)) has one logit: a softmax over it is
    # always 1.0, so by default only `logits` is served.
    model = toy_models.bigbird_classifier(num_classes=1)
    kwargs = dict(name="regression", warmup_lengths=[8])
    path = export_for_serving(model, tmp_path, **kwargs)
    outputs = check.signature_tensors(path)["serving_default"]
    assert sorted(outputs["outputs"]) == ["logits"]
    report = check.check_export(path, model, lengths=(5,), batch_sizes=(2,))
    assert report["serving_default"] <= 1e-5
    # A sigmoid over one logit is a binary classifier's probability.
    path = export_for_serving(
        model, tmp_path, probabilities="sigmoid", **kwargs
    )
    served = tf.saved_model.load(path).signatures["serving_default"]
    ids = tf.constant([[2, 5, 6, 7, 3], [2, 8, 9, 3, 0]])
    outputs = served(
        token_ids=ids,
        padding_mask=tf.cast(ids > 0, tf.int32),
        segment_ids=tf.zeros_like(ids),
    )
    assert sorted(outputs) == ["logits", "probabilities"]
    np.testing.assert_allclose(
        outputs["probabilities"], tf.sigmoid(outputs["logits"]), atol=1e-6
    )
    with pytest.raises(
        ValueError,
        match=r"argument `probabilities`: a softmax over the model's single "
        r"logit is always 1.*Received: probabilities='softmax'",
    ):
        export_for_serving(model, tmp_path, probabilities="softmax", **kwargs)
    assert sorted(os.listdir(tmp_path / "regression")) == ["1", "2"]


def test_question_answerer_is_served_with_the_packers_pair_segments(
    tmp_path,
):
    # A converted question answerer derives segment ids (0 on "[CLS]
    # question [SEP]", 1 on the context) when called without them, as
    # transformers does; the signature needs them, and BlockPacker's pair
    # segments (what the README says to send) give the same answer.
    from keras_bigbird.convert import TransformersQuestionAnswerer

    tokenizer, _ = toy_models.preprocessor()
    packer = BlockPacker.from_tokenizer(
        tokenizer, max_sequence_length=MAX_LENGTH, block_size=4
    )
    model = TransformersQuestionAnswerer(
        toy_models.bigbird_encoder(), sep_token_id=tokenizer.sep_token_id
    )
    packed = packer(
        (tokenizer(["the cat sat", "a dog"]),
         tokenizer(["the big bird reads long text on a mat .", "dog ran far"]))
    )
    assert set(np.unique(packed["segment_ids"])) == {0, 1}
    derived = model(
        {"token_ids": packed["token_ids"],
         "padding_mask": packed["padding_mask"]}
    )
    path = export_for_serving(model, tmp_path, name="qa", warmup_lengths=[8])
    served = tf.saved_model.load(path).signatures["serving_default"](
        **{key: tf.cast(value, tf.int32) for key, value in packed.items()}
    )
    real = packed["padding_mask"].numpy().astype(bool)
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(
            served[key].numpy()[real], derived[key].numpy()[real], atol=1e-5
        )


@pytest.mark.parametrize(
    "problem_type, served",
    [
        ("multi_label_classification", "sigmoid"),
        ("single_label_classification", "softmax"),
        ("regression", None),
    ],
)
def test_converted_classifier_serves_its_problem_types_probabilities(
    tmp_path, problem_type, served
):
    # A transformers checkpoint's problem_type decides the probabilities:
    # a softmax over independent labels would be wrong for multi-label.
    from keras_bigbird.convert import TransformersClassifier

    model = TransformersClassifier(
        toy_models.bigbird_encoder(), num_classes=3, problem_type=problem_type
    )
    restored = TransformersClassifier.from_config(model.get_config())
    assert restored.problem_type == problem_type
    path = export_for_serving(model, tmp_path, name="c", warmup_lengths=[8])
    ids = tf.constant([[2, 5, 6, 7, 3], [2, 8, 9, 3, 0]])
    outputs = tf.saved_model.load(path).signatures["serving_default"](
        token_ids=ids,
        padding_mask=tf.cast(ids > 0, tf.int32),
        segment_ids=tf.zeros_like(ids),
    )
    logits = outputs["logits"].numpy()
    if served is None:
        assert sorted(outputs) == ["logits"]
    else:
        expected = {
            "sigmoid": 1 / (1 + np.exp(-logits)),
            "softmax": np.exp(logits) / np.exp(logits).sum(-1, keepdims=True),
        }[served]
        np.testing.assert_allclose(
            outputs["probabilities"], expected, rtol=1e-5
        )
    report = check.check_export(path, model, lengths=(5,), batch_sizes=(2,))
    assert report["serving_default"] <= 1e-5


def test_original_random_pattern_serves_every_length(tmp_path):
    # BigBirdAttention(random_pattern="bigbird_original") picks its random
    # blocks from stored tables when the length is unknown while tracing,
    # as it is in the exported graph.
    model = toy_models.classifier(random_pattern="bigbird_original", seed=3)
    path = export_for_serving(
        model,
        tmp_path,
        name="original",
        max_sequence_length=MAX_LENGTH,
        vocabulary_size=VOCAB,
        warmup_lengths=[8],
    )
    report = check.check_export(
        path,
        model,
        lengths=LENGTHS,
        batch_sizes=(2,),
        max_sequence_length=MAX_LENGTH,
        vocabulary_size=VOCAB,
    )
    assert report["serving_default"] <= 1e-5


def test_check_export_catches_a_model_that_differs(encoder_export):
    other = toy_models.bigbird_encoder(seed=7)
    with pytest.raises(AssertionError, match="differs from model.predict"):
        check.check_export(
            encoder_export.path,
            other,
            lengths=(37,),
            batch_sizes=(1,),
        )


def test_bad_inputs_fail_with_clear_errors(encoder_export):
    def request(length, **changes):
        inputs = {
            "token_ids": np.ones((2, length), "int32").tolist(),
            "padding_mask": np.ones((2, length), "int32").tolist(),
            "segment_ids": np.zeros((2, length), "int32").tolist(),
        }
        inputs.update(changes)
        return {"signature": "serving_default", "inputs": inputs}

    requests = [
        request(MAX_LENGTH + 1),
        request(9, padding_mask=np.ones((2, 8), "int32").tolist()),
        request(9, segment_ids=np.zeros((3, 9), "int32").tolist()),
        request(9, token_ids=np.full((2, 9), VOCAB, "int32").tolist()),
        request(9, token_ids=np.full((2, 9), -1, "int32").tolist()),
        request(9, segment_ids=np.full((2, 9), 2, "int32").tolist()),
        request(9, padding_mask=np.full((2, 9), -1, "int32").tolist()),
        request(0),
        request(MAX_LENGTH),
    ]
    report = check.run_probe(encoder_export.path, requests)
    errors = [result.get("error", "") for result in report["results"]]
    expected = [
        f"token_ids is longer than the maximum sequence length ({MAX_LENGTH})",
        "`padding_mask` must have the shape of `token_ids`",
        "`segment_ids` must have the shape of `token_ids`",
        f"`token_ids` must be in [0, {VOCAB}) (vocabulary_size={VOCAB})",
        f"`token_ids` must be in [0, {VOCAB}) (vocabulary_size={VOCAB})",
        "`segment_ids` must be in [0, 2) (num_segments=2)",
        "`padding_mask` must be in [0, 2)",
        "The input sequences are empty",
    ]
    assert len(errors) == len(expected) + 1
    for message, error in zip(expected, errors):
        assert message in error
    # The valid request next to them is answered.
    assert "outputs" in report["results"][-1]


def test_exported_ops_are_servable_and_not_xla_compiled(
    classifier_export, encoder_export
):
    for export in (classifier_export, encoder_export):
        ops = check.op_names(export.path)
        assert not ops & check.PYTHON_OPS
        assert check.xla_functions(export.path) == []
    # Function bodies are read: the model's and the tokenizer's ops show.
    ops = check.op_names(classifier_export.path)
    assert {"Einsum", "Assert", "FastWordpieceTokenizeWithOffsets"} <= ops
    assert "FastWordpieceTokenizeWithOffsets" not in check.op_names(
        encoder_export.path
    )


def test_op_and_xla_scan_finds_python_ops_and_jit_compile(tmp_path):
    # The negative control of the test above: the same scan on a SavedModel
    # that has a py_function and an XLA-compiled function reports both.
    module = tf.Module()
    module.py = tf.function(
        lambda x: tf.py_function(lambda a: a * 2, [x], tf.float32),
        input_signature=[tf.TensorSpec([None], tf.float32)],
    )
    module.xla = tf.function(
        lambda x: x * 2,
        input_signature=[tf.TensorSpec([None], tf.float32)],
        jit_compile=True,
    )
    tf.saved_model.save(
        module,
        str(tmp_path),
        signatures={"py": module.py, "xla": module.xla},
    )
    assert "EagerPyFunc" in check.op_names(str(tmp_path))
    assert check.xla_functions(str(tmp_path))


def test_warmup_file_holds_prediction_logs_that_serve(classifier_export):
    path = os.path.join(
        classifier_export.path, layout.WARMUP_DIR, layout.WARMUP_FILE
    )
    records = layout.read_warmup_file(path)
    lengths = layout.default_warmup_lengths(MAX_LENGTH)
    assert len(records) == len(lengths) + 1
    requests = []
    for record in records:
        assert record.WhichOneof("log_type") == "predict_log"
        request = record.predict_log.request
        assert request.model_spec.name == "classifier"
        inputs = {
            key: tf.make_ndarray(proto) for key, proto in request.inputs.items()
        }
        if request.model_spec.signature_name == "serve_text":
            inputs = {"text": [t.decode() for t in inputs["text"]]}
        else:
            assert request.model_spec.signature_name == "serving_default"
        requests.append(
            {
                "signature": request.model_spec.signature_name,
                "inputs": {
                    k: v if isinstance(v, list) else v.tolist()
                    for k, v in inputs.items()
                },
            }
        )
    assert [len(r["inputs"]["token_ids"][0]) for r in requests[:-1]] == lengths
    # Replayed as TF Serving does at load time: every request is answered.
    report = check.run_probe(classifier_export.path, requests, text_ops=True)
    assert all("outputs" in result for result in report["results"])


def test_probe_cannot_import_keras_bigbird():
    """What makes the probe's answers mean "served without our code": in its
    process `keras_bigbird` cannot be imported (TensorFlow can)."""
    from keras_bigbird.export import serving_probe

    path = serving_probe.__file__
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('probe', {path!r})\n"
        "probe = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(probe)\n"
        "sys.meta_path.insert(0, probe._Blocker())\n"
        "import tensorflow\n"
        "try:\n"
        "    import keras_bigbird.export\n"
        "except ImportError as error:\n"
        "    print('blocked:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "blocked: keras_bigbird is blocked" in done.stdout


def relative_difference(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def test_served_outputs_do_not_depend_on_the_other_inputs(classifier_export):
    """TF Serving's batching pads a request to its longest input: a text's
    outputs must not change with what it is batched with (per-example
    graphs), through both signatures."""
    served = tf.saved_model.load(classifier_export.path)
    default = served.signatures["serving_default"]
    text = served.signatures["serve_text"]
    rng = np.random.default_rng(0)
    n = 23
    doc = rng.integers(5, VOCAB, (1, n)).astype("int32")

    def request(lengths):
        total = max(lengths)
        ids = rng.integers(5, VOCAB, (len(lengths), total)).astype("int32")
        ids[0, :n] = doc[0]
        mask = (np.arange(total)[None] < np.array([n, *lengths[1:]])[:, None])
        ids = np.where(mask, ids, 0).astype("int32")
        return {"token_ids": ids, "padding_mask": mask.astype("int32"),
                "segment_ids": np.zeros_like(ids)}

    alone = default(**request([n]))["logits"].numpy()[0]
    for lengths in ([n, 5], [40, 64, 3], [MAX_LENGTH, MAX_LENGTH]):
        batched = default(**request(lengths))["logits"].numpy()[0]
        assert relative_difference(batched, alone) <= 1e-5, lengths

    short = "the cat sat on the mat"
    alone = text(tf.constant([short]))["logits"].numpy()[0]
    for others in (["a dog"], [" ".join(["the big bird reads long text"] * 5)]):
        batched = text(tf.constant([short] + others))["logits"].numpy()[0]
        assert relative_difference(batched, alone) <= 1e-5, others


def test_question_answerer_serves_its_global_question_tokens(tmp_path):
    """The served model derives the question's global tokens from the
    segment ids in its graph, as the Keras model: a client sends nothing
    new. Its own preprocessor is served as `serve_text` on (question,
    context) pairs, packed as the preprocessor packs a pair."""
    from keras_bigbird.models import BigBirdQuestionAnswerer
    from keras_bigbird.preprocessing import BigBirdPreprocessor

    tokenizer, _ = toy_models.preprocessor()
    packer = BlockPacker.from_tokenizer(
        tokenizer, max_sequence_length=MAX_LENGTH, block_size=4
    )
    encoder = toy_models.bigbird_encoder()
    model = BigBirdQuestionAnswerer(
        encoder,
        preprocessor=BigBirdPreprocessor.from_encoder(encoder, tokenizer),
    )
    questions = ["the cat sat", "a dog"]
    contexts = ["the big bird reads long text on a mat .", "dog ran far"]
    packed = packer((tokenizer(questions), tokenizer(contexts)))
    features = {key: tf.cast(value, tf.int32) for key, value in packed.items()}
    expected = model(features)
    path = export_for_serving(model, tmp_path, name="qa", warmup_lengths=[8])
    signature = check.signature_tensors(path)
    assert sorted(signature["serving_default"]["inputs"]) == [
        "padding_mask", "segment_ids", "token_ids"
    ]
    assert sorted(signature["serve_text"]["inputs"]) == ["context", "question"]
    loaded = tf.saved_model.load(path)
    served = loaded.signatures["serving_default"](**features)
    real = packed["padding_mask"].numpy().astype(bool)
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(
            served[key].numpy()[real], expected[key].numpy()[real], atol=1e-5
        )
    text = loaded.signatures["serve_text"]
    served = text(
        question=tf.constant(questions), context=tf.constant(contexts)
    )
    expected = model(model.preprocessor((questions, contexts)))
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(served[key], expected[key], atol=1e-5)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"`context` must hold one text per `question`",
    ):
        text(question=tf.constant(questions), context=tf.constant(["a"]))
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"`question` must be a \[batch\] string tensor \(rank 1\)",
    ):
        text(question=tf.constant([questions]), context=tf.constant(["a"]))


def test_declared_softmax_is_served_as_probabilities_once(tmp_path):
    """A user's model that ends in a softmax and says so is served its own
    probabilities, not a softmax of them, and gets no warning."""
    import warnings

    model = toy_models.plain_classifier(activation="softmax")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        path = export_for_serving(
            model, tmp_path, name="softmax", max_sequence_length=MAX_LENGTH,
            output_activation="softmax", warmup_lengths=[8],
        )
    ids = tf.constant([[2, 5, 6, 7, 3], [2, 8, 9, 3, 0]])
    features = {"token_ids": ids, "padding_mask": tf.cast(ids > 0, tf.int32)}
    outputs = tf.saved_model.load(path).signatures["serving_default"](
        **features
    )
    assert sorted(outputs) == ["probabilities"]
    np.testing.assert_allclose(
        outputs["probabilities"], model(features), atol=1e-6
    )


def test_check_export_fails_when_the_served_graph_is_wrong(tmp_path):
    """check_export computes the expected probabilities itself (numpy, from
    the declared activation): a served graph whose softmax is over the
    wrong axis fails it, though its logits are right."""
    model = toy_models.plain_classifier()
    module = tf.Module()
    module.model = model
    spec = {
        name: tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("token_ids", "padding_mask")
    }

    @tf.function(input_signature=[spec])
    def serve(features):
        logits = model(features)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, 0)}

    tf.saved_model.save(
        module, str(tmp_path), signatures={"serving_default": serve}
    )
    with pytest.raises(
        AssertionError,
        match=r"serving_default differs from model.predict by .* for "
        r"token_ids of shape \(3, 5\)",
    ):
        check.check_export(
            str(tmp_path), model, lengths=(5,), batch_sizes=(3,),
            max_sequence_length=MAX_LENGTH, vocabulary_size=VOCAB,
        )
