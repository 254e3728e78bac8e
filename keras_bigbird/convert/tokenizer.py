"""The SentencePiece vocabularies of BigBird checkpoints as tokenizer layers."""

import os

from keras_bigbird.convert.config import read_json

# File names of the vocabularies: transformers checkpoints, then the
# google-research ones (`bigbird/vocab/gpt2.model`, `pegasus.model`).
MODEL_FILES = ("spiece.model", "gpt2.model", "sentencepiece.model")

_SPECIAL_TOKENS = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "<pad>",
    "mask_token": "[MASK]",
    "unk_token": "<unk>",
}


def _token(value):
    # transformers stores a token as a string or an AddedToken dict.
    if isinstance(value, dict):
        return value.get("content")
    return value


def _special_tokens(directory):
    tokens = dict(_SPECIAL_TOKENS)
    for file_name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = os.path.join(directory, file_name)
        if not os.path.isfile(path):
            continue
        data = read_json(path, file_name)
        for key in tokens:
            value = _token(data.get(key))
            if isinstance(value, str) and value:
                tokens[key] = value
    return tokens


def tokenizer_from_checkpoint(path, fast=None):
    """A `SentencePieceTokenizer` from a checkpoint's SentencePiece model.

    Args:
        path: a `.model` file, or a checkpoint directory holding
            `spiece.model` (transformers) or `gpt2.model` (google-research).
            The special tokens come from the directory's
            `tokenizer_config.json` / `special_tokens_map.json` when present
            (else `[CLS]`, `[SEP]`, `<pad>`, `[MASK]`, `<unk>`, those of the
            BigBird-RoBERTa vocabulary); their ids are looked up in the
            model by string.
        fast: the tensorflow-text kernel, as in `SentencePieceTokenizer`:
            `None` (default) chooses, per model, the one whose ids equal the
            `sentencepiece` package's (what transformers' `BigBirdTokenizer`
            uses).

    Returns:
        A `keras_bigbird.preprocessing.SentencePieceTokenizer`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        model_file = _model_file(path)
        if model_file is None:
            raise ValueError(
                f"No SentencePiece model in {path!r}: expected one of "
                f"{MODEL_FILES}."
            )
        return _tokenizer(model_file, path, fast)
    if os.path.isfile(path):
        return _tokenizer(path, os.path.dirname(path) or ".", fast)
    raise ValueError(
        "Received an invalid value for argument `path`: no such file or "
        f"directory. Received: path={path!r}"
    )


def checkpoint_tokenizer(directory):
    """The tokenizer of a transformers checkpoint directory, or None when
    it holds no SentencePiece model.

    Its pieces must fit the config's `vocab_size`: more would give ids
    past the encoder's embedding table.
    """
    model_file = _model_file(directory)
    if model_file is None:
        return None
    tokenizer = _tokenizer(model_file, directory, None)
    config_path = os.path.join(directory, "config.json")
    vocab_size = read_json(config_path, "config.json").get("vocab_size")
    pieces = tokenizer.vocabulary_size()
    if isinstance(vocab_size, int) and pieces > vocab_size:
        raise ValueError(
            f"The SentencePiece model {model_file!r} has {pieces} pieces, "
            f"more than the vocab_size={vocab_size} of {config_path!r}: it "
            "is not this checkpoint's vocabulary."
        )
    return tokenizer


def _model_file(directory):
    for name in MODEL_FILES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _tokenizer(model_file, directory, fast):
    from keras_bigbird.preprocessing import SentencePieceTokenizer

    special_tokens = _special_tokens(directory)
    try:
        return SentencePieceTokenizer(model_file, fast=fast, **special_tokens)
    except ValueError as error:
        if model_file in str(error):
            raise
        raise ValueError(
            f"Cannot make a tokenizer of the SentencePiece model "
            f"{model_file!r}: {error}"
        ) from None
