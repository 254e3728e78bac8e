"""`from_google_checkpoint`: the original google-research BigBird checkpoints."""

import os
import re
import warnings

import numpy as np

from keras_bigbird.convert import checkpoint
from keras_bigbird.convert import config as config_lib
from keras_bigbird.convert import weights
from keras_bigbird.convert.encoder import PretrainedBigBirdEncoder
from keras_bigbird.patterns import OriginalBigBirdPattern
from keras_bigbird.patterns import legacy

# The google code cuts its 1024/3072/4096-token random patterns from tables
# drawn for this many tokens, whatever `max_position_embeddings` is
# (`MAX_SEQ_LEN` of bigbird/core/attention.py).
GOOGLE_TABLE_LENGTH = 4096

# Optimizer state and bookkeeping in training checkpoints.
_SKIPPED = re.compile(r"(^|/)(adam_[mv]|Adafactor|AdamWeightDecayOptimizer\w*|"
                      r"global_step|_CHECKPOINTABLE_OBJECT_GRAPH)($|/)")


def _qkv_kernel(value):
    # [hidden, heads * depth] or [hidden, heads, depth] -> [out, in]
    return value.reshape(value.shape[0], -1).T


def _output_kernel(value):
    # [heads * depth, hidden] or [heads, depth, hidden] -> [out, in]
    return value.reshape(-1, value.shape[-1]).T


def _flat(value):
    return value.reshape(-1)


def _rename(name, scope):
    """Google variable name -> (transformers name, layout transform)."""
    if not name.startswith(scope + "/"):
        return None
    rest = name[len(scope) + 1 :]
    embeddings = {
        "embeddings/word_embeddings": "embeddings.word_embeddings.weight",
        "embeddings/position_embeddings": (
            "embeddings.position_embeddings.weight"
        ),
        "embeddings/token_type_embeddings": (
            "embeddings.token_type_embeddings.weight"
        ),
        # The post-norm encoder stack normalises the embeddings.
        "encoder/LayerNorm/gamma": "embeddings.LayerNorm.weight",
        "encoder/LayerNorm/beta": "embeddings.LayerNorm.bias",
        "embeddings/LayerNorm/gamma": "embeddings.LayerNorm.weight",
        "embeddings/LayerNorm/beta": "embeddings.LayerNorm.bias",
        "pooler/dense/kernel": "pooler.weight",
        "pooler/dense/bias": "pooler.bias",
    }
    if rest in embeddings:
        transform = np.transpose if rest.endswith("kernel") else None
        return embeddings[rest], transform
    match = re.fullmatch(r"encoder/layer_(\d+)/(.+)", rest)
    if not match:
        return None
    index, part = match.groups()
    prefix = f"encoder.layer.{index}."
    layer_norm = {"gamma": "weight", "beta": "bias"}
    for qkv in ("query", "key", "value"):
        if part == f"attention/self/{qkv}/kernel":
            return f"{prefix}attention.self.{qkv}.weight", _qkv_kernel
        if part == f"attention/self/{qkv}/bias":
            return f"{prefix}attention.self.{qkv}.bias", _flat
    if part == "attention/output/dense/kernel":
        return f"{prefix}attention.output.dense.weight", _output_kernel
    for scope_name, module in (
        ("attention/output", "attention.output"),
        ("intermediate", "intermediate"),
        ("output", "output"),
    ):
        if part == f"{scope_name}/dense/kernel":
            return f"{prefix}{module}.dense.weight", np.transpose
        if part == f"{scope_name}/dense/bias":
            return f"{prefix}{module}.dense.bias", _flat
        for tf_name, torch_name in layer_norm.items():
            if part == f"{scope_name}/LayerNorm/{tf_name}":
                return f"{prefix}{module}.LayerNorm.{torch_name}", None
    return None


def _google_name(name, scope):
    """transformers name -> the google variable it comes from (messages)."""
    special = {
        "embeddings.LayerNorm.weight": "encoder/LayerNorm/gamma",
        "embeddings.LayerNorm.bias": "encoder/LayerNorm/beta",
        "pooler.weight": "pooler/dense/kernel",
        "pooler.bias": "pooler/dense/bias",
    }
    if name in special:
        return f"{scope}/{special[name]}"
    if name.startswith("embeddings."):
        return f"{scope}/embeddings/" + name.split(".")[1]
    name = re.sub(r"^encoder\.layer\.(\d+)\.", r"encoder/layer_\1/", name)
    name = name.replace("LayerNorm.weight", "LayerNorm/gamma")
    name = name.replace("LayerNorm.bias", "LayerNorm/beta")
    name = re.sub(r"\.weight$", "/kernel", name)
    return f"{scope}/" + name.replace(".", "/")


