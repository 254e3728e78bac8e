"""Copying transformers-named BigBird tensors into Keras models.

Tensors are named and laid out as in transformers' `BigBirdModel`
(`encoder.layer.0.attention.self.query.weight`, `nn.Linear` weights as
`[out, in]`); the google-research checkpoints are renamed to this first.
"""

import math

import numpy as np

# Tensors of checkpoints that no converted model uses (pre-training and
# language-model heads, non-persistent buffers of older versions).
IGNORED_PREFIXES = ("cls.", "lm_head.")
IGNORED_SUFFIXES = ("position_ids", "token_type_ids")


def some_names(names, count=8):
    """The first `count` of `names`, for an error or warning message."""
    names = list(names)
    return f"{names[:count]}{' ...' if len(names) > count else ''}"


def ignorable(name):
    return name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES)


class Assigner:
    """Assigns checkpoint tensors to the variables of one Keras model."""

    def __init__(self, model, tensors):
        self.variables = {v.path: v for v in model.weights}
        self.tensors = tensors
        self.model_name = model.name

    def variable(self, path):
        if path not in self.variables:
            raise ValueError(
                f"The Keras model {self.model_name!r} has no variable {path!r}"
                " (its layers changed?): cannot convert."
            )
        return self.variables[path]

    def assign(self, path, name, transform=None, value=None):
        """Sets variable `path` from checkpoint tensor `name`.

        `transform` maps the checkpoint layout to the variable's; the
        checkpoint tensor must have the shape that gives the variable's.
        """
        variable = self.variable(path)
        if value is None:
            value = self.tensors.take(name, needed_for=path)
        converted = transform(value) if transform is not None else value
        if tuple(converted.shape) != tuple(variable.shape):
            raise ValueError(
                f"Tensor {self.tensors.describe(name)} of "
                f"{self.tensors.source} has shape "
                f"{tuple(value.shape)}, which does not fit variable {path!r} "
                f"of shape {tuple(variable.shape)} of the model built from "
                "its config."
            )
        variable.assign(converted.astype(np.float32))


def _transpose(x):
    return np.transpose(x)


def _split_heads(num_heads):
    def transform(weight):
        # nn.Linear [heads * depth, dim] -> EinsumDense [dim, heads, depth]
        if weight.ndim != 2 or weight.shape[0] % num_heads:
            return weight
        return weight.T.reshape(weight.shape[1], num_heads, -1)

    return transform


def _split_bias(num_heads):
    def transform(bias):
        if bias.ndim != 1 or bias.shape[0] % num_heads:
            return bias
        return bias.reshape(num_heads, -1)

    return transform


def _merge_heads(num_heads):
    def transform(weight):
        # nn.Linear [dim, heads * depth] -> EinsumDense [heads, depth, dim]
        if weight.ndim != 2 or weight.shape[1] % num_heads:
            return weight
        return weight.T.reshape(num_heads, -1, weight.shape[0])

    return transform


def _linear(assigner, path, name, optional_bias=False):
    assigner.assign(f"{path}/kernel", f"{name}.weight", _transpose)
    _bias(assigner, f"{path}/bias", f"{name}.bias", optional_bias)


def _bias(assigner, path, name, optional, transform=None):
    if optional and name not in assigner.tensors:
        variable = assigner.variable(path)
        variable.assign(np.zeros(variable.shape, np.float32))
        return
    assigner.assign(path, name, transform)


def _layer_norm(assigner, path, name):
    assigner.assign(f"{path}/gamma", f"{name}.weight")
    assigner.assign(f"{path}/beta", f"{name}.bias")


def assign_encoder(encoder, tensors, prefix="", rescale_embeddings=False,
                   use_bias=True, with_pooler=True):
    """Copies a transformers `BigBirdModel` state into a `BigBirdEncoder`.

    Args:
        encoder: the encoder built from the checkpoint's config.
        tensors: `checkpoint.Tensors` with transformers names.
        prefix: prefix of the encoder tensors (`"bert."` in task models).
        rescale_embeddings: the config's flag; the scale `sqrt(hidden)` is
            folded into the token embedding table.
        use_bias: the config's flag. When False the query/key/value biases
            and the attention output bias may be missing (google-research
            drops all four, transformers the first three); missing ones are
            set to zero.
        with_pooler: whether the checkpoint has the pooler (question
            answering models do not; the pooler then keeps its
            initialisation and `pooled_output` is meaningless).
    """
    a = Assigner(encoder, tensors)
    heads = encoder.num_heads
    p = prefix
    scale = math.sqrt(encoder.hidden_dim) if rescale_embeddings else 1.0
    a.assign(
        "embeddings/token_embedding/embeddings",
        f"{p}embeddings.word_embeddings.weight",
        lambda x: x * scale,
    )
    a.assign(
        "embeddings/position_embeddings",
        f"{p}embeddings.position_embeddings.weight",
    )
    if encoder.num_segments:
        a.assign(
            "embeddings/segment_embedding/embeddings",
            f"{p}embeddings.token_type_embeddings.weight",
        )
    _layer_norm(a, "embeddings/embeddings_layer_norm", f"{p}embeddings.LayerNorm")
    for i in range(encoder.num_layers):
        path = f"encoder_layer_{i}"
        name = f"{p}encoder.layer.{i}"
        for part in ("query", "key", "value"):
            a.assign(
                f"{path}/self_attention/{part}/kernel",
                f"{name}.attention.self.{part}.weight",
                _split_heads(heads),
            )
            _bias(
                a,
                f"{path}/self_attention/{part}/bias",
                f"{name}.attention.self.{part}.bias",
                optional=not use_bias,
                transform=_split_bias(heads),
            )
        a.assign(
            f"{path}/self_attention/attention_output/kernel",
            f"{name}.attention.output.dense.weight",
            _merge_heads(heads),
        )
        # google-research's `use_bias=False` also drops this bias
        # (`Dense3dProjLayer(..., use_bias)`); transformers always has it.
        _bias(
            a,
            f"{path}/self_attention/attention_output/bias",
            f"{name}.attention.output.dense.bias",
            optional=not use_bias,
        )
        _layer_norm(
            a,
            f"{path}/self_attention_layer_norm",
            f"{name}.attention.output.LayerNorm",
        )
        _linear(
            a,
            f"{path}/feedforward_intermediate_dense",
            f"{name}.intermediate.dense",
        )
        _linear(a, f"{path}/feedforward_output_dense", f"{name}.output.dense")
        _layer_norm(a, f"{path}/feedforward_layer_norm", f"{name}.output.LayerNorm")
    if with_pooler:
        _linear(a, "pooled_dense", f"{p}pooler")


def assign_linear(model, tensors, path, name):
    """One `nn.Linear` (`name.weight`, `name.bias`) into a Dense at `path`."""
    _linear(Assigner(model, tensors), path, name)


def assign_layer_norm(model, tensors, path, name):
    _layer_norm(Assigner(model, tensors), path, name)
