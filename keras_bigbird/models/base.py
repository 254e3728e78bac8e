"""Shared behaviour of the functional models: optional inputs, configs."""

import keras


class FunctionalModel(keras.Model):
    """A functional `keras.Model` built in `__init__` from its config.

    Subclasses build their graph in `__init__`, store every argument and
    return them from `get_config()`; `from_config` calls the constructor.
    Inputs listed in `OPTIONAL_INPUTS` may be left out of the input dict
    (also in `fit`/`predict` on a `tf.data` dataset); they are then passed as
    None to the graph.
    """

    OPTIONAL_INPUTS = ()

    def _with_optional_inputs(self, inputs):
        expected = self.input
        if isinstance(inputs, dict) and isinstance(expected, dict):
            missing = [
                name
                for name in self.OPTIONAL_INPUTS
                if name in expected and name not in inputs
            ]
            if missing:
                inputs = dict(inputs, **{name: None for name in missing})
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        # Before Keras checks the inputs against the model's inputs.
        return super().__call__(
            self._with_optional_inputs(inputs), *args, **kwargs
        )

    def call(self, inputs, training=None, mask=None, **kwargs):
        # `stateless_call` (the JAX trainer) calls `call` directly. The
        # signature names `training`: Keras passes `training=True` in
        # `fit` only to models whose `call` declares it.
        return super().call(
            self._with_optional_inputs(inputs),
            training=training,
            mask=mask,
            **kwargs,
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)
