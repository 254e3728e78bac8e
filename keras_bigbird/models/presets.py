"""Architectures of published BigBird encoders, as plain configs (no weights).

Each preset is a dict of `BigBirdEncoder` arguments plus a description.
`BigBirdEncoder.from_preset(name, **overrides)` builds one.
"""

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
