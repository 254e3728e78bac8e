"""Generated long-range tasks for `benchmarks/long_range.py` (no downloads).

Each task is a function `(count, length, rng) -> Examples`: token ids
(`[count, length]`, 0 is padding), labels, and a `global_mask` marking
the tokens the task names as its question (used by the "BigBird with
global tokens" model; zeros where a task has no question). Token ids 0, 1
and 2 are `[PAD]`, `[CLS]` and `[SEP]` in every task; every sequence
starts with `[CLS]`.

- `listops`: ListOps (Nangia & Bowman, 2018) in the Long Range Arena's form
  (Tay et al., 2021): nested `[MIN`, `[MAX`, `[MED`, `[SM` (sum modulo
  10) over digits, closed by `]`; the label is the value, 10 classes. The
  tree is drawn as LRA's generator draws it (a value with probability
  0.25 below the maximum depth, else an operator on 2 to `max_args`
  arguments) and redrawn until its length fits.
- `retrieval`: `[CLS] doc1 [SEP] doc2 [SEP]`, by concatenation (one
  encoder sees both documents, so attention can compare them; LRA's
  retrieval uses a dual encoder). Each document holds one marked key
  (`[KEY] k`) and unmarked distractor keys from the same set; the label is
  whether the two marked keys are equal. A bag of tokens cannot tell the
  marked keys from the distractors.
- `needle`: `[CLS] q [SEP]` then filler in which the pair `(q, v)` (the
  needle, one token of `NEEDLE_KEYS * NEEDLE_VALUES`) appears exactly once
  and pairs `(k, v')` with other keys distract; the label is `v`, 10
  classes. The question `q` is the global token. One token a pair: with
  `q` and `v` as two adjacent tokens, binding `v` to the `q` before it
  needs a "previous token" attention, which learned absolute position
  embeddings must learn position by position; no model, dense included,
  left chance (0.105-0.110) in 250 steps at 512 tokens. A pair token is
  found by content alone: one hop from `q`.
- `genomics`: random bases cut into non-overlapping 3-mer tokens, a
  promoter-like rule: the label is 1 when a `TTGACA` box (-35) is followed
  by a `TATAAT` box (-10) after a spacer of 16 to 18 bases, as in
  bacterial promoters; negatives hold the same boxes with a spacer
  outside 12..22, the boxes swapped, or one box only. The boxes fall in
  any of the 3 reading frames.

Example:

>>> import numpy as np
>>> examples = listops(4, 128, np.random.default_rng(0))
>>> examples.token_ids.shape, examples.labels.shape
((4, 128), (4,))
"""

import collections
import itertools

import numpy as np

PAD, CLS, SEP = 0, 1, 2
Examples = collections.namedtuple(
    "Examples", ["token_ids", "labels", "global_mask"]
)


def _pack(sequences, labels, length, global_positions=None):
    """Pads `sequences` (lists of ids, `[CLS]` first) to `length`."""
    token_ids = np.zeros((len(sequences), length), np.int32)
    global_mask = np.zeros((len(sequences), length), np.int32)
    for row, sequence in enumerate(sequences):
        if len(sequence) > length:
            raise ValueError(
                f"A generated sequence of {len(sequence)} tokens exceeds "
                f"length={length}."
            )
        token_ids[row, : len(sequence)] = sequence
        for position in (global_positions or [[]] * len(sequences))[row]:
            global_mask[row, position] = 1
    return Examples(token_ids, np.asarray(labels, np.int32), global_mask)


# === ListOps ===

LISTOPS_OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
LISTOPS_VOCABULARY = (
    ["[PAD]", "[CLS]", "[SEP]"]
    + [str(d) for d in range(10)]
    + list(LISTOPS_OPERATORS)
    + ["]"]
)
_LISTOPS_ID = {token: i for i, token in enumerate(LISTOPS_VOCABULARY)}


class _TooLong(Exception):
    pass


