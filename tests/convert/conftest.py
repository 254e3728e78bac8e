"""Small BigBird checkpoints written by transformers itself, once a session.

The hub cannot be reached, so the reference checkpoints are random
`transformers` models saved with `save_pretrained`; their outputs in
`train()` mode with dropout 0 (the published random pattern) are the
reference.
"""

import os
import shutil
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

VOCABULARY_SIZE = 100
SEP = 66


def hf_config(**overrides):
    config = dict(
        vocab_size=VOCABULARY_SIZE,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=4096,
        block_size=16,
        num_random_blocks=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        sep_token_id=SEP,
    )
    config.update(overrides)
    return transformers.BigBirdConfig(**config)


def save_model(directory, model_class, config, seed=0, **save_kwargs):
    """A random `model_class` (weights perturbed so that biases and layer
    norms are not at their initial values), saved to `directory`."""
    torch.manual_seed(seed)
    model = model_class(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    model.save_pretrained(directory, **save_kwargs)
    return types.SimpleNamespace(
        path=str(directory), model_class=model_class, config=config
    )


def save_preset(directory, seed=0):
    """A `BigBirdModel` checkpoint as `from_preset` reads one: with a tiny
    SentencePiece model (90 pieces, within its vocab_size) as spiece.model."""
    from keras_bigbird.preprocessing import train_sentencepiece
    from tests.preprocessing import synthetic_text

    words = synthetic_text.pseudo_words(200, seed=seed)
    lengths = synthetic_text.log_uniform_lengths(60, 5, 200, seed=seed)
    model_file = train_sentencepiece(
        synthetic_text.documents(lengths, words, seed=seed),
        vocab_size=90,
        model_prefix=f"{directory}_spm/spm",
        user_defined_symbols=("[MASK]",),
    )
    saved = save_model(directory, transformers.BigBirdModel, hf_config(), seed)
    shutil.copy(model_file, os.path.join(directory, "spiece.model"))
    return saved


def reference(checkpoint, inputs, **kwargs):
    """The transformers model's outputs (fresh load: the switch to full
    attention for short inputs is sticky in transformers)."""
    model = checkpoint.model_class.from_pretrained(checkpoint.path).train()
    state = np.random.get_state()  # transformers re-seeds numpy globally
    try:
        with torch.no_grad():
            return model(
                input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
                attention_mask=torch.tensor(inputs["padding_mask"]),
                **kwargs,
            )
    finally:
        np.random.set_state(state)


def random_inputs(batch, length, seed=0, sep_at=None):
    """Token ids and a random padding mask (a random tail per row)."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, VOCABULARY_SIZE, (batch, length))
    token_ids[token_ids == SEP] = SEP + 1
    keep = rng.integers(max(1, length // 2), length + 1, (batch, 1))
    keep[0] = length
    padding_mask = (np.arange(length)[None] < keep).astype("int32")
    if sep_at is not None:
        token_ids[:, sep_at] = SEP
    token_ids = np.where(padding_mask > 0, token_ids, 0)
    return {
        "token_ids": token_ids.astype("int32"),
        "padding_mask": padding_mask,
    }


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    base = tmp_path_factory.mktemp("transformers_checkpoints")
    return types.SimpleNamespace(
        model=save_model(base / "model", transformers.BigBirdModel, hf_config()),
        classifier=save_model(
            base / "classifier",
            transformers.BigBirdForSequenceClassification,
            hf_config(num_labels=3),
            seed=1,
        ),
        question_answerer=save_model(
            base / "question_answerer",
            transformers.BigBirdForQuestionAnswering,
            hf_config(),
            seed=2,
        ),
        full=save_model(
            base / "full",
            transformers.BigBirdModel,
            hf_config(attention_type="original_full"),
            seed=3,
        ),
        variant=save_model(
            base / "variant",
            transformers.BigBirdForPreTraining,
            hf_config(
                hidden_act="gelu",
                rescale_embeddings=True,
                use_bias=False,
                num_random_blocks=3,
                block_size=8,
                type_vocab_size=3,
                layer_norm_eps=1e-6,
            ),
            seed=4,
        ),
    )
