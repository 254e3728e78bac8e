"""`Tokenizer`: the base of the tensorflow-text tokenizer layers."""

import numbers

import keras
import tensorflow as tf

from keras_bigbird.preprocessing import token_ids

# Constructor argument -> attribute holding its id; the order is the order
# of `special_token_ids()`.
SPECIAL_TOKENS = (
    "cls_token",
    "sep_token",
    "pad_token",
    "mask_token",
    "unk_token",
)


def _check_strings(inputs):
    """Returns `inputs` as a string tensor, or raises naming `inputs`."""
    if isinstance(inputs, tf.RaggedTensor):
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a "
            "string or a dense string tensor, not a `tf.RaggedTensor` "
            "(tokenize its `flat_values`). Received: inputs with shape "
            f"{inputs.shape}"
        )
    try:
        inputs = tf.convert_to_tensor(inputs)
    except (TypeError, ValueError):
        inputs = None if inputs is None else repr(inputs)[:200]
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a "
            f"string or a string tensor. Received: inputs={inputs}"
        ) from None
    if inputs.dtype != tf.string:
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a "
            "string or a string tensor (tokenize text, not ids). Received: "
            f"inputs with dtype={inputs.dtype.name}"
        )
    return inputs


@keras.saving.register_keras_serializable(package="keras_bigbird")
class Tokenizer(keras.layers.Layer):
    """Base layer: strings in, int32 token ids out, special tokens by name.

    Subclasses set `self._vocabulary` (a list of token strings, index = id)
    and `self._text_tokenizer` (a tensorflow-text tokenizer with `tokenize` and
    `detokenize`), then call `_resolve_special_tokens()`; they may override
    `_tokenize(strings)` (a 1-D string tensor to a ragged `[batch, None]` id
    tensor) to normalize the text first.

    Calling the layer on a scalar string returns a 1-D int32 tensor; on a
    string tensor of shape `[batch]`, a `tf.RaggedTensor` `[batch, None]`;
    in general one ragged dimension is appended to the input shape. The layer
    runs TensorFlow ops: use it in `tf.data.Dataset.map`, in a `tf.function`,
    in a SavedModel, or eagerly, with the TensorFlow backend or in a
    `tf.data` pipeline feeding any backend.

    Args:
        cls_token, sep_token, pad_token, mask_token, unk_token: the strings
            of the special tokens in the vocabulary, or `None` for a token
            the vocabulary does not have. Each named token must be in the
            vocabulary; its id is `<name>_id` (for example `cls_token_id`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).
    """

    def __init__(
        self,
        cls_token=None,
        sep_token=None,
        pad_token=None,
        mask_token=None,
        unk_token=None,
        **kwargs,
    ):
        super().__init__(trainable=False, **kwargs)
        # String inputs and ragged outputs: no conversion to backend tensors.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.pad_token = pad_token
        self.mask_token = mask_token
        self.unk_token = unk_token
        self._vocabulary = []
        self._token_to_id = {}
        self.built = True

    def _resolve_special_tokens(self):
        """Indexes the vocabulary and checks the special tokens are in it."""
        self._token_to_id = {}
        for index, token in enumerate(self._vocabulary):
            self._token_to_id.setdefault(token, index)
        for argument in SPECIAL_TOKENS:
            token = getattr(self, argument)
            if token is not None and token not in self._token_to_id:
                raise ValueError(
                    f"Received an invalid value for argument `{argument}`: "
                    "the token is not in the vocabulary (pass `None` if the "
                    f"vocabulary has no such token). Received: "
                    f"{argument}={token!r}"
                )

    def _id_of(self, argument):
        token = getattr(self, argument)
        return None if token is None else self._token_to_id[token]

    @property
    def cls_token_id(self):
        return self._id_of("cls_token")

    @property
    def sep_token_id(self):
        return self._id_of("sep_token")

    @property
    def pad_token_id(self):
        return self._id_of("pad_token")

    @property
    def mask_token_id(self):
        return self._id_of("mask_token")

    @property
    def unk_token_id(self):
        return self._id_of("unk_token")

    def special_token_ids(self):
        """Returns `{"cls_token": id, ...}` for the tokens that are set."""
        return {
            argument: self._id_of(argument)
            for argument in SPECIAL_TOKENS
            if getattr(self, argument) is not None
        }

    def vocabulary_size(self):
        """Returns the number of ids, `max id + 1`."""
        return len(self._vocabulary)

    def get_vocabulary(self):
        """Returns the list of token strings; the index of each is its id."""
        return list(self._vocabulary)

    def id_to_token(self, id):
        """Returns the token string of the integer `id`."""
        if (
            not isinstance(id, numbers.Integral)
            or isinstance(id, bool)
            or not 0 <= id < len(self._vocabulary)
        ):
            raise ValueError(
                "Received an invalid value for argument `id`, expected an "
                f"integer in [0, {len(self._vocabulary)}). Received: id={id!r}"
            )
        return self._vocabulary[int(id)]

    def token_to_id(self, token):
        """Returns the id of the token string `token`."""
        if token not in self._token_to_id:
            raise ValueError(
                "Received an invalid value for argument `token`: it is not in "
                f"the vocabulary. Received: token={token!r}"
            )
        return self._token_to_id[token]

    def _tokenize(self, strings):
        return tf.cast(self._text_tokenizer.tokenize(strings), tf.int32)

    def call(self, inputs):
        inputs = _check_strings(inputs)
        if inputs.shape.rank == 0:
            return self._tokenize(inputs[tf.newaxis])[0]
        ragged = self._tokenize(tf.reshape(inputs, [-1]))
        ragged = ragged.with_row_splits_dtype(tf.int64)
        shape = tf.shape(inputs, out_type=tf.int64)
        for axis in range(inputs.shape.rank - 1, 0, -1):
            ragged = tf.RaggedTensor.from_uniform_row_length(
                ragged, shape[axis]
            )
        return ragged

    def detokenize(self, ids):
        """Turns ids back into text, dropping [CLS], [SEP] and padding ids.

        Args:
            ids: a 1-D sequence of ids (returns a scalar string) or a batch
                `[batch, length]`, dense, ragged or nested lists (returns a
                `[batch]` string tensor); more batch dimensions, as the layer
                returns for more input dimensions, give more dimensions.

        Ids must be integers in `[0, vocabulary_size())`: others raise a
        `ValueError` naming the first bad id, or, in a `tf.function` where
        the ids are known only when it runs, an `InvalidArgumentError` with
        the same message.
        """
        ids, unbatched = token_ids.to_ragged("ids", ids, max_rank=None)
        # Before tensorflow-text: its WordPiece kernel reads past the
        # vocabulary (garbage text, or a segmentation fault) and its
        # SentencePiece kernel fails with "conversion failed".
        ids = token_ids.check_range("ids", ids, self.vocabulary_size())
        ids = tf.cast(ids, tf.int32)
        dropped = [
            self._id_of(argument)
            for argument in ("cls_token", "sep_token", "pad_token")
            if getattr(self, argument) is not None
        ]
        if dropped:
            keep = tf.ragged.map_flat_values(
                lambda v: tf.reduce_all(tf.not_equal(v[:, None], dropped), -1),
                ids,
            )
            ids = tf.ragged.boolean_mask(ids, keep)
        text = self._text_tokenizer.detokenize(ids)
        return text[0] if unbatched else text

    def compute_output_spec(self, inputs):
        if inputs.dtype != "string":
            raise ValueError(
                "Received an invalid value for argument `inputs`, expected a "
                "string tensor (tokenize text, not ids). Received: inputs "
                f"with dtype={inputs.dtype}"
            )
        shape = tuple(inputs.shape) + (None,)
        return keras.KerasTensor(shape, dtype="int32", ragged=len(shape) > 1)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config.update(
            {argument: getattr(self, argument) for argument in SPECIAL_TOKENS}
        )
        return config


def check_tokenizer(tokenizer, optional=False):
    """Raises unless `tokenizer` is a tokenizer layer (or None, if
    `optional`)."""
    if (tokenizer is None and optional) or isinstance(tokenizer, Tokenizer):
        return
    raise ValueError(
        "Received an invalid value for argument `tokenizer`, expected a "
        "tokenizer layer (`SentencePieceTokenizer`, `WordPieceTokenizer`)"
        f"{' or None' if optional else ''}. Received: tokenizer={tokenizer!r}"
    )