def _listops_tree(rng, depth, max_depth, max_args, budget):
    """LRA's `generate_tree`: a digit with probability 0.75 (always at
    `max_depth`), else `(operator, [2..max_args subtrees])`. `budget` is a
    one-item list of tokens left: a tree past it is abandoned early (it
    would be rejected for its length anyway)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLong
    if depth >= max_depth or rng.random() > 0.25:
        return int(rng.integers(10))
    budget[0] -= 1
    arguments = int(rng.integers(2, max_args + 1))
    return (
        LISTOPS_OPERATORS[int(rng.integers(4))],
        [
            _listops_tree(rng, depth + 1, max_depth, max_args, budget)
            for _ in range(arguments)
        ],
    )


def _listops_tokens(tree):
    if isinstance(tree, int):
        return [str(tree)]
    operator, arguments = tree
    tokens = [operator]
    for argument in arguments:
        tokens += _listops_tokens(argument)
    return tokens + ["]"]


def _listops_value(tree):
    if isinstance(tree, int):
        return tree
    operator, arguments = tree
    values = [_listops_value(a) for a in arguments]
    if operator == "[MIN":
        return min(values)
    if operator == "[MAX":
        return max(values)
    if operator == "[MED":
        return int(np.median(values))
    return sum(values) % 10


def listops(count, length, rng, min_tokens=None, max_depth=10, max_args=10):
    """ListOps expressions of `min_tokens` (default `length // 4`) to
    `length - 1` tokens; labels are their values. The global tokens are the
    root's operator and its direct arguments' operators (depth <= 1)."""
    min_tokens = length // 4 if min_tokens is None else min_tokens
    sequences, labels, global_positions = [], [], []
    while len(sequences) < count:
        try:
            tree = _listops_tree(rng, 0, max_depth, max_args, [length - 1])
        except _TooLong:
            continue
        if isinstance(tree, int):
            continue
        tokens = _listops_tokens(tree)
        if not min_tokens <= len(tokens) <= length - 1:
            continue
        sequences.append([CLS] + [_LISTOPS_ID[t] for t in tokens])
        labels.append(_listops_value(tree))
        depth, marked = 0, []
        for position, token in enumerate(tokens, start=1):
            if token in LISTOPS_OPERATORS:
                if depth <= 1:
                    marked.append(position)
                depth += 1
            elif token == "]":
                depth -= 1
        global_positions.append(marked[:32])
    return _pack(sequences, labels, length, global_positions)


def listops_text(token_ids):
    """The expression of one row of `listops` token ids, as text."""
    return " ".join(
        LISTOPS_VOCABULARY[i] for i in token_ids if i not in (PAD, CLS)
    )


# === Retrieval ===

RETRIEVAL_KEYS = 16
RETRIEVAL_FILLER = 200
_KEY_MARK = 3
_FIRST_KEY = 4
_FIRST_FILLER = _FIRST_KEY + RETRIEVAL_KEYS
RETRIEVAL_VOCABULARY_SIZE = _FIRST_FILLER + RETRIEVAL_FILLER


def _document(rng, size, marked_key, distractors):
    document = list(rng.integers(_FIRST_FILLER, RETRIEVAL_VOCABULARY_SIZE, size))
    slots = rng.choice(size - 1, 1 + len(distractors), replace=False)
    document[slots[0]] = _KEY_MARK
    document[slots[0] + 1] = _FIRST_KEY + marked_key
    for slot, key in zip(slots[1:], distractors):
        # A distractor never lands on the mark or its key.
        if abs(int(slot) - int(slots[0])) > 1:
            document[slot] = _FIRST_KEY + key
    return document


def retrieval(count, length, rng, distractors=3):
    """Pairs of documents of `(length - 3) // 2` tokens; label 1 when their
    marked keys are equal (half the examples). The global tokens are the
    `[SEP]`s between and after the documents."""
    size = (length - 3) // 2
    sequences, labels, global_positions = [], [], []
    for _ in range(count):
        first = int(rng.integers(RETRIEVAL_KEYS))
        same = int(rng.integers(2))
        second = first if same else int(
            (first + rng.integers(1, RETRIEVAL_KEYS)) % RETRIEVAL_KEYS
        )
        keys = [
            list(rng.integers(RETRIEVAL_KEYS, size=distractors))
            for _ in range(2)
        ]
        sequences.append(
            [CLS]
            + _document(rng, size, first, keys[0])
            + [SEP]
            + _document(rng, size, second, keys[1])
            + [SEP]
        )
        labels.append(same)
        global_positions.append([size + 1, 2 * size + 2])
    return _pack(sequences, labels, length, global_positions)


def retrieval_marked_keys(token_ids):
    """The keys following each `[KEY]` mark of one row, in order."""
    marks = np.flatnonzero(token_ids == _KEY_MARK)
    return [int(token_ids[m + 1]) - _FIRST_KEY for m in marks]


# === Needle ===

NEEDLE_KEYS = 8
NEEDLE_VALUES = 10
NEEDLE_FILLER = 500
_FIRST_NEEDLE_KEY = 3
_FIRST_PAIR = _FIRST_NEEDLE_KEY + NEEDLE_KEYS
_FIRST_NEEDLE_FILLER = _FIRST_PAIR + NEEDLE_KEYS * NEEDLE_VALUES
NEEDLE_VOCABULARY_SIZE = _FIRST_NEEDLE_FILLER + NEEDLE_FILLER


def needle_pair(key, value):
    """The one token of the pair `(key, value)`."""
    return _FIRST_PAIR + key * NEEDLE_VALUES + value


def needle(count, length, rng, distractors=4, span=1):
    """`[CLS] q [SEP]` then `length - 3` tokens of filler holding the pair
    token `(q, v)` once and `distractors` pair tokens of other keys; the
    label is `v`. The needle lies anywhere in the filler (mostly far from
    `q`). `span` > 1 writes each pair token that many times in a row (a
    stronger signal: one token among 500 random filler words is not learned
    at 512 tokens in 1,000 steps, a span of 16 is)."""
    sequences, labels, global_positions = [], [], []
    size = length - 3
    for _ in range(count):
        keys = rng.choice(NEEDLE_KEYS, 1 + distractors, replace=False)
        values = rng.integers(NEEDLE_VALUES, size=1 + distractors)
        filler = rng.integers(_FIRST_NEEDLE_FILLER, NEEDLE_VOCABULARY_SIZE, size)
        # Slots of `span` tokens that do not overlap.
        slots = span * rng.choice(size // span, 1 + distractors, replace=False)
        for slot, key, value in zip(slots, keys, values):
            filler[slot : slot + span] = needle_pair(int(key), int(value))
        sequences.append([CLS, _FIRST_NEEDLE_KEY + int(keys[0]), SEP, *filler])
        labels.append(int(values[0]))
        global_positions.append([1])
    return _pack(sequences, labels, length, global_positions)


def needle_answer(token_ids):
    """The value of the pair whose key is the question's, in the filler of
    one row, how many such pairs there are, and the first one's position
    in the row (independent of the generator)."""
    question = int(token_ids[1]) - _FIRST_NEEDLE_KEY
    pairs = np.flatnonzero(
        (token_ids >= _FIRST_PAIR) & (token_ids < _FIRST_NEEDLE_FILLER)
    )
    keys, values = np.divmod(token_ids[pairs] - _FIRST_PAIR, NEEDLE_VALUES)
    found = np.flatnonzero(keys == question)
    if not len(found):
        return None, 0, None
    return int(values[found[0]]), len(found), int(pairs[found[0]])


# === Genomics ===

BASES = "ACGT"
KMER = 3
MINUS_35, MINUS_10 = "TTGACA", "TATAAT"
PROMOTER_SPACERS = (16, 17, 18)
_KMERS = ["".join(p) for p in itertools.product(BASES, repeat=KMER)]
_KMER_ID = {kmer: 3 + i for i, kmer in enumerate(_KMERS)}
GENOMICS_VOCABULARY_SIZE = 3 + len(_KMERS)


def kmer_ids(bases):
    """Non-overlapping `KMER`-mer token ids of `bases` (a whole number of
    k-mers)."""
    return [_KMER_ID[bases[i : i + KMER]] for i in range(0, len(bases), KMER)]


def kmer_bases(token_ids):
    """The bases of one row of genomics token ids."""
    return "".join(_KMERS[i - 3] for i in token_ids if i >= 3)


def is_promoter(bases):
    """The rule, read from the bases: a -35 box, then a -10 box after a
    spacer of 16 to 18 bases."""
    for spacer in PROMOTER_SPACERS:
        start = bases.find(MINUS_35)
        while start >= 0:
            tail = start + len(MINUS_35) + spacer
            if bases[tail : tail + len(MINUS_10)] == MINUS_10:
                return True
            start = bases.find(MINUS_35, start + 1)
    return False


def _random_bases(rng, size):
    return "".join(rng.choice(list(BASES), size))


def genomics(count, length, rng):
    """`length - 1` 3-mers of bases (`[CLS]` first); half are promoters.

    Negatives plant the boxes with a spacer of 2..11 or 23..40 bases, in
    the swapped order, or one box only. A sequence whose random bases break
    its label (a box pair by chance) is redrawn."""
    bases_length = (length - 1) * KMER
    sequences, labels = [], []
    while len(sequences) < count:
        label = int(rng.integers(2))
        bases = list(_random_bases(rng, bases_length))
        kind = int(rng.integers(4))
        if label:
            spacer = int(rng.choice(PROMOTER_SPACERS))
            first, second = MINUS_35, MINUS_10
        elif kind == 0:
            spacer = int(rng.choice([*range(2, 12), *range(23, 41)]))
            first, second = MINUS_35, MINUS_10
        elif kind == 1:
            spacer = int(rng.choice(PROMOTER_SPACERS))
            first, second = MINUS_10, MINUS_35
        else:
            spacer, first, second = None, (MINUS_35, MINUS_10)[kind - 2], ""
        span = len(first) + (spacer or 0) + len(second)
        start = int(rng.integers(bases_length - span + 1))
        bases[start : start + len(first)] = first
        if spacer is not None:
            tail = start + len(first) + spacer
            bases[tail : tail + len(second)] = second
        bases = "".join(bases)
        if is_promoter(bases) != bool(label):
            continue
        sequences.append([CLS] + kmer_ids(bases))
        labels.append(label)
    return _pack(sequences, labels, length)


# Each task: generator, vocabulary size, classes.
TASKS = {
    "listops": (listops, len(LISTOPS_VOCABULARY), 10),
    "retrieval": (retrieval, RETRIEVAL_VOCABULARY_SIZE, 2),
    "needle": (needle, NEEDLE_VOCABULARY_SIZE, NEEDLE_VALUES),
    "genomics": (genomics, GENOMICS_VOCABULARY_SIZE, 2),
}
