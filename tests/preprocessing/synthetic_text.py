"""Generated text for the preprocessing and data tests: no downloads."""

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def pseudo_words(count, seed=0):
    """`count` distinct lowercase pseudo-words of 2 to 9 letters."""
    rng = np.random.default_rng(seed)
    words = set()
    while len(words) < count:
        size = int(rng.integers(2, 10))
        words.add("".join(rng.choice(list(LETTERS), size)))
    return sorted(words)


def documents(lengths, words, seed=0, first_mark=None):
    """One document a length: that many words drawn from `words`.

    Sentences of 5 to 20 words end with a period and a line break, so the
    text has punctuation and lines as real documents do. With `first_mark`
    an int, document `i` starts with the word `d<first_mark + i>` (one of
    its `length` words), which tells the tests where a document went.
    """
    rng = np.random.default_rng(seed)
    result = []
    for index, length in enumerate(lengths):
        drawn = rng.choice(words, int(length))
        if first_mark is not None:
            drawn[0] = f"d{first_mark + index}"
        lines, start = [], 0
        while start < len(drawn):
            stop = start + int(rng.integers(5, 21))
            lines.append(" ".join(drawn[start:stop]) + " .")
            start = stop
        result.append("\n".join(lines))
    return result


def log_uniform_lengths(count, low, high, seed=0):
    """`count` lengths spread evenly in log scale over `[low, high]`."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(np.log(low), np.log(high), count)).astype(int)
