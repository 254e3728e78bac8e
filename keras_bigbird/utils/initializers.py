"""`clone_initializer`: a fresh copy of an initializer for each sublayer."""

import keras


def clone_initializer(initializer):
    """A new instance with the same config, so that sublayers sharing one
    initializer argument still get different weights (as keras-hub does)."""
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())
