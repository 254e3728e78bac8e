"""keras_bigbird: BigBird block-sparse attention for Keras 3."""

# `convert` registers the converted models' classes for `.keras` loading.
from keras_bigbird import convert
from keras_bigbird import layers
from keras_bigbird import models
from keras_bigbird import ops
from keras_bigbird import patterns
from keras_bigbird.patterns.plot import plot_attention_graph
from keras_bigbird.version import __version__
