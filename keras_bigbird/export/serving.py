"""`export_for_serving`: a Keras model as a TF Serving SavedModel version."""

import os
import shutil

import keras

from keras_bigbird.export import introspect
from keras_bigbird.export import layout
from keras_bigbird.export import signatures
from keras_bigbird.export import warmup
from keras_bigbird.utils import checks

SERVING_DEFAULT = "serving_default"
SERVE_TEXT = "serve_text"
_PROBABILITIES = ("auto", "softmax", "sigmoid", None)


def _build_if_needed(step):
    # ExportArchive tracks only built layers; one call builds a Keras layer.
    if isinstance(step, keras.layers.Layer) and not step.built:
        import tensorflow as tf

        step(tf.constant(["build"]))


def _check_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "export_for_serving writes a TensorFlow SavedModel and needs the "
            "TensorFlow backend (KERAS_BACKEND=tensorflow). Save the model "
            "as `.keras` and export it from a TensorFlow-backend process, "
            "for example with `keras-bigbird export`. Received backend: "
            f"{keras.backend.backend()}"
        )


def export_for_serving(
    model,
    export_base,
    name,
    version=None,
    preprocessor=None,
    max_sequence_length=None,
    vocabulary_size=None,
    num_segments=None,
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
    - `serve_text` (when `preprocessor` is given): a `[batch]` string tensor
      `text`, tokenized and packed in the graph by `preprocessor` (with
      tensorflow-text ops, which TF Serving links), then the model.

    Outputs are a dict: a model with dict outputs keeps its names (an
    encoder's `sequence_output` and `pooled_output`, a question answerer's
    `start_logits` and `end_logits`); a model with one output (a classifier
    without output activation) gives `logits` and, unless `probabilities`
    is None, `probabilities`, by default a softmax; a model with a single
    logit (a regression score) gives `logits` only, as a softmax over one
    logit is always 1.0. A model whose `activation` is softmax or sigmoid
    gives `probabilities` only. In-graph checks reject a length over the
    maximum, an empty sequence, inputs whose shapes differ from `token_ids`
    and, when the sizes are known, out-of-range token and segment ids, with an
    `InvalidArgumentError` that says which rule failed. The functions are
    not XLA-compiled (TF Serving's GPU build rejects XLA-compiled
    SavedModels) and contain only core TensorFlow and tensorflow-text ops.

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
            applied in order (a tokenizer, then a packer).
        max_sequence_length: longest accepted length; defaults to the
            `max_sequence_length` attribute of the model or of its `encoder`
            (or `backbone`).
        vocabulary_size: token ids must be below it; defaults to the
            model's (or its encoder's) `vocabulary_size` attribute; None
            skips that check.
        num_segments: segment ids must be below it; defaults to the model's
            (or its encoder's) `num_segments` attribute; None skips that
            check.
        probabilities: for a single-output model that returns logits:
            `"softmax"`, `"sigmoid"`, None (no `probabilities` output) or
            `"auto"`: the model's `problem_type` when it has one (a sigmoid
            for multi-label, None for regression), else a softmax, or None
            for a model with a single logit. `"softmax"` on a single logit
            raises a `ValueError`.
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

    layout.check_name(name)
    if probabilities not in _PROBABILITIES:
        raise ValueError(
            "Received an invalid value for argument `probabilities`, "
            f"expected one of {_PROBABILITIES}. Received: "
            f"probabilities={probabilities!r}"
        )
    model_maximum = introspect.model_attribute(model, "max_sequence_length")
    if max_sequence_length is None:
        max_sequence_length = model_maximum
    if max_sequence_length is None:
        raise ValueError(
            "Cannot tell the model's maximum sequence length: pass "
            "`max_sequence_length` (the model has no `max_sequence_length` "
            "attribute, nor does its `encoder` or `backbone`)."
        )
    checks.positive_int("max_sequence_length", max_sequence_length)
    if model_maximum is not None and max_sequence_length > model_maximum:
        raise ValueError(
            f"max_sequence_length={max_sequence_length} exceeds the model's "
            f"max_sequence_length ({model_maximum}), the longest input it "
            "takes."
        )
    if vocabulary_size is None:
        vocabulary_size = introspect.model_attribute(model, "vocabulary_size")
    if vocabulary_size is not None:
        checks.positive_int("vocabulary_size", vocabulary_size)
    if num_segments is None:
        num_segments = introspect.model_attribute(model, "num_segments")
    if num_segments is not None:
        checks.non_negative_int("num_segments", num_segments)
        # 0 means a model without segment ids: nothing to check.
        num_segments = num_segments or None
    checks.positive_int("warmup_batch_size", warmup_batch_size)
    if warmup_lengths is None:
        warmup_lengths = warmup.default_warmup_lengths(max_sequence_length)
    for length in warmup_lengths:
        checks.int_in_range("warmup_lengths", length, 1, max_sequence_length)
    input_names = introspect.model_input_names(model)
    output_names = introspect.model_output_names(model)
    activation = introspect.output_activation(model)
    if activation in (None, "linear"):
        # Resolved once, before anything is written (a softmax over one
        # logit fails here).
        probabilities = signatures.single_output_probabilities(
            probabilities,
            introspect.single_output_width(model),
            introspect.problem_type(model),
        )
    steps = introspect.preprocessor_steps(preprocessor)
    if steps is not None:
        packed = introspect.packed_length(steps)
        if packed is not None and packed > max_sequence_length:
            raise ValueError(
                f"The preprocessor packs to {packed} tokens, more than the "
                f"model's max_sequence_length={max_sequence_length}."
            )

    def run_model(features):
        features = signatures.check_features(
            features, max_sequence_length, vocabulary_size, num_segments
        )
        outputs = model(features, training=False)
        return signatures.named_outputs(
            outputs, output_names, probabilities, activation
        )

    def serve_text(text):
        preprocessed = introspect.run_preprocessor(steps, text)
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
            SERVING_DEFAULT,
            run_model,
            input_signature=signatures.token_input_signature(input_names),
        )
        if steps is not None:
            for step in steps:
                if isinstance(step, (keras.layers.Layer, tf.Module)):
                    _build_if_needed(step)
                    archive.track(step)
            archive.add_endpoint(
                SERVE_TEXT,
                serve_text,
                input_signature=signatures.text_input_signature(),
            )
        archive.write_out(staged, verbose=verbose)
        os.makedirs(os.path.join(staged, "assets"), exist_ok=True)
        records = warmup.warmup_records(
            name,
            input_names,
            warmup_lengths,
            batch_size=warmup_batch_size,
            token_signature=SERVING_DEFAULT,
            text_signature=SERVE_TEXT if steps is not None else None,
            texts=warmup_texts,
        )
        warmup.write_warmup_file(staged, records)
        return layout.publish(staged, model_dir, version)
    finally:
        if os.path.exists(staged):
            shutil.rmtree(staged)
