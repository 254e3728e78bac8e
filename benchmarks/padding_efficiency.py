"""Padding efficiency (real tokens / computed tokens) of the input pipeline.

    python benchmarks/padding_efficiency.py

Synthetic documents with log-uniform lengths (20 to 3800 tokens) are packed
for `max_sequence_length=4096`, `block_size=64` three ways: padded to the
maximum, padded to each batch's longest (rounded up to a block), and
bucketed by length.
"""

import argparse

import numpy as np
import tensorflow as tf

from keras_bigbird.data import batch_long_text
from keras_bigbird.data import padding_efficiency
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(1000)]
    tokenizer = WordPieceTokenizer(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    )
    lengths = np.exp(rng.uniform(np.log(20), np.log(3800), args.documents))
    texts = [" ".join(rng.choice(words, int(n))) for n in lengths]
    docs = tf.data.Dataset.from_tensor_slices(texts)
    to_block = BlockPacker.from_tokenizer(tokenizer, 4096, block_size=64)
    to_max = BlockPacker.from_tokenizer(
        tokenizer, 4096, block_size=64, padding="max_length"
    )
    print(f"{'batch':>5} {'pad to max':>11} {'batch longest':>14} {'bucketed':>9}")
    for batch_size in args.batch_sizes:
        def efficiency(packer, bucketing):
            return padding_efficiency(
                batch_long_text(
                    docs, tokenizer, packer, batch_size=batch_size,
                    bucketing=bucketing, shuffle=True, seed=0,
                )
            )

        print(
            f"{batch_size:>5} {efficiency(to_max, False):>11.3f} "
            f"{efficiency(to_block, False):>14.3f} "
            f"{efficiency(to_block, True):>9.3f}"
        )


if __name__ == "__main__":
    main()
