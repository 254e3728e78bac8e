"""`GlobalTokenMask`: the global tokens a task model derives from its inputs."""

import keras
from keras import ops

from keras_bigbird.utils import checks

RULES = ("cls", "first_segment")


def global_token_mask(rule, max_tokens, padding_mask, segment_ids=None, xp=ops):
    """The bool `[batch, length]` mask of the global tokens under `rule`.

    Written against `xp` (`keras.ops`, or `tf.experimental.numpy` in a
    `tf.data` pipeline: see `BigBirdPreprocessor`), so the model and the
    preprocessor share one rule.
    """
    real = xp.not_equal(padding_mask, 0)
    if rule == "cls":
        position = xp.cumsum(xp.ones_like(padding_mask, dtype="int32"), 1)
        marked = xp.logical_and(real, xp.equal(position, 1))
    elif segment_ids is None:
        marked = xp.zeros_like(real)
    else:
        marked = xp.logical_and(real, xp.equal(segment_ids, 0))
    rank = xp.cumsum(xp.where(marked, 1, 0), 1)
    return xp.logical_and(marked, xp.less_equal(rank, max_tokens))


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
        marked = global_token_mask(
            self.rule, self.max_tokens, padding_mask, segment_ids
        )
        return ops.cast(marked, "int32")

    def compute_output_spec(self, padding_mask, segment_ids=None):
        return keras.KerasTensor(padding_mask.shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"rule": self.rule, "max_tokens": self.max_tokens})
        return config
