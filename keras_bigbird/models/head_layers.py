"""Layers of the task heads: span logits, the padding mask as a Keras mask."""

import keras
from keras import ops


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
