"""`from_transformers` against transformers' own BigBird models."""

import json
import os
import shutil
import warnings

import keras
import numpy as np
import pytest

from tests.convert.conftest import SEP
from tests.convert.conftest import hf_config
from tests.convert.conftest import random_inputs
from tests.convert.conftest import reference
from tests.convert.conftest import save_model
from tests.convert.conftest import torch
from tests.convert.conftest import transformers

from keras_bigbird.convert import PretrainedBigBirdEncoder
from keras_bigbird.convert import TransformersClassifier
from keras_bigbird.convert import TransformersQuestionAnswerer
from keras_bigbird.convert import from_transformers
from keras_bigbird.patterns import OriginalBigBirdPattern

ATOL = 1e-4


def sequence_output(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs)["sequence_output"])


def assert_close_on_real_tokens(got, expected, padding_mask):
    real = padding_mask.astype(bool)
    np.testing.assert_allclose(got[real], expected[real], atol=ATOL, rtol=0)


@pytest.fixture(scope="module")
def encoder(checkpoints):
    return from_transformers(checkpoints.model.path)


# block_size 16, 2 random blocks: up to 144 tokens transformers attends
# every key; 1000 tokens are padded to 1008 (general plan), 1016 to 1024
# (the 1024-token plan); 1024 and 2048 are whole blocks.
@pytest.mark.parametrize(
    "length", [100, 144, 145, 333, 1016, 1024, 2048]
)
def test_encoder_matches_block_sparse_reference(checkpoints, encoder, length):
    assert isinstance(encoder, PretrainedBigBirdEncoder)
    inputs = random_inputs(2, length, seed=length)
    expected = reference(checkpoints.model, inputs).last_hidden_state.numpy()
    got = sequence_output(encoder, inputs)
    assert_close_on_real_tokens(got, expected, inputs["padding_mask"])
    if inputs["padding_mask"][:, 0].all():
        pooled = reference(checkpoints.model, inputs).pooler_output.numpy()
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(encoder(inputs)["pooled_output"]),
            pooled,
            atol=ATOL,
        )


def test_hashed_pattern_gives_other_outputs(checkpoints):
    # The pattern matters: the package's default one does not reproduce
    # the reference (which is why conversion uses the original one).
    inputs = random_inputs(1, 1024, seed=5)
    expected = reference(checkpoints.model, inputs).last_hidden_state.numpy()
    hashed = from_transformers(checkpoints.model.path, random_pattern="hashed")
    difference = np.abs(sequence_output(hashed, inputs) - expected).max()
    assert difference > 100 * ATOL


@pytest.mark.parametrize("length", [100, 700])
def test_original_full_checkpoint(checkpoints, length):
    model = from_transformers(checkpoints.full.path)
    assert model.attention_type == "original_full"
    inputs = random_inputs(2, length, seed=length)
    expected = reference(checkpoints.full, inputs).last_hidden_state.numpy()
    assert_close_on_real_tokens(
        sequence_output(model, inputs), expected, inputs["padding_mask"]
    )


@pytest.mark.parametrize("length", [120, 1024])
def test_classifier_matches(checkpoints, length):
    model = from_transformers(checkpoints.classifier.path)
    assert isinstance(model, TransformersClassifier)
    assert model.num_classes == 3
    inputs = random_inputs(3, length, seed=length)
    expected = reference(checkpoints.classifier, inputs).logits.numpy()
    got = keras.ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_classifier_keeps_the_problem_type(checkpoints, tmp_path):
    # Multi-label logits are served with a sigmoid per label, not a softmax
    # (tests/export): the converted model must know its problem type.
    directory = tmp_path / "multi_label"
    shutil.copytree(checkpoints.classifier.path, directory)
    config = json.loads((directory / "config.json").read_text())
    assert config.get("problem_type") is None
    config["problem_type"] = "multi_label_classification"
    (directory / "config.json").write_text(json.dumps(config))
    model = from_transformers(directory)
    assert model.problem_type == "multi_label_classification"
    assert from_transformers(checkpoints.classifier.path).problem_type is None
    inputs = random_inputs(2, 120, seed=4)
    expected = reference(checkpoints.classifier, inputs).logits.numpy()
    got = keras.ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(got, expected, atol=ATOL)


@pytest.mark.parametrize("length", [130, 1016, 2048])
def test_question_answerer_matches(checkpoints, length):
    model = from_transformers(checkpoints.question_answerer.path)
    assert isinstance(model, TransformersQuestionAnswerer)
    inputs = random_inputs(2, length, seed=length, sep_at=9)
    expected = reference(checkpoints.question_answerer, inputs)
    got = model(inputs)
    mask = inputs["padding_mask"]
    for name in ("start_logits", "end_logits"):
        ours = keras.ops.convert_to_numpy(got[name])
        # Question tokens are pushed to about -1e6: compare in float32 ulps.
        theirs = getattr(expected, name).numpy()
        real = mask.astype(bool)
        np.testing.assert_allclose(ours[real], theirs[real], atol=ATOL, rtol=1e-6)
        assert (ours[~real] <= -1e8).all()
    assert (inputs["token_ids"][:, 9] == SEP).all()


