"""Shared behaviour of the functional models: optional inputs, configs."""

import keras

from keras_bigbird.layers.input_validation import InputRules
from keras_bigbird.models import checked_data
from keras_bigbird.utils import checks

# The keyword arguments Keras' functional `keras.Model` constructor uses
# (`Functional.__init__` reads `name` and `trainable` and silently drops
# anything else, `dtype` included, which `FunctionalModel` handles itself).
MODEL_KWARGS = ("name", "trainable")


def check_model_kwargs(cls_name, kwargs):
    """Raises for keyword arguments that `keras.Model` would drop silently.

    As Keras layers do: `ValueError("Unrecognized keyword arguments passed
    to X: {...}")`, so a misspelled argument (`num_layer=1`) is an error
    rather than a default model.
    """
    unknown = {k: v for k, v in kwargs.items() if k not in MODEL_KWARGS}
    if unknown:
        raise ValueError(
            f"Unrecognized keyword arguments passed to {cls_name}: {unknown}"
        )


try:
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope
except ImportError:  # Keras moved it: check dtypes everywhere.

    def in_symbolic_scope():
        return False


def _in_keras_symbolic_build():
    return in_symbolic_scope()


class FunctionalModel(keras.Model):
    """A functional `keras.Model` built in `__init__` from its config.

    Subclasses build their graph in `__init__`, store every argument and
    return them from `get_config()`; `from_config` calls the constructor.
    Inputs made with `keras.Input(..., optional=True)` may be left out of
    the input dict (also in `fit`/`predict` on a `tf.data` dataset); they
    are then passed as None to the graph.

    The constructor takes `inputs`, `outputs`, `dtype` and the keyword
    arguments of `keras.Model` that functional models honour (`name`,
    `trainable`); any other keyword argument raises a `ValueError`. `dtype`
    becomes the model's own `dtype_policy` (as keras-hub's `Backbone` does),
    which Keras' functional constructor would otherwise leave at the global
    policy: it is what `get_config()` saves and what `compile()` reads to
    add loss scaling under `"mixed_float16"`.
    """

    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        check_model_kwargs(type(self).__name__, kwargs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

    @property
    def optional_inputs(self):
        """Names of the inputs that may be left out of the input dict."""
        expected = self.input
        if not isinstance(expected, dict):
            return ()
        return tuple(
            name
            for name, tensor in expected.items()
            if getattr(tensor._keras_history[0], "optional", False)
        )

    @property
    def input_rules(self):
        """The `InputRules` of the model's input dict: its names (required
        and optional) and `value_rules()`."""
        if not isinstance(self.input, dict):
            return None
        optional = self.optional_inputs
        required = tuple(n for n in self.input if n not in optional)
        values = [r for r in self.value_rules() if r.name in self.input]
        return InputRules(type(self).__name__, required, optional, values)

    def value_rules(self):
        """The `ValueRule`s of the inputs (ids, masks); none by default."""
        return ()

    def label_rules(self):
        """The `ValueRule`s of integer labels in `fit`/`evaluate` (named
        after the outputs, or `"labels"` for a single output)."""
        return ()

    def _check_inputs(self, inputs):
        rules = self.input_rules
        if rules is None:
            return
        # Keras' own symbolic build under a `tf.distribute` strategy traces
        # the model on the MEAN of the replicas' first batch: float64 ids.
        present = rules.check_structure(
            inputs, dtypes=not _in_keras_symbolic_build()
        )
        arrays = {k: checks.concrete_value(v) for k, v in present.items()}
        if all(v is not None for v in arrays.values()):
            rules.check_arrays(arrays)

    def _with_optional_inputs(self, inputs):
        if isinstance(inputs, dict) and isinstance(self.input, dict):
            missing = [
                name for name in self.optional_inputs if name not in inputs
            ]
            if missing:
                inputs = dict(inputs, **{name: None for name in missing})
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        # Before Keras matches dict entries by sorted position and casts
        # them to the inputs' dtypes.
        self._check_inputs(inputs)
        return super().__call__(
            self._with_optional_inputs(inputs), *args, **kwargs
        )

    def call(self, inputs, training=None, mask=None, **kwargs):
        # `stateless_call` (the JAX trainer) calls `call` directly. The
        # signature names `training`: Keras passes `training=True` in
        # `fit` only to models whose `call` declares it.
        self._check_inputs(inputs)
        return super().call(
            self._with_optional_inputs(inputs),
            training=training,
            mask=mask,
            **kwargs,
        )

    def compute_output_spec(self, inputs, training=None, mask=None):
        # A symbolic call (the model nested in another functional model)
        # without an optional input: Keras' functional shortcut reads the
        # shape of every input, None included. The output spec does not
        # depend on the optional inputs' values, so stand-ins of their
        # declared spec serve; the call itself passes None on at run time.
        inputs = self._with_optional_inputs(inputs)
        if isinstance(inputs, dict):
            inputs = {
                name: (
                    keras.KerasTensor(
                        self.input[name].shape, dtype=self.input[name].dtype
                    )
                    if value is None and name in self.optional_inputs
                    else value
                )
                for name, value in inputs.items()
            }
        return super().compute_output_spec(inputs, training=training, mask=mask)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        x, y = checked_data.checked(self, x, y, "fit")
        if validation_data is not None:
            validation_data = checked_data.checked_validation(
                self, validation_data
            )
        return super().fit(
            x, y, *args, validation_data=validation_data, **kwargs
        )

    def evaluate(self, x=None, y=None, *args, **kwargs):
        x, y = checked_data.checked(self, x, y, "evaluate")
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        x, _ = checked_data.checked(self, x, None, "predict")
        return super().predict(x, *args, **kwargs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
