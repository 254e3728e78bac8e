"""Span extraction on a synthetic long-context task (BigBirdQuestionAnswerer).

Each example is generated: a passage of filler words in which facts
"code of <key> is <v1> <v2> <v3> ." are planted at random places, and the
question "what is the code of <key> ?" for one of them; the answer is the
span "<v1> <v2> <v3>". With --num-facts above 1 the other facts are
distractors of the same form, so the model has to match the key of the
question with the key in the passage, up to a whole passage away: a
long-range dependency that block-sparse attention must carry (the question
sits in the global first block).

The pair is tokenized by a WordPiece vocabulary of the generated words (one
token a word, written to OUTPUT_DIR/vocabulary.txt) and packed as
`[CLS] question [SEP] passage [SEP]` by `BlockPacker`, the passage filling
--max-sequence-length. A `BigBirdQuestionAnswerer` is trained on the start
and end positions with `model.fit` (`ModelCheckpoint`, `TensorBoard` logs in
OUTPUT_DIR/logs), evaluated on new examples and saved to
OUTPUT_DIR/model.keras. It prints (and writes to OUTPUT_DIR/figures.json)
the exact-match rate (start and end both right), the start and end
accuracies, and the chance level of the start accuracy, 1 / passage length.

The defaults are a laptop-CPU run (about 2 minutes on 2 cores): the tiny
preset without dropout, 1,024-token sequences, one fact, 400 steps; it
ends with the line `long_context_qa: test exact match ...` and writes
OUTPUT_DIR/learning_curve.png. One fact means the question is not needed
to find the answer. With distractors (--num-facts 2) the tiny model stays
at the blind level (exact match about 1 / num_facts) within minutes: it
has to learn to compare the question's key with each fact's key, which
it did not in 800-1000 steps whatever the keys (2, 5, 20 or 100), width
(32, 64) or depth (2, 3) tried. The real scale, e.g. passages of 4,000
tokens with 8 facts:

  python examples/long_context_qa.py --max-sequence-length 4096 \\
      --num-facts 8 --train-examples 20000 --epochs 5 \\
      --encoder-config '{"num_layers": 4, "hidden_dim": 128,
                         "intermediate_dim": 512, "num_heads": 4}'
"""

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import common
from keras_bigbird.models import BigBirdQuestionAnswerer
from keras_bigbird.preprocessing import BlockPacker
from keras_bigbird.preprocessing import WordPieceTokenizer
from keras_bigbird.training import encoder_from_options
from keras_bigbird.training import fit_evaluate_save
from keras_bigbird.training import report

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEMPLATE_WORDS = ["what", "is", "the", "code", "of", "?", "."]
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
QUESTION = "what is the code of {key} ?"
# "code of <key> is" comes before the answer, "." after it.
FACT_PREFIX = 4

# 400 steps of 8 sequences (8 epochs of 50 steps: 8 points on the curve),
# no dropout: the generated task has no noise to regularize against.
DEFAULTS = {
    "output_dir": "runs/long_context_qa",
    "max_sequence_length": 1024,
    "batch_size": 8,
    "epochs": 8,
    "steps_per_epoch": 50,
    "learning_rate": 2e-3,
    "dropout": 0.0,
    "encoder_config": {"dropout": 0.0, "attention_dropout": 0.0},
}

SMOKE = {
    "steps_per_epoch": None,
    "train_examples": 96,
    "validation_examples": 8,
    "test_examples": 32,
    "num_facts": 1,
    "answer_length": 2,
    "filler_words": 200,
    "epochs": 2,
    "learning_rate": 3e-3,
}


def add_arguments(parser):
    group = parser.add_argument_group("synthetic task")
    group.add_argument(
        "--train-examples", type=int, default=2000, help="examples to train on"
    )
    group.add_argument(
        "--validation-examples",
        type=int,
        default=100,
        help="examples evaluated after each epoch",
    )
    group.add_argument(
        "--test-examples", type=int, default=500, help="examples of the test"
    )
    group.add_argument(
        "--num-facts",
        type=int,
        default=1,
        help="facts planted in a passage (one is asked, the others distract)",
    )
    group.add_argument(
        "--answer-length", type=int, default=3, help="words of an answer"
    )
    group.add_argument(
        "--num-keys", type=int, default=100, help="distinct keys of facts"
    )
    group.add_argument(
        "--num-values", type=int, default=100, help="distinct answer words"
    )
    group.add_argument(
        "--filler-words", type=int, default=2000, help="distinct filler words"
    )


