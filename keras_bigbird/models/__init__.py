"""Functional models: the BigBird encoder and task models on top of it."""

from keras_bigbird.models.bigbird_classifier import BigBirdClassifier
from keras_bigbird.models.bigbird_encoder import BigBirdEncoder
from keras_bigbird.models.bigbird_question_answerer import (
    BigBirdQuestionAnswerer,
)
from keras_bigbird.models.bigbird_token_classifier import (
    BigBirdTokenClassifier,
)
from keras_bigbird.models.presets import PRESETS
