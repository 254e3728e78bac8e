"""`BigBirdQuestionAnswerer`: extractive QA span logits."""

import keras

from keras_bigbird.models import _heads
from keras_bigbird.models.base import FunctionalModel
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdQuestionAnswerer(FunctionalModel):
    """Predicts the start and end token of an answer span.

    A functional `keras.Model` with the encoder's inputs and two outputs,
    `{"start_logits", "end_logits"}`, each `[batch, length]` float32 logits
    over the positions. Padded positions get a logit of -1e9, so they never
    win and get zero probability. Train with integer positions as labels,
    e.g. `y = {"start_logits": start, "end_logits": end}` and
    `keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.

    Args:
        encoder: a `BigBirdEncoder`.
        dropout: dropout rate before the span layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.models import BigBirdEncoder
    >>> model = BigBirdQuestionAnswerer(
    ...     BigBirdEncoder.from_preset("bigbird_tiny"))
    >>> out = model({"token_ids": np.ones((2, 100), "int32"),
    ...              "padding_mask": np.ones((2, 100), "int32")})
    >>> out["start_logits"].shape, out["end_logits"].shape
    ((2, 100), (2, 100))

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    OPTIONAL_INPUTS = ("segment_ids",)

    def __init__(self, encoder, dropout=0.1, **kwargs):
        encoder = _heads.resolve_encoder(encoder)
        checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(
            dropout, seed=getattr(encoder, "seed", None), name="output_dropout"
        )
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=_heads.head_dtype(encoder),
            name="span_logits",
        )
        self.span_logits = _heads.SpanLogits(dtype="float32", name="span")

        # === Functional Model ===
        inputs = encoder.input
        x = encoder(inputs)["sequence_output"]
        x = self.output_dropout(x)
        x = self.span_dense(x)
        start, end = self.span_logits(x, inputs["padding_mask"])
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start, "end_logits": end},
            **kwargs,
        )

        # === Config ===
        self.dropout = dropout

    @classmethod
    def from_preset(cls, preset, encoder_kwargs=None, **kwargs):
        """A question answerer on the encoder preset `preset` (no weights)."""
        encoder = _heads.encoder_from_preset(preset, **(encoder_kwargs or {}))
        return cls(encoder, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "dropout": self.dropout,
        }
