"""`BigBirdTokenClassifier`: per-token labels on a `BigBirdEncoder`."""

import keras

from keras_bigbird.models.classifier_task import ClassifierTask
from keras_bigbird.models.head_layers import PaddingMaskAsKerasMask


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdTokenClassifier(ClassifierTask):
    """Labels every token (tagging, NER) from the encoder's sequence output.

    A functional `keras.Model` with the encoder's inputs and one output:
    `[batch, length, num_classes]` logits (float32) when `activation` is
    None. The output carries `padding_mask` as its Keras mask, so Keras
    losses and metrics in `compile` ignore padded positions (the loss is the
    mean over real tokens). Labels at padded positions do not count, but
    they must be classes too (e.g. 0): Keras computes the loss at every
    position before it applies the mask, and a label such as -100 is an
    error there (NaN under XLA), so `fit` rejects it first.

    Args:
        encoder: a `BigBirdEncoder`.
        num_classes: number of token classes.
        activation: of the output layer; None for logits.
        dropout: dropout rate before the output layer.
        global_cls: make the first token (`[CLS]`) global in every layer
            (it already is with the default `BigBirdPattern`, whose first
            block is global; useful with a `WindowPattern`).
        preprocessor: optional `BigBirdPreprocessor` (see
            `BigBirdPreprocessor.from_encoder`): then `fit`, `evaluate` and
            `predict` also take raw strings, and the export serves text.
        dtype: dtype policy of the model (and of the head's variables);
            None for the encoder's policy.
        **kwargs: `keras.Model` arguments: `name`, `trainable`.

    Example:

    >>> import numpy as np
    >>> from keras_bigbird.models import BigBirdEncoder
    >>> model = BigBirdTokenClassifier(
    ...     BigBirdEncoder.from_preset("bigbird_tiny"), num_classes=5)
    >>> logits = model({"token_ids": np.ones((2, 100), "int32"),
    ...                 "padding_mask": np.ones((2, 100), "int32")})
    >>> tuple(logits.shape)
    (2, 100, 5)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    ENCODER_OUTPUT = "sequence_output"
    UNUSED_ENCODER_LAYERS = ("pooled_dense",)
    TEXT_LABELS = False
    SEQUENCE_OUTPUTS = True

    def _outputs(self, logits, inputs):
        self.output_mask = PaddingMaskAsKerasMask(name="output_mask")
        return self.output_mask((logits, inputs["padding_mask"]))
