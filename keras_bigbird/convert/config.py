"""Architecture configs of BigBird checkpoints as `BigBirdEncoder` arguments."""

import json
import os

from keras_bigbird.convert.encoder import gelu_approximate

# transformers' `hidden_act` names (and the google code's) -> Keras.
_ACTIVATIONS = {
    "gelu": "gelu",  # exact (erf) in transformers
    "gelu_new": gelu_approximate,
    "gelu_fast": gelu_approximate,
    "gelu_pytorch_tanh": gelu_approximate,
    "relu": "relu",
    "tanh": "tanh",
    "silu": "silu",
    "swish": "silu",
}

ATTENTION_TYPES = ("block_sparse", "original_full")

# Defaults of the entries a config may leave out: transformers'
# `BigBirdConfig`, and the google-research `utils.get_default_config()`.
TRANSFORMERS_DEFAULTS = {
    "vocab_size": 50358,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu_new",
    "max_position_embeddings": 4096,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "block_size": 64,
    "num_random_blocks": 3,
    "sep_token_id": 66,
}
GOOGLE_DEFAULTS = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "max_position_embeddings": 4096,
    "type_vocab_size": 2,
    "block_size": 16,
    "num_rand_blocks": 3,
}


def read_json(path, what):
    """The JSON object of file `path`; errors name `what` and the path."""
    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"No {what} found: {path!r} {reason}.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"The {what} {path!r} is not valid JSON: {error}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"The {what} {path!r} must hold a JSON object {{...}}. Received: "
            f"a {type(data).__name__}"
        )
    return data


def _activation(name, source):
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(
            f"Unsupported activation in {source}: hidden_act={name!r}. "
            f"Supported: {sorted(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[name]


def _require(config, key, source):
    if key not in config:
        raise ValueError(f"{source} has no `{key}` entry.")
    return config[key]


def encoder_arguments(config, source="config.json", activation_names=None):
    """`PretrainedBigBirdEncoder` arguments from a transformers config dict.

    Also accepts the google-research parameters (`num_rand_blocks`,
    `rescale_embedding`, ...: a dict without `model_type`). Entries left out
    take the defaults of transformers' `BigBirdConfig`, or of the google
    code for google parameters. Returns `(arguments, extras)` where `extras`
    holds what the weights need: `rescale_embeddings` and `use_bias`.
    """
    defaults = TRANSFORMERS_DEFAULTS if "model_type" in config else (
        GOOGLE_DEFAULTS
    )
    config = {**defaults, **config}
    model_type = config.get("model_type", "big_bird")
    if model_type != "big_bird":
        raise ValueError(
            f"{source} describes a {model_type!r} model, not BigBird "
            "(model_type 'big_bird'). BigBird-Pegasus (encoder-decoder) and "
            "other architectures are not supported. Received: "
            f"model_type={model_type!r}"
        )
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise ValueError(
            f"{source} describes a BigBird decoder (is_decoder / "
            "add_cross_attention); only the bidirectional encoder converts."
        )
    attention_type = config.get("attention_type", "block_sparse")
    if attention_type not in ATTENTION_TYPES:
        raise ValueError(
            f"Unsupported attention_type in {source}, expected one of "
            f"{ATTENTION_TYPES}. Received: attention_type={attention_type!r}"
        )
    norm_type = config.get("norm_type", "postnorm")
    if norm_type != "postnorm":
        raise ValueError(
            f"Unsupported norm_type in {source}: only the post-norm (BERT "
            f"style) encoder converts. Received: norm_type={norm_type!r}"
        )
    random_blocks = config.get(
        "num_random_blocks", config.get("num_rand_blocks")
    )
    if random_blocks is None:
        raise ValueError(f"{source} has no `num_random_blocks` entry.")
    activation_names = activation_names or {}
    hidden_act = config.get("hidden_act", "gelu_new")
    hidden_act = activation_names.get(hidden_act, hidden_act)
    arguments = {
        "vocabulary_size": _require(config, "vocab_size", source),
        "num_layers": _require(config, "num_hidden_layers", source),
        "num_heads": _require(config, "num_attention_heads", source),
        "hidden_dim": _require(config, "hidden_size", source),
        "intermediate_dim": _require(config, "intermediate_size", source),
        "max_sequence_length": _require(
            config, "max_position_embeddings", source
        ),
        "block_size": _require(config, "block_size", source),
        "num_random_blocks": random_blocks,
        "dropout": config.get("hidden_dropout_prob", 0.1),
        "attention_dropout": config.get("attention_probs_dropout_prob", 0.1),
        "num_segments": config.get("type_vocab_size", 2),
        "attention_type": attention_type,
        "activation": _activation(hidden_act, source),
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
        "initializer_range": config.get("initializer_range", 0.02),
        "normalize_first": False,
    }
    extras = {
        "rescale_embeddings": bool(
            config.get(
                "rescale_embeddings", config.get("rescale_embedding", False)
            )
        ),
        "use_bias": bool(config.get("use_bias", True)),
    }
    return arguments, extras


def num_labels(config):
    """Number of classes of a sequence-classification config."""
    if "id2label" in config and config["id2label"]:
        return len(config["id2label"])
    return int(config.get("num_labels", 2))
