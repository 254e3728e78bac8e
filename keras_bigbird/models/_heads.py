"""Pieces shared by the task models."""

import keras
from keras import ops

from keras_bigbird.models.bigbird_encoder import BigBirdEncoder


def head_dtype(encoder):
    """Float32 heads under mixed precision (numerically safe logits)."""
    return encoder.dtype_policy.variable_dtype


def resolve_encoder(encoder):
    if isinstance(encoder, dict):
        encoder = keras.saving.deserialize_keras_object(encoder)
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            "`encoder` must be a `BigBirdEncoder` (or a functional model with "
            "the same inputs and outputs). Received: "
            f"encoder={encoder!r}"
        )
    return encoder


def encoder_from_preset(preset, **kwargs):
    return BigBirdEncoder.from_preset(preset, **kwargs)


@keras.saving.register_keras_serializable(package="keras_bigbird")
class PaddingMaskAsKerasMask(keras.layers.Layer):
    """`(values, padding_mask)` -> `values`, with `padding_mask` as Keras mask.

    Keras losses and metrics then skip padded positions by themselves.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        values, _ = inputs
        return values

    def compute_mask(self, inputs, mask=None):
        _, padding_mask = inputs
        return ops.cast(padding_mask, "bool")

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[0])


@keras.saving.register_keras_serializable(package="keras_bigbird")
class SpanLogits(keras.layers.Layer):
    """Splits `[batch, length, 2]` logits into start and end logits.

    Padded positions get a very negative logit, so they are never predicted
    and get no probability under softmax. Computed in float32.
    """

    def call(self, logits, padding_mask):
        logits = ops.cast(logits, "float32")
        keep = ops.cast(padding_mask, "bool")
        masked = ops.where(keep[..., None], logits, -1e9)
        return masked[..., 0], masked[..., 1]

    def compute_output_spec(self, logits, padding_mask):
        shape = tuple(logits.shape[:-1])
        return (
            keras.KerasTensor(shape, dtype="float32"),
            keras.KerasTensor(shape, dtype="float32"),
        )
