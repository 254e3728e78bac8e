"""DNA sequence classification with k-mer tokens (BigBird's genomics use).

BigBird's long context suits DNA, where the signal can sit anywhere in
thousands of bases (Zaheer et al., 2020, section 5). Here the sequences are
generated so the answer is known: random A/C/G/T sequences of --min-length to
--max-length bases; class 0 contains no motif, class c >= 1 contains motif c
(a random word of --motif-length bases) --motif-copies times at random
places, and no sequence contains the motif of another class.

Tokenization is non-overlapping k-mers by a WordPiece vocabulary of all
k-mers: each k-mer is a word-start piece and "##" + each k-mer (and each
shorter tail) a continuation piece, so `WordPieceTokenizer`'s longest-match
cuts a raw sequence into k-mers inside the TensorFlow graph (tf.data, a
SavedModel), with no other preprocessing. The tokenizer case-folds its input
(the vocabulary is lower-case), so "ACGT" and "acgt" are the same tokens,
and takes sequences of any length, which the packer then truncates. The
vocabulary is written to OUTPUT_DIR/vocabulary.txt. Sequences go through
`keras_bigbird.data.batch_long_text` (length buckets), a `BigBirdClassifier`
is trained with `model.fit` (Adam with warmup and cosine decay,
`ModelCheckpoint`, `TensorBoard` logs in
OUTPUT_DIR/logs), evaluated on new sequences and saved to
OUTPUT_DIR/model.keras with OUTPUT_DIR/preprocessor.json (tokenizer and
packer: `keras-bigbird export --preprocessor` serves raw sequences). It
prints (and writes to OUTPUT_DIR/figures.json) the test accuracy, the
majority-class accuracy on the same sequences and the padding efficiency of
the test batches, and plots the learning curve to
OUTPUT_DIR/learning_curve.png.

What the model sees of a motif depends on where it falls: the tokens are
cut every k bases, so a copy of the motif starts at any offset mod k inside
a token, and only the k-mers lying wholly inside the copy are the same from
copy to copy. A motif of 2k - 1 bases (the default: 11 bases for 6-mers)
holds exactly one whole k-mer at each offset, one of its 2k - 1 - k + 1 = k
"signature" k-mers, so each copy gives the model one token it can learn.
A shorter motif may hold none. A k-mer also occurs by chance, once in 4^k
tokens: in the former defaults, 8-base motifs in 4-mers, a class's 5
signature 4-mers turn up about 3.7 times by chance in a sequence of 750
bases (the mean length), about as often as its 3 copies plant them (3 to
6), so no count of tokens tells the classes apart and the model reached
0.546. With 6-mers a class's 6 signature words turn up 0.18 times by
chance in a sequence, and its 3 copies give 3 (2 when copies overlap):
predicting the class with 2 or more of its signature words in the packed
tokens (else class 0) is right on 98.6% of the default test sequences, a
ceiling for the model.

The defaults are a run of 2 to 4 minutes on one CPU core: the tiny
preset (2 layers, hidden 32, block 16) initialised at stddev 0.2, 3
classes, 6-mers, 11-base motifs, sequences of 500 to 1,000 bases (84 to
167 tokens) holding 3 copies of their motif, 15,000 training sequences, 3
epochs of batches of 32, Adam with warmup and cosine decay to 2e-3. They
measured a test accuracy of 0.984 against a majority class of 0.344 (500
test sequences) in 137 s of one shared core. With a constant 2e-3 (before
the example honoured --warmup-fraction): 0.960 in 102 s of a free core,
--seed 1 and 2 (other motifs, sequences and initial weights) 0.960 and
0.962 against 0.338 and 0.354. With 2,000 sequences and 10 epochs the
model fits its training set (0.99) through chance 6-mers and reaches
0.886, 0.932 with 10,000 sequences and 5 epochs: many sequences, few
passes. The real scale, e.g. 24,000-base sequences in
6-mers with one copy:

  python examples/dna_classification.py --kmer 6 --min-length 8000 \\
      --max-length 24000 --max-sequence-length 4096 --motif-copies 1 \\
      --train-examples 20000 --num-classes 5 --epochs 5 --batch-size 8 \\
      --preset bigbird_roberta_base
"""

