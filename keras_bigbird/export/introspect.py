"""What the export needs to know about a model and its preprocessor."""

from keras_bigbird.export.signatures import GLOBAL_MASK
from keras_bigbird.export.signatures import INPUT_NAMES
from keras_bigbird.export.signatures import PADDING_MASK
from keras_bigbird.export.signatures import TOKEN_IDS


def model_attribute(model, name):
    """The int `<name>` of the model, or of its `encoder` or `backbone`."""
    owners = (
        model,
        getattr(model, "encoder", None),
        getattr(model, "backbone", None),
    )
    for owner in owners:
        value = getattr(owner, name, None) if owner is not None else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


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


def output_activation(model):
    """The serialized name of a task model's output `activation`, or None.

    `"softmax"`/`"sigmoid"` mean the single output already holds
    probabilities; None or `"linear"` mean logits.
    """
    activation = getattr(model, "activation", None)
    if activation is None or isinstance(activation, str):
        return activation
    try:
        import keras

        return keras.activations.serialize(activation)
    except (TypeError, ValueError):
        return getattr(activation, "__name__", "custom")


def single_output_width(model):
    """The last dimension of a model's single output tensor, or None."""
    try:
        output = model.output
    except (AttributeError, ValueError):
        return None
    shape = getattr(output, "shape", None)
    return shape[-1] if shape else None


def problem_type(model):
    """A classifier's `problem_type` (transformers' names), or None."""
    value = getattr(model, "problem_type", None)
    return value if isinstance(value, str) else None


def model_output_names(model):
    """A functional model's output names, or None."""
    names = getattr(model, "output_names", None)
    return list(names) if names else None


def preprocessor_steps(preprocessor):
    """`preprocessor` as a list of callables (None stays None)."""
    if preprocessor is None:
        return None
    if isinstance(preprocessor, (list, tuple)):
        steps = list(preprocessor)
    else:
        steps = [preprocessor]
    if not steps:
        raise ValueError("`preprocessor` is an empty list.")
    for step in steps:
        if not callable(step):
            raise ValueError(
                "`preprocessor` must be a callable or a list of callables. "
                f"Received: {step!r}"
            )
    return steps


def run_preprocessor(steps, text):
    """Applies the steps in order; a `(x, y, sample_weight)` gives `x`."""
    for step in steps:
        text = step(text)
    if isinstance(text, (list, tuple)):
        text = text[0]
    return text


def packed_length(steps):
    """The sequence length the last step packs to, if it says."""
    for name in ("sequence_length", "max_sequence_length"):
        value = getattr(steps[-1], name, None)
        if isinstance(value, int):
            return value
    return None
