"""Attention graphs as objects: which keys each query attends (BigBird's N(i)).

Every pattern is a Keras-serializable `AttentionPattern`; `a | b` is the
union of two. `BlockSparseAttention(pattern=...)` runs any of them.
"""

from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.patterns.attention_pattern import get
from keras_bigbird.patterns.attention_pattern import serialize
from keras_bigbird.patterns.block_adjacency import block_adjacency
from keras_bigbird.patterns.bigbird_pattern import BigBirdPattern
from keras_bigbird.patterns.block_layout_pattern import BlockLayoutPattern
from keras_bigbird.patterns.function_pattern import FunctionPattern
from keras_bigbird.patterns.original_bigbird_pattern import (
    OriginalBigBirdPattern,
)
from keras_bigbird.patterns.union_pattern import UnionPattern
from keras_bigbird.patterns.window_pattern import WindowPattern
