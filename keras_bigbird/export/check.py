"""Verifying an export: what `saved_model.pb` holds, and serving it.

Two kinds of evidence that an export serves what the Keras model computes:

- the facts a server relies on, read from `saved_model.pb`: the ops of
  every graph and library function (a server must have each registered),
  the signature tensor names (a session-based loader such as TF Serving
  feeds and fetches by them) and whether any function is marked for XLA
  compilation;
- `check_export`: the export served from a clean interpreter that cannot
  import this package (`serving_probe.py`), compared with `model.predict`
  and with probabilities computed here in numpy from the declared output
  activation, never by the code that built the served graph.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from tensorflow.core.protobuf import saved_model_pb2

from keras_bigbird.export import serving
from keras_bigbird.export import serving_probe
from keras_bigbird.export import signatures
from keras_bigbird.export.signatures import PADDING_MASK
from keras_bigbird.export.signatures import SERVE_TEXT
from keras_bigbird.export.signatures import SERVING_DEFAULT
from keras_bigbird.export.signatures import TOKEN_IDS

# Ops that call back into the Python interpreter: no server can run them.
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def read_saved_model(export_dir):
    """The `SavedModel` proto of `export_dir`."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def serving_meta_graph(export_dir, tag="serve"):
    """The MetaGraphDef tagged `tag` (what `TF_LoadSessionFromSavedModel`
    loads for that tag)."""
    for meta_graph in read_saved_model(export_dir).meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"No MetaGraph tagged {tag!r} in {export_dir}")


def op_names(export_dir, tag="serve"):
    """Every op type used by the graph and by its function library."""
    graph = serving_meta_graph(export_dir, tag).graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    # Calls to library functions appear as ops named after the function.
    functions = {function.signature.name for function in graph.library.function}
    return ops - functions


def xla_functions(export_dir, tag="serve"):
    """Names of nodes and functions that request XLA compilation."""
    graph = serving_meta_graph(export_dir, tag).graph_def
    marked = []
    attrs = ("_XlaMustCompile", "_XlaCompile")
    for function in graph.library.function:
        if any(function.attr[a].b for a in attrs if a in function.attr):
            marked.append(function.signature.name)
        for node in function.node_def:
            if any(node.attr[a].b for a in attrs if a in node.attr):
                marked.append(f"{function.signature.name}/{node.name}")
    for node in graph.node:
        if any(node.attr[a].b for a in attrs if a in node.attr):
            marked.append(node.name)
    return marked


def signature_tensors(export_dir, tag="serve"):
    """`{signature: {"inputs": {key: info}, "outputs": {key: info}}}`.

    `info` is a dict with the graph tensor `name` (`"op:index"`), the
    `dtype` name and the `shape` (None for unknown dimensions).
    """
    from tensorflow.core.framework import types_pb2

    def describe(tensor_info):
        if tensor_info.tensor_shape.unknown_rank:
            shape = None
        else:
            shape = [
                None if d.size < 0 else d.size
                for d in tensor_info.tensor_shape.dim
            ]
        return {
            "name": tensor_info.name,
            "dtype": types_pb2.DataType.Name(tensor_info.dtype),
            "shape": shape,
        }

    meta_graph = serving_meta_graph(export_dir, tag)
    result = {}
    for key, signature in meta_graph.signature_def.items():
        if key.startswith("__"):  # __saved_model_init_op and the like
            continue
        result[key] = {
            "inputs": {k: describe(v) for k, v in signature.inputs.items()},
            "outputs": {k: describe(v) for k, v in signature.outputs.items()},
        }
    return result


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
            json.dump(_jsonable(requests), f)
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
                if name == TOKEN_IDS:
                    value = rng.integers(0, vocabulary_size, (batch, length))
                elif name == PADDING_MASK:
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
    """Largest absolute difference; every expected output must be served,
    and nothing else."""
    if sorted(served) != sorted(expected):
        raise AssertionError(
            f"The served outputs are {sorted(served)}; the model's declared "
            f"outputs are {sorted(expected)}."
        )
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


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))


