"""`BigBirdTokenClassifier`: per-token labels on a `BigBirdEncoder`."""

import keras

from keras_bigbird.models import _heads
from keras_bigbird.models.base import FunctionalModel
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdTokenClassifier(FunctionalModel):
    """Labels every token (tagging, NER) from the encoder's sequence output.

    A functional `keras.Model` with the encoder's inputs and one output:
    `[batch, length, num_classes]` logits (float32) when `activation` is
    None. The output carries `padding_mask` as its Keras mask, so Keras
    losses and metrics in `compile` ignore padded positions (the loss is the
    mean over real tokens); labels at padded positions may be anything.

    Args:
        encoder: a `BigBirdEncoder`.
        num_classes: number of token classes.
        activation: of the output layer; None for logits.
        dropout: dropout rate before the output layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.models import BigBirdEncoder
    >>> model = BigBirdTokenClassifier(
    ...     BigBirdEncoder.from_preset("bigbird_tiny"), num_classes=5)
    >>> model({"token_ids": np.ones((2, 100), "int32"),
    ...        "padding_mask": np.ones((2, 100), "int32")}).shape
    (2, 100, 5)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    OPTIONAL_INPUTS = ("segment_ids",)

    def __init__(
        self, encoder, num_classes, activation=None, dropout=0.1, **kwargs
    ):
        encoder = _heads.resolve_encoder(encoder)
        checks.positive_int("num_classes", num_classes)
        checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(
            dropout, seed=getattr(encoder, "seed", None), name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            num_classes,
            activation=activation,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=_heads.head_dtype(encoder),
            name="logits",
        )
        self.output_mask = _heads.PaddingMaskAsKerasMask(name="output_mask")

        # === Functional Model ===
        inputs = encoder.input
        x = encoder(inputs)["sequence_output"]
        x = self.output_dropout(x)
        x = self.output_dense(x)
        outputs = self.output_mask((x, inputs["padding_mask"]))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout

    @classmethod
    def from_preset(cls, preset, num_classes, encoder_kwargs=None, **kwargs):
        """A token classifier on the encoder preset `preset` (no weights)."""
        encoder = _heads.encoder_from_preset(preset, **(encoder_kwargs or {}))
        return cls(encoder, num_classes=num_classes, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
        }