def make_vocabulary(config, rng):
    """Returns `(vocabulary, filler, keys, values)`, all distinct words."""
    keys = [f"k{i}" for i in range(config["num_keys"])]
    values = [f"v{i}" for i in range(config["num_values"])]
    taken = set(TEMPLATE_WORDS)
    filler = []
    while len(filler) < config["filler_words"]:
        word = "".join(rng.choice(LETTERS, int(rng.integers(4, 9))))
        if word not in taken:
            taken.add(word)
            filler.append(word)
    vocabulary = SPECIAL_TOKENS + TEMPLATE_WORDS + keys + values + filler
    return vocabulary, filler, keys, values


def generate(config, words, count, rng, passage_words):
    """Returns `(questions, passages, answer word spans [count, 2])`.

    The passage is cut into `num_facts` equal parts and each fact is planted
    at a random offset of its part, so facts never overlap.
    """
    _, filler, keys, values = words
    num_facts, answer_length = config["num_facts"], config["answer_length"]
    fact_words = FACT_PREFIX + answer_length + 1
    part = passage_words // num_facts
    if part < fact_words:
        raise ValueError(
            f"A passage of {passage_words} words cannot hold "
            f"num_facts={num_facts} facts of {fact_words} words: lower "
            "--num-facts or raise --max-sequence-length."
        )
    if num_facts > len(keys):
        raise ValueError(
            f"Received num_facts={num_facts} > num_keys={len(keys)}: each "
            "fact of a passage needs its own key."
        )
    questions, passages, spans = [], [], []
    for _ in range(count):
        passage = list(rng.choice(filler, passage_words))
        fact_keys = rng.choice(keys, num_facts, replace=False)
        asked = int(rng.integers(num_facts))
        for index, key in enumerate(fact_keys):
            start = index * part + int(rng.integers(part - fact_words + 1))
            # Word j of an answer comes from the j-th share of the answer
            # words, so its words tell where an answer starts and ends:
            # "the word after `is`" takes a tiny model with learned
            # absolute positions far longer to learn (EM 0.16 after 250
            # steps).
            answer = [
                rng.choice(values[j::answer_length])
                for j in range(answer_length)
            ]
            fact = ["code", "of", key, "is", *answer, "."]
            passage[start : start + fact_words] = fact
            if index == asked:
                first = start + FACT_PREFIX
                spans.append((first, first + answer_length - 1))
        questions.append(QUESTION.format(key=fact_keys[asked]))
        passages.append(" ".join(passage))
    return questions, passages, np.array(spans, dtype=np.int32)


def passage_length(config):
    """Passage words (= tokens): `[CLS] question [SEP] passage [SEP]` fill
    `max_sequence_length`."""
    return config["max_sequence_length"] - len(QUESTION.split()) - 3


def packed_examples(config, words, tokenizer, packer, count, seed):
    """Generates `count` examples as `(inputs, {start, end positions})`."""
    rng = np.random.default_rng(seed)
    questions, passages, spans = generate(
        config, words, count, rng, passage_length(config)
    )
    inputs = packer(
        (tokenizer(tf.constant(questions)), tokenizer(tf.constant(passages)))
    )
    # One token a word, and `[CLS] question [SEP]` before the passage.
    positions = spans + 1 + len(QUESTION.split()) + 1
    values = [tokenizer.token_to_id(v) for v in words[3]]
    at_positions = np.take_along_axis(
        inputs["token_ids"].numpy(), positions, axis=1
    )
    if not np.isin(at_positions, values).all():
        raise AssertionError("An answer position does not hold an answer.")
    labels = {"start_logits": positions[:, 0], "end_logits": positions[:, 1]}
    return inputs, labels


