"""`export_for_serving`: a Keras model as a TF Serving SavedModel version.

This module builds the served functions: the model's declared
`ServingFacts` (or the caller's arguments) decide the checks and the
output names; `signatures` holds the names and the input checks,
`layout` the directory and the warmup file.
"""

import os
import shutil
import warnings

import keras

from keras_bigbird.export import layout
from keras_bigbird.export import signatures
from keras_bigbird.models.serving_facts import ServingFacts
from keras_bigbird.models.serving_facts import activation_name
from keras_bigbird.utils import checks

PROBABILITIES = ("auto", "softmax", "sigmoid", None)
# Activations after which a model's single output already is a probability.
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def _check_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "export_for_serving writes a TensorFlow SavedModel and needs the "
            "TensorFlow backend (KERAS_BACKEND=tensorflow). Save the model "
            "as `.keras` and export it from a TensorFlow-backend process, "
            "for example with `keras-bigbird export`. Received backend: "
            f"{keras.backend.backend()}"
        )


def final_activation(model):
    """`"softmax"`/`"sigmoid"` when the model's single output is made by
    one (a `Dense(activation=...)`, a `Softmax` or `Activation` layer, a
    `keras.ops` call), else None."""
    try:
        output = model.output
    except (AttributeError, ValueError):
        return None
    history = getattr(output, "_keras_history", None)
    if history is None:
        return None
    operation = history[0]
    if isinstance(operation, keras.layers.Softmax):
        return "softmax"
    activation = getattr(operation, "activation", None)
    if activation is not None:
        try:
            name = activation_name(activation)
        except (TypeError, ValueError):
            return None
    else:
        name = type(operation).__name__.lower()
    return name if name in PROBABILITY_ACTIVATIONS else None


def serving_facts(
    model,
    max_sequence_length=None,
    vocabulary_size=None,
    num_segments=None,
    output_activation=None,
):
    """The model's `ServingFacts`, with the arguments given instead.

    A model with a `serving_facts()` method (every `Backbone` and `Task`)
    declares them; a user's own functional model takes them from the
    arguments, and `max_sequence_length` is then required. Raises
    `ValueError` naming what is missing or too large.
    """
    declare = getattr(type(model), "serving_facts", None)
    declared = declare(model) if callable(declare) else None
    if declared is not None and not isinstance(declared, ServingFacts):
        raise ValueError(
            f"{type(model).__name__}.serving_facts() must return a "
            f"`ServingFacts`. Received: {declared!r}"
        )
    if max_sequence_length is not None:
        checks.positive_int("max_sequence_length", max_sequence_length)
    facts = declared or ServingFacts()
    longest = facts.max_sequence_length
    if max_sequence_length is None and longest is None:
        raise ValueError(
            "Cannot tell the model's maximum sequence length: pass "
            "`max_sequence_length` (the longest input it takes). "
            + (
                f"{type(model).__name__}.serving_facts() declares none."
                if declared is not None
                else f"{type(model).__name__} declares no serving facts (it "
                "has no `serving_facts()` method): pass "
                "`max_sequence_length`, and `vocabulary_size` and "
                "`num_segments` to check ids against them."
            )
        )
    if longest is not None and (max_sequence_length or 0) > longest:
        raise ValueError(
            f"max_sequence_length={max_sequence_length} exceeds the model's "
            f"max_sequence_length ({longest}), the longest input it takes."
        )
    changes = {
        "max_sequence_length": max_sequence_length,
        "vocabulary_size": vocabulary_size,
        "num_segments": num_segments,
        "output_activation": output_activation,
    }
    return facts.replace(
        **{k: v for k, v in changes.items() if v is not None}
    )


def served_probabilities(facts, probabilities, num_logits):
    """The `probabilities` to add to a single logits output, resolved.

    `"auto"` follows the declared `problem_type` when there is one (a
    converted transformers classifier keeps the checkpoint's): a sigmoid
    per label for `"multi_label_classification"`, none for `"regression"`.
    Otherwise it is a softmax, except over a single logit (a regression
    score, as `keras-bigbird train` builds for a regression task), where a
    softmax is always 1.0: then there is no `probabilities` output.

    Args:
        facts: the model's `ServingFacts`.
        probabilities: `"auto"`, `"softmax"`, `"sigmoid"` or None.
        num_logits: the size of the logits' last axis, or None if unknown.

    Returns:
        `"softmax"`, `"sigmoid"` or None.
    """
    single = num_logits == 1
    if probabilities == "auto":
        if facts.problem_type == "multi_label_classification":
            return "sigmoid"
        if single or facts.problem_type == "regression":
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


