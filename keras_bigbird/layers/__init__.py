"""Keras layers: attention, encoder blocks, embeddings."""

from keras_bigbird.layers.bigbird_attention import BigBirdAttention
