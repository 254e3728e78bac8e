"""Pure functions: block-sparse attention math and the pattern tables."""

from keras_bigbird.ops.block_graph import BlockGraph
from keras_bigbird.ops.block_graph import build_block_graph
from keras_bigbird.ops.block_sparse import attend
from keras_bigbird.ops.block_sparse import block_sparse_attention
from keras_bigbird.ops.block_sparse import dense_attention
from keras_bigbird.ops.block_sparse import dense_mask
from keras_bigbird.ops.random_pattern import bigbird_global_blocks
from keras_bigbird.ops.random_pattern import bigbird_key_blocks
