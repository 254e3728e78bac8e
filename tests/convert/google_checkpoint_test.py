"""`from_google_checkpoint` on a TF checkpoint with the original names.

The checkpoint is written from a transformers model's weights in the
google-research layout (the reverse of transformers' own conversion
script): layer 0 with the 3-D attention kernels of the published
checkpoints, layer 1 with the 2-D ones, plus optimizer slots to skip.
"""

import json

import keras
import numpy as np
import pytest

from tests.convert.conftest import random_inputs
from tests.convert.conftest import reference

from keras_bigbird.convert import PretrainedBigBirdEncoder
from keras_bigbird.convert import from_google_checkpoint
from keras_bigbird.convert import from_transformers

GOOGLE_CONFIG = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 4096,
    "type_vocab_size": 2,
    "block_size": 16,
    "num_rand_blocks": 2,
    "hidden_act": "gelu",  # the tanh approximation in the google code
    "attention_type": "block_sparse",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "scope": "bert",
}


def google_variables(state, num_layers, heads, three_d_layers=(0,)):
    """transformers `BigBirdModel` state -> google-research variables."""
    s = {k: v.numpy() for k, v in state.items()}
    hidden = s["embeddings.word_embeddings.weight"].shape[1]
    out = {
        "bert/embeddings/word_embeddings": s["embeddings.word_embeddings.weight"],
        "bert/embeddings/position_embeddings": s[
            "embeddings.position_embeddings.weight"
        ],
        "bert/embeddings/token_type_embeddings": s[
            "embeddings.token_type_embeddings.weight"
        ],
        "bert/encoder/LayerNorm/gamma": s["embeddings.LayerNorm.weight"],
        "bert/encoder/LayerNorm/beta": s["embeddings.LayerNorm.bias"],
        "bert/pooler/dense/kernel": s["pooler.weight"].T,
        "bert/pooler/dense/bias": s["pooler.bias"],
        "global_step": np.array(1000, np.int64),
        "cls/predictions/output_bias": np.zeros(100, np.float32),
    }
    for i in range(num_layers):
        hf = f"encoder.layer.{i}."
        tf_name = f"bert/encoder/layer_{i}/"
        three_d = i in three_d_layers
        for part in ("query", "key", "value"):
            kernel = s[f"{hf}attention.self.{part}.weight"].T
            bias = s[f"{hf}attention.self.{part}.bias"]
            if three_d:
                kernel = kernel.reshape(hidden, heads, -1)
                bias = bias.reshape(heads, -1)
            out[f"{tf_name}attention/self/{part}/kernel"] = kernel
            out[f"{tf_name}attention/self/{part}/bias"] = bias
        kernel = s[f"{hf}attention.output.dense.weight"].T
        if three_d:
            kernel = kernel.reshape(heads, -1, hidden)
        out[f"{tf_name}attention/output/dense/kernel"] = kernel
        out[f"{tf_name}attention/output/dense/bias"] = s[
            f"{hf}attention.output.dense.bias"
        ]
        for scope, module in (
            ("attention/output", "attention.output"),
            ("intermediate", "intermediate"),
            ("output", "output"),
        ):
            if scope != "attention/output":
                out[f"{tf_name}{scope}/dense/kernel"] = s[
                    f"{hf}{module}.dense.weight"
                ].T
                out[f"{tf_name}{scope}/dense/bias"] = s[f"{hf}{module}.dense.bias"]
            if scope != "intermediate":
                out[f"{tf_name}{scope}/LayerNorm/gamma"] = s[
                    f"{hf}{module}.LayerNorm.weight"
                ]
                out[f"{tf_name}{scope}/LayerNorm/beta"] = s[
                    f"{hf}{module}.LayerNorm.bias"
                ]
        # An optimizer slot, as in training checkpoints.
        out[f"{tf_name}output/dense/kernel/adam_m"] = np.zeros_like(
            out[f"{tf_name}output/dense/kernel"]
        )
    return out


def write_checkpoint(prefix, variables):
    import tensorflow as tf

    names = sorted(variables)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(variables[n]) for n in names],
    )
    return str(prefix)


@pytest.fixture(scope="module")
def google_checkpoint(checkpoints, tmp_path_factory):
    checkpoint = checkpoints.model
    model = checkpoint.model_class.from_pretrained(checkpoint.path)
    variables = google_variables(model.state_dict(), 2, 4)
    prefix = tmp_path_factory.mktemp("google") / "model.ckpt-1000"
    return write_checkpoint(prefix, variables), variables


@pytest.mark.tf_only
@pytest.mark.parametrize("length", [100, 1016, 2048])
def test_google_checkpoint_gives_the_same_model(
    checkpoints, google_checkpoint, length, tmp_path
):
    prefix, _ = google_checkpoint
    config_file = tmp_path / "bigbird_config.json"
    config_file.write_text(json.dumps(GOOGLE_CONFIG))
    encoder = from_google_checkpoint(prefix, config_file)
    assert isinstance(encoder, PretrainedBigBirdEncoder)
    inputs = random_inputs(2, length, seed=length)
    got = encoder(inputs)
    expected = reference(checkpoints.model, inputs)
    real = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got["sequence_output"])[real],
        expected.last_hidden_state.numpy()[real],
        atol=1e-4,
    )
    converted = from_transformers(checkpoints.model.path)
    for ours, theirs in zip(encoder.weights, converted.weights):
        assert ours.path == theirs.path
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )


@pytest.mark.tf_only
def test_google_checkpoint_errors(google_checkpoint, tmp_path):
    _, variables = google_checkpoint
    variables = dict(variables)
    del variables["bert/encoder/layer_1/intermediate/dense/kernel"]
    prefix = write_checkpoint(tmp_path / "broken.ckpt", variables)
    with pytest.raises(
        ValueError,
        match="variable 'bert/encoder/layer_1/intermediate/dense/kernel'",
    ):
        from_google_checkpoint(prefix, GOOGLE_CONFIG)
    with pytest.raises(ValueError, match="scope 'encoder'"):
        from_google_checkpoint(prefix, dict(GOOGLE_CONFIG, scope="encoder"))
    with pytest.raises(ValueError, match="Cannot read a TensorFlow checkpoint"):
        from_google_checkpoint(tmp_path / "nothing", GOOGLE_CONFIG)
    wrong = dict(GOOGLE_CONFIG, hidden_size=48, num_attention_heads=4)
    with pytest.raises(ValueError, match="word_embeddings.*shape"):
        from_google_checkpoint(prefix, wrong)
