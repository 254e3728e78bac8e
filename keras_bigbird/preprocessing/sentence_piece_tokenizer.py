"""`SentencePieceTokenizer`: a SentencePiece model as a Keras layer."""

import base64
import os

import keras
import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text
from sentencepiece import sentencepiece_model_pb2

from keras_bigbird.preprocessing.tokenizer import Tokenizer
from keras_bigbird.preprocessing.text_files import check_file_exists


def read_model_proto(argument, value):
    """Returns the serialized model proto from bytes or a model file path."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        check_file_exists(argument, value, "SentencePiece model file")
        with open(value, "rb") as f:
            return f.read()
    raise ValueError(
        f"Received an invalid value for argument `{argument}`, expected the "
        "path of a SentencePiece `.model` file or its serialized bytes. "
        f"Received: {argument}={value!r}"
    )


# Normalizations with which tf_text.FastSentencepieceTokenizer gives the
# sentencepiece package's ids for unigram models. Measured: for BPE models,
# other normalizations ("nfkc", "identity") or no dummy prefix it gives other
# ids for most texts, without an error.
_FAST_NORMALIZATIONS = ("nmt_nfkc", "nmt_nfkc_cf")


def fast_kernel_mismatch(proto):
    """Why the fast kernel would give other ids than the package, or None."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    model_type = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(
        model.trainer_spec.model_type
    )
    normalizer = model.normalizer_spec
    if model_type != "UNIGRAM":
        return f"a {model_type} model"
    if normalizer.name not in _FAST_NORMALIZATIONS:
        return f"{normalizer.name!r} normalization"
    if not normalizer.add_dummy_prefix:
        return "a model without a dummy prefix"
    return None


@keras.saving.register_keras_serializable(package="keras_bigbird")
class SentencePieceTokenizer(Tokenizer):
    """SentencePiece tokenization (tensorflow-text) as a Keras layer.

    Strings in, int32 ids out: a scalar string gives a 1-D tensor, a `[batch]`
    string tensor a `tf.RaggedTensor` `[batch, None]`. No special tokens are
    added (that is `BlockPacker`'s job); `detokenize` inverts the mapping and
    drops [CLS], [SEP] and padding ids.

    The serialized model is held by the layer: `get_config()` carries it
    (base64), so a `.keras` file or a SavedModel containing the layer works
    without the original `.model` file.

    The default special tokens are those of the BigBird-RoBERTa checkpoints
    (a SentencePiece model with `<pad>`=0, `<s>`=1, `</s>`=2, `[CLS]`=65,
    `[SEP]`=66, `[MASK]`=67); `train_sentencepiece` writes models with the
    same token strings. Each id is looked up by its string in the model.

    Args:
        proto: the path of a SentencePiece `.model` file, or the serialized
            model proto as bytes.
        cls_token: start-of-sequence token, `[CLS]`.
        sep_token: end-of-segment token, `[SEP]`.
        pad_token: padding token, `<pad>`.
        mask_token: mask token for masked-language-model training, `[MASK]`.
        unk_token: unknown-piece token, `<unk>`.
        fast: which tensorflow-text kernel tokenizes. `None` (default)
            chooses: `tf_text.FastSentencepieceTokenizer` (about three times
            faster, and TFLite-compatible) for unigram models with NMT-NFKC
            normalization (what `train_sentencepiece` writes by default),
            where its ids equal the `sentencepiece` package's;
            `tf_text.SentencepieceTokenizer` for every other model (BPE,
            other normalizations), where the fast kernel gives other ids.
            `True` asks for the fast kernel and raises a `ValueError` for a
            model it does not tokenize correctly; `False` asks for the
            regular kernel, whose ids equal the package's except that for
            unigram models it can break an exact tie between two equally
            likely segmentations the other way (same text, same score).
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Example:

    ```python
    model_file = train_sentencepiece(
        texts=documents, vocab_size=8000, model_prefix="runs/my_model/spm"
    )
    tokenizer = SentencePieceTokenizer(model_file)
    ids = tokenizer(["a long document", "another one"])  # tf.RaggedTensor
    tokenizer.detokenize(ids)  # [b"a long document", b"another one"]
    tokenizer.cls_token_id, tokenizer.token_to_id("[MASK]")
    ```
    """

    def __init__(
        self,
        proto,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="<pad>",
        mask_token="[MASK]",
        unk_token="<unk>",
        fast=None,
        **kwargs,
    ):
        proto = read_model_proto("proto", proto)
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(
                "Received an invalid value for argument `proto`: it is not a "
                f"SentencePiece model ({error}). Received: proto of "
                f"{len(proto)} bytes starting {proto[:16]!r}"
            ) from None
        mismatch = fast_kernel_mismatch(proto)
        if fast and mismatch:
            raise ValueError(
                "Received an invalid value for argument `fast`: tensorflow-"
                "text's fast SentencePiece kernel gives other ids than the "
                f"sentencepiece package for {mismatch}. Pass fast=None (the "
                "kernel is chosen per model) or fast=False. Received: "
                f"fast={fast!r}"
            )
        super().__init__(
            cls_token=cls_token,
            sep_token=sep_token,
            pad_token=pad_token,
            mask_token=mask_token,
            unk_token=unk_token,
            **kwargs,
        )
        self.proto = proto
        self.fast = not mismatch if fast is None else bool(fast)
        self._vocabulary = [
            processor.IdToPiece(i) for i in range(processor.GetPieceSize())
        ]
        self._resolve_special_tokens()
        if self.fast:
            self._text_tokenizer = tf_text.FastSentencepieceTokenizer(proto)
        else:
            self._text_tokenizer = tf_text.SentencepieceTokenizer(
                proto, out_type=tf.int32
            )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "proto": base64.b64encode(self.proto).decode("ascii"),
                "fast": self.fast,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("proto"), str):
            config["proto"] = base64.b64decode(config["proto"])
        return super().from_config(config)
