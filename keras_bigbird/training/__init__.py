"""Training: `keras-bigbird train` and the helpers the examples share."""

from keras_bigbird.training.loop import TrainingResult
from keras_bigbird.training.loop import fit_evaluate_save
from keras_bigbird.training.loop import report
from keras_bigbird.training.loop import save_preprocessor
from keras_bigbird.training.loop import training_callbacks
from keras_bigbird.training.options import DEFAULTS
from keras_bigbird.training.options import parse_config
from keras_bigbird.training.text import compile_for_task
from keras_bigbird.training.text import corpus_texts
from keras_bigbird.training.text import label_baseline
from keras_bigbird.training.text import text_tokenizer
from keras_bigbird.training.train import encoder_from_options
from keras_bigbird.training.train import train
