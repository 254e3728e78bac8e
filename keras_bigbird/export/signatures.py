"""The serving functions: checked int32 inputs in, a dict of named outputs out.

Everything here is plain TensorFlow run inside the `tf.function`s that
`keras.export.ExportArchive` traces (no `jit_compile`, no Python ops), so the
graph runs in any TensorFlow runtime: TF Serving, the C API, `tf.saved_model`.
"""

import tensorflow as tf

from keras_bigbird.layers.input_validation import InputRules
from keras_bigbird.layers.input_validation import model_input_rules

TOKEN_IDS = "token_ids"
PADDING_MASK = "padding_mask"
SEGMENT_IDS = "segment_ids"
INPUT_NAMES = (TOKEN_IDS, PADDING_MASK, SEGMENT_IDS)
GLOBAL_MASK = "global_mask"  # optional model input, not served
TEXT = "text"


def token_input_signature(input_names):
    """`[{name: int32 TensorSpec [batch, length]}]`, both dims dynamic."""
    return [
        {
            name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in input_names
        }
    ]


def text_input_signature():
    """`[string TensorSpec [batch]]`, one text per example."""
    return [tf.TensorSpec([None], tf.string, name=TEXT)]


def check_features(
    features, max_sequence_length, vocabulary_size=None, num_segments=None
):
    """Returns `features` gated on in-graph checks with clear messages.

    The checks run before the model: a length over `max_sequence_length`
    (position embeddings, the trained pattern), and the rules of the
    model's inputs (`InputRules`: an empty sequence, an input whose shape
    differs from `token_ids`, a token id outside `[0, vocabulary_size)`, a
    segment id outside `[0, num_segments)`, a mask other than 0/1; a GPU
    gather would silently map a bad id to zeros) fail with
    `InvalidArgumentError` naming the input and the rule.
    """
    length = tf.shape(features[TOKEN_IDS], out_type=tf.int32)[1]
    checks = [
        tf.debugging.assert_less_equal(
            length,
            tf.constant(max_sequence_length, tf.int32),
            message=(
                "token_ids is longer than the maximum sequence length "
                f"({max_sequence_length}) of this model"
            ),
        )
    ]
    rules = model_input_rules(
        "The served model", vocabulary_size or 1, num_segments or 0
    )
    values = [
        rule for rule in rules.values
        if vocabulary_size is not None or rule.name != TOKEN_IDS
    ]
    served = InputRules(rules.model_name, (TOKEN_IDS,), tuple(features))
    checks += served.tf_assertions(features, values)
    with tf.control_dependencies(checks):
        return {name: tf.identity(tensor) for name, tensor in features.items()}


def single_output_probabilities(probabilities, num_logits, problem_type=None):
    """The `probabilities` to add to a single logits output, resolved.

    `"auto"` follows the model's `problem_type` when it has one (a converted
    transformers classifier keeps the checkpoint's): a sigmoid per label for
    `"multi_label_classification"`, none for `"regression"`. Otherwise it is
    a softmax, except over a single logit (a regression score, as
    `keras-bigbird train` builds for a regression task), where a softmax is
    always 1.0: then there is no `probabilities` output.

    Args:
        probabilities: `"auto"`, `"softmax"`, `"sigmoid"` or None.
        num_logits: the size of the logits' last axis, or None if unknown.
        problem_type: the model's `problem_type` attribute, or None.

    Returns:
        `"softmax"`, `"sigmoid"` or None.
    """
    single = num_logits == 1
    if probabilities == "auto":
        if problem_type == "multi_label_classification":
            return "sigmoid"
        if single or problem_type == "regression":
            return None
        return "softmax"
    if probabilities == "softmax" and single:
        raise ValueError(
            "Received an invalid value for argument `probabilities`: a "
            "softmax over the model's single logit is always 1.0. Pass "
            "'sigmoid' for a binary classifier with one logit, or None (or "
            "'auto') for a regression score, served as `logits`. Received: "
            "probabilities='softmax'"
        )
    return probabilities


def named_outputs(
    outputs,
    output_names=None,
    probabilities="auto",
    activation=None,
    problem_type=None,
):
    """A dict of output tensors with stable names.

    A dict passes through. A list or tuple takes `output_names` (the
    functional model's output names). A single tensor is a classifier's
    output: with `activation` None or `"linear"` it is `logits`, and
    `probabilities` (`"auto"`, `"softmax"` or `"sigmoid"`, None for none;
    see `single_output_probabilities`, which `problem_type` is passed to)
    adds `probabilities`; with a softmax or sigmoid `activation` it already
    is `probabilities`; with another activation it is `outputs`.
    """
    if isinstance(outputs, dict):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        if output_names is None or len(output_names) != len(outputs):
            output_names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(output_names, outputs))
    if activation in ("softmax", "sigmoid"):
        return {"probabilities": outputs}
    if activation not in (None, "linear"):
        return {"outputs": outputs}
    named = {"logits": outputs}
    probabilities = single_output_probabilities(
        probabilities, outputs.shape[-1], problem_type
    )
    if probabilities == "softmax":
        named["probabilities"] = tf.nn.softmax(outputs, axis=-1)
    elif probabilities == "sigmoid":
        named["probabilities"] = tf.math.sigmoid(outputs)
    return named


def packed_features(preprocessed, input_names):
    """The int32 model inputs from a preprocessor's dict output."""
    if not isinstance(preprocessed, dict):
        raise ValueError(
            "The preprocessor must return a dict of model inputs "
            f"({', '.join(input_names)}). Received: {type(preprocessed)}"
        )
    missing = [name for name in input_names if name not in preprocessed]
    if missing:
        raise ValueError(
            f"The preprocessor's output lacks {missing}, which the model "
            f"takes. Received keys: {sorted(preprocessed)}"
        )
    features = {}
    for name in input_names:
        tensor = preprocessed[name]
        if isinstance(tensor, tf.RaggedTensor):
            raise ValueError(
                f"The preprocessor returned a ragged `{name}`: it must pack "
                "and pad to a dense [batch, length] tensor."
            )
        features[name] = tf.cast(tensor, tf.int32)
    return features
