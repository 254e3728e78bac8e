"""Pretrained BigBird checkpoints (transformers, google-research) in Keras.

Importing this package registers the converted models' classes, which
loading a saved converted model needs.
"""

from keras_bigbird import _exports

_exports.exports(
    globals(),
    names={
        "PretrainedBigBirdEncoder": ".encoder",
        "gelu_approximate": ".encoder",
        "from_google_checkpoint": ".google_checkpoint",
        "QuestionMaskedSpanLogits": ".heads",
        "QuestionSegments": ".heads",
        "TransformersClassifier": ".heads",
        "TransformersQuestionAnswerer": ".heads",
        "tokenizer_from_checkpoint": ".tokenizer",
        "from_transformers": ".transformers_checkpoint",
    },
)
