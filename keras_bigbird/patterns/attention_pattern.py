"""`AttentionPattern`: the base of every attention graph (the N(i) of BigBird)."""

import keras
import numpy as np
from keras import ops

from keras_bigbird.ops.random_pattern import NUMPY


def to_numpy_namespace(blocks, valid, xp):
    """`(blocks, valid)` as arrays of `xp` (numpy or `keras.ops`)."""
    if xp is NUMPY:
        return np.asarray(ops.convert_to_numpy(blocks)), np.asarray(
            ops.convert_to_numpy(valid)
        )
    return ops.convert_to_tensor(blocks), ops.convert_to_tensor(valid)


class AttentionPattern:
    """Which key blocks each query block attends, per head.

    A pattern is a Keras-serializable object: it lives in a layer's
    `get_config()`, in `.keras` files and in exports. Subclasses implement
    `key_blocks` (and `global_blocks` for query blocks that attend every
    key) once, against `xp` (numpy or `keras.ops`), so that the same code
    gives numpy constants for static lengths and graph ops where the number
    of blocks is symbolic. The layer turns them into a `BlockGraph` per
    batch (see `keras_bigbird.ops.block_graph`).

    Patterns compose: `a | b` attends the keys of both.

    Attributes:
        per_example: whether `key_blocks` reads each example's number of
            real blocks (so the graph does not depend on how far the batch
            is padded).
        repeats_keys: whether a row may list one key block twice (it is
            then attended twice, as in the original BigBird code).
    """

    per_example = False
    repeats_keys = False

    def key_blocks(
        self,
        num_blocks,
        num_heads,
        *,
        block_size,
        seed,
        real_blocks=None,
        causal=False,
        xp=ops,
    ):
        """The key blocks of every query block: `(blocks, valid)`.

        Args:
            num_blocks: int, or a scalar int32 tensor with `xp=keras.ops`:
                the padded number of blocks.
            num_heads: int.
            block_size: int.
            seed: int in `[0, 2**31)`, the layer's seed.
            real_blocks: None, or int32 `[batch]`: each example's number of
                real blocks (only passed when `per_example`).
            causal: the layer masks keys after each query; a pattern may
                use it to spend its slots on earlier blocks.
            xp: `keras.ops` or `keras_bigbird.ops.random_pattern.NUMPY`.

        Returns:
            int32 and bool `[batch or 1, num_heads, num_blocks, slots]`,
            with a static number of slots. Invalid slots hold any block in
            `[0, num_blocks)` and get zero weight.
        """
        raise NotImplementedError

    def global_blocks(self, num_blocks, *, block_size, real_blocks=None, xp=ops):
        """Query blocks that attend every key: `(blocks, valid)` or None.

        int32 and bool `[batch or 1, count]` with a static count.
        """
        return None

    def full_attention(self, num_blocks, block_size):
        """Whether every query attends every key at this number of blocks.

        A Python bool, or a bool tensor for a symbolic `num_blocks`.
        """
        return False

    def layer_seed(self, seed, index):
        """The seed of layer `index` of an encoder seeded with `seed`: its
        own pattern per layer."""
        from keras_bigbird.utils import seeds

        return seeds.derive(seed, index)

    def __or__(self, other):
        from keras_bigbird.patterns.union_pattern import UnionPattern

        return UnionPattern([self, other])

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and keras.saving.serialize_keras_object(
            self
        ) == keras.saving.serialize_keras_object(other)

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def get(identifier):
    """A pattern from an `AttentionPattern`, its serialized dict, or None
    (the default `BigBirdPattern()`)."""
    from keras_bigbird.patterns.bigbird_pattern import BigBirdPattern

    if identifier is None:
        return BigBirdPattern()
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, AttentionPattern):
        raise ValueError(
            "Received an invalid value for argument `pattern`, expected an "
            "`AttentionPattern` (e.g. `keras_bigbird.patterns."
            f"BigBirdPattern()`) or its config. Received: pattern={identifier!r}"
        )
    return identifier


def serialize(pattern):
    return keras.saving.serialize_keras_object(pattern)
