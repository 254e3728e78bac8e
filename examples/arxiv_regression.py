"""Abstract-length regression on arXiv papers (scientific_papers/arxiv).

The task `keras_bigbird.data.load_long_text` defines for
`scientific_papers/arxiv`: predict log(1 + number of words of the abstract)
from the full article text (which does not contain the abstract), a real
long-document regression. Loads the dataset with the real `tfds.load` (it
downloads and prepares it unless --no-download), trains a SentencePiece
vocabulary on the training articles (unless --sentencepiece-model is given)
and saves it beside the model, then trains a `BigBirdClassifier` with one
output on the mean squared error with `model.fit` (`ModelCheckpoint`,
`TensorBoard` logs in OUTPUT_DIR/logs), evaluates it on the test split and
saves OUTPUT_DIR/model.keras. The figures it prints (test RMSE and MAE, and
the RMSE of always predicting the mean of the test labels) are also written
to OUTPUT_DIR/figures.json. Some articles are empty: they are skipped.

The defaults are a laptop-CPU run: the tiny preset (no pretrained weights),
1,000 training articles, 1,024 tokens. The real scale, e.g.:

  python examples/arxiv_regression.py --preset bigbird_roberta_base \\
      --max-sequence-length 4096 --train-split train \\
      --validation-split validation --test-split test --batch-size 4 \\
      --epochs 3 --learning-rate 1e-4 --vocabulary-size 32000

The same run from the command line: keras-bigbird train --tfds
scientific_papers/arxiv --skip-empty ... (every flag below is a
`keras-bigbird train` flag).
"""

import sys

import common

DEFAULTS = {
    "tfds": "scientific_papers/arxiv",
    "train_split": "train[:1000]",
    "validation_split": "validation[:200]",
    "test_split": "test[:200]",
    "skip_empty": True,
    "output_dir": "runs/arxiv_regression",
    "max_sequence_length": 1024,
}

SMOKE = {"validation_split": "validation[:8]"}


def main(argv=None):
    """Runs the example; returns the `TrainingResult`."""
    return common.run_text_task(argv, __doc__, DEFAULTS, SMOKE)


if __name__ == "__main__":
    main(sys.argv[1:])
