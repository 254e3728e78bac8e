"""Draws the attention-graph pictures the README shows (docs/*.png).

    python docs/attention_graphs.py
"""

import os

import numpy as np

import keras_bigbird
from keras_bigbird.patterns import BigBirdPattern
from keras_bigbird.patterns import FunctionPattern
from keras_bigbird.patterns import WindowPattern

HERE = os.path.dirname(os.path.abspath(__file__))


def strided(head, query, key, num_blocks):
    """Every 4th block, as in the Sparse Transformer's fixed pattern."""
    return key % 4 == 3


def main():
    keras_bigbird.plot_attention_graph(
        BigBirdPattern(num_random_blocks=2), 512, os.path.join(HERE, "bigbird_pattern.png"),
        block_size=32, seed=3,
        title="BigBirdPattern(num_random_blocks=2): 512 tokens, blocks of 32",
    )
    global_mask = np.zeros(512, bool)
    global_mask[300:310] = True  # e.g. a question inside the document
    keras_bigbird.plot_attention_graph(
        WindowPattern(3, dilation=2) | FunctionPattern(strided, max_key_blocks=4),
        512, os.path.join(HERE, "custom_pattern.png"), block_size=32,
        global_mask=global_mask,
        title="WindowPattern(3, dilation=2)\n| FunctionPattern(every 4th block)"
        "\n+ 10 global tokens",
    )


if __name__ == "__main__":
    main()
