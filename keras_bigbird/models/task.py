"""Pieces shared by the task models: base classes, head layers."""

import keras
from keras import ops

from keras_bigbird.layers.global_token_mask import GlobalTokenMask
from keras_bigbird.layers.input_validation import ValueRule
from keras_bigbird.models import checked_data
from keras_bigbird.models.base import FunctionalModel
from keras_bigbird.models.base import check_model_kwargs
from keras_bigbird.models.bigbird_encoder import BigBirdEncoder
from keras_bigbird.utils import checks


def task_policy(encoder, dtype=None):
    """The policy of a task model: `dtype`, else its encoder's policy."""
    if dtype is None:
        return encoder.dtype_policy
    return keras.dtype_policies.get(dtype)


def head_dtype(encoder, dtype=None):
    """Float32 heads under mixed precision (numerically safe logits)."""
    return task_policy(encoder, dtype).variable_dtype


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


def task_inputs(encoder, global_rule=None):
    """`(inputs, encoder_inputs)` of a task model on `encoder`.

    With `global_rule` (see `GlobalTokenMask`) the task derives the
    encoder's `global_mask` in its graph and does not take one itself.
    """
    inputs = dict(encoder.input)
    encoder_inputs = dict(inputs)
    if global_rule is None:
        return inputs, encoder_inputs
    cap = getattr(encoder, "max_global_tokens", 0)
    if "global_mask" not in inputs or not cap:
        raise ValueError(
            "The encoder takes no global tokens (it needs a `global_mask` "
            "input and `max_global_tokens` > 0). Build it with "
            "`max_global_tokens`, or turn the task's global tokens off. "
            f"Received: encoder inputs {sorted(inputs)}, "
            f"max_global_tokens={cap!r}"
        )
    inputs.pop("global_mask")
    encoder_inputs["global_mask"] = GlobalTokenMask(
        global_rule, cap, name="global_tokens"
    )(inputs["padding_mask"], inputs.get("segment_ids"))
    return inputs, encoder_inputs


def output_dropout(encoder, rate):
    return keras.layers.Dropout(
        rate, seed=getattr(encoder, "seed", None), name="output_dropout"
    )


def output_dense(encoder, units, activation=None, name="logits", dtype=None):
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype=head_dtype(encoder, dtype),
        name=name,
    )


class TaskModel(FunctionalModel):
    """Base of the task models: a head on the outputs of a `BigBirdEncoder`.

    Subclasses store the encoder as `self.encoder` (before calling this
    constructor) and return their own arguments from `_head_config()`. The
    model's dtype policy is `dtype`, else its encoder's (so `compile()` adds
    loss scaling to a model on a `"mixed_float16"` encoder); it is saved in
    the config.
    """


    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        encoder = getattr(self, "encoder", None)
        if dtype is None and encoder is not None:
            dtype = encoder.dtype_policy
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

    @classmethod
    def from_preset(cls, preset, encoder_kwargs=None, **kwargs):
        """The model on the encoder preset `preset` (no weights).

        `encoder_kwargs` go to `BigBirdEncoder.from_preset`, the other
        keyword arguments (e.g. `num_classes`) to the constructor.
        """
        encoder = BigBirdEncoder.from_preset(preset, **(encoder_kwargs or {}))
        return cls(encoder, **kwargs)

    def value_rules(self):
        return self.encoder.value_rules()

    def _head_config(self):
        raise NotImplementedError

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            **self._head_config(),
        }


class ClassifierModel(TaskModel):
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
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout
        self.global_cls = bool(global_cls)

    def _outputs(self, logits, inputs):
        return logits

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