def expected_outputs(model, features, activation, probabilities):
    """What the export should serve for `features`, computed here.

    `model.predict` gives the model's outputs; the served names and the
    probabilities follow from the declared `activation` and the resolved
    `probabilities` (see `serving.output_plan`) in numpy, so a served
    graph that computes them wrongly fails the check.
    """
    outputs = model.predict(features, verbose=0)
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, (list, tuple)):
        names = serving.output_names(model)
        if names is None or len(names) != len(outputs):
            names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(names, outputs))
    if activation in serving.PROBABILITY_ACTIVATIONS:
        return {"probabilities": outputs}
    if activation not in (None, "linear"):
        return {"outputs": outputs}
    expected = {"logits": outputs}
    if probabilities == "softmax":
        expected["probabilities"] = _softmax(outputs)
    elif probabilities == "sigmoid":
        expected["probabilities"] = _sigmoid(outputs)
    return expected


def check_export(
    export_dir,
    model,
    preprocessor=None,
    texts=None,
    lengths=None,
    batch_sizes=(1, 3),
    max_sequence_length=None,
    vocabulary_size=None,
    output_activation=None,
    probabilities="auto",
    atol=1e-5,
    seed=0,
):
    """Serves `export_dir` from a clean process and compares with `model`.

    Random `serving_default` requests at every length in `lengths` (by
    default 1, 37 (not a multiple of any block size above 1) and the
    maximum) and every batch size are run by `run_probe` and compared
    with `model.predict`, and the probabilities with a numpy softmax or
    sigmoid of its logits; with `texts` (a list of strings, or a
    `(questions, contexts)` tuple of lists for a model served pairs), so
    is `serve_text` (through `preprocessor`, else the model's own). Raises `AssertionError` naming
    the worst difference over `atol`, or an output served that should not
    be (or not served that should). `max_sequence_length`,
    `vocabulary_size` and `output_activation` default to the model's
    declared `serving_facts()` (required for a model without);
    `probabilities` must be the one the export was written with.

    Returns:
        `{"serving_default": max_abs_diff, "serve_text": max_abs_diff or
        None, "requests": count}`.
    """
    input_names = signatures.model_input_names(model)
    info = signature_tensors(export_dir)
    if SERVING_DEFAULT not in info:
        raise AssertionError(f"{export_dir} has no serving_default signature")
    facts = serving.serving_facts(
        model, max_sequence_length, vocabulary_size,
        output_activation=output_activation,
    )
    if facts.vocabulary_size is None:
        raise ValueError(
            "Pass `vocabulary_size`: the random token ids of the check are "
            "drawn below it, and the model declares none."
        )
    activation, probabilities = serving.output_plan(
        model, facts, probabilities
    )
    longest = facts.max_sequence_length
    if lengths is None:
        lengths = sorted({1, min(37, longest), longest})
    requests = token_requests(
        input_names, lengths, batch_sizes, facts.vocabulary_size, seed
    )
    steps = None
    if texts:
        steps = serving.text_steps(model, preprocessor, True, longest)
        if steps is None:
            raise ValueError(
                "Received `texts` to check `serve_text`, but there is no "
                "preprocessor: pass `preprocessor`, or a task model with one."
            )
        names = facts.text_inputs
        if len(names) == 1:
            texts = [list(texts)]
        elif not (isinstance(texts, tuple) and len(texts) == len(names)):
            raise ValueError(
                f"Received an invalid value for argument `texts`: serve_text "
                f"takes {names}, so pass a tuple of {len(names)} lists of "
                f"strings. Received: texts={texts!r}"
            )
        texts = [list(given) for given in texts]
        requests.append(
            {"signature": SERVE_TEXT, "inputs": dict(zip(names, texts))}
        )
    report = run_probe(export_dir, requests, text_ops=steps is not None)
    worst = {SERVING_DEFAULT: 0.0, SERVE_TEXT: None}
    for request, result in zip(requests, report["results"]):
        signature = request["signature"]
        if "error" in result:
            raise AssertionError(
                f"{signature} failed when served: {result['error']}"
            )
        if signature == SERVE_TEXT:
            import tensorflow as tf

            given = tuple(tf.constant(t) for t in texts)
            features = serving.run_preprocessor(
                steps, given if len(given) > 1 else given[0]
            )
            features = {k: np.asarray(features[k]) for k in input_names}
        else:
            features = {k: np.asarray(v) for k, v in request["inputs"].items()}
        expected = expected_outputs(model, features, activation, probabilities)
        difference = _max_difference(result["outputs"], expected)
        worst[signature] = max(worst[signature] or 0.0, difference)
        if difference > atol:
            shape = np.asarray(features[TOKEN_IDS]).shape
            raise AssertionError(
                f"{signature} differs from model.predict by {difference:.3g} "
                f"(> atol={atol}) for token_ids of shape {shape}."
            )
    worst["requests"] = len(requests)
    return worst
