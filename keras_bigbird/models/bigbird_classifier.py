"""`BigBirdClassifier`: sequence classification on a `BigBirdEncoder`."""

import keras

from keras_bigbird.models import _heads
from keras_bigbird.models.base import FunctionalModel
from keras_bigbird.utils import checks


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdClassifier(FunctionalModel):
    """Classifies whole sequences from the encoder's pooled output.

    A functional `keras.Model` with the encoder's inputs (`token_ids`,
    `padding_mask`, optional `segment_ids`) and one output: `[batch,
    num_classes]` logits (float32 also under mixed precision) when
    `activation` is None, which fit `keras.losses.
    SparseCategoricalCrossentropy(from_logits=True)`.

    Args:
        encoder: a `BigBirdEncoder`.
        num_classes: number of classes.
        activation: of the output layer; None for logits.
        dropout: dropout rate before the output layer.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.models import BigBirdEncoder
    >>> model = BigBirdClassifier(BigBirdEncoder.from_preset("bigbird_tiny"),
    ...                           num_classes=3)
    >>> model({"token_ids": np.ones((2, 100), "int32"),
    ...        "padding_mask": np.ones((2, 100), "int32")}).shape
    (2, 3)

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

        # === Functional Model ===
        inputs = encoder.input
        x = encoder(inputs)["pooled_output"]
        x = self.output_dropout(x)
        outputs = self.output_dense(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout

    @classmethod
    def from_preset(cls, preset, num_classes, encoder_kwargs=None, **kwargs):
        """A classifier on the encoder preset `preset` (no weights)."""
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