def _output_width(model):
    try:
        shape = model.output.shape
    except (AttributeError, ValueError):
        return None
    return shape[-1] if shape else None


def _warn_undeclared_activation(model, declared, probabilities):
    found = final_activation(model)
    if found is None or declared is not None or probabilities is None:
        return
    warnings.warn(
        f"The output of {type(model).__name__} {model.name!r} ends in a "
        f"{found}, but the model does not declare it: it would be served "
        f"as `logits`, and `probabilities` would be a {probabilities} of "
        f"those probabilities. Pass `output_activation={found!r}` to "
        "export_for_serving (or give the model a `serving_facts()` method "
        f"returning `ServingFacts(output_activation={found!r}, ...)`) to "
        "serve it as `probabilities`.",
        UserWarning,
        stacklevel=3,
    )


def output_plan(model, facts, probabilities="auto"):
    """How the single output is named: `(activation, probabilities)`.

    Resolved once, before anything is written (a softmax over one logit
    fails here); also what `check_export` expects.
    """
    if probabilities not in PROBABILITIES:
        raise ValueError(
            "Received an invalid value for argument `probabilities`, "
            f"expected one of {PROBABILITIES}. Received: "
            f"probabilities={probabilities!r}"
        )
    activation = facts.output_activation
    if activation not in (None, "linear"):
        return activation, None
    probabilities = served_probabilities(
        facts, probabilities, _output_width(model)
    )
    return activation, probabilities


def named_outputs(outputs, output_names, activation, probabilities):
    """A dict of output tensors with stable names.

    A dict passes through. A list or tuple takes `output_names` (the
    functional model's output names). A single tensor is a classifier's
    output: with `activation` None or `"linear"` it is `logits`, and
    `probabilities` (`"softmax"`, `"sigmoid"` or None, resolved by
    `output_plan`) adds `probabilities`; with a softmax or sigmoid
    `activation` it already is `probabilities`; with another activation it
    is `outputs`.
    """
    import tensorflow as tf

    if isinstance(outputs, dict):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        if output_names is None or len(output_names) != len(outputs):
            output_names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(output_names, outputs))
    if activation in PROBABILITY_ACTIVATIONS:
        return {"probabilities": outputs}
    if activation not in (None, "linear"):
        return {"outputs": outputs}
    named = {"logits": outputs}
    if probabilities == "softmax":
        named["probabilities"] = tf.nn.softmax(outputs, axis=-1)
    elif probabilities == "sigmoid":
        named["probabilities"] = tf.math.sigmoid(outputs)
    return named


