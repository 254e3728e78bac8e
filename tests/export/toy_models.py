"""Small models and a text preprocessor to export in the tests.

Built from BigBirdAttention and stock Keras layers only (so a `.keras` file
of them loads in a fresh process), with the inputs and outputs of the
package's encoder and classifier: `token_ids`, `padding_mask` and optionally
`segment_ids` in; `logits`, or `sequence_output` and `pooled_output`, out.
"""

import keras

from keras_bigbird.layers.bigbird_attention import BigBirdAttention
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "a", "cat", "dog", "sat", "on", "mat", "and", "ran", "far",
    "##s", "##ed", "big", "bird", "reads", "long", "text", ".",
]
VOCABULARY_SIZE = len(VOCABULARY)
MAX_SEQUENCE_LENGTH = 64
BLOCK_SIZE = 4
HIDDEN = 16


def _inputs(with_segments):
    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((None,), dtype="int32", name="padding_mask"),
    }
    if with_segments:
        inputs["segment_ids"] = keras.Input(
            (None,), dtype="int32", name="segment_ids"
        )
    return inputs


def _encode(inputs, seed):
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
            name=f"attention_{i}",
        )
        x = keras.layers.LayerNormalization(name=f"norm_{i}")(
            x + attention(x, padding_mask=inputs["padding_mask"])
        )
    return x


def classifier(num_classes=3, with_segments=False, seed=0):
    """Embedding, two BigBirdAttention blocks, masked mean, Dense logits."""
    keras.utils.set_random_seed(seed)
    inputs = _inputs(with_segments)
    x = _encode(inputs, seed)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(
        x, mask=inputs["padding_mask"]
    )
    logits = keras.layers.Dense(num_classes, name="logits")(pooled)
    return keras.Model(inputs, logits, name="toy_classifier")


def encoder(with_segments=True, seed=1):
    """The encoder's outputs: `sequence_output` and `pooled_output`."""
    keras.utils.set_random_seed(seed)
    inputs = _inputs(with_segments)
    x = _encode(inputs, seed)
    first = keras.layers.Lambda(lambda t: t[:, 0], name="first_token")(x)
    pooled = keras.layers.Dense(HIDDEN, activation="tanh", name="pooler")(first)
    return keras.Model(
        inputs,
        {"sequence_output": x, "pooled_output": pooled},
        name="toy_encoder",
    )


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
