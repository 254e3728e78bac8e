"""`ClassifierTask`: dropout and a dense layer on one encoder output."""

import keras

from keras_bigbird.layers.input_validation import ValueRule
from keras_bigbird.models import checked_data
from keras_bigbird.models.functional_model import check_model_kwargs
from keras_bigbird.models.serving_facts import activation_name
from keras_bigbird.models.task import Task
from keras_bigbird.models.task import output_dense
from keras_bigbird.models.task import output_dropout
from keras_bigbird.models.task import resolve_encoder
from keras_bigbird.models.task import task_inputs
from keras_bigbird.utils import checks


class ClassifierTask(Task):
    """Dropout and `Dense(num_classes)` on the encoder output `ENCODER_OUTPUT`.

    Subclasses name the encoder output and may post-process the logits in
    `_outputs(logits, inputs)`. `global_cls=True` makes the first token
    (`[CLS]`) global in every layer (see `GlobalTokenMask`).
    """

    ENCODER_OUTPUT = None

    def __init__(
        self,
        encoder,
        num_classes,
        activation=None,
        dropout=0.1,
        global_cls=False,
        preprocessor=None,
        dtype=None,
        **kwargs,
    ):
        check_model_kwargs(type(self).__name__, kwargs)
        encoder = resolve_encoder(encoder)
        checks.positive_int("num_classes", num_classes)
        checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = output_dropout(encoder, dropout)
        self.output_dense = output_dense(
            encoder, num_classes, activation, dtype=dtype
        )

        # === Functional Model ===
        inputs, encoder_inputs = task_inputs(
            encoder, "cls" if global_cls else None
        )
        x = encoder(encoder_inputs)[self.ENCODER_OUTPUT]
        x = self.output_dense(self.output_dropout(x))
        outputs = self._outputs(x, inputs)
        super().__init__(
            inputs=inputs,
            outputs=outputs,
            preprocessor=preprocessor,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout
        self.global_cls = bool(global_cls)

    def _outputs(self, logits, inputs):
        return logits

    def serving_facts(self):
        return super().serving_facts().replace(
            global_tokens="cls" if self.global_cls else None,
            output_activation=activation_name(self.activation),
        )

    def label_rules(self):
        return (
            ValueRule(
                checked_data.LABELS, 0, self.num_classes,
                f"num_classes={self.num_classes}",
            ),
        )

    def _head_config(self):
        return {
            "num_classes": self.num_classes,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "global_cls": self.global_cls,
        }


