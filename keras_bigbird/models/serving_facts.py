"""`ServingFacts`: what a model declares for `export_for_serving`."""

import dataclasses

from keras_bigbird.utils import checks

GLOBAL_TOKEN_RULES = (None, "cls", "first_segment")
PROBLEM_TYPES = (
    None,
    "single_label_classification",
    "multi_label_classification",
    "regression",
)


def _optional_positive_int(name, value):
    if value is not None:
        checks.positive_int(name, value)


@dataclasses.dataclass(frozen=True)
class ServingFacts:
    """The facts about a model that its served signatures depend on.

    `Backbone.serving_facts()` and `Task.serving_facts()` return them, so
    the export reads what the model declares instead of guessing from its
    attributes. A user's own functional model declares them by defining a
    `serving_facts()` method, or through `export_for_serving`'s arguments.

    Args:
        max_sequence_length: the longest input the model takes (its
            position embeddings); None when it does not say.
        vocabulary_size: token ids must be below it; None skips the check.
        num_segments: segment ids must be below it; 0 for a model without
            segment ids.
        global_tokens: the rule by which the model makes tokens global in
            its own graph (`"cls"`, `"first_segment"`, see
            `GlobalTokenMask`), or None: a client sends no `global_mask`
            either way.
        output_activation: the activation the model's single output
            already applies: None or `"linear"` for logits, `"softmax"` or
            `"sigmoid"` for probabilities (served as `probabilities`, never
            put through a second softmax), another name for other values.
            Ignored for dict outputs, which are served under their names.
        problem_type: transformers' `problem_type` of a classifier head
            (`"multi_label_classification"` serves a sigmoid per label,
            `"regression"` no probabilities), or None.
        text_inputs: the names of `serve_text`'s `[batch]` string inputs:
            `("text",)`, or two names for a model that reads a pair (a
            question answerer's `("question", "context")`, packed as its
            preprocessor packs a pair).

    Example:

    >>> facts = ServingFacts(max_sequence_length=4096, vocabulary_size=100,
    ...                      num_segments=2)
    >>> facts.output_activation is None
    True
    >>> ServingFacts(num_segments=-1)
    Traceback (most recent call last):
    ...
    ValueError: Received an invalid value for argument `num_segments`, expected a non-negative integer. Received: num_segments=-1
    """

    max_sequence_length: int = None
    vocabulary_size: int = None
    num_segments: int = 0
    global_tokens: str = None
    output_activation: str = None
    problem_type: str = None
    text_inputs: tuple = ("text",)

    def __post_init__(self):
        _optional_positive_int("max_sequence_length", self.max_sequence_length)
        _optional_positive_int("vocabulary_size", self.vocabulary_size)
        checks.non_negative_int("num_segments", self.num_segments)
        checks.one_of("global_tokens", self.global_tokens, GLOBAL_TOKEN_RULES)
        if self.output_activation is not None and not isinstance(
            self.output_activation, str
        ):
            raise ValueError(
                "Received an invalid value for argument `output_activation`, "
                "expected an activation name (a string) or None. Received: "
                f"output_activation={self.output_activation!r}"
            )
        checks.one_of("problem_type", self.problem_type, PROBLEM_TYPES)
        names = self.text_inputs
        if not (
            isinstance(names, tuple)
            and len(names) in (1, 2)
            and all(isinstance(n, str) and n for n in names)
            and len(set(names)) == len(names)
        ):
            raise ValueError(
                "Received an invalid value for argument `text_inputs`, "
                "expected a tuple of one or two distinct names. Received: "
                f"text_inputs={names!r}"
            )

    def replace(self, **changes):
        """A copy with `changes` (checked like the constructor's)."""
        return dataclasses.replace(self, **changes)


def activation_name(activation):
    """The serialized name of a Keras activation (None stays None)."""
    if activation is None or isinstance(activation, str):
        return activation
    import keras

    return keras.activations.serialize(activation)
