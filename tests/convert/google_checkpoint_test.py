"""`from_google_checkpoint` on a TF checkpoint with the original names.

The checkpoint is written from a transformers model's weights in the
google-research layout (the reverse of transformers' own conversion
script): layer 0 with the 3-D attention kernels of the published
checkpoints, layer 1 with the 2-D ones, plus optimizer slots to skip.
`spelled_out_variables` writes the same layout with every name and shape
written out from the google-research source, so that the converter's
mapping is not only checked against its own inverse.
"""

import json
import warnings

import keras
import numpy as np
import pytest

from tests.convert.conftest import hf_config
from tests.convert.conftest import random_inputs
from tests.convert.conftest import reference
from tests.convert.conftest import save_model
from tests.convert.conftest import transformers

from keras_bigbird.convert import PretrainedBigBirdEncoder
from keras_bigbird.convert import from_google_checkpoint
from keras_bigbird.convert import from_transformers
from keras_bigbird.ops import original_pattern

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


def spelled_out_variables(state, use_bias=True):
    """The google-research encoder's variables, names and shapes written out.

    From the google-research source (bigbird/core/modeling.py, encoder.py,
    attention.py, utils.py), for `GOOGLE_CONFIG` (hidden 32, 4 heads of 8,
    intermediate 64): scope `bert`, the embedding layer norm under
    `encoder/` (the post-norm stack normalises its input), `Dense3dLayer`
    query/key/value and `Dense3dProjLayer` output (in the 3-D layout of the
    published checkpoints in layer 0, the 2-D one of the current source in
    layer 1), with `use_bias=False` dropping all four of their biases, and
    `Dense2dLayer` feed-forward layers that always have one. The values are
    those of the transformers `state` (`nn.Linear` weights are `[out, in]`).
    """
    s = {name: value.numpy() for name, value in state.items()}
    variables = {
        "bert/embeddings/word_embeddings": (
            s["embeddings.word_embeddings.weight"], (100, 32)),
        "bert/embeddings/token_type_embeddings": (
            s["embeddings.token_type_embeddings.weight"], (2, 32)),
        "bert/embeddings/position_embeddings": (
            s["embeddings.position_embeddings.weight"], (4096, 32)),
        "bert/encoder/LayerNorm/gamma": (s["embeddings.LayerNorm.weight"], (32,)),
        "bert/encoder/LayerNorm/beta": (s["embeddings.LayerNorm.bias"], (32,)),
        "bert/pooler/dense/kernel": (s["pooler.weight"].T, (32, 32)),
        "bert/pooler/dense/bias": (s["pooler.bias"], (32,)),
    }
    for i, three_d in ((0, True), (1, False)):
        t = f"encoder.layer.{i}."
        g = f"bert/encoder/layer_{i}/"
        for part in ("query", "key", "value"):
            kernel = s[f"{t}attention.self.{part}.weight"].T
            bias = s.get(f"{t}attention.self.{part}.bias")
            if three_d:
                variables[f"{g}attention/self/{part}/kernel"] = (
                    kernel.reshape(32, 4, 8), (32, 4, 8))
                if use_bias:
                    variables[f"{g}attention/self/{part}/bias"] = (
                        bias.reshape(4, 8), (4, 8))
            else:
                variables[f"{g}attention/self/{part}/kernel"] = (
                    kernel, (32, 32))
                if use_bias:
                    variables[f"{g}attention/self/{part}/bias"] = (bias, (32,))
        kernel = s[f"{t}attention.output.dense.weight"].T
        variables[f"{g}attention/output/dense/kernel"] = (
            (kernel.reshape(4, 8, 32), (4, 8, 32)) if three_d
            else (kernel, (32, 32)))
        if use_bias:
            variables[f"{g}attention/output/dense/bias"] = (
                s[f"{t}attention.output.dense.bias"], (32,))
        variables.update({
            f"{g}attention/output/LayerNorm/gamma": (
                s[f"{t}attention.output.LayerNorm.weight"], (32,)),
            f"{g}attention/output/LayerNorm/beta": (
                s[f"{t}attention.output.LayerNorm.bias"], (32,)),
            f"{g}intermediate/dense/kernel": (
                s[f"{t}intermediate.dense.weight"].T, (32, 64)),
            f"{g}intermediate/dense/bias": (
                s[f"{t}intermediate.dense.bias"], (64,)),
            f"{g}output/dense/kernel": (s[f"{t}output.dense.weight"].T, (64, 32)),
            f"{g}output/dense/bias": (s[f"{t}output.dense.bias"], (32,)),
            f"{g}output/LayerNorm/gamma": (
                s[f"{t}output.LayerNorm.weight"], (32,)),
            f"{g}output/LayerNorm/beta": (s[f"{t}output.LayerNorm.bias"], (32,)),
        })
    for name, (value, shape) in variables.items():
        assert value.shape == shape, (name, value.shape, shape)
    return {name: value for name, (value, _) in variables.items()}


