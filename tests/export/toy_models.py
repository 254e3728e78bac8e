"""Small models and a text preprocessor to export in the tests.

`bigbird_encoder` and `bigbird_classifier` are the package's models in a
tiny configuration. `classifier` is a plain functional model built from
BigBirdAttention and stock Keras layers with the same inputs (`token_ids`,
`padding_mask`, optionally `segment_ids`) and a logits output: the export
takes any model of that shape.
"""

import keras

from keras_bigbird.layers.bigbird_attention import BigBirdAttention
from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.models import BigBirdEncoder
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer

# fmt: off
VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "a", "cat", "dog", "sat", "on", "mat", "and", "ran", "far",
    "##s", "##ed", "big", "bird", "reads", "long", "text", ".",
]
# fmt: on
VOCABULARY_SIZE = len(VOCABULARY)
MAX_SEQUENCE_LENGTH = 64
BLOCK_SIZE = 4
HIDDEN = 16


def _inputs(with_segments):
    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input(
            (None,), dtype="int32", name="padding_mask"
        ),
    }
    if with_segments:
        inputs["segment_ids"] = keras.Input(
            (None,), dtype="int32", name="segment_ids"
        )
    return inputs


def _encode(inputs, seed, random_pattern):
    x = keras.layers.Embedding(VOCABULARY_SIZE, HIDDEN, name="token_embedding")(
        inputs["token_ids"]
    )
    if "segment_ids" in inputs:
        x = x + keras.layers.Embedding(2, HIDDEN, name="segment_embedding")(
            inputs["segment_ids"]
        )
    for i in range(2):
        attention = BigBirdAttention(
            num_heads=2,
            key_dim=8,
            block_size=BLOCK_SIZE,
            num_random_blocks=1,
            seed=seed + i,
            random_pattern=random_pattern,
            max_sequence_length=MAX_SEQUENCE_LENGTH,
            name=f"attention_{i}",
        )
        x = keras.layers.LayerNormalization(name=f"norm_{i}")(
            x + attention(x, padding_mask=inputs["padding_mask"])
        )
    return x


def classifier(
    num_classes=3, with_segments=False, seed=0, random_pattern="hashed"
):
    """Embedding, two BigBirdAttention blocks, masked mean, Dense logits."""
    keras.utils.set_random_seed(seed)
    inputs = _inputs(with_segments)
    x = _encode(inputs, seed, random_pattern)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(
        x, mask=inputs["padding_mask"]
    )
    logits = keras.layers.Dense(num_classes, name="logits")(pooled)
    return keras.Model(inputs, logits, name="toy_classifier")


def bigbird_encoder(seed=0):
    """A 2-layer BigBirdEncoder: blocks of 4, 1 random block, 2 segments."""
    keras.utils.set_random_seed(seed)
    return BigBirdEncoder(
        vocabulary_size=VOCABULARY_SIZE,
        num_layers=2,
        num_heads=2,
        hidden_dim=HIDDEN,
        intermediate_dim=2 * HIDDEN,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        block_size=BLOCK_SIZE,
        num_random_blocks=1,
        num_segments=2,
        seed=seed,
    )


def bigbird_classifier(num_classes=3, seed=0):
    """A BigBirdClassifier (logits) on `bigbird_encoder(seed)`."""
    return BigBirdClassifier(bigbird_encoder(seed), num_classes=num_classes)


def preprocessor(max_sequence_length=32, padding="block"):
    """The package's WordPiece tokenizer and BlockPacker, as a list."""
    tokenizer = WordPieceTokenizer(VOCABULARY, lowercase=True)
    packer = BlockPacker.from_tokenizer(
        tokenizer,
        max_sequence_length=max_sequence_length,
        block_size=BLOCK_SIZE,
        padding=padding,
    )
    return [tokenizer, packer]


def plain_classifier(num_classes=3, activation=None, seed=0):
    """No attention: an embedding, a masked mean and a dense layer; the
    cheapest user model of the export's input shape (no serving facts)."""
    keras.utils.set_random_seed(seed)
    inputs = _inputs(with_segments=False)
    x = keras.layers.Embedding(VOCABULARY_SIZE, HIDDEN)(inputs["token_ids"])
    x = keras.layers.GlobalAveragePooling1D()(x, mask=inputs["padding_mask"])
    outputs = keras.layers.Dense(num_classes, activation=activation)(x)
    return keras.Model(inputs, outputs, name="plain_classifier")