def batches(examples, batch_size, shuffle_seed=None, repeat=False):
    dataset = tf.data.Dataset.from_tensor_slices(examples)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            len(examples[1]["start_logits"]), shuffle_seed
        )
    if repeat:
        # `--steps-per-epoch` cuts the passes into more, shorter epochs
        # (more points on the learning curve).
        dataset = dataset.repeat()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def span_figures(model, test, test_labels, passage_tokens):
    """Exact match and start / end accuracy of the argmax positions."""
    predicted = model.predict(test, verbose=0)
    start = np.argmax(predicted["start_logits"], axis=-1)
    end = np.argmax(predicted["end_logits"], axis=-1)
    start_right = start == test_labels["start_logits"]
    end_right = end == test_labels["end_logits"]
    return {
        "test exact match": float(np.mean(start_right & end_right)),
        "test start accuracy": float(np.mean(start_right)),
        "test end accuracy": float(np.mean(end_right)),
        "chance start accuracy (1 / passage tokens)": 1.0 / passage_tokens,
    }


def main(argv=None):
    """Runs the example; returns the `TrainingResult`."""
    started = time.perf_counter()
    config = common.parse(
        argv, __doc__, common.MODEL_AND_FIT, DEFAULTS, SMOKE, add_arguments
    )
    keras.utils.set_random_seed(config["seed"])
    output_dir = config["output_dir"]
    os.makedirs(output_dir, exist_ok=True)
    words = make_vocabulary(config, np.random.default_rng(config["seed"]))
    vocabulary_file = os.path.join(output_dir, "vocabulary.txt")
    with open(vocabulary_file, "w") as f:
        f.write("\n".join(words[0]) + "\n")
    tokenizer = WordPieceTokenizer(vocabulary_file)
    encoder = encoder_from_options(config, tokenizer.vocabulary_size())
    packer = BlockPacker.from_tokenizer(
        tokenizer, config["max_sequence_length"], block_size=encoder.block_size
    )
    splits = {}
    for index, split in enumerate(("train", "validation", "test")):
        splits[split] = packed_examples(
            config,
            words,
            tokenizer,
            packer,
            config[f"{split}_examples"],
            seed=[config["seed"], index],
        )
    model = BigBirdQuestionAnswerer(encoder, dropout=config["dropout"])
    span_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"], clipnorm=1.0),
        loss={"start_logits": span_loss, "end_logits": span_loss},
        metrics={
            "start_logits": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            ],
            "end_logits": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            ],
        },
    )
    batch_size = config["batch_size"]
    test = batches(splits["test"], batch_size)
    result = fit_evaluate_save(
        model,
        batches(
            splits["train"],
            batch_size,
            shuffle_seed=config["seed"],
            repeat=config["steps_per_epoch"] is not None,
        ),
        validation=batches(splits["validation"], batch_size),
        evaluation=test,
        output_dir=output_dir,
        epochs=config["epochs"],
        steps_per_epoch=config["steps_per_epoch"],
    )
    passage_tokens = passage_length(config)
    spans = span_figures(model, test, splits["test"][1], passage_tokens)
    # The baseline a model without the question reaches: one of the
    # facts' answers, taken blindly.
    blind = 1.0 / config["num_facts"]
    curve = common.learning_curve(
        result.history,
        {
            "val_start_logits_accuracy": "validation start accuracy",
            "val_end_logits_accuracy": "validation end accuracy",
        },
        os.path.join(output_dir, "learning_curve.png"),
        f"long_context_qa: {passage_tokens}-token passages, "
        f"{config['num_facts']} facts",
    )
    figures = {
        "passage tokens": passage_tokens,
        "facts per passage": config["num_facts"],
        **spans,
        "blind exact match (1 / facts)": blind,
        "wall seconds": time.perf_counter() - started,
        "learning curve": curve,
        "model": result.model_path,
    }
    result.figures = report(output_dir, figures, title="Results:")
    # One fact: chance; with distractors, a model blind to the question.
    baseline = ("chance", 1.0 / passage_tokens)
    if config["num_facts"] > 1:
        baseline = ("one fact's answer, blind to the question", blind)
    common.summary_line(
        "long_context_qa",
        "test exact match",
        spans["test exact match"],
        *baseline,
        figures["wall seconds"],
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
