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
- `retrieval`: `[CLS] x [SEP] doc1 [SEP] doc2 [SEP]`, by concatenation
  (one encoder sees both documents, so attention can compare them; LRA's
  retrieval uses a dual encoder), with segment ids for the question and
  each document. Key runs lie in the documents, two in each: two of the
  question's key `x` (at least one in `doc1`) and one each of two others,
  plus one of each distractor key; the label is whether `doc2` shares
  `x`. Every example holds the same multiset of tokens, so a bag is at
  chance, and each document as many runs under either label, so counting
  key tokens per segment is too (an earlier form, one run of another key
  in either document, let window attention reach 0.688 by counting
  `doc2`'s runs: 1.5 on average under label 0, 2 under label 1); a key
  is one token (repeated `span` times), read by content. Two easier-looking forms left
  every model, dense included, at chance in 400-600 steps at 1024 tokens:
  any key shared (LRA's form: every run of one document compared with
  every run of the other), and the question's key shared with `x` in
  either document (its runs' segments, mixed or not, say nothing to a
  linear read-out until attention finds them, so nothing leads attention
  to them). Here the mass the question puts on `doc2`'s `x` is the answer.
- `needle`: `[CLS] q [SEP]` then filler in which the pair `(q, v)` (the
  needle, one token of `NEEDLE_KEYS * NEEDLE_VALUES`) appears exactly once
  and pairs `(k, v')` with other keys distract; the label is `v`, 10
  classes. The question `q` is the global token. One token a pair: with
  `q` and `v` as two adjacent tokens, binding `v` to the `q` before it
  needs a "previous token" attention, which learned absolute position
  embeddings must learn position by position; no model, dense included,
  left chance (0.105-0.110) in 250 steps at 512 tokens. A pair token is
  found by content alone: one hop from `q`. `span` writes each pair token
  that many times in a row: the signal's share of the sequence, not the
  distance, sets how fast attention finds it (`long_range.DEFAULT_SIZES`).
- `genomics`: random bases cut into non-overlapping 6-mer tokens (as
  DNABERT's k-mers, without the overlap), a promoter-like spacing rule:
  every sequence holds a `TTGACA` box (-35) and, after it, a `TATAAT` box
  (-10); the label is 1 when the spacer is 12 to 24 bases, as in
  bacterial promoters (16-18), and 0 when it is 300 to 1,200 bases;
  `copies` writes that many pairs, one in each part of the sequence (the
  needle's `span`: a stronger signal). The boxes fall on k-mer
  boundaries, one token each (the real problem's reading frames are left
  out: with 3-mers in any frame, or 3-mers on boundaries, where each box
  is two tokens bound by position, BigBird did not leave chance in 400
  steps).

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
    "Examples", ["token_ids", "labels", "global_mask", "segment_ids"]
)


def _slots(rng, size, span, count, name):
    """`count` starts of non-overlapping runs of `span` tokens in `size`."""
    if size // span < count:
        raise ValueError(
            f"{name} needs room for {count} runs of span={span} tokens in "
            f"{size} tokens; use a longer length or a smaller span. "
            f"Received: span={span}"
        )
    return span * rng.choice(size // span, count, replace=False)


def _spaced_slots(rng, size, span, count, gap, lead, tail, name):
    """`count` starts of runs of `span` tokens in `size`, in random order,
    with at least `gap` tokens between runs, `lead` before the first and
    `tail` after the last; uniform over such layouts."""
    free = size - lead - tail - count * span - (count - 1) * gap
    if free < 0:
        raise ValueError(
            f"{name} needs room for {count} runs of {span} tokens, {gap} "
            f"apart, in {size} tokens; use a longer length, a smaller span "
            f"or gap. Received: span={span}, gap={gap}"
        )
    # Stars and bars: `count` sorted distinct draws from `free + count`
    # values, less their rank, are the slack before each run.
    slack = np.sort(rng.choice(free + count, count, replace=False))
    starts = lead + slack - np.arange(count) + np.arange(count) * (span + gap)
    return rng.permutation(starts)


def _pack(sequences, labels, length, global_positions=None, segments=False):
    """Pads `sequences` (lists of ids, `[CLS]` first) to `length`. With
    `segments`, a token's segment id is the number of `[SEP]`s before it
    (`[CLS] a [SEP] b [SEP]`: 0 for `a` and its `[SEP]`, 1 for `b` and
    its); else, and at padding, 0."""
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
    segment_ids = np.zeros_like(token_ids)
    if segments:
        before = np.cumsum(token_ids == SEP, axis=1) - (token_ids == SEP)
        segment_ids = np.where(token_ids != PAD, before, 0).astype(np.int32)
    return Examples(
        token_ids, np.asarray(labels, np.int32), global_mask, segment_ids
    )


# === ListOps ===

LISTOPS_OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
LISTOPS_VOCABULARY = (
    ["[PAD]", "[CLS]", "[SEP]"]
    + [str(d) for d in range(10)]
    + list(LISTOPS_OPERATORS)
    + ["]"]
)
_LISTOPS_ID = {token: i for i, token in enumerate(LISTOPS_VOCABULARY)}


# The root's operator and its direct arguments' (at most 11 with the
# default `max_args`), capped.
LISTOPS_QUESTION_TOKENS = 16


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
        global_positions.append(marked[:LISTOPS_QUESTION_TOKENS])
    return _pack(sequences, labels, length, global_positions)


def listops_text(token_ids):
    """The expression of one row of `listops` token ids, as text."""
    return " ".join(
        LISTOPS_VOCABULARY[i] for i in token_ids if i not in (PAD, CLS)
    )


# === Retrieval ===

RETRIEVAL_KEYS = 16
RETRIEVAL_FILLER = 200
_FIRST_KEY = 3
_FIRST_FILLER = _FIRST_KEY + RETRIEVAL_KEYS
RETRIEVAL_VOCABULARY_SIZE = _FIRST_FILLER + RETRIEVAL_FILLER


def retrieval(count, length, rng, distractors=1, span=1, gap=0):
    """`[CLS] x [SEP] doc1 [SEP] doc2 [SEP]`: documents of
    `(length - 5) // 2` filler tokens holding two key runs each (`span`
    copies of a key token a run), from two runs of the question's key `x`
    and one each of two other keys `y` and `z`, and `distractors` runs of
    further keys, one each, in either document. `doc1` always holds `x`.
    Label 1 (half the examples): the documents share `x` (`doc1` {x, y},
    `doc2` {x, z}); label 0: both `x` runs in `doc1`, `doc2` {y, z}. Every
    example holds the same multiset of runs, so a bag of tokens is at
    chance, and each document the same number of runs under either label,
    so counting key tokens per segment says nothing. The question `x` is
    the global token; segment ids count the `[SEP]`s before each token
    (question 0, documents 1, 2).

    At least `gap` tokens lie between any two runs, across the middle
    `[SEP]` too, and between the question and every run: attention that
    reaches fewer than `gap` tokens (a window) cannot compare a run with
    another, or with the question; it would otherwise see `doc1`'s {x, x}
    (label 0) or a first run that is not `x` (label 1) next to it."""
    size = (length - 5) // 2
    sequences, labels, global_positions = [], [], []
    for _ in range(count):
        shared = int(rng.integers(2))
        keys = rng.choice(RETRIEVAL_KEYS, 3 + distractors, replace=False)
        x, y, z, others = int(keys[0]), int(keys[1]), int(keys[2]), keys[3:]
        # The first document always holds `x`; the label is whether the
        # second does too. Two runs in each document under either label.
        runs = [[x, y], [x, z]] if shared else [[x, x], [y, z]]
        for key in others:
            runs[int(rng.integers(2))].append(int(key))
        documents = []
        for document_keys in runs:
            document = rng.integers(_FIRST_FILLER, RETRIEVAL_VOCABULARY_SIZE, size)
            # Tokens between: the question (position 1) and `doc1`
            # (from 3); `doc1`'s tail, `[SEP]`, `doc2`'s lead.
            lead, tail = (
                (max(0, gap - 1), gap // 2) if not documents
                else (max(0, gap - 1 - gap // 2), 0)
            )
            slots = _spaced_slots(
                rng, size, span, len(document_keys), gap, lead, tail,
                "retrieval",
            )
            for slot, key in zip(slots, document_keys):
                document[slot : slot + span] = _FIRST_KEY + key
            documents.append(list(document))
        sequences.append([
            CLS, _FIRST_KEY + x, SEP, *documents[0], SEP, *documents[1], SEP
        ])
        labels.append(shared)
        global_positions.append([1])
    return _pack(sequences, labels, length, global_positions, segments=True)


def is_retrieval_key(token_ids):
    """Where `token_ids` (any shape) are key tokens."""
    return (token_ids >= _FIRST_KEY) & (token_ids < _FIRST_FILLER)


def retrieval_keys(token_ids):
    """The question's key number of one row, and its documents' key tokens
    (split at its `[SEP]`s) as two lists of key numbers in order."""
    separators = np.flatnonzero(token_ids == SEP)
    documents = token_ids[separators[0] + 1 : separators[1]], token_ids[
        separators[1] + 1 : separators[2]
    ]
    return int(token_ids[1]) - _FIRST_KEY, [
        [int(t) - _FIRST_KEY for t in d[is_retrieval_key(d)]]
        for d in documents
    ]


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
    at 512 tokens in 1,000 steps, a span of 16 is). A model that cannot
    match `v`'s pair to `q` guesses among the `1 + distractors` values it
    sees."""
    sequences, labels, global_positions = [], [], []
    size = length - 3
    for _ in range(count):
        keys = rng.choice(NEEDLE_KEYS, 1 + distractors, replace=False)
        values = rng.integers(NEEDLE_VALUES, size=1 + distractors)
        filler = rng.integers(_FIRST_NEEDLE_FILLER, NEEDLE_VOCABULARY_SIZE, size)
        # Slots of `span` tokens that do not overlap.
        slots = _slots(rng, size, span, 1 + distractors, "needle")
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
KMER = 6
MINUS_35, MINUS_10 = "TTGACA", "TATAAT"
# Whole k-mers, so both boxes fall on k-mer boundaries: each box is then
# one token. Negatives hold the same boxes, in the same order, 300 to
# 1,200 bases apart (as far as the length allows).
PROMOTER_SPACERS = (12, 18, 24)
FAR_SPACER = (300, 1200)
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
    spacer of 12 to 24 bases (in any frame)."""
    for spacer in range(PROMOTER_SPACERS[0], PROMOTER_SPACERS[-1] + 1):
        start = bases.find(MINUS_35)
        while start >= 0:
            tail = start + len(MINUS_35) + spacer
            if bases[tail : tail + len(MINUS_10)] == MINUS_10:
                return True
            start = bases.find(MINUS_35, start + 1)
    return False


def _random_bases(rng, size):
    return "".join(rng.choice(list(BASES), size))


def genomics(count, length, rng, copies=1):
    """`length - 1` 6-mers of bases (`[CLS]` first); half are promoters.

    Every sequence holds `copies` pairs of a -35 box and a -10 box after
    it, on k-mer boundaries, one pair in each `1 / copies` of the sequence:
    a spacer of 12, 18 or 24 bases (2 to 4 tokens) makes a promoter, one
    of 300 to 1,200 bases (50 to 200 tokens, fewer where a copy's share of
    the length is short) does not, so a bag of tokens is at chance and the
    rule is a spacing rule. A sequence whose random bases break its label
    (a box pair by chance) is redrawn."""
    bases_length = (length - 1) * KMER
    segment = KMER * ((length - 1) // copies)  # bases for each pair
    boxes = len(MINUS_35) + len(MINUS_10)
    far = range(FAR_SPACER[0], min(FAR_SPACER[1], segment - boxes) + 1,
                KMER)
    if not far:
        raise ValueError(
            f"genomics needs {FAR_SPACER[0] + boxes} bases for each far box "
            f"pair; length={length} tokens of {KMER}-mers hold "
            f"{segment} for each of copies={copies}."
        )
    sequences, labels = [], []
    while len(sequences) < count:
        label = int(rng.integers(2))
        bases = list(_random_bases(rng, bases_length))
        for copy in range(copies):
            spacer = int(rng.choice(PROMOTER_SPACERS if label else far))
            span = boxes + spacer
            start = copy * segment + KMER * int(
                rng.integers((segment - span) // KMER + 1)
            )
            bases[start : start + len(MINUS_35)] = MINUS_35
            tail = start + len(MINUS_35) + spacer
            bases[tail : tail + len(MINUS_10)] = MINUS_10
        bases = "".join(bases)
        if is_promoter(bases) != bool(label):
            continue
        sequences.append([CLS] + kmer_ids(bases))
        labels.append(label)
    return _pack(sequences, labels, length)


# Each task: generator, vocabulary size, classes, segments (0: none), the
# most question (global) tokens an example holds.
TASKS = {
    "listops": (listops, len(LISTOPS_VOCABULARY), 10, 0,
                LISTOPS_QUESTION_TOKENS),
    "retrieval": (retrieval, RETRIEVAL_VOCABULARY_SIZE, 2, 3, 1),
    "needle": (needle, NEEDLE_VOCABULARY_SIZE, NEEDLE_VALUES, 0, 1),
    "genomics": (genomics, GENOMICS_VOCABULARY_SIZE, 2, 0, 0),
}
