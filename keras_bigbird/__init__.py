"""keras_bigbird: BigBird block-sparse attention for Keras 3.

Importing it registers every class a `.keras` file may name (layers,
models, patterns, preprocessing, the converted models of `convert`), so
`import keras_bigbird; keras.saving.load_model(path)` loads any of them.
The `keras-bigbird` console script imports it lazily instead: see
`keras_bigbird._exports`.
"""

from keras_bigbird import _exports
from keras_bigbird.version import __version__

_exports.exports(
    globals(),
    # `convert` and `preprocessing` register the converted models' and the
    # preprocessors' classes, which a saved model may hold.
    submodules=[
        "convert",
        "layers",
        "models",
        "ops",
        "patterns",
        "preprocessing",
    ],
    names={"plot_attention_graph": ".patterns.plot"},
    # tensorflow-text: absent from a JAX-only install, which has no
    # preprocessing (see benchmarks/device_check.sh).
    needs_tensorflow=["preprocessing"],
)
