"""`GlobalTokenMask`: the global tokens a task model derives from its inputs."""

import keras
from keras import ops

from keras_bigbird.utils import checks

RULES = ("cls", "first_segment")


@keras.saving.register_keras_serializable(package="keras_bigbird")
class GlobalTokenMask(keras.layers.Layer):
    """Marks the tokens a task makes global (ETC, Longformer), in the graph.

    - `"cls"`: the first token (`[CLS]`) of every example with one.
    - `"first_segment"`: the real tokens of segment 0, which for a
      `BlockPacker` pair is `[CLS] question [SEP]`: the question attends the
      whole document and every token attends the question, as in ETC's and
      Longformer's question answering. Without `segment_ids` there is no
      question, and no global token.

    At most the first `max_tokens` of them are global (the encoder's
    `max_global_tokens`), so a long question never exceeds the cap.
    Computed inside the model, so a served model derives the same global
    tokens and a client sends nothing new.

    Args:
        rule: `"cls"` or `"first_segment"`.
        max_tokens: the most global tokens per example.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        padding_mask: `[batch, length]`, 1 for real tokens.
        segment_ids: optional `[batch, length]` (`"first_segment"`).

    Returns:
        int32 `[batch, length]`, 1 for global tokens.

    Example:

    >>> import numpy as np
    >>> layer = GlobalTokenMask("first_segment", max_tokens=3)
    >>> mask = layer(np.array([[1, 1, 1, 1, 1, 0]]),
    ...              np.array([[0, 0, 0, 0, 1, 0]]))
    >>> keras.ops.convert_to_numpy(mask).tolist()
    [[1, 1, 1, 0, 0, 0]]
    """

    def __init__(self, rule, max_tokens, **kwargs):
        checks.one_of("rule", rule, RULES)
        checks.positive_int("max_tokens", max_tokens)
        super().__init__(**kwargs)
        self.rule = rule
        self.max_tokens = max_tokens

    def call(self, padding_mask, segment_ids=None):
        real = ops.not_equal(padding_mask, 0)
        if self.rule == "cls":
            first = ops.arange(ops.shape(real)[1]) == 0
            marked = ops.logical_and(real, first[None])
        elif segment_ids is None:
            marked = ops.zeros_like(real)
        else:
            marked = ops.logical_and(real, ops.equal(segment_ids, 0))
        rank = ops.cumsum(ops.cast(marked, "int32"), axis=1)
        marked = ops.logical_and(marked, rank <= self.max_tokens)
        return ops.cast(marked, "int32")

    def compute_output_spec(self, padding_mask, segment_ids=None):
        return keras.KerasTensor(padding_mask.shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"rule": self.rule, "max_tokens": self.max_tokens})
        return config
