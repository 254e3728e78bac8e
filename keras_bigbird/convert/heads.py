"""The task heads of transformers' BigBird models, on a converted encoder.

They differ from the package's `BigBirdClassifier` and
`BigBirdQuestionAnswerer`, so fine-tuned checkpoints need their own
layers to give the same logits.
"""

import keras
from keras import ops

from keras_bigbird.models import task
from keras_bigbird.utils import checks


def _serialize_activation(activation):
    if isinstance(activation, str):
        return activation
    return keras.saving.serialize_keras_object(activation)


def _deserialize_activation(activation):
    if isinstance(activation, dict):
        return keras.saving.deserialize_keras_object(activation)
    return activation


class _TransformersHead(task.Task):
    """A transformers head: its activation and dropout are in its config."""

    def _head_config(self):
        return {
            "activation": _serialize_activation(self.activation_name),
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="keras_bigbird")
class TransformersClassifier(_TransformersHead):
    """The head of transformers' `BigBirdForSequenceClassification`.

    The first token of the sequence output (not the pooled output), then
    dropout, a dense layer of the hidden size with the encoder's activation,
    dropout and the output layer: `[batch, num_classes]` logits.

    Args:
        encoder: a `BigBirdEncoder`.
        num_classes: number of classes.
        activation: of the hidden dense layer (the config's `hidden_act`).
        dropout: the config's `classifier_dropout` (or
            `hidden_dropout_prob`).
        problem_type: the config's `problem_type`: None,
            `"single_label_classification"`, `"multi_label_classification"`
            or `"regression"`. The logits do not depend on it; it tells
            `export_for_serving` which `probabilities` to serve (a sigmoid
            per label for multi-label).
        **kwargs: `keras.Model` arguments.
    """

    PROBLEM_TYPES = (
        None,
        "single_label_classification",
        "multi_label_classification",
        "regression",
    )

    def __init__(self, encoder, num_classes, activation="gelu", dropout=0.1,
                 problem_type=None, **kwargs):
        encoder = task.resolve_encoder(encoder)
        checks.positive_int("num_classes", num_classes)
        checks.rate("dropout", dropout)
        if problem_type not in self.PROBLEM_TYPES:
            raise ValueError(
                "Received an invalid value for argument `problem_type`, "
                f"expected one of {self.PROBLEM_TYPES}. Received: "
                f"problem_type={problem_type!r}"
            )
        activation = _deserialize_activation(activation)

        # === Layers ===
        self.encoder = encoder
        dtype = encoder.dtype_policy.variable_dtype
        self.classifier_dense = keras.layers.Dense(
            encoder.hidden_dim,
            activation=activation,
            dtype=dtype,
            name="classifier_dense",
        )
        self.classifier_logits = keras.layers.Dense(
            num_classes, dtype=dtype, name="classifier_logits"
        )
        seed = getattr(encoder, "seed", None)
        self.first_dropout = keras.layers.Dropout(dropout, seed=seed)
        self.second_dropout = keras.layers.Dropout(dropout, seed=seed)

        # === Functional Model ===
        inputs = encoder.input
        x = encoder(inputs)["sequence_output"][:, 0, :]
        x = self.first_dropout(x)
        x = self.classifier_dense(x)
        x = self.second_dropout(x)
        logits = self.classifier_logits(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation_name = activation
        self.dropout = dropout
        self.problem_type = problem_type

    def serving_facts(self):
        # The logits do not depend on `problem_type`; which probabilities
        # are served does.
        return super().serving_facts().replace(problem_type=self.problem_type)

    def _head_config(self):
        return {
            **super()._head_config(),
            "num_classes": self.num_classes,
            "problem_type": self.problem_type,
        }


@keras.saving.register_keras_serializable(package="keras_bigbird")
class QuestionSegments(keras.layers.Layer):
    """The question part of `[CLS] question [SEP] context` inputs.

    As transformers' `BigBirdForQuestionAnswering`: the question is every
    position up to and including the first `sep_token_id`. Returns
    `(segment_ids, question_mask)`: `segment_ids` are the given ones, or 0
    on the question and 1 on the context when none are given; the mask is
    True on the question except position 0.
    """

    def __init__(self, sep_token_id, **kwargs):
        super().__init__(**kwargs)
        self.sep_token_id = int(sep_token_id)

    def call(self, token_ids, segment_ids=None):
        token_ids = ops.cast(token_ids, "int32")
        is_sep = ops.cast(ops.equal(token_ids, self.sep_token_id), "int32")
        question_length = ops.cast(ops.argmax(is_sep, axis=-1), "int32") + 1
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None]
        question = positions < question_length[:, None]
        if segment_ids is None:
            segment_ids = 1 - ops.cast(question, "int32")
        return segment_ids, ops.logical_and(question, positions > 0)

    def get_config(self):
        config = super().get_config()
        config["sep_token_id"] = self.sep_token_id
        return config


