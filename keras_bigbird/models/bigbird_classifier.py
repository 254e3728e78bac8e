"""`BigBirdClassifier`: sequence classification on a `BigBirdEncoder`."""

import keras

from keras_bigbird.models.classifier_task import ClassifierTask


@keras.saving.register_keras_serializable(package="keras_bigbird")
class BigBirdClassifier(ClassifierTask):
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
    >>> model = BigBirdClassifier(BigBirdEncoder.from_preset("bigbird_tiny"),
    ...                           num_classes=3)
    >>> logits = model({"token_ids": np.ones((2, 100), "int32"),
    ...                 "padding_mask": np.ones((2, 100), "int32")})
    >>> tuple(logits.shape)
    (2, 3)

    References:
        - [Zaheer et al., 2020](https://arxiv.org/abs/2007.14062)
    """

    ENCODER_OUTPUT = "pooled_output"
