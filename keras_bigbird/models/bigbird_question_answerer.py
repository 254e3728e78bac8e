"""`BigBirdQuestionAnswerer`: extractive QA span logits."""

import keras

from keras_bigbird.layers.input_validation import ValueRule
from keras_bigbird.models import task
from keras_bigbird.models.head_layers import SpanLogits
from keras_bigbird.models.functional_model import check_model_kwargs
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdQuestionAnswerer(task.Task):
    """Predicts the start and end token of an answer span.

    A functional `keras.Model` with the encoder's inputs and two outputs,
    `{"start_logits", "end_logits"}`, each `[batch, length]` float32 logits
    over the positions. Padded positions get a logit of -1e9, so they never
    win and get zero probability. Train with integer positions as labels,
    e.g. `y = {"start_logits": start, "end_logits": end}` and
    `keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.

    The question is global by default (`global_question=True`), as in ETC
    and Longformer: the real tokens of segment 0 (`[CLS] question [SEP]`,
    as `BlockPacker` packs a pair) attend the whole context and every
    token attends them, in every layer, up to the encoder's
    `max_global_tokens` first ones. The model derives them from
    `segment_ids` in its graph (without `segment_ids` there is no
    question, and no global token).

    Args:
        encoder: a `BigBirdEncoder`.
        dropout: dropout rate before the span layer.
        global_question: make the question's tokens global.
        preprocessor: optional `BigBirdPreprocessor` (see
            `BigBirdPreprocessor.from_encoder`): then `fit`, `evaluate` and
            `predict` also take `(questions, documents)` pairs of raw strings (labels: token positions in the packed pair), and the export serves text.
        dtype: dtype policy of the model (and of the head's variables);
            None for the encoder's policy.
        **kwargs: `keras.Model` arguments: `name`, `trainable`.

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.models import BigBirdEncoder
    >>> model = BigBirdQuestionAnswerer(
    ...     BigBirdEncoder.from_preset("bigbird_tiny"))
    >>> out = model({"token_ids": np.ones((2, 100), "int32"),
    ...              "padding_mask": np.ones((2, 100), "int32")})
    >>> tuple(out["start_logits"].shape), tuple(out["end_logits"].shape)
    ((2, 100), (2, 100))

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    UNUSED_ENCODER_LAYERS = ("pooled_dense",)
    SEQUENCE_OUTPUTS = True

    def __init__(
        self,
        encoder,
        dropout=0.1,
        global_question=True,
        preprocessor=None,
        dtype=None,
        **kwargs,
    ):
        check_model_kwargs(type(self).__name__, kwargs)
        encoder = task.resolve_encoder(encoder)
        checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = task.output_dropout(encoder, dropout)
        self.span_dense = task.output_dense(
            encoder, 2, name="span_logits", dtype=dtype
        )
        self.span_logits = SpanLogits(dtype="float32", name="span")

        # === Functional Model ===
        inputs, encoder_inputs = task.task_inputs(
            encoder, "first_segment" if global_question else None
        )
        x = encoder(encoder_inputs)["sequence_output"]
        x = self.span_dense(self.output_dropout(x))
        start, end = self.span_logits(x, inputs["padding_mask"])
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start, "end_logits": end},
            preprocessor=preprocessor,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.dropout = dropout
        self.global_question = bool(global_question)

    def serving_facts(self):
        return super().serving_facts().replace(
            global_tokens="first_segment" if self.global_question else None,
            text_inputs=("question", "context"),
        )

    def label_rules(self):
        return tuple(
            ValueRule(name, 0, "length", "a position in the sequence")
            for name in ("start_logits", "end_logits")
        )

    def _head_config(self):
        return {"dropout": self.dropout, "global_question": self.global_question}
