"""Keras layers: attention, encoder blocks, embeddings."""

from keras_bigbird.layers.bigbird_attention import BigBirdAttention
from keras_bigbird.layers.bigbird_embedding import BigBirdEmbedding
from keras_bigbird.layers.bigbird_encoder_block import BigBirdEncoderBlock
from keras_bigbird.layers.block_sparse_attention import BlockSparseAttention
from keras_bigbird.layers.global_token_mask import GlobalTokenMask
from keras_bigbird.layers.sliding_window_attention import SlidingWindowAttention
from keras_bigbird.layers.input_validation import InputRules
from keras_bigbird.layers.input_validation import InputValidation
from keras_bigbird.layers.input_validation import ValueRule
