"""`BigBirdPreprocessor`: raw text to the inputs of a BigBird model."""

import keras
import numpy as np
import tensorflow as tf

from keras_bigbird.layers.global_token_mask import RULES
from keras_bigbird.layers.global_token_mask import global_token_mask
from keras_bigbird.preprocessing.block_packer import BlockPacker
from keras_bigbird.preprocessing.tokenizer import check_tokenizer
from keras_bigbird.utils import checks


def _check_tokenizer(tokenizer):
    """`tokenizer`, deserialized from its config (`from_config`)."""
    if isinstance(tokenizer, dict):
        tokenizer = keras.saving.deserialize_keras_object(tokenizer)
    check_tokenizer(tokenizer)
    return tokenizer


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdPreprocessor(keras.layers.Layer):
    """Tokenizes and packs text into the inputs of a BigBird model.

    A tokenizer and a `BlockPacker` in one layer, in the manner of
    keras-hub's preprocessors: a `[batch]` string tensor (or a pair of them,
    `(questions, documents)`, for question answering) becomes
    `{"token_ids", "padding_mask", "segment_ids"}`, each batch padded to
    its longest packed text rounded up to a multiple of `block_size`, and
    cut to `sequence_length`. With `global_tokens` it also emits the
    encoder's `global_mask` (for models that take one; the task models
    derive their global tokens themselves and need none).

    Called as `preprocessor(x, y=None, sample_weight=None)` it returns `x`
    packed, or `(x, y, sample_weight)` when labels are given, so it maps
    over a batched `tf.data.Dataset` of `(text, label)` directly. It runs
    TensorFlow ops, also in a `tf.data` pipeline feeding JAX.

    A task model given `preprocessor=` runs it in `fit`, `evaluate` and
    `predict` on raw strings, saves it in its `.keras` file, and serves it
    as `serve_text` on export.

    Args:
        tokenizer: a `SentencePieceTokenizer` or `WordPieceTokenizer`.
        sequence_length: the longest packed sequence (special tokens
            included), a multiple of `block_size`; settable.
        block_size: the encoder's block size; batches are padded to a
            multiple of it.
        truncation: `"waterfall"` or `"round_robin"` (see `BlockPacker`).
        padding: `"block"` (each batch to its longest text, rounded up to a
            block) or `"max_length"` (every batch to `sequence_length`).
        global_tokens: None, `"cls"` or `"first_segment"` (see
            `GlobalTokenMask`): emit a `global_mask` marking them.
        max_global_tokens: the most global tokens per example (with
            `global_tokens`); the encoder's `max_global_tokens`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Example:

    >>> from keras_bigbird.preprocessing import WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "long", "text"])
    >>> preprocessor = BigBirdPreprocessor(
    ...     tokenizer, sequence_length=16, block_size=4)
    >>> preprocessor(["long text", "text"])["token_ids"].numpy()
    array([[2, 5, 6, 3],
           [2, 6, 3, 0]], dtype=int32)
    >>> x, y = preprocessor(["long text"], [1])
    >>> x["padding_mask"].numpy(), y
    (array([[ True,  True,  True,  True]]), [1])
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=512,
        block_size=64,
        truncation="waterfall",
        padding="block",
        global_tokens=None,
        max_global_tokens=None,
        **kwargs,
    ):
        tokenizer = _check_tokenizer(tokenizer)
        if global_tokens is not None:
            checks.one_of("global_tokens", global_tokens, RULES)
            checks.positive_int("max_global_tokens", max_global_tokens)
        super().__init__(trainable=False, **kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer
        self.block_size = block_size
        self.truncation = truncation
        self.padding = padding
        self.global_tokens = global_tokens
        self.max_global_tokens = max_global_tokens
        self.packer = self._packer(sequence_length)
        self.built = True

    def _packer(self, sequence_length):
        # The packer checks `sequence_length`, `block_size`, `truncation`
        # and `padding`; name its `max_sequence_length` as ours.
        try:
            return BlockPacker.from_tokenizer(
                self.tokenizer,
                sequence_length,
                block_size=self.block_size,
                truncation=self.truncation,
                padding=self.padding,
                name="packer",
            )
        except ValueError as error:
            raise ValueError(
                str(error).replace("max_sequence_length", "sequence_length")
            ) from None

    @classmethod
    def from_encoder(cls, encoder, tokenizer, sequence_length=None, **kwargs):
        """The preprocessor of `encoder`'s inputs.

        Takes `block_size` and `sequence_length` (the encoder's
        `max_sequence_length` unless given; at most it) from the encoder,
        and checks that the tokenizer's ids fit its vocabulary.
        """
        tokenizer = _check_tokenizer(tokenizer)
        longest = encoder.max_sequence_length
        if sequence_length is None:
            sequence_length = longest
        preprocessor = cls(
            tokenizer,
            sequence_length=sequence_length,
            block_size=encoder.block_size,
            **kwargs,
        )
        # The block size is the encoder's, so only these two can mismatch.
        given = {"sequence_length": sequence_length, "tokenizer": tokenizer}
        for argument, problem in preprocessor.encoder_mismatches(encoder):
            value = given[argument]
            raise ValueError(
                f"Received an invalid value for argument `{argument}`: "
                f"{problem}. Received: {argument}={value!r}"
            )
        return preprocessor

    def encoder_mismatches(self, encoder):
        """What keeps this preprocessor from feeding `encoder`: a list of
        `(argument, problem)`, empty when it fits. The one check of
        `from_encoder` and of a task's `preprocessor=` argument."""
        problems = []
        longest = encoder.max_sequence_length
        if self.sequence_length > longest:
            problems.append((
                "sequence_length",
                f"sequence_length={self.sequence_length} > the encoder's "
                f"max_sequence_length={longest} (it takes at most "
                f"{longest} tokens)",
            ))
        if self.block_size != encoder.block_size:
            problems.append((
                "block_size",
                f"block_size={self.block_size} != the encoder's "
                f"block_size={encoder.block_size}",
            ))
        size = self.tokenizer.vocabulary_size()
        if size > encoder.vocabulary_size:
            problems.append((
                "tokenizer",
                f"its vocabulary has {size} ids, more than the encoder's "
                f"vocabulary_size={encoder.vocabulary_size}",
            ))
        return problems

    @property
    def sequence_length(self):
        """The longest packed sequence; setting it re-checks it."""
        return self.packer.max_sequence_length

    @sequence_length.setter
    def sequence_length(self, value):
        self.packer = self._packer(value)

    @property
    def max_sequence_length(self):
        return self.sequence_length

    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, list) and len(x) == 2 and not all(
            isinstance(item, str) for item in x
        ):
            x = tuple(x)
        if isinstance(x, tuple):
            ids = tuple(self.tokenizer(segment) for segment in x)
        else:
            ids = self.tokenizer(x)
        packed = self.packer(ids)
        if self.global_tokens is not None:
            packed = self._with_global_mask(packed)
        return keras.utils.pack_x_y_sample_weight(packed, y, sample_weight)

    def dataset(
        self,
        texts,
        labels=None,
        *,
        batch_size=8,
        bucketing=True,
        shuffle=False,
        seed=None,
        **kwargs,
    ):
        """A bucketed `tf.data.Dataset` of packed batches of `texts`.

        Documents of similar length share a batch, so little of it is
        padding (see `keras_bigbird.data.batch_long_text`, which takes the
        other keyword arguments). `texts` is a list or array of strings or
        a `tf.data.Dataset` of scalar strings or `(text, label)`; bucketing
        reorders the documents, so use it for training, not `predict`.
        """
        from keras_bigbird.data.batch_long_text import batch_long_text

        if not isinstance(texts, tf.data.Dataset):
            texts = np.asarray(texts, dtype=object)
            data = texts if labels is None else (texts, np.asarray(labels))
            texts = tf.data.Dataset.from_tensor_slices(data)
        elif labels is not None:
            raise ValueError(
                "Received an invalid value for argument `labels`: a dataset "
                "carries its own labels as `(text, label)` elements. "
                f"Received: labels={labels!r}"
            )
        dataset = batch_long_text(
            texts,
            self.tokenizer,
            self.packer,
            batch_size=batch_size,
            bucketing=bucketing,
            shuffle=shuffle,
            seed=seed,
            **kwargs,
        )
        if self.global_tokens is None:
            return dataset
        return dataset.map(self._with_global_mask)

    def _with_global_mask(self, x, *rest):
        # The rule of the task models' `GlobalTokenMask`, in TensorFlow ops
        # so that it runs in `tf.data` whatever the Keras backend.
        x = dict(x)
        x["global_mask"] = tf.cast(
            global_token_mask(
                self.global_tokens,
                self.max_global_tokens,
                x["padding_mask"],
                x["segment_ids"],
                xp=tf.experimental.numpy,
            ),
            tf.int32,
        )
        return (x, *rest) if rest else x

    def compute_output_spec(self, x, y=None, sample_weight=None):
        spec = self.packer.compute_output_spec(
            tuple(x) if isinstance(x, (tuple, list)) else x
        )
        if self.global_tokens is not None:
            spec["global_mask"] = keras.KerasTensor(
                spec["token_ids"].shape, dtype="int32"
            )
        return keras.utils.pack_x_y_sample_weight(spec, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(
                    self.tokenizer
                ),
                "sequence_length": self.sequence_length,
                "block_size": self.block_size,
                "truncation": self.truncation,
                "padding": self.padding,
                "global_tokens": self.global_tokens,
                "max_global_tokens": self.max_global_tokens,
            }
        )
        return config
