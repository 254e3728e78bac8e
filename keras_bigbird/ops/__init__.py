"""Pure functions: block-sparse attention math and the BigBird block graph."""

from keras_bigbird.ops.block_sparse import block_sparse_attention
from keras_bigbird.ops.block_sparse import dense_attention
from keras_bigbird.ops.block_sparse import attend
from keras_bigbird.ops.random_pattern import attention_graph
from keras_bigbird.ops.random_pattern import block_graph
from keras_bigbird.ops.random_pattern import key_block_table
from keras_bigbird.ops.random_pattern import random_blocks
