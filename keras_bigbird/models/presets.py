"""Presets: built-in architectures, and pretrained transformers checkpoints.

A preset is one of:

- a built-in name (`PRESETS`): a dict of `BigBirdEncoder` arguments plus a
  description, no weights;
- a local transformers checkpoint directory (`save_pretrained`'s
  config.json, model.safetensors or pytorch_model.bin, and spiece.model):
  converted when loaded, weights included;
- `"hf://owner/name"`: such a checkpoint on the Hugging Face Hub,
  downloaded (only the files needed) into huggingface_hub's cache.

`load_encoder` and `load_tokenizer` load the two halves;
`BigBirdEncoder.from_preset` is `load_encoder`.
"""

import os

from keras_bigbird.patterns import BigBirdPattern

_ROBERTA_COMMON = {
    "vocabulary_size": 50358,
    "max_sequence_length": 4096,
    "block_size": 64,
    "pattern": BigBirdPattern(num_random_blocks=3),
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "num_segments": 2,
    "normalize_first": False,
}

PRESETS = {
    "bigbird_roberta_base": {
        "description": (
            "BigBird-RoBERTa base (Zaheer et al., 2020): 12 layers, hidden "
            "768, 12 heads, 4096 positions, block 64, 3 random blocks."
        ),
        "config": {
            **_ROBERTA_COMMON,
            "num_layers": 12,
            "num_heads": 12,
            "hidden_dim": 768,
            "intermediate_dim": 3072,
        },
    },
    "bigbird_roberta_large": {
        "description": (
            "BigBird-RoBERTa large: 24 layers, hidden 1024, 16 heads, 4096 "
            "positions, block 64, 3 random blocks."
        ),
        "config": {
            **_ROBERTA_COMMON,
            "num_layers": 24,
            "num_heads": 16,
            "hidden_dim": 1024,
            "intermediate_dim": 4096,
        },
    },
    "bigbird_tiny": {
        "description": (
            "A tiny encoder for tests and examples: 2 layers, hidden 32, 2 "
            "heads, 4096 positions, block 16, 2 random blocks."
        ),
        "config": {
            "vocabulary_size": 1000,
            "num_layers": 2,
            "num_heads": 2,
            "hidden_dim": 32,
            "intermediate_dim": 64,
            "max_sequence_length": 4096,
            "block_size": 16,
            "pattern": BigBirdPattern(num_random_blocks=2),
            "dropout": 0.1,
            "attention_dropout": 0.1,
            "num_segments": 2,
            "normalize_first": False,
        },
    },
}


def preset_config(preset, **overrides):
    """The encoder config of `preset`, updated with `overrides`."""
    if preset not in PRESETS:
        raise ValueError(
            "Received an invalid value for argument `preset`, expected one "
            f"of {sorted(PRESETS)}. Received: preset={preset!r}"
        )
    config = dict(PRESETS[preset]["config"])
    if {"num_random_blocks", "random_pattern"} & set(overrides) or (
        overrides.get("attention_type") == "window"
    ):
        # Release 0.1's pattern arguments replace the preset's pattern.
        config.pop("pattern")
    return {**config, **overrides}


def _invalid_preset(preset, reason):
    return ValueError(
        "Received an invalid value for argument `preset`, expected one of "
        f"{sorted(PRESETS)}. Received: preset={preset!r} ({reason}; a "
        "preset is a built-in name, a transformers checkpoint directory or "
        "'hf://owner/name')"
    )


def checkpoint_directory(preset):
    """The transformers checkpoint directory of `preset`, or None for a
    built-in name (which wins over a directory of the same name: write
    `./bigbird_tiny` for that). `hf://` names are downloaded first.

    Raises `ValueError` naming `preset` for anything else: an unknown name,
    a path that does not exist, a file, a directory without config.json.
    """
    from keras_bigbird.convert import hub

    if isinstance(preset, str) and preset in PRESETS:
        return None
    if hub.is_hub_name(preset):
        return hub.download(preset)
    if not isinstance(preset, (str, os.PathLike)):
        raise _invalid_preset(preset, "not a name or a path")
    path = os.fspath(preset)
    if not os.path.exists(path):
        raise _invalid_preset(
            preset, "no such preset, file or directory"
        )
    if not os.path.isdir(path):
        raise _invalid_preset(
            preset, "a file; give the checkpoint directory holding it"
        )
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise _invalid_preset(
            preset,
            "a directory without config.json, so not a transformers "
            "checkpoint",
        )
    return path


def load_encoder(preset, **encoder_kwargs):
    """The `BigBirdEncoder` of `preset`, with its weights if it has any.

    Args:
        preset: a built-in name (`PRESETS`: an untrained encoder of that
            architecture), a transformers checkpoint directory, or
            `"hf://owner/name"` (converted: a `PretrainedBigBirdEncoder`,
            with the checkpoint's weights and random attention pattern;
            task heads in the checkpoint are not loaded, with a warning).
        **encoder_kwargs: `BigBirdEncoder` arguments that override the
            preset's. For a checkpoint, those its weights fix (sizes,
            positions, segments, activation, layer norm) may only repeat
            the checkpoint's value; dropout rates, `pattern`, `dtype`,
            `name`... are free.

    Returns:
        A `BigBirdEncoder`.

    Raises:
        ValueError: an unknown preset, a directory that is not a
            transformers checkpoint, an unreachable Hub, a config or weight
            file that cannot be read or does not fit the config, or an
            override the weights fix. The message names the preset or file.

    Example:

    >>> encoder = load_encoder("bigbird_tiny", num_layers=1)
    >>> encoder.num_layers, encoder.hidden_dim
    (1, 32)
    """
    directory = checkpoint_directory(preset)
    if directory is None:
        from keras_bigbird.models.bigbird_encoder import BigBirdEncoder

        return BigBirdEncoder(**preset_config(preset, **encoder_kwargs))
    from keras_bigbird.convert import from_transformers

    return from_transformers(
        directory, head="none", encoder_kwargs=encoder_kwargs
    )


def load_tokenizer(preset):
    """The `SentencePieceTokenizer` of `preset`, or None when it has none.

    The built-in presets have no vocabulary (None). A checkpoint directory
    or `hf://` name gives its `spiece.model`, with the special tokens of
    its tokenizer_config.json / special_tokens_map.json; None when the
    checkpoint holds no SentencePiece model (weights saved without their
    tokenizer).

    Raises:
        ValueError: as `load_encoder` for the preset itself; a SentencePiece
            model that cannot be read, or with more pieces than the
            config's `vocab_size` (its ids would index past the embedding
            table). The message names the file.

    Example:

    >>> load_tokenizer("bigbird_tiny") is None
    True
    """
    directory = checkpoint_directory(preset)
    if directory is None:
        return None
    from keras_bigbird.convert import tokenizer

    return tokenizer.checkpoint_tokenizer(directory)
