"""The served signatures' names and the checks of what a request holds.

The names are defined here once: the export, its checks, the CLI and the
tests read them from this module. Everything here runs inside the
`tf.function`s that `keras.export.ExportArchive` traces (no `jit_compile`,
no Python ops), so the checks hold in any TensorFlow runtime: TF Serving,
the C API, `tf.saved_model.load`.
"""

import tensorflow as tf

from keras_bigbird.layers.input_validation import InputRules
from keras_bigbird.layers.input_validation import model_input_rules

SERVING_DEFAULT = "serving_default"
SERVE_TEXT = "serve_text"

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


def text_input_signature(names=(TEXT,)):
    """`[string TensorSpec [batch]]` per name, one text per example."""
    return [tf.TensorSpec([None], tf.string, name=name) for name in names]


def model_input_names(model):
    """The model's dict input names, in signature order.

    The model must be called on a dict holding `token_ids` and
    `padding_mask`, and optionally `segment_ids`. An optional `global_mask`
    (`BigBirdEncoder`'s) is not served: the served model is called without
    it, as a Keras model called without it (task models derive their
    global tokens from the other inputs in the graph).
    """
    try:
        inputs = model.input
    except (AttributeError, ValueError):
        inputs = None
    if not isinstance(inputs, dict):
        raise ValueError(
            "Serving export needs a model called on a dict of inputs named "
            "`token_ids` and `padding_mask` (and optionally `segment_ids`), "
            "such as a functional model built from `keras.Input`s of those "
            f"names. Received a model whose inputs are: {inputs!r}"
        )
    optional = set(getattr(model, "optional_inputs", ()))
    inputs = {
        k: v for k, v in inputs.items()
        if not (k == GLOBAL_MASK and k in optional)
    }
    unknown = sorted(set(inputs) - set(INPUT_NAMES))
    missing = [name for name in (TOKEN_IDS, PADDING_MASK) if name not in inputs]
    if unknown or missing:
        raise ValueError(
            "The model's inputs must be `token_ids`, `padding_mask` and "
            f"optionally `segment_ids`. Missing: {missing}; not servable: "
            f"{unknown}. Received input names: {sorted(inputs)}"
        )
    return tuple(name for name in INPUT_NAMES if name in inputs)


def _run_time_rank(tensor):
    # A signature's placeholder keeps its declared rank in the graph, so
    # `tf.rank` is folded to that constant; but a session (TF Serving, the
    # C API, `signatures[...]`) feeds any shape. The size of a `tf.where`
    # result is only known when it runs, so this counts the dimensions fed.
    return tf.shape(tf.where(tf.shape(tensor) >= 0), out_type=tf.int32)[0]


def assert_rank(name, tensor, rank, layout):
    """An assertion that `tensor` (input `name`) has `rank` dimensions.

    Raises `ValueError` now when the rank is already known to be wrong (an
    eager call); in the graph an `InvalidArgumentError` names the input and
    the shape received.
    """
    known = tensor.shape.rank
    if known is not None and known != rank:
        raise ValueError(
            f"`{name}` must be a {layout} tensor (rank {rank}). Received: "
            f"{name} of shape {tuple(tensor.shape)}"
        )
    return tf.debugging.Assert(
        tf.equal(_run_time_rank(tensor), rank),
        [
            f"`{name}` must be a {layout} tensor (rank {rank}). Received: "
            f"{name} of shape",
            tf.shape(tensor),
        ],
        name=f"check_{name}_rank",
    )


def check_text(text, name=TEXT):
    """`text` (input `name`) gated on being `[batch]` strings: every text
    gets a row.

    A `[1, 2]` tensor would otherwise be tokenized as one example and one
    of its texts dropped.
    """
    if text.dtype != tf.string:
        raise ValueError(
            f"`{name}` must be a string tensor. Received: {name} of dtype "
            f"{text.dtype.name}"
        )
    check = assert_rank(name, text, 1, "[batch] string")
    with tf.control_dependencies([check]):
        return tf.identity(text)


def check_texts(texts, names):
    """`check_text` of each input; a pair must hold one text of each per
    example (else one of them would be paired with nothing)."""
    texts = [check_text(text, name) for text, name in zip(texts, names)]
    if len(texts) == 1:
        return texts[0]
    first, second = names
    same = tf.debugging.assert_equal(
        tf.shape(texts[0])[0],
        tf.shape(texts[1])[0],
        message=f"`{second}` must hold one text per `{first}`",
    )
    with tf.control_dependencies([same]):
        return tuple(tf.identity(text) for text in texts)


def check_features(
    features, max_sequence_length, vocabulary_size=None, num_segments=None
):
    """Returns `features` gated on in-graph checks with clear messages.

    First each input must be `[batch, length]`; then the checks run before
    the model: a length over `max_sequence_length` (position embeddings,
    the trained pattern), and the rules of the model's inputs
    (`InputRules`: an empty sequence, an input whose shape differs from
    `token_ids`, a token id outside `[0, vocabulary_size)`, a segment id
    outside `[0, num_segments)`, a mask other than 0/1; a GPU gather would
    silently map a bad id to zeros). Each fails with an
    `InvalidArgumentError` naming the input and the rule.
    """
    ranks = [
        assert_rank(name, tensor, 2, "[batch, length] int32")
        for name, tensor in features.items()
    ]
    # Shapes are read only once the ranks are known to be right, so a
    # wrong rank reports itself instead of failing a slice.
    with tf.control_dependencies(ranks):
        features = {name: tf.identity(t) for name, t in features.items()}
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