import itertools
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import common
from keras_bigbird.data import batch_long_text
from keras_bigbird.data import padding_efficiency
from keras_bigbird.models import BigBirdClassifier
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer
from keras_bigbird.training import compile_for_task
from keras_bigbird.training import encoder_from_options
from keras_bigbird.training import fit_evaluate_save
from keras_bigbird.training import label_baseline
from keras_bigbird.training import learning_rate_schedule
from keras_bigbird.training.holdout import count_batches
from keras_bigbird.training import report

BASES = "ACGT"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# tensorflow-text's FastWordpieceTokenizer takes an int32 word length limit.
_ANY_LENGTH = 2**31 - 1

_ENCODER_CONFIG = {
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "initializer_range": 0.2,
}

DEFAULTS = {
    "output_dir": "runs/dna_classification",
    # 1,000 bases are 167 6-mers: with [CLS] and [SEP], 11 blocks of 16.
    "max_sequence_length": 176,
    "num_classes": 3,
    # Many sequences seen few times: each of the 4,096 6-mers is in about
    # 180 sequences of 15,000 (60 of 2,000), too many to be learnt as a
    # class clue by chance. Batches of 32 train about 1.7 times as many
    # sequences a second as batches of 8 on a CPU core.
    "train_examples": 15000,
    "batch_size": 32,
    "epochs": 3,
    # From scratch, not fine-tuning: no dropout, and initial weights of
    # stddev 0.2, not BERT's 0.02: with 0.02 the attention scores stay
    # near 0 (uniform attention) for the whole run and the model stays at
    # chance (0.330 against a majority of 0.342, in the 4-mer setting
    # above; 0.478 with 0.2).
    "learning_rate": 2e-3,
    "dropout": 0.0,
    "encoder_config": _ENCODER_CONFIG,
}

SMOKE = {
    "kmer": 3,
    "min_length": 240,
    "max_length": 360,
    "motif_length": 6,
    "train_examples": 32,
    "validation_examples": 8,
    "test_examples": 16,
    "bucket_width": 128,
    # --smoke's one layer, with the defaults' initialisation and dropout.
    "encoder_config": {**common.SMOKE["encoder_config"], **_ENCODER_CONFIG},
}


def add_arguments(parser):
    group = parser.add_argument_group("synthetic sequences")
    group.add_argument("--kmer", type=int, default=6, help="bases a token")
    group.add_argument(
        "--min-length", type=int, default=500, help="shortest sequence"
    )
    group.add_argument(
        "--max-length", type=int, default=1000, help="longest sequence"
    )
    group.add_argument(
        "--num-classes", type=int, help="classes: no motif, and one a motif"
    )
    group.add_argument(
        "--motif-length",
        type=int,
        default=11,
        help="bases of a motif (2 * kmer - 1 or more: each copy then holds "
        "a whole k-mer, whatever its offset)",
    )
    group.add_argument(
        "--motif-copies",
        type=int,
        default=3,
        help="copies of its motif in a sequence of classes >= 1",
    )
    common.add_split_arguments(group, "sequences", validation=200, test=500)


def kmer_vocabulary(k):
    """Special tokens, all j-mers (j <= k), then "##" + all j-mers.

    With every k-mer as a piece, WordPiece's longest match takes k bases at
    a time; the shorter pieces cover the tail of a sequence (or a sequence
    shorter than k). The j-mers are lower-case: the tokenizer case-folds.
    """
    words = [
        "".join(p)
        for j in range(k, 0, -1)
        for p in itertools.product(BASES.lower(), repeat=j)
    ]
    return SPECIAL_TOKENS + words + ["##" + w for w in words]


def kmer_tokenizer(k, vocabulary_file):
    """A `WordPieceTokenizer` cutting sequences of any length and case into
    k-mers; its vocabulary is written to `vocabulary_file`."""
    with open(vocabulary_file, "w") as f:
        f.write("\n".join(kmer_vocabulary(k)) + "\n")
    # Served sequences come in any case: `lowercase` case-folds them in the
    # graph to match the lower-case vocabulary. A sequence is one "word",
    # and a longer word than `max_bytes_per_word` would be one [UNK]: the
    # limit is the largest (int32) value, so a sequence of any length is
    # cut into k-mers and the packer truncates it.
    return WordPieceTokenizer(
        vocabulary_file, lowercase=True, max_bytes_per_word=_ANY_LENGTH
    )


def _random_bases(rng, size):
    return "".join(rng.choice(list(BASES), size))


