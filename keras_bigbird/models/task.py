"""`Task`: the base of the task models, and the pieces they share."""

import keras

from keras_bigbird.layers.global_token_mask import GlobalTokenMask
from keras_bigbird.models import task_data
from keras_bigbird.models.functional_model import FunctionalModel
from keras_bigbird.models.serving_facts import ServingFacts


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


class Task(FunctionalModel):
    """Base of the task models: a head on a backbone, and its preprocessor.

    In the manner of keras-hub's `Task`: the model owns an optional
    `preprocessor` (a `BigBirdPreprocessor`), so `fit`, `evaluate` and
    `predict` take raw strings (a string, a list, a numpy or TensorFlow
    string array, a `(questions, documents)` pair of them, or a batched
    `tf.data.Dataset` of them with or without labels) as well as dicts of
    ids. The preprocessor runs in `tf.data` on every backend, is saved in
    the model's config (so a `.keras` file is self-contained) and is served
    as `serve_text` by `export_for_serving`.

    Subclasses store the encoder as `self.encoder` (before calling this
    constructor) and return their own arguments from `_head_config()`.
    `UNUSED_ENCODER_LAYERS` names encoder layers the head does not use
    (the pooler of a span or token head): their variables are not trained,
    so no optimizer step touches them and no "Gradients do not exist"
    warning is printed. The model's dtype policy is `dtype`, else its
    encoder's (so `compile()` adds loss scaling to a model on a
    `"mixed_float16"` encoder); it is saved in the config.
    """

    UNUSED_ENCODER_LAYERS = ()
    # Whether `fit` may pair raw text with labels (per-token labels cannot
    # be aligned with tokens the caller never saw).
    TEXT_LABELS = True
    # Whether the outputs have a sequence axis (then `predict` pads every
    # batch of raw text to one width, so that they concatenate).
    SEQUENCE_OUTPUTS = False

    def __init__(
        self, inputs, outputs, preprocessor=None, dtype=None, **kwargs
    ):
        encoder = getattr(self, "encoder", None)
        if dtype is None and encoder is not None:
            dtype = encoder.dtype_policy
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        self.preprocessor = resolve_preprocessor(preprocessor, encoder)

    @property
    def backbone(self):
        """The encoder the head sits on (keras-hub's name for it)."""
        return self.encoder

    @classmethod
    def from_preset(
        cls, preset, encoder_kwargs=None, sequence_length=None, **kwargs
    ):
        """The model on the encoder preset `preset`, with its preprocessor.

        `preset` is a built-in name (an untrained encoder), a transformers
        checkpoint directory or `hf://owner/name` (converted weights; see
        `keras_bigbird.models.presets.load_encoder`). A checkpoint's
        SentencePiece model becomes the model's `BigBirdPreprocessor`
        (with `sequence_length`, else the encoder's longest), unless
        `preprocessor` is given. `encoder_kwargs` go to the encoder, the
        other keyword arguments (e.g. `num_classes`) to the constructor.
        """
        from keras_bigbird.models import presets

        encoder = presets.load_encoder(preset, **(encoder_kwargs or {}))
        if "preprocessor" not in kwargs:
            tokenizer = presets.load_tokenizer(preset)
            if tokenizer is not None:
                from keras_bigbird.preprocessing.bigbird_preprocessor import (
                    BigBirdPreprocessor,
                )

                kwargs["preprocessor"] = BigBirdPreprocessor.from_encoder(
                    encoder, tokenizer, sequence_length
                )
        return cls(encoder, **kwargs)

    def value_rules(self):
        return self.encoder.value_rules()

    def serving_facts(self):
        """What `export_for_serving` checks and serves (`ServingFacts`):
        the encoder's sizes; subclasses add their global-token rule and
        output activation."""
        facts = getattr(self.encoder, "serving_facts", None)
        if facts is not None:
            return facts()
        # A user's functional encoder: the sizes a task already requires
        # of it (see `resolve_preprocessor`).
        return ServingFacts(
            max_sequence_length=self.encoder.max_sequence_length,
            vocabulary_size=self.encoder.vocabulary_size,
            num_segments=getattr(self.encoder, "num_segments", 0),
        )

    def _unused_variables(self):
        layers = [self.encoder.get_layer(n) for n in self.UNUSED_ENCODER_LAYERS]
        return [v for layer in layers for v in layer.trainable_weights]

    @property
    def trainable_weights(self):
        unused = {id(v) for v in self._unused_variables()}
        return [v for v in super().trainable_weights if id(v) not in unused]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return super().non_trainable_weights
        return super().non_trainable_weights + self._unused_variables()

    def _text(self, x, method):
        """Whether `x` is raw text for the preprocessor (an error if there
        is none)."""
        if not task_data.holds_text(x):
            return False
        if self.preprocessor is None:
            raise ValueError(
                f"`{method}` got raw text, but {type(self).__name__} has no "
                "preprocessor: pass `preprocessor=BigBirdPreprocessor."
                "from_encoder(encoder, tokenizer)` to the constructor, or "
                "give a dict of `token_ids` and `padding_mask`."
            )
        return True

    def _check_text_labels(self, y, method):
        if y is not None and not self.TEXT_LABELS:
            raise ValueError(
                f"`{method}` of {type(self).__name__} got raw text with "
                "labels: per-token labels must be aligned with the packed "
                "tokens. Run the preprocessor first and pass its dict of "
                "ids with the labels."
            )

    def _text_data(self, data, batch_size, method):
        """`validation_data` as packed batches when it is raw text."""
        if isinstance(data, tuple) and self._text(data[0], method):
            x, y, w = (*data, None, None)[:3]
            self._check_text_labels(y, method)
            return task_data.text_dataset(
                self.preprocessor, x, y, w, batch_size=batch_size,
                method=method,
            )
        if self._text(data, method):
            return task_data.text_dataset(
                self.preprocessor, data, method=method
            )
        return data

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        *args,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        sample_weight=None,
        **kwargs,
    ):
        if self._text(x, "fit"):
            self._check_text_labels(y, "fit")
            if validation_split and not task_data.is_dataset(x):
                (x, y, sample_weight), validation_data = (
                    task_data.split_validation(
                        x, y, sample_weight, validation_split
                    )
                )
                validation_split = 0.0
            x = task_data.text_dataset(
                self.preprocessor, x, y, sample_weight,
                batch_size=batch_size, shuffle=shuffle, method="fit",
            )
            # Shuffled above, before batching; Keras would only warn.
            y = sample_weight = batch_size = None
            shuffle = False
        if validation_data is not None:
            validation_data = self._text_data(
                validation_data, batch_size, "fit"
            )
        return super().fit(
            x, y, batch_size, *args,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            sample_weight=sample_weight,
            **kwargs,
        )

    def evaluate(
        self, x=None, y=None, batch_size=None, *args, sample_weight=None,
        **kwargs,
    ):
        if self._text(x, "evaluate"):
            self._check_text_labels(y, "evaluate")
            x = task_data.text_dataset(
                self.preprocessor, x, y, sample_weight,
                batch_size=batch_size, method="evaluate",
            )
            y = sample_weight = batch_size = None
        return super().evaluate(
            x, y, batch_size, *args, sample_weight=sample_weight, **kwargs
        )

    def predict(self, x, batch_size=None, *args, **kwargs):
        if self._text(x, "predict"):
            x = task_data.text_dataset(
                self.preprocessor, x, batch_size=batch_size,
                method="predict", same_width=self.SEQUENCE_OUTPUTS,
            )
            batch_size = None
        return super().predict(x, batch_size, *args, **kwargs)

    def _head_config(self):
        raise NotImplementedError

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "preprocessor": keras.saving.serialize_keras_object(
                self.preprocessor
            ),
            **self._head_config(),
        }


def resolve_preprocessor(preprocessor, encoder):
    """`preprocessor` deserialized and checked against `encoder`."""
    if preprocessor is None:
        return None
    # Imported first: it registers the class a saved config names.
    from keras_bigbird.preprocessing.bigbird_preprocessor import (
        BigBirdPreprocessor,
    )

    if isinstance(preprocessor, dict):
        preprocessor = keras.saving.deserialize_keras_object(preprocessor)
    if not isinstance(preprocessor, BigBirdPreprocessor):
        raise ValueError(
            "Received an invalid value for argument `preprocessor`, expected "
            "a `BigBirdPreprocessor` or None. Received: "
            f"preprocessor={preprocessor!r}"
        )
    problems = [] if encoder is None else [
        problem for _, problem in preprocessor.encoder_mismatches(encoder)
    ]
    if problems:
        raise ValueError(
            "Received an invalid value for argument `preprocessor`: it "
            "does not fit the encoder: " + "; ".join(problems) + ". Build "
            "it with `BigBirdPreprocessor.from_encoder(encoder, tokenizer)`."
        )
    return preprocessor
