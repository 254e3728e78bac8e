"""Checks of a model's input dict, in one place: names, dtypes, shapes and
the values of ids and masks.

`InputRules` holds the rules of one model's inputs and applies them to
every form an input takes: a Python dict before Keras converts it (names,
dtypes and ranks: Keras matches dict entries by sorted position and casts
floats to int32 silently), concrete arrays (a `ValueError` at once), a
TensorFlow graph (assertions, also in a SavedModel and in `tf.data`), and
a compiled program where no assertion can stop it (XLA drops TensorFlow's
assertions, `jax.jit` has none): there the examples with a bad input get
NaN outputs, so a loss or a prediction cannot be silently wrong.
`InputValidation` is the layer that runs the value rules in a model.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_bigbird.utils import checks

MASK_NAMES = ("padding_mask", "global_mask")
LABEL_HINT_NAMES = ("label", "labels", "y", "targets", "target")


@dataclasses.dataclass(frozen=True)
class ValueRule:
    """`low <= value < high` for an input, or for a label.

    `high` is an int or `"length"` (the sequence length, for positions);
    `what` says where the bound comes from, for the message.
    """

    name: str
    low: int
    high: object
    what: str = ""

    def bound(self, length):
        return length if self.high == "length" else self.high

    def describe(self, length="length"):
        high = length if self.high == "length" else self.high
        what = f" ({self.what})" if self.what else ""
        return f"`{self.name}` must be in [{self.low}, {high}){what}"


def _dtype(value):
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        dtype = np.asarray(value).dtype
    return keras.backend.standardize_dtype(dtype)


def _shape(value):
    shape = getattr(value, "shape", None)
    if shape is None:
        shape = np.shape(value)
    return tuple(None if d is None else int(d) for d in shape)


def _is_integer(dtype):
    return "int" in dtype


class InputRules:
    """The input rules of a model whose inputs are `[batch, length]` ids
    and masks.

    Args:
        model_name: named in the messages.
        required: names that must be in the input dict.
        optional: names that may be left out.
        values: `ValueRule`s of the inputs (id ranges, 0/1 masks).
    """

    def __init__(self, model_name, required, optional=(), values=()):
        self.model_name = model_name
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.values = tuple(values)

    @property
    def names(self):
        return self.required + self.optional

    def expected(self):
        text = ", ".join(f"`{n}`" for n in self.required)
        if self.optional:
            text += " and optionally " + ", ".join(
                f"`{n}`" for n in self.optional
            )
        return text

    # --- Structure: names, dtypes, ranks, shapes (known while tracing) ---

    def check_structure(self, inputs, dtypes=True):
        """Raises a `ValueError` for a wrong dict (with `dtypes`, also for
        a wrong dtype); returns the dict of the inputs that are present
        (not None)."""
        if not isinstance(inputs, dict):
            raise ValueError(
                f"{self.model_name} takes a dict of inputs with keys "
                f"{self.expected()}. Received: {type(inputs).__name__}"
            )
        unknown = sorted(str(k) for k in inputs if k not in self.names)
        if unknown:
            hint = ""
            if any(k in LABEL_HINT_NAMES for k in unknown):
                hint = (
                    " Labels are not inputs: pass them as `y` (or as the "
                    "second element of a dataset's `(x, y)` pairs)."
                )
            raise ValueError(
                f"{self.model_name} got unknown inputs {unknown}; it takes "
                f"{self.expected()}.{hint} Received keys: "
                f"{sorted(str(k) for k in inputs)}"
            )
        present = {k: v for k, v in inputs.items() if v is not None}
        missing = [n for n in self.required if n not in present]
        if missing:
            raise ValueError(
                f"{self.model_name} is missing the inputs {missing}; it "
                f"takes {self.expected()}. Received keys: "
                f"{sorted(str(k) for k in present)}"
            )
        reference_name = self.required[0]
        reference = _shape(present[reference_name])
        for name, value in present.items():
            dtype = _dtype(value)
            if not dtypes:
                pass
            elif name in MASK_NAMES:
                if not (dtype == "bool" or _is_integer(dtype)):
                    raise ValueError(
                        f"`{name}` must be bool, or integers 0 and 1. "
                        f"Received: {name}.dtype={dtype}"
                    )
            elif not _is_integer(dtype):
                raise ValueError(
                    f"`{name}` must be integer ids. Received: "
                    f"{name}.dtype={dtype}"
                )
            shape = _shape(value)
            if len(shape) != 2:
                raise ValueError(
                    f"`{name}` must have shape [batch, length]. Received: "
                    f"{name}.shape={shape}"
                )
            if any(
                a is not None and b is not None and a != b
                for a, b in zip(shape, reference)
            ):
                raise ValueError(
                    f"`{name}` must have the shape of `{reference_name}` "
                    f"{reference}. Received: {name}.shape={shape}"
                )
        if reference[1] == 0:
            raise ValueError(
                "The input sequences are empty: they need at least one "
                f"token. Received: {reference_name}.shape={reference}"
            )
        return present

    # --- Values ---

    def check_arrays(self, arrays, rules=None):
        """`ValueError` naming the first bad entry of concrete arrays."""
        rules = self.values if rules is None else rules
        for rule in rules:
            if rule.name not in arrays or arrays[rule.name] is None:
                continue
            value = np.asarray(arrays[rule.name])
            if value.dtype == bool:
                value = value.astype("int32")
            length = value.shape[1] if value.ndim > 1 else None
            if rule.high == "length" and length is None:
                length = _shape(arrays[self.required[0]])[1]
            bad = (value < rule.low) | (value >= rule.bound(length))
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                position = ", ".join(map(str, index))
                raise ValueError(
                    f"{rule.describe(length)}. Received: "
                    f"{rule.name}[{position}]={value[index].item()!r}"
                )

    def tf_assertions(self, tensors, rules=None):
        """TensorFlow assertion ops of the rules (graphs, `tf.data`)."""
        import tensorflow as tf

        rules = self.values if rules is None else rules
        reference = tensors[self.required[0]]
        length = tf.shape(reference)[1]
        found = [
            tf.debugging.assert_positive(
                length,
                message=(
                    "The input sequences are empty: they need at least one "
                    f"token (`{self.required[0]}`)."
                ),
            )
        ]
        for name, tensor in tensors.items():
            if name in self.names and tensor is not None and name != (
                self.required[0]
            ):
                found.append(
                    tf.debugging.assert_equal(
                        tf.shape(tensor),
                        tf.shape(reference),
                        message=(
                            f"`{name}` must have the shape of "
                            f"`{self.required[0]}`."
                        ),
                    )
                )
        for rule in rules:
            value = tensors.get(rule.name)
            if value is None:
                continue
            value = tf.cast(value, tf.int64)
            high = tf.cast(
                length if rule.high == "length" else rule.high, tf.int64
            )
            bad = tf.logical_or(value < rule.low, value >= high)
            found.append(
                tf.debugging.Assert(
                    tf.logical_not(tf.reduce_any(bad)),
                    [
                        f"{rule.describe()}. Received: min",
                        tf.reduce_min(value),
                        "max",
                        tf.reduce_max(value),
                    ],
                    name=f"check_{rule.name}",
                )
            )
        return found

    def valid_examples(self, tensors):
        """`[batch]` bool (keras.ops): the examples whose inputs obey the
        rules, for the NaN fallback of compiled programs."""
        valid = None
        for rule in self.values:
            value = tensors.get(rule.name)
            if value is None:
                continue
            value = ops.cast(value, "int32")
            high = ops.shape(value)[1] if rule.high == "length" else rule.high
            ok = ops.all(
                ops.logical_and(value >= rule.low, value < high), axis=-1
            )
            valid = ok if valid is None else ops.logical_and(valid, ok)
        return valid


@keras.saving.register_keras_serializable(package="keras_bigbird")
class InputValidation(keras.layers.Layer):
    """Checks the values of a model's ids and masks where the model runs.

    Called on the model's inputs (a dict), it returns `token_ids` and
    `segment_ids` (zeros when absent) gated on the checks, and a `[batch]`
    float32 `status`: 1 for an example that obeys the rules, NaN for one
    that does not. Multiplying the embeddings by `status` makes a bad
    example's outputs NaN where no check can stop the program.

    - Concrete values (eager TensorFlow, eager JAX): a `ValueError` naming
      the input, the rule and the first bad entry.
    - A TensorFlow graph (`tf.function`, `predict`, a SavedModel):
      assertions, so `InvalidArgumentError` with the rule and the values'
      range; they run before the embedding gathers.
    - XLA (`jit_compile=True`, which drops assertions) and `jax.jit`: the
      NaN `status`.

    Args:
        vocabulary_size: token ids must be in `[0, vocabulary_size)`.
        num_segments: segment ids must be in `[0, num_segments)`; 0 for a
            model without `segment_ids`.
        model_name: named in the messages.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> layer = InputValidation(vocabulary_size=10, num_segments=2)
    >>> out = layer({"token_ids": np.array([[1, 2]]),
    ...              "padding_mask": np.array([[1, 1]])})
    >>> keras.ops.convert_to_numpy(out["status"]).tolist()
    [1.0]
    >>> try:
    ...     layer({"token_ids": np.array([[1, 12]]),
    ...            "padding_mask": np.array([[1, 1]])})
    ... except ValueError as error:
    ...     print("token_ids[0, 1]=12" in str(error))
    True
    """

    def __init__(
        self, vocabulary_size, num_segments=0, model_name="The model", **kwargs
    ):
        checks.positive_int("vocabulary_size", vocabulary_size)
        checks.non_negative_int("num_segments", num_segments)
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_segments = num_segments
        self.model_name = model_name
        self.rules = model_input_rules(
            model_name, vocabulary_size, num_segments
        )

    def call(self, inputs):
        inputs = {k: v for k, v in inputs.items() if v is not None}
        token_ids = inputs["token_ids"]
        segment_ids = inputs.get("segment_ids")
        concrete = {k: checks.concrete_value(v) for k, v in inputs.items()}
        if all(v is not None for v in concrete.values()):
            self.rules.check_structure(concrete)
            self.rules.check_arrays(concrete)
        elif keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.control_dependencies(self.rules.tf_assertions(inputs)):
                token_ids = tf.identity(token_ids)
                if segment_ids is not None:
                    segment_ids = tf.identity(segment_ids)
        valid = self.rules.valid_examples(inputs)
        status = ops.where(valid, 1.0, float("nan"))
        outputs = {"token_ids": token_ids, "status": status}
        if self.num_segments:
            if segment_ids is None:
                segment_ids = ops.zeros_like(token_ids)
            outputs["segment_ids"] = segment_ids
        return outputs

    def compute_output_spec(self, inputs):
        token_ids = inputs["token_ids"]
        outputs = {
            "token_ids": keras.KerasTensor(token_ids.shape, token_ids.dtype),
            "status": keras.KerasTensor(token_ids.shape[:1], "float32"),
        }
        if self.num_segments:
            outputs["segment_ids"] = keras.KerasTensor(
                token_ids.shape, token_ids.dtype
            )
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "num_segments": self.num_segments,
                "model_name": self.model_name,
            }
        )
        return config


def model_input_rules(model_name, vocabulary_size, num_segments):
    """The `InputRules` of an encoder's inputs."""
    values = [
        ValueRule(
            "token_ids", 0, vocabulary_size,
            f"vocabulary_size={vocabulary_size}",
        ),
        ValueRule("padding_mask", 0, 2, "0 for padding, 1 for tokens"),
        ValueRule("global_mask", 0, 2, "1 for global tokens"),
    ]
    optional = ["global_mask"]
    if num_segments:
        values.append(
            ValueRule(
                "segment_ids", 0, num_segments, f"num_segments={num_segments}"
            )
        )
        optional.insert(0, "segment_ids")
    return InputRules(
        model_name, ("token_ids", "padding_mask"), optional, values
    )
