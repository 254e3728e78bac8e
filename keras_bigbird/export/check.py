"""Checks an export against the Keras model, from a clean interpreter."""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from keras_bigbird.export import introspect
from keras_bigbird.export import saved_model_info
from keras_bigbird.export import serving_probe
from keras_bigbird.export import signatures

SERVING_DEFAULT = "serving_default"
SERVE_TEXT = "serve_text"


def run_probe(export_dir, requests, text_ops=False, timeout=600):
    """Runs `requests` against `export_dir` in a fresh Python process.

    The process runs `serving_probe.py` by path: it imports TensorFlow (and
    tensorflow_text when `text_ops`); importing `keras_bigbird` raises
    there. Returns the probe's report: `{"results": [...], "signatures":
    [...]}`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        requests_path = os.path.join(tmp, "requests.json")
        results_path = os.path.join(tmp, "results.json")
        with open(requests_path, "w") as f:
            json.dump(requests, f)
        command = [
            sys.executable,
            serving_probe.__file__,
            os.fspath(export_dir),
            requests_path,
            results_path,
        ]
        if text_ops:
            command.append("--text-ops")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"The serving probe failed (exit {done.returncode}):\n"
                f"{done.stderr[-4000:]}"
            )
        with open(results_path) as f:
            return json.load(f)


def token_requests(input_names, lengths, batch_sizes, vocabulary_size, seed=0):
    """Random `serving_default` requests: every batch size at every length.

    The padding mask keeps a random prefix of each row (at least one token)
    so that padded positions are exercised too.
    """
    rng = np.random.default_rng(seed)
    requests = []
    for length in lengths:
        for batch in batch_sizes:
            inputs = {}
            real = rng.integers(1, length + 1, size=(batch, 1))
            mask = (np.arange(length)[None, :] < real).astype("int32")
            for name in input_names:
                if name == "token_ids":
                    value = rng.integers(0, vocabulary_size, (batch, length))
                elif name == "padding_mask":
                    value = mask
                else:
                    value = (np.arange(length)[None, :] >= real // 2) & (
                        mask > 0
                    )
                inputs[name] = np.asarray(value, "int32")
            requests.append({"signature": SERVING_DEFAULT, "inputs": inputs})
    return requests


def _jsonable(requests):
    return [
        {
            "signature": r["signature"],
            "inputs": {
                k: np.asarray(v).tolist() if not isinstance(v, list) else v
                for k, v in r["inputs"].items()
            },
        }
        for r in requests
    ]


def _max_difference(served, expected):
    """Largest absolute difference over the outputs both have."""
    worst = 0.0
    for key, want in expected.items():
        got = np.asarray(served[key])
        want = np.asarray(want)
        if got.shape != want.shape:
            raise AssertionError(
                f"Output {key!r} has shape {got.shape} when served and "
                f"{want.shape} from the Keras model."
            )
        if want.size:
            worst = max(worst, float(np.max(np.abs(got - want))))
    return worst


def _expected_outputs(model, features, probabilities):
    import tensorflow as tf

    outputs = model.predict(features, verbose=0)
    if isinstance(outputs, dict):
        return outputs
    named = signatures.named_outputs(
        tf.constant(outputs),
        introspect.model_output_names(model),
        probabilities,
        introspect.output_activation(model),
        introspect.problem_type(model),
    )
    return {k: np.asarray(v) for k, v in named.items()}


def check_export(
    export_dir,
    model,
    preprocessor=None,
    texts=None,
    lengths=None,
    batch_sizes=(1, 3),
    max_sequence_length=None,
    vocabulary_size=None,
    probabilities="auto",
    atol=1e-5,
    seed=0,
):
    """Serves `export_dir` from a clean process and compares with `model`.

    Random `serving_default` requests at every length in `lengths` (by
    default 1, 37 (not a multiple of any block size above 1) and the
    maximum) and every batch size are run by `run_probe` and
    compared with `model.predict`; with `preprocessor` and `texts`, so is
    `serve_text`. Raises `AssertionError` naming the worst difference over
    `atol`. `max_sequence_length` and `vocabulary_size` default to the
    model's (or its encoder's) attributes; `probabilities` must be the one
    the export was written with.

    Returns:
        `{"serving_default": max_abs_diff, "serve_text": max_abs_diff or
        None, "requests": count}`.
    """
    input_names = introspect.model_input_names(model)
    info = saved_model_info.signature_tensors(export_dir)
    if SERVING_DEFAULT not in info:
        raise AssertionError(f"{export_dir} has no serving_default signature")
    if max_sequence_length is None:
        max_sequence_length = introspect.model_attribute(
            model, "max_sequence_length"
        )
    if vocabulary_size is None:
        vocabulary_size = introspect.model_attribute(model, "vocabulary_size")
    if max_sequence_length is None or vocabulary_size is None:
        raise ValueError(
            "Pass `max_sequence_length` and `vocabulary_size`: the model "
            "does not expose them (as attributes of itself or its encoder)."
        )
    if lengths is None:
        lengths = sorted({1, min(37, max_sequence_length), max_sequence_length})
    requests = token_requests(
        input_names, lengths, batch_sizes, vocabulary_size, seed
    )
    with_text = preprocessor is not None and bool(texts)
    if with_text:
        requests.append(
            {"signature": SERVE_TEXT, "inputs": {"text": list(texts)}}
        )
    report = run_probe(export_dir, _jsonable(requests), text_ops=with_text)
    worst = {SERVING_DEFAULT: 0.0, SERVE_TEXT: None}
    for request, result in zip(requests, report["results"]):
        if "error" in result:
            raise AssertionError(
                f"{request['signature']} failed when served: "
                f"{result['error']}"
            )
        if request["signature"] == SERVE_TEXT:
            import tensorflow as tf

            steps = introspect.preprocessor_steps(preprocessor)
            features = introspect.run_preprocessor(steps, tf.constant(texts))
            features = {k: np.asarray(features[k]) for k in input_names}
        else:
            features = {k: np.asarray(v) for k, v in request["inputs"].items()}
        expected = _expected_outputs(model, features, probabilities)
        difference = _max_difference(result["outputs"], expected)
        signature = request["signature"]
        worst[signature] = max(worst[signature] or 0.0, difference)
        if difference > atol:
            shape = np.asarray(features["token_ids"]).shape
            raise AssertionError(
                f"{signature} differs from model.predict by {difference:.3g} "
                f"(> atol={atol}) for token_ids of shape {shape}."
            )
    worst["requests"] = len(requests)
    return worst
