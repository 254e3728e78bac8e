"""Pretrained BigBird checkpoints (transformers, google-research) in Keras.

Importing this package registers the converted models' classes, which
loading a saved converted model needs.
"""

from keras_bigbird.convert.encoder import PretrainedBigBirdEncoder
from keras_bigbird.convert.encoder import gelu_approximate
from keras_bigbird.convert.google_checkpoint import from_google_checkpoint
from keras_bigbird.convert.heads import QuestionMaskedSpanLogits
from keras_bigbird.convert.heads import QuestionSegments
from keras_bigbird.convert.heads import TransformersClassifier
from keras_bigbird.convert.heads import TransformersQuestionAnswerer
from keras_bigbird.convert.tokenizer import tokenizer_from_checkpoint
from keras_bigbird.convert.transformers_checkpoint import from_transformers