def _as_transformers_tensors(tensors, scope):
    renamed, unknown = {}, []
    for name in tensors.names():
        if _SKIPPED.search(name):
            continue
        target = _rename(name, scope)
        if target is None:
            unknown.append(name)
            continue
        new_name, transform = target
        value = tensors.take(name)
        renamed[new_name] = transform(value) if transform else value
    return (
        checkpoint.Tensors(
            renamed, tensors.source, lambda name: _google_name(name, scope)
        ),
        unknown,
    )


def from_google_checkpoint(ckpt_path, config, random_pattern="bigbird_original"):
    """Loads an original google-research BigBird checkpoint as an encoder.

    The variables keep their TF names (`bert/embeddings/word_embeddings`,
    `bert/encoder/layer_0/attention/self/query/kernel`, ...; the attention
    kernels in either the 2-D or the 3-D layout) and are read with
    `tf.train.load_checkpoint`; optimizer slots are skipped.

    Args:
        ckpt_path: checkpoint prefix (`.../model.ckpt-12345`) or directory.
        config: dict or path of a JSON file with the model's parameters, in
            the google-research names (`vocab_size`, `hidden_size`,
            `num_hidden_layers`, `num_attention_heads`, `intermediate_size`,
            `max_position_embeddings`, `type_vocab_size`, `block_size`,
            `num_rand_blocks`, `attention_type`, `hidden_act`, `use_bias`,
            `scope`) or a transformers `config.json`. `hidden_act="gelu"` is
            the tanh approximation there, as in the google code. With
            `use_bias=False` the checkpoint has no query/key/value and
            attention output biases (they are set to zero).
        random_pattern: `"bigbird_original"` (the pretrained pattern: as in
            the google code, its 1024/3072/4096-token plans come from tables
            drawn for 4096 tokens whatever `max_position_embeddings` is) or
            `"hashed"`.

    Returns:
        A `PretrainedBigBirdEncoder` with the weights in place.
    """
    if isinstance(config, (str, os.PathLike)):
        config = config_lib.read_json(os.fspath(config), "config file")
    if not isinstance(config, dict):
        raise ValueError(
            "Received an invalid value for argument `config`, expected a "
            f"dict or a JSON file path. Received: config={config!r}"
        )
    is_transformers = "model_type" in config
    arguments, extras = config_lib.encoder_arguments(
        config,
        "the config",
        activation_names=None if is_transformers else {"gelu": "gelu_new"},
    )
    tensors = checkpoint.read_tf_checkpoint(os.fspath(ckpt_path))
    scope = config.get("scope", "bert")
    renamed, unknown = _as_transformers_tensors(tensors, scope)
    if "embeddings.word_embeddings.weight" not in renamed:
        raise ValueError(
            f"The checkpoint {tensors.source} has no variable "
            f"'{scope}/embeddings/word_embeddings': it is not a BigBird "
            f"encoder checkpoint with scope {scope!r}. Some of its variables: "
            f"{weights.some_names(tensors.names())}"
        )
    pattern = legacy.bigbird_pattern(
        random_pattern, arguments.pop("num_random_blocks"), GOOGLE_TABLE_LENGTH
    )
    encoder = PretrainedBigBirdEncoder(pattern=pattern, seed=0, **arguments)
    weights.assign_encoder(
        encoder,
        renamed,
        rescale_embeddings=extras["rescale_embeddings"],
        use_bias=extras["use_bias"],
        with_pooler="pooler.weight" in renamed,
    )
    # Every renamed variable belongs to the encoder: one left over (a layer
    # beyond `num_hidden_layers`, ...) means the config does not describe
    # the checkpoint.
    unused = [_google_name(n, scope) for n in renamed.unused()]
    if unused:
        raise ValueError(
            f"{len(unused)} encoder variables of {tensors.source} have no "
            f"place in the model built from the config (does it describe "
            f"this checkpoint?): {weights.some_names(unused)}"
        )
    leftover = [n for n in unknown if not n.startswith("cls/")]
    if leftover:
        warnings.warn(
            f"{len(leftover)} variables of {tensors.source} were not "
            f"converted: {weights.some_names(leftover)}",
            stacklevel=2,
        )
    if (
        isinstance(pattern, OriginalBigBirdPattern)
        and arguments["max_sequence_length"] > pattern.table_length
    ):
        warnings.warn(
            "The original pattern is stored for "
            f"{GOOGLE_TABLE_LENGTH} tokens, as in the google code: inputs "
            "whose length is unknown while tracing are served up to that "
            "length, not up to max_position_embeddings="
            f"{arguments['max_sequence_length']}.",
            stacklevel=2,
        )
    return encoder