def test_config_variant_and_pytorch_bin(checkpoints, tmp_path):
    # gelu (exact), rescaled embeddings, no q/k/v biases, 3 segment types,
    # another block size and epsilon; a BigBirdForPreTraining checkpoint
    # (its LM head is ignored) read from pytorch_model.bin.
    variant = checkpoints.variant
    directory = tmp_path / "bin"
    directory.mkdir()
    shutil.copy(os.path.join(variant.path, "config.json"), directory)
    model = variant.model_class.from_pretrained(variant.path)
    torch.save(model.state_dict(), directory / "pytorch_model.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left over
        converted = from_transformers(directory)
    assert converted.num_segments == 3 and converted.block_size == 8
    inputs = random_inputs(2, 1024, seed=3)
    inputs["segment_ids"] = (np.arange(1024)[None] % 3 * np.ones((2, 1))).astype(
        "int32"
    )
    # The reference: the encoder (`.bert`) of the pre-training model.
    bert = model.bert.train()
    state = np.random.get_state()
    with torch.no_grad():
        hidden = bert(
            input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["padding_mask"]),
            token_type_ids=torch.tensor(inputs["segment_ids"]),
        ).last_hidden_state.numpy()
    np.random.set_state(state)
    assert_close_on_real_tokens(
        sequence_output(converted, inputs), hidden, inputs["padding_mask"]
    )


def test_saved_and_reloaded_model_matches(checkpoints, tmp_path):
    model = from_transformers(checkpoints.question_answerer.path)
    path = tmp_path / "qa.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    inputs = random_inputs(2, 1024, seed=11, sep_at=5)
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(restored(inputs)[name]),
            keras.ops.convert_to_numpy(model(inputs)[name]),
            atol=1e-6,
        )
    attention = restored.encoder.encoder_layers[1].attention_layer
    assert isinstance(attention.pattern, OriginalBigBirdPattern)
    assert attention.pattern.table_length == restored.encoder.max_sequence_length
    assert attention.seed == 1


@pytest.mark.tf_only
def test_converted_model_exports_and_matches(checkpoints, tmp_path):
    import tensorflow as tf

    from keras_bigbird.export import export_for_serving

    model = from_transformers(checkpoints.classifier.path)
    path = export_for_serving(model, tmp_path, name="converted")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for length in (100, 1016):
        inputs = random_inputs(2, length, seed=length)
        served = serve(
            token_ids=tf.constant(inputs["token_ids"]),
            padding_mask=tf.constant(inputs["padding_mask"]),
            segment_ids=tf.zeros_like(inputs["token_ids"]),
        )
        expected = reference(checkpoints.classifier, inputs).logits.numpy()
        np.testing.assert_allclose(served["logits"].numpy(), expected, atol=ATOL)


# === Errors ===


def copy_checkpoint(checkpoint, directory):
    shutil.copytree(checkpoint.path, directory)
    return directory


def test_error_for_another_architecture(checkpoints, tmp_path):
    directory = copy_checkpoint(checkpoints.model, tmp_path / "bert")
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = "bert"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'bert' model, not BigBird"):
        from_transformers(directory)


def test_error_for_missing_tensor(checkpoints, tmp_path):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    directory = copy_checkpoint(checkpoints.model, tmp_path / "missing")
    tensors = load_file(directory / "model.safetensors")
    del tensors["encoder.layer.1.intermediate.dense.weight"]
    save_file(tensors, directory / "model.safetensors")
    with pytest.raises(
        ValueError, match="no tensor 'encoder.layer.1.intermediate.dense.weight'"
    ):
        from_transformers(directory)


def test_error_for_shape_mismatch(checkpoints, tmp_path):
    directory = copy_checkpoint(checkpoints.model, tmp_path / "shape")
    config = json.loads((directory / "config.json").read_text())
    config["intermediate_size"] = 48
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match="'encoder.layer.0.intermediate.dense.weight'.*shape"
    ):
        from_transformers(directory)


def test_error_for_missing_files(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        from_transformers(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "big_bird"}))
    with pytest.raises(ValueError, match="model.safetensors"):
        from_transformers(tmp_path)


def test_error_for_head_not_in_checkpoint(checkpoints):
    with pytest.raises(ValueError, match="classifier.out_proj.weight"):
        from_transformers(checkpoints.model.path, head="classifier")


def test_error_for_encoder_tensors_the_config_leaves_out(checkpoints, tmp_path):
    # 3-layer weights whose config.json says 2: layer 2 (16 tensors) would
    # be dropped, giving another model.
    checkpoint = save_model(
        tmp_path / "three_layers",
        transformers.BigBirdModel,
        hf_config(num_hidden_layers=3),
        seed=6,
    )
    config_path = os.path.join(checkpoint.path, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["num_hidden_layers"] = 2
    with open(config_path, "w") as f:
        json.dump(config, f)
    with pytest.raises(
        ValueError, match=r"16 encoder tensors .*'encoder\.layer\.2\."
    ):
        from_transformers(checkpoint.path)


def test_unused_head_is_a_warning_when_only_the_encoder_is_asked_for(
    checkpoints,
):
    with pytest.warns(UserWarning, match=r"4 tensors .*'classifier\."):
        model = from_transformers(checkpoints.classifier.path, head="none")
    assert isinstance(model, PretrainedBigBirdEncoder)
