"""Training: `keras-bigbird train` and the helpers the examples share."""

from keras_bigbird import _exports

_exports.exports(
    globals(),
    names={
        "TrainingResult": ".loop",
        "fit_evaluate_save": ".loop",
        "report": ".loop",
        "save_preprocessor": ".loop",
        "training_callbacks": ".loop",
        "DEFAULTS": ".options",
        "parse_config": ".options",
        "compile_for_task": ".text",
        "corpus_texts": ".text",
        "label_baseline": ".text",
        "text_tokenizer": ".text",
        "encoder_from_options": ".train",
        "learning_rate_schedule": ".train",
        "train": ".train",
    },
)