@keras.saving.register_keras_serializable(package="keras_bigbird")
class QuestionMaskedSpanLogits(keras.layers.Layer):
    """`[batch, length, 2]` logits to start and end logits (float32).

    The question positions get `- 1e6` as in transformers; padded positions
    get -1e9, so they are never predicted.
    """

    def call(self, logits, question_mask, padding_mask):
        logits = ops.cast(logits, "float32")
        logits = logits - 1e6 * ops.cast(question_mask, "float32")[..., None]
        keep = ops.cast(padding_mask, "bool")[..., None]
        logits = ops.where(keep, logits, -1e9)
        return logits[..., 0], logits[..., 1]

    def compute_output_spec(self, logits, question_mask, padding_mask):
        shape = tuple(logits.shape[:-1])
        return (
            keras.KerasTensor(shape, dtype="float32"),
            keras.KerasTensor(shape, dtype="float32"),
        )


@keras.saving.register_keras_serializable(package="keras_bigbird")
class TransformersQuestionAnswerer(_TransformersHead):
    """transformers' `BigBirdForQuestionAnswering` on a converted encoder.

    Inputs are `[CLS] question [SEP] context` token ids: without
    `segment_ids`, the question gets segment 0 and the context segment 1
    (as transformers does). The head: dropout, a dense layer of
    `intermediate_dim` with the activation, a dense layer back to the hidden
    size, dropout, the residual and a layer norm, and the span layer.
    Outputs `{"start_logits", "end_logits"}`, `[batch, length]` float32;
    question tokens (except the first) are pushed down by 1e6 as in
    transformers, padded positions are set to -1e9.

    Args:
        encoder: a `BigBirdEncoder`.
        sep_token_id: the id ending the question (the config's
            `sep_token_id`).
        activation: the config's `hidden_act`.
        dropout: the config's `hidden_dropout_prob`.
        **kwargs: `keras.Model` arguments.
    """

    def __init__(self, encoder, sep_token_id=66, activation="gelu",
                 dropout=0.1, **kwargs):
        encoder = task.resolve_encoder(encoder)
        checks.rate("dropout", dropout)
        activation = _deserialize_activation(activation)

        # === Layers ===
        self.encoder = encoder
        dtype = encoder.dtype_policy.variable_dtype
        self.question_segments = QuestionSegments(
            sep_token_id, name="question_segments"
        )
        seed = getattr(encoder, "seed", None)
        self.first_dropout = keras.layers.Dropout(dropout, seed=seed)
        self.second_dropout = keras.layers.Dropout(dropout, seed=seed)
        self.qa_intermediate_dense = keras.layers.Dense(
            encoder.intermediate_dim,
            activation=activation,
            dtype=dtype,
            name="qa_intermediate_dense",
        )
        self.qa_output_dense = keras.layers.Dense(
            encoder.hidden_dim, dtype=dtype, name="qa_output_dense"
        )
        self.qa_layer_norm = keras.layers.LayerNormalization(
            epsilon=encoder.layer_norm_epsilon,
            dtype=dtype,
            name="qa_output_layer_norm",
        )
        self.qa_outputs = keras.layers.Dense(2, dtype=dtype, name="qa_outputs")
        self.span_logits = QuestionMaskedSpanLogits(
            dtype="float32", name="span"
        )

        # === Functional Model ===
        inputs = dict(encoder.input)
        segment_ids, question_mask = self.question_segments(
            inputs["token_ids"], inputs.get("segment_ids")
        )
        encoder_inputs = {
            "token_ids": inputs["token_ids"],
            "padding_mask": inputs["padding_mask"],
        }
        if "segment_ids" in inputs:
            encoder_inputs["segment_ids"] = segment_ids
        sequence = encoder(encoder_inputs)["sequence_output"]
        x = self.first_dropout(sequence)
        x = self.qa_intermediate_dense(x)
        x = self.qa_output_dense(x)
        x = self.second_dropout(x)
        x = self.qa_layer_norm(keras.layers.Add()([x, sequence]))
        x = self.qa_outputs(x)
        start, end = self.span_logits(x, question_mask, inputs["padding_mask"])
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start, "end_logits": end},
            **kwargs,
        )

        # === Config ===
        self.sep_token_id = int(sep_token_id)
        self.activation_name = activation
        self.dropout = dropout

    def serving_facts(self):
        # Served text is a (question, context) pair, packed as the
        # `[CLS] question [SEP] context` the head reads.
        return super().serving_facts().replace(
            text_inputs=("question", "context")
        )

    def _head_config(self):
        return {**super()._head_config(), "sep_token_id": self.sep_token_id}
