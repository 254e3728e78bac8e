"""The SentencePiece vocabularies of BigBird checkpoints as tokenizer layers."""

import json
import os

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
        with open(path) as f:
            data = json.load(f)
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
    from keras_bigbird.preprocessing import SentencePieceTokenizer

    path = os.fspath(path)
    if os.path.isdir(path):
        directory = path
        candidates = [os.path.join(path, name) for name in MODEL_FILES]
        found = [c for c in candidates if os.path.isfile(c)]
        if not found:
            raise ValueError(
                f"No SentencePiece model in {path!r}: expected one of "
                f"{MODEL_FILES}."
            )
        model_file = found[0]
    elif os.path.isfile(path):
        directory, model_file = os.path.dirname(path) or ".", path
    else:
        raise ValueError(
            "Received an invalid value for argument `path`: no such file or "
            f"directory. Received: path={path!r}"
        )
    return SentencePieceTokenizer(
        model_file, fast=fast, **_special_tokens(directory)
    )
