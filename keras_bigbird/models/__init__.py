"""Functional models: the BigBird encoder (a backbone) and task models."""

from keras_bigbird.models.backbone import Backbone
from keras_bigbird.models.bigbird_classifier import BigBirdClassifier
from keras_bigbird.models.bigbird_encoder import BigBirdEncoder
from keras_bigbird.models.bigbird_question_answerer import (
    BigBirdQuestionAnswerer,
)
from keras_bigbird.models.bigbird_token_classifier import (
    BigBirdTokenClassifier,
)
from keras_bigbird.models.presets import PRESETS
from keras_bigbird.models.task import Task
