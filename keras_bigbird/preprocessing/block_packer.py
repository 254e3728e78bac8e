"""`BlockPacker`: token ids to BigBird inputs padded to a block multiple."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bigbird.preprocessing import token_ids
from keras_bigbird.preprocessing.tokenizer import check_tokenizer
from keras_bigbird.utils import checks

TRUNCATIONS = ("waterfall", "round_robin")
PADDINGS = ("block", "max_length")


def _is_segment(value):
    return isinstance(
        value, (tf.Tensor, tf.RaggedTensor, np.ndarray, keras.KerasTensor)
    )


def _to_ragged(segment):
    """Returns `(int32 [batch, None] ragged tensor, whether it was 1-D)`."""
    segment, unbatched = token_ids.to_ragged("inputs", segment)
    # A negative id would index an embedding from its end.
    segment = token_ids.check_range("inputs", segment)
    return tf.cast(segment, tf.int32), unbatched


def _same_batch_size(first, second):
    """Returns `second` checked to have as many rows as `first`."""
    rows = [first.nrows(), second.nrows()]
    message = (
        "Received an invalid value for argument `inputs`: the segments of a "
        "pair must have the same batch size. Received: batch sizes"
    )
    static = [tf.get_static_value(r) for r in rows]
    if None not in static:
        if static[0] != static[1]:
            raise ValueError(f"{message} {[int(r) for r in static]}")
        return second
    check = tf.debugging.Assert(tf.equal(*rows), [message, rows])
    with tf.control_dependencies([check]):
        return tf.identity(second)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BlockPacker(keras.layers.Layer):
    """Packs token ids into `{"token_ids", "padding_mask", "segment_ids"}`.

    One segment becomes `[CLS] a [SEP]`, a pair (question, document) becomes
    `[CLS] a [SEP] b [SEP]`, with segment id 0 for `[CLS] a [SEP]` and 1 for
    `b [SEP]`. Segments are truncated so that the packed sequence has at
    most `max_sequence_length` ids.

    With `padding="block"` a batch is padded to the length of its longest
    packed sequence rounded up to a multiple of `block_size`, not to
    `max_sequence_length`: short batches cost short compute, and BigBird's
    block-sparse attention gets whole blocks. Bucketing batches by length
    (`keras_bigbird.data.batch_long_text`) keeps the padding small.
    `padding="max_length"` pads every batch to `max_sequence_length`, for a
    static shape (TPU, a fixed-shape export).

    Inputs are non-negative integer ids (other dtypes and negative ids raise
    a `ValueError`, or an `InvalidArgumentError` when a graph runs): a
    `tf.RaggedTensor` `[batch, None]` (the output of a tokenizer on a batch
    of strings), a dense `[batch, length]` tensor (all ids taken as real
    tokens), or a 1-D tensor for one unbatched example, which gives
    unbatched outputs. A pair is a tuple of two such segments of the same
    batch size (or a list of two tensors; a list of lists is one batch).
    It runs in `tf.data.Dataset.map`, in a `tf.function` with
    unknown lengths, and in a SavedModel.

    Args:
        max_sequence_length: the longest packed sequence, special tokens
            included; a multiple of `block_size`.
        cls_id: id of the start token added in front (`[CLS]`).
        sep_id: id of the token closing each segment (`[SEP]`).
        pad_id: id filling the padding.
        block_size: outputs are padded to a multiple of it; BigBird's block
            size.
        truncation: how a pair is cut to fit. `"waterfall"` keeps the first
            segment whole as long as possible and cuts the second (the
            document of a question + document pair) first; `"round_robin"`
            gives each segment an equal share of the budget, one token at a
            time, so a short segment is kept whole and the long one is cut.
            Tokens are always removed from the end of a segment.
        padding: `"block"` (to the batch's longest, rounded up to a block
            multiple) or `"max_length"` (to `max_sequence_length`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Outputs:
        A dict: `token_ids` (int32), `padding_mask` (bool, True for real
        tokens, special tokens included) and `segment_ids` (int32), each
        `[batch, padded_length]`.

    Example:

    >>> packer = BlockPacker(max_sequence_length=16, cls_id=1, sep_id=2,
    ...                      block_size=4)
    >>> ids = tf.ragged.constant([[5, 6, 7], [8, 9, 10, 11, 12, 13]])
    >>> packer(ids)["token_ids"].numpy()
    array([[ 1,  5,  6,  7,  2,  0,  0,  0],
           [ 1,  8,  9, 10, 11, 12, 13,  2]], dtype=int32)
    >>> packer((tf.ragged.constant([[5, 6]]),
    ...         tf.ragged.constant([[7, 8, 9]])))["segment_ids"].numpy()
    array([[0, 0, 0, 0, 1, 1, 1, 1]], dtype=int32)
    """

    def __init__(
        self,
        max_sequence_length,
        cls_id,
        sep_id,
        pad_id=0,
        block_size=64,
        truncation="waterfall",
        padding="block",
        **kwargs,
    ):
        checks.positive_int("block_size", block_size)
        checks.positive_int("max_sequence_length", max_sequence_length)
        if max_sequence_length % block_size or max_sequence_length < 4:
            raise ValueError(
                "Received an invalid value for argument "
                "`max_sequence_length`, expected a multiple of "
                f"`block_size`={block_size} and at least 4. Received: "
                f"max_sequence_length={max_sequence_length}"
            )
        for name, value in (
            ("cls_id", cls_id),
            ("sep_id", sep_id),
            ("pad_id", pad_id),
        ):
            checks.non_negative_int(name, value)
        if truncation not in TRUNCATIONS:
            raise ValueError(
                "Received an invalid value for argument `truncation`, "
                f"expected one of {TRUNCATIONS}. Received: "
                f"truncation={truncation!r}"
            )
        if padding not in PADDINGS:
            raise ValueError(
                "Received an invalid value for argument `padding`, expected "
                f"one of {PADDINGS}. Received: padding={padding!r}"
            )
        super().__init__(trainable=False, **kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.max_sequence_length = max_sequence_length
        self.cls_id = cls_id
        self.sep_id = sep_id
        self.pad_id = pad_id
        self.block_size = block_size
        self.truncation = truncation
        self.padding = padding
        self.built = True

    @classmethod
    def from_tokenizer(cls, tokenizer, max_sequence_length, **kwargs):
        """A packer with the [CLS], [SEP] and padding ids of `tokenizer`."""
        check_tokenizer(tokenizer)
        ids = {}
        for argument, token in (
            ("cls_id", "cls_token"),
            ("sep_id", "sep_token"),
            ("pad_id", "pad_token"),
        ):
            ids[argument] = getattr(tokenizer, f"{token}_id")
            if ids[argument] is None:
                raise ValueError(
                    "Received an invalid value for argument `tokenizer`: it "
                    f"has no `{token}`. Received: tokenizer={tokenizer!r} "
                    f"with {token}=None"
                )
        return cls(max_sequence_length=max_sequence_length, **ids, **kwargs)

    def num_special_tokens(self, num_segments=1):
        """How many ids the packer adds to `num_segments` segments."""
        return 1 + num_segments

    def _segments(self, inputs):
        """Returns the segments as int32 `[batch, None]` ragged tensors."""
        # A tuple is always a pair: `([5, 6], [7, 8])` read as one segment
        # would be a batch of two examples.
        if isinstance(inputs, tuple) or (
            isinstance(inputs, list)
            and inputs
            and all(map(_is_segment, inputs))
        ):
            segments = list(inputs)
        else:
            segments = [inputs]
        if len(segments) not in (1, 2):
            raise ValueError(
                "Received an invalid value for argument `inputs`, expected "
                "one segment or a pair of segments. Received: "
                f"{len(segments)} segments"
            )
        converted = [_to_ragged(segment) for segment in segments]
        unbatched = {flag for _, flag in converted}
        if len(unbatched) > 1:
            raise ValueError(
                "Received an invalid value for argument `inputs`: the "
                "segments of a pair must both be batched or both 1-D. "
                f"Received: segments of ranks "
                f"{[1 if flag else 2 for _, flag in converted]}"
            )
        segments = [ragged for ragged, _ in converted]
        if len(segments) == 2:
            segments[1] = _same_batch_size(*segments)
        return segments, unbatched.pop()

    def call(self, inputs):
        segments, unbatched = self._segments(inputs)
        budget = self.max_sequence_length - self.num_special_tokens(
            len(segments)
        )
        if self.truncation == "waterfall":
            trimmer = tf_text.WaterfallTrimmer(budget)
        else:
            trimmer = tf_text.RoundRobinTrimmer(budget)
        segments = trimmer.trim(segments)
        ids, segment_ids = tf_text.combine_segments(
            segments,
            start_of_sequence_id=self.cls_id,
            end_of_segment_id=self.sep_id,
        )
        lengths = ids.row_lengths()
        if self.padding == "max_length":
            width = self.max_sequence_length
        else:
            longest = tf.reduce_max(tf.concat([lengths, [0]], 0))
            width = -(-longest // self.block_size) * self.block_size
        shape = (
            [None, width]
            if isinstance(width, int)
            else tf.stack([ids.nrows(), width])
        )
        outputs = {
            "token_ids": tf.cast(
                ids.to_tensor(default_value=self.pad_id, shape=shape), tf.int32
            ),
            "padding_mask": tf.sequence_mask(lengths, width),
            "segment_ids": tf.cast(
                segment_ids.to_tensor(0, shape=shape), tf.int32
            ),
        }
        if unbatched:
            outputs = {key: value[0] for key, value in outputs.items()}
        return outputs

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        width = (
            self.max_sequence_length if self.padding == "max_length" else None
        )
        shape = (width,) if len(first.shape) == 1 else (first.shape[0], width)
        return {
            "token_ids": keras.KerasTensor(shape, dtype="int32"),
            "padding_mask": keras.KerasTensor(shape, dtype="bool"),
            "segment_ids": keras.KerasTensor(shape, dtype="int32"),
        }

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config.update(
            {
                "max_sequence_length": self.max_sequence_length,
                "cls_id": self.cls_id,
                "sep_id": self.sep_id,
                "pad_id": self.pad_id,
                "block_size": self.block_size,
                "truncation": self.truncation,
                "padding": self.padding,
            }
        )
        return config