def output_names(model):
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
        raise ValueError(
            "Received an invalid value for argument `preprocessor`: an "
            "empty list. Received: preprocessor=[]"
        )
    for step in steps:
        if not callable(step):
            raise ValueError(
                "Received an invalid value for argument `preprocessor`: it "
                "must be a callable or a list of callables. Received: "
                f"preprocessor={step!r}"
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


def text_steps(model, preprocessor, serve_text, max_sequence_length):
    """The steps of `serve_text`: `preprocessor`, else the task model's
    own `preprocessor`; None for no `serve_text`."""
    if not isinstance(serve_text, bool):
        raise ValueError(
            "Received an invalid value for argument `serve_text`, expected "
            f"True or False. Received: serve_text={serve_text!r}"
        )
    if preprocessor is None and serve_text:
        # `Task.preprocessor`: a task model owns the preprocessing it
        # was trained with, so its export serves text with no other file.
        preprocessor = getattr(model, "preprocessor", None)
    steps = preprocessor_steps(preprocessor)
    if steps is None or not serve_text:
        return None
    packed = packed_length(steps)
    if packed is not None and packed > max_sequence_length:
        raise ValueError(
            f"The preprocessor packs to {packed} tokens, more than the "
            f"model's max_sequence_length={max_sequence_length}."
        )
    return steps


def _build_if_needed(step):
    # ExportArchive tracks only built layers; one call builds a Keras layer.
    if isinstance(step, keras.layers.Layer) and not step.built:
        import tensorflow as tf

        step(tf.constant(["build"]))


def export_for_serving(
    model,
    export_base,
    name,
    version=None,
    preprocessor=None,
    serve_text=True,
    max_sequence_length=None,
    vocabulary_size=None,
    num_segments=None,
    output_activation=None,
    probabilities="auto",
    warmup_lengths=None,
    warmup_batch_size=1,
    warmup_texts=None,
    overwrite=False,
    verbose=False,
):
    """Exports `model` as `export_base/name/version/` for TF Serving.

    The SavedModel is written through `keras.export.ExportArchive` with two
    signatures:

    - `serving_default`: int32 `token_ids`, `padding_mask` (and
      `segment_ids` if the model takes them), each `[batch, length]` with
      both dimensions dynamic, for any length from 1 to
      `max_sequence_length`. BigBirdAttention pads to whole blocks inside
      the graph, so the result equals `model.predict` on the same input.
    - `serve_text`: a `[batch]` string tensor `text` (for a question
      answerer, `question` and `context`), tokenized and packed
      in the graph (with tensorflow-text ops, which TF Serving links), then
      the model. It is added for `preprocessor`, or for a task model's own
      `preprocessor` (a `BigBirdPreprocessor`) when none is given, unless
      `serve_text=False`. A text tensor of another rank is an error, never
      a dropped text. Loading it in Python needs `import tensorflow_text`
      first (it registers the ops).

    What is checked and how the outputs are named come from the model's
    `serving_facts()` (see `ServingFacts`; every `Backbone` and `Task` has
    one); a user's own functional model gives them as arguments. Outputs
    are a dict: a model with dict outputs keeps its names (an encoder's
    `sequence_output` and `pooled_output`, a question answerer's
    `start_logits` and `end_logits`); a model with one logits output gives
    `logits` and, unless `probabilities` is None, `probabilities`, by
    default a softmax; a model with a single logit (a regression score)
    gives `logits` only, as a softmax over one logit is always 1.0. A
    model whose declared `output_activation` is softmax or sigmoid gives
    `probabilities` only; a model that ends in one without declaring it
    gets a warning (its probabilities would be put through a softmax).

    In-graph checks reject an input of the wrong rank, a length over the
    maximum, an empty sequence, inputs whose shapes differ from
    `token_ids`, a mask other than 0/1 and, when the sizes are known,
    out-of-range token and segment ids, with an `InvalidArgumentError`
    that names the input and the rule. The functions are not XLA-compiled
    (TF Serving's GPU build rejects XLA-compiled SavedModels) and contain
    only core TensorFlow and tensorflow-text ops.

    The version directory also holds
    `assets.extra/tf_serving_warmup_requests`: one `PredictRequest` per
    warmup length (and one text request), which TF Serving replays on load.
    The version is written under a hidden name and renamed into place, so a
    server polling `export_base/name` never sees a partial version.

    Needs the TensorFlow backend.

    Args:
        model: a Keras model called on a dict with `token_ids`,
            `padding_mask` and optionally `segment_ids`.
        export_base: directory that TF Serving's `--model_base_path` points
            to the parent of: the model is written to
            `export_base/name/version`.
        name: model name (the directory, and the name in serving URLs).
        version: positive int, or None for one more than the highest
            existing version (1 for the first).
        preprocessor: optional callable (a Keras layer, say) mapping a
            `[batch]` string tensor to a dict of model inputs (a Keras-style
            `(x, y, sample_weight)` tuple also works); or a list of callables
            applied in order (a tokenizer, then a packer). Default: the
            model's own `preprocessor`, if it has one.
        serve_text: False to add no `serve_text`, whatever the preprocessor.
        max_sequence_length: longest accepted length; defaults to the
            model's declared one (and may not exceed it). Required for a
            model that declares no serving facts.
        vocabulary_size: token ids must be below it; defaults to the
            model's declared one; None (undeclared) skips that check.
        num_segments: segment ids must be below it; defaults to the
            model's declared one; None or 0 skips that check.
        output_activation: the activation the model's single output
            already applies, when the model does not declare it:
            `"softmax"` or `"sigmoid"` serve the output as `probabilities`.
        probabilities: for a single-output model that returns logits:
            `"softmax"`, `"sigmoid"`, None (no `probabilities` output) or
            `"auto"`: the declared `problem_type` when there is one (a
            sigmoid for multi-label, None for regression), else a softmax,
            or None for a model with a single logit. `"softmax"` on a
            single logit raises a `ValueError`.
        warmup_lengths: sequence lengths of the warmup requests; defaults to
            a short, a middle and the maximum length.
        warmup_batch_size: batch size of the warmup requests.
        warmup_texts: strings of the `serve_text` warmup request.
        overwrite: whether an existing `version` may be replaced.
        verbose: print the endpoints as `ExportArchive` writes them.

    Returns:
        The path of the written version directory.

    Example:

    ```python
    path = export_for_serving(classifier, "/models", name="bigbird")
    # /models/bigbird/1 ; serve with tensorflow/serving:
    # docker run -p 8501:8501 -v /models/bigbird:/models/bigbird \\
    #   -e MODEL_NAME=bigbird tensorflow/serving
    ```
    """
    _check_backend()
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise ValueError(
            "Received an invalid value for argument `model`, expected a "
            f"Keras model. Received: model={model!r}"
        )
    layout.check_name(name)
    facts = serving_facts(
        model, max_sequence_length, vocabulary_size, num_segments,
        output_activation,
    )
    max_sequence_length = facts.max_sequence_length
    vocabulary_size = facts.vocabulary_size
    # 0 means a model without segment ids: nothing to check.
    num_segments = facts.num_segments or None
    checks.positive_int("warmup_batch_size", warmup_batch_size)
    if warmup_lengths is None:
        warmup_lengths = layout.default_warmup_lengths(max_sequence_length)
    for length in warmup_lengths:
        checks.int_in_range("warmup_lengths", length, 1, max_sequence_length)
    input_names = signatures.model_input_names(model)
    names = output_names(model)
    activation, probabilities = output_plan(model, facts, probabilities)
    _warn_undeclared_activation(model, facts.output_activation, probabilities)
    steps = text_steps(model, preprocessor, serve_text, max_sequence_length)

    def run_model(features):
        features = signatures.check_features(
            features, max_sequence_length, vocabulary_size, num_segments
        )
        outputs = model(features, training=False)
        return named_outputs(outputs, names, activation, probabilities)

    def run_text(*texts):
        texts = signatures.check_texts(texts, facts.text_inputs)
        preprocessed = run_preprocessor(steps, texts)
        return run_model(signatures.packed_features(preprocessed, input_names))

    model_dir = os.path.join(os.fspath(export_base), name)
    version = layout.resolve_version(model_dir, version, overwrite)
    staged = layout.staging_dir(model_dir, version)
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        # `add_endpoint` wraps each function in a plain `tf.function` (no
        # `jit_compile`); the first endpoint is `serving_default`.
        archive.add_endpoint(
            signatures.SERVING_DEFAULT,
            run_model,
            input_signature=signatures.token_input_signature(input_names),
        )
        if steps is not None:
            for step in steps:
                if isinstance(step, (keras.layers.Layer, tf.Module)):
                    _build_if_needed(step)
                    archive.track(step)
            archive.add_endpoint(
                signatures.SERVE_TEXT,
                run_text,
                input_signature=signatures.text_input_signature(
                    facts.text_inputs
                ),
            )
        archive.write_out(staged, verbose=verbose)
        os.makedirs(os.path.join(staged, "assets"), exist_ok=True)
        records = layout.warmup_records(
            name,
            input_names,
            warmup_lengths,
            batch_size=warmup_batch_size,
            text_signature=signatures.SERVE_TEXT if steps else None,
            text_names=facts.text_inputs,
            texts=warmup_texts,
        )
        layout.write_warmup_file(staged, records)
        return layout.publish(staged, model_dir, version)
    finally:
        if os.path.exists(staged):
            shutil.rmtree(staged)