@pytest.fixture(scope="module")
def no_bias_model(tmp_path_factory):
    """A transformers model computing what a google `use_bias=False` one
    does: transformers drops the query/key/value biases; the attention
    output bias, which the google code drops too, is zeroed."""
    directory = tmp_path_factory.mktemp("no_bias")
    checkpoint = save_model(
        directory, transformers.BigBirdModel, hf_config(use_bias=False), seed=7
    )
    model = checkpoint.model_class.from_pretrained(checkpoint.path)
    for layer in model.encoder.layer:
        layer.attention.output.dense.bias.data.zero_()
    model.save_pretrained(checkpoint.path)
    return checkpoint


@pytest.mark.tf_only
@pytest.mark.parametrize("use_bias", [True, False])
def test_spelled_out_google_layout_gives_the_same_model(
    checkpoints, no_bias_model, use_bias, tmp_path
):
    checkpoint = checkpoints.model if use_bias else no_bias_model
    model = checkpoint.model_class.from_pretrained(checkpoint.path)
    variables = spelled_out_variables(model.state_dict(), use_bias)
    assert any(name.endswith("bias") for name in variables)
    prefix = write_checkpoint(tmp_path / "model.ckpt-1", variables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every variable converted
        encoder = from_google_checkpoint(
            prefix, dict(GOOGLE_CONFIG, use_bias=use_bias)
        )
    if not use_bias:
        for block in encoder.encoder_layers:
            attention = block.attention_layer
            for dense in (attention.query_dense, attention.key_dense,
                          attention.value_dense, attention.output_dense):
                np.testing.assert_array_equal(
                    keras.ops.convert_to_numpy(dense.bias), 0
                )
    for length in (300, 1024):  # the general plan and the 1024-token one
        inputs = random_inputs(2, length, seed=length)
        got = encoder(inputs)
        expected = reference(checkpoint, inputs)
        real = inputs["padding_mask"].astype(bool)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got["sequence_output"])[real],
            expected.last_hidden_state.numpy()[real],
            atol=1e-4,
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got["pooled_output"]),
            expected.pooler_output.numpy(),
            atol=1e-4,
        )


@pytest.mark.tf_only
def test_google_pattern_is_cut_from_a_4096_token_table(checkpoints, tmp_path):
    # The google code draws the 1024/3072/4096-token patterns from a table
    # for MAX_SEQ_LEN = 4096 tokens whatever max_position_embeddings is;
    # transformers (the reference, 4096 positions) draws the same table.
    import tensorflow as tf

    model = checkpoints.model.model_class.from_pretrained(checkpoints.model.path)
    variables = spelled_out_variables(model.state_dict())
    name = "bert/embeddings/position_embeddings"
    variables[name] = variables[name][:2048]
    prefix = write_checkpoint(tmp_path / "model.ckpt-1", variables)
    encoder = from_google_checkpoint(
        prefix, dict(GOOGLE_CONFIG, max_position_embeddings=2048)
    )
    for i in range(2):
        np.testing.assert_array_equal(
            encoder.attention_graph(i, 1024),
            original_pattern.attention_graph(
                1024, 16, 4, 2, seed=i, max_sequence_length=4096
            ),
        )
    inputs = random_inputs(2, 1024, seed=5)
    expected = reference(checkpoints.model, inputs).last_hidden_state.numpy()
    real = inputs["padding_mask"].astype(bool)
    spec = tf.TensorSpec((None, None), tf.int32)
    traced = tf.function(  # the length unknown while tracing
        lambda token_ids, padding_mask: encoder(
            {"token_ids": token_ids, "padding_mask": padding_mask}
        )["sequence_output"],
        input_signature=[spec, spec],
    )
    for got in (
        encoder(inputs)["sequence_output"],
        traced(inputs["token_ids"], inputs["padding_mask"]),
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got)[real], expected[real], atol=1e-4
        )
    # Saved and loaded, the encoder keeps the table length.
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        restored.attention_graph(1, 1024), encoder.attention_graph(1, 1024)
    )


@pytest.mark.tf_only
def test_more_positions_than_the_table_warns(checkpoints, tmp_path):
    model = checkpoints.model.model_class.from_pretrained(checkpoints.model.path)
    variables = spelled_out_variables(model.state_dict())
    name = "bert/embeddings/position_embeddings"
    variables[name] = np.concatenate([variables[name]] * 2)
    prefix = write_checkpoint(tmp_path / "model.ckpt-1", variables)
    with pytest.warns(UserWarning, match="served up to that length"):
        encoder = from_google_checkpoint(
            prefix, dict(GOOGLE_CONFIG, max_position_embeddings=8192)
        )
    np.testing.assert_array_equal(
        encoder.attention_graph(0, 1024),
        original_pattern.attention_graph(1024, 16, 4, 2, seed=0),
    )


@pytest.mark.tf_only
def test_error_for_encoder_variables_the_config_leaves_out(
    google_checkpoint, tmp_path
):
    _, variables = google_checkpoint
    variables = dict(variables)
    for name in list(variables):
        if name.startswith("bert/encoder/layer_1/"):
            variables[name.replace("layer_1", "layer_2")] = variables[name]
    prefix = write_checkpoint(tmp_path / "three_layers.ckpt", variables)
    with pytest.raises(
        ValueError, match=r"16 encoder variables .*'bert/encoder/layer_2/"
    ):
        from_google_checkpoint(prefix, GOOGLE_CONFIG)
