"""A generated long-document task: one sentence, deep in, sets the label.

For smoke runs of `keras-bigbird train` and its tests, with no download.
Each document is 300 to 3000 words of filler (pseudo-words drawn with a
Zipf law from 20000 words of 1 to 4 syllables, in sentences of 5 to 20 words) with one planted sentence 200 to
700 words in whose adjective gives the label ("positive" or "negative").
Nothing else in the document carries the label, so a model must find that
sentence: its start is often past the 512 tokens of a dense encoder.

Example:

>>> from keras_bigbird.training import synthetic
>>> texts, labels = synthetic.planted_sentence_task(4, seed=1)
>>> labels
['positive', 'positive', 'negative', 'negative']
>>> all(300 <= len(text.split()) - text.count(".") <= 3000 for text in texts)
True
>>> path = synthetic.write_csv("planted.csv", 400, seed=1)  # doctest: +SKIP

then `keras-bigbird train --data planted.csv --output-dir runs/planted`.
"""

import csv
import os

import numpy as np

LABELS = ("negative", "positive")
# The planted sentence's adjective, by label; filler never uses these.
ADJECTIVES = {
    "negative": ("dreadful", "tedious", "clumsy", "awful"),
    "positive": ("wonderful", "superb", "moving", "delightful"),
}
TEMPLATE = "all in all the story was {} ."

# Words of 1 to 4 syllables: subword tokenizers split them as they split
# English words (SentencePiece, 8000 pieces trained on 400 documents:
# about 2 pieces a word), unlike random letters (3 to 4).
_SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
_SYLLABLES += [c + v + "n" for c in "bdgklmst" for v in "aeiou"]


def _filler_words(count, rng):
    reserved = {w for words in ADJECTIVES.values() for w in words}
    reserved |= set(TEMPLATE.split())
    words = set()
    while len(words) < count:
        size = int(rng.choice([1, 2, 2, 3, 3, 4, 4]))
        word = "".join(rng.choice(_SYLLABLES, size))
        if word not in reserved:
            words.add(word)
    words = np.array(sorted(words))
    rng.shuffle(words)  # Zipf ranks: not alphabetical
    return words


def planted_sentence_task(
    count,
    *,
    seed=0,
    words=(300, 3000),
    position=(200, 700),
    vocabulary=20000,
):
    """`count` documents and their labels, half of each label.

    Args:
        count: number of documents.
        seed: the documents and labels are a function of `seed` alone.
        words: the range of filler words a document (log-uniform).
        position: the range of filler words before the planted sentence
            (at most the document's length).
        vocabulary: distinct filler words.

    Returns:
        `(texts, labels)`: lists of strings; labels are `LABELS`' names.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(
            "Received an invalid value for argument `count`, expected an "
            f"integer >= 1. Received: count={count!r}"
        )
    low, high = words
    if not (0 < position[0] <= position[1] and 0 < low <= high) or (
        position[0] > low
    ):
        raise ValueError(
            "Received invalid ranges: expected 0 < position[0] <= "
            "position[1], 0 < words[0] <= words[1] and position[0] <= "
            "words[0]. Received: "
            f"words={words!r}, position={position!r}"
        )
    rng = np.random.default_rng(seed)
    filler = _filler_words(vocabulary, rng)
    weights = 1.0 / np.arange(1, vocabulary + 1)  # Zipf, as in real text
    weights /= weights.sum()
    labels = rng.permutation([LABELS[i % 2] for i in range(count)]).tolist()
    lengths = np.exp(rng.uniform(np.log(low), np.log(high), count))
    texts = []
    for label, length in zip(labels, lengths.astype(int)):
        drawn = list(rng.choice(filler, length, p=weights))
        # Within the document: a 300-word one has it 200 to 300 words in.
        at = int(rng.integers(position[0], min(position[1], length) + 1))
        sentence = TEMPLATE.format(rng.choice(ADJECTIVES[label]))
        texts.append(_sentences(drawn[:at], rng) + [sentence])
        texts[-1] += _sentences(drawn[at:], rng)
        texts[-1] = "\n".join(texts[-1])
    return texts, labels


def _sentences(words, rng):
    lines, start = [], 0
    while start < len(words):
        stop = start + int(rng.integers(5, 21))
        lines.append(" ".join(words[start:stop]) + " .")
        start = stop
    return lines


def write_csv(path, count, *, seed=0, **options):
    """Writes `planted_sentence_task(count, seed=seed, **options)` as a CSV
    with `text` and `label` columns (`train`'s default column names);
    returns `path`."""
    texts, labels = planted_sentence_task(count, seed=seed, **options)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path
