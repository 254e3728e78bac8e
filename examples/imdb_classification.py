"""Long-document sentiment classification on IMDB reviews (imdb_reviews).

Loads `imdb_reviews` with `keras_bigbird.data.load_long_text` (the real
`tfds.load`; it downloads and prepares the dataset unless --no-download),
trains a SentencePiece vocabulary on the training reviews (unless
--sentencepiece-model is given) and saves it beside the model, then trains a
`BigBirdClassifier` on a `BigBirdEncoder` preset with `model.fit`
(`ModelCheckpoint`, `TensorBoard` logs in OUTPUT_DIR/logs), evaluates it on
the test split and saves OUTPUT_DIR/model.keras. The figures it prints (test
accuracy, and the accuracy of always predicting the majority class on the
same reviews) are also written to OUTPUT_DIR/figures.json.

The defaults are a laptop-CPU run: the tiny preset (no pretrained weights),
1,000 training reviews, 512 tokens. The real scale, e.g.:

  python examples/imdb_classification.py --preset bigbird_roberta_base \\
      --max-sequence-length 4096 --train-split "train[:90%]" \\
      --validation-split "train[90%:]" --test-split test --batch-size 4 \\
      --epochs 3 --learning-rate 1e-4 --vocabulary-size 32000

The same run from the command line: keras-bigbird train --tfds imdb_reviews
--train-split ... (every flag below is a `keras-bigbird train` flag).
"""

import sys

import common

DEFAULTS = {
    "tfds": "imdb_reviews",
    "train_split": "train[:4%]",
    "validation_split": "train[96%:]",
    "test_split": "test[:4%]",
    "output_dir": "runs/imdb_classification",
    "max_sequence_length": 512,
}

SMOKE = {"validation_split": "train[16:24]"}


def main(argv=None):
    """Runs the example; returns the `TrainingResult`."""
    return common.run_text_task(argv, __doc__, DEFAULTS, SMOKE)


if __name__ == "__main__":
    main(sys.argv[1:])