def generate(config, motifs, count, rng):
    """Returns `(sequences, labels)`: class c >= 1 holds `motifs[c - 1]`."""
    sequences, labels = [], []
    copies, length = config["motif_copies"], config["motif_length"]
    while len(sequences) < count:
        label = int(rng.integers(config["num_classes"]))
        size = int(rng.integers(config["min_length"], config["max_length"] + 1))
        sequence = _random_bases(rng, size)
        if label:
            sequence = list(sequence)
            for _ in range(copies):
                start = int(rng.integers(size - length + 1))
                sequence[start : start + length] = motifs[label - 1]
            sequence = "".join(sequence)
        present = [i + 1 for i, m in enumerate(motifs) if m in sequence]
        # Redraw the rare sequence holding another class's motif by chance.
        if present == ([label] if label else []):
            sequences.append(sequence)
            labels.append(label)
    return sequences, np.array(labels, np.int32)


def check_config(config):
    if config["num_classes"] < 2:
        raise ValueError(
            f"Received num_classes={config['num_classes']}: expected at least "
            "2 (no motif, and a motif)."
        )
    if (
        not config["motif_length"]
        <= config["min_length"]
        <= config["max_length"]
    ):
        raise ValueError(
            "Expected motif_length <= min_length <= max_length. Received: "
            f"motif_length={config['motif_length']}, min_length="
            f"{config['min_length']}, max_length={config['max_length']}"
        )


def main(argv=None):
    """Runs the example; returns the `TrainingResult`."""
    started = time.perf_counter()
    config = common.parse(
        argv, __doc__, common.MODEL_AND_FIT, DEFAULTS, SMOKE, add_arguments,
        ignored=("patience", "validation_fraction"),
    )
    check_config(config)
    keras.utils.set_random_seed(config["seed"])
    output_dir = config["output_dir"]
    os.makedirs(output_dir, exist_ok=True)
    tokenizer = kmer_tokenizer(
        config["kmer"], os.path.join(output_dir, "vocabulary.txt")
    )
    encoder = encoder_from_options(config, tokenizer.vocabulary_size())
    packer = BlockPacker.from_tokenizer(
        tokenizer, config["max_sequence_length"], block_size=encoder.block_size
    )
    rng = np.random.default_rng(config["seed"])
    motifs = []
    while len(motifs) < config["num_classes"] - 1:
        motif = _random_bases(rng, config["motif_length"])
        if motif not in motifs:
            motifs.append(motif)
    splits = {}
    for index, split in enumerate(("train", "validation", "test")):
        sequences, labels = generate(
            config,
            motifs,
            config[f"{split}_examples"],
            np.random.default_rng([config["seed"], index]),
        )
        splits[split] = batch_long_text(
            tf.data.Dataset.from_tensor_slices((sequences, labels)),
            tokenizer,
            packer,
            batch_size=config["batch_size"],
            bucket_width=config["bucket_width"],
            shuffle=split == "train",
            seed=config["seed"],
            num_classes=config["num_classes"],
        )
    model = BigBirdClassifier(
        encoder, num_classes=config["num_classes"], dropout=config["dropout"]
    )
    steps = config["steps_per_epoch"] or count_batches(splits["train"])
    compile_for_task(
        model, config["num_classes"], learning_rate_schedule(config, steps)
    )
    result = fit_evaluate_save(
        model,
        splits["train"],
        validation=splits["validation"],
        evaluation=splits["test"],
        output_dir=output_dir,
        epochs=config["epochs"],
        steps_per_epoch=config["steps_per_epoch"],
        preprocessor=[tokenizer, packer],
    )
    baseline = label_baseline(splits["test"], config["num_classes"])
    figures = {
        "motifs": " ".join(motifs),
        "test accuracy": result.evaluation["accuracy"],
        "test majority_accuracy": baseline["majority_accuracy"],
        "test sequences": baseline["num_labels"],
        "test padding efficiency": padding_efficiency(splits["test"]),
        "wall seconds": time.perf_counter() - started,
        "learning curve": common.learning_curve(
            result.history,
            {"accuracy": "training accuracy",
             "val_accuracy": "validation accuracy"},
            os.path.join(output_dir, "learning_curve.png"),
            f"dna_classification: {config['num_classes']} classes, "
            f"{config['kmer']}-mers",
            baseline=("test majority class", baseline["majority_accuracy"]),
        ),
        "model": result.model_path,
    }
    result.figures = report(output_dir, figures, title="Results:")
    common.summary_line(
        "dna_classification",
        "test accuracy",
        figures["test accuracy"],
        "majority class",
        figures["test majority_accuracy"],
        figures["wall seconds"],
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
