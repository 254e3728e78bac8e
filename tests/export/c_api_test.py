"""The exports served with no Python: TensorFlow's C API, as TF Serving does.

`run_saved_model.c` is compiled here against the C API headers and
libraries of the installed tensorflow wheel. It loads the SavedModel with
`TF_LoadSessionFromSavedModel` (tag "serve": the session-based loader of TF
Serving), loads tensorflow-text's op libraries with `TF_LoadLibrary` when
asked, and feeds and fetches the signature tensors whose names this test
reads from `saved_model.pb`.
"""

import glob
import os
import re
import subprocess

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text
from tensorflow.core.framework import op_def_pb2

from keras_bigbird.export import check
from keras_bigbird.export import serving
from tests.export.conftest import MAX_LENGTH
from tests.export.conftest import TEXTS

pytestmark = pytest.mark.tf_only

SOURCE = os.path.join(os.path.dirname(__file__), "run_saved_model.c")
TEXT_OP_LIBRARIES = sorted(
    glob.glob(
        os.path.join(
            os.path.dirname(tensorflow_text.__file__), "python", "ops", "*.so"
        )
    )
)


@pytest.fixture(scope="session")
def runner(tmp_path_factory):
    """The compiled C program (gcc, against the wheel's C API)."""
    binary = str(tmp_path_factory.mktemp("c_api") / "run_saved_model")
    lib_dir = tf.sysconfig.get_lib()
    command = [
        "gcc",
        "-std=c11",
        "-O1",
        "-Wall",
        "-Werror",
        "-D_POSIX_C_SOURCE=200809L",
        SOURCE,
        "-o",
        binary,
        "-I",
        tf.sysconfig.get_include(),
        "-L",
        lib_dir,
        "-l:libtensorflow_cc.so.2",
        "-l:libtensorflow_framework.so.2",
        f"-Wl,-rpath,{lib_dir}",
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return binary


def _run(runner, args):
    env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [runner, *args], capture_output=True, text=True, env=env, timeout=300
    )


def _tensor_ref(name):
    op, index = name.split(":")
    return f"{op} {index}"


def _format_input(name, value):
    value = np.asarray(value)
    dims = " ".join(str(d) for d in value.shape)
    if value.dtype.kind in "OSU":
        items = [
            (v.encode() if isinstance(v, str) else v).hex() or "-"
            for v in value.ravel()
        ]
        items = " ".join(items)
        return f"in {_tensor_ref(name)} string {value.ndim} {dims} {items}"
    items = " ".join(str(int(v)) for v in value.ravel())
    return f"in {_tensor_ref(name)} int32 {value.ndim} {dims} {items}"


def serve(runner, export_dir, signature, requests, libraries=()):
    """Runs `requests` (dicts of signature inputs) through the C program.

    Returns one result per request: a dict of output arrays keyed by the
    signature's output names, or the error message (a str).
    """
    info = check.signature_tensors(export_dir)[signature]
    output_keys = sorted(info["outputs"])
    lines = []
    for inputs in requests:
        lines.append(f"run {len(inputs)} {len(output_keys)}")
        for key, value in inputs.items():
            lines.append(_format_input(info["inputs"][key]["name"], value))
        for key in output_keys:
            lines.append(f"out {_tensor_ref(info['outputs'][key]['name'])}")
    directory = os.path.dirname(runner)
    request_path = os.path.join(directory, f"{signature}_requests.txt")
    output_path = os.path.join(directory, f"{signature}_outputs.txt")
    with open(request_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    done = _run(runner, [export_dir, request_path, output_path, *libraries])
    assert done.returncode == 0, done.stderr[-3000:]
    results = []
    with open(output_path) as f:
        lines = f.read().splitlines()
    position = 0
    while position < len(lines):
        words = lines[position].split(" ", 3)
        position += 1
        if words[2] == "error":
            results.append(words[3])
            continue
        outputs = {}
        for key in output_keys:
            fields = lines[position].split()
            position += 1
            dtype, rank = fields[2], int(fields[3])
            shape = [int(d) for d in fields[4 : 4 + rank]]
            values = np.array(fields[4 + rank :], dtype="float64")
            outputs[key] = values.reshape(shape).astype(
                "float32" if dtype == "float" else dtype
            )
        results.append(outputs)
    assert len(results) == len(requests)
    return results


def _registered_ops(runner, libraries=()):
    path = os.path.join(os.path.dirname(runner), "ops.pb")
    done = _run(runner, ["--list-ops", path, *libraries])
    assert done.returncode == 0, done.stderr[-3000:]
    op_list = op_def_pb2.OpList()
    with open(path, "rb") as f:
        op_list.ParseFromString(f.read())
    return {op.name for op in op_list.op}


def _random_inputs(rng, batch, length, with_segments):
    real = rng.integers(1, length + 1, size=(batch, 1))
    inputs = {
        "token_ids": rng.integers(0, 22, (batch, length)).astype("int32"),
        "padding_mask": (np.arange(length) < real).astype("int32"),
    }
    if with_segments:
        inputs["segment_ids"] = (np.arange(length) >= real // 2).astype("int32")
    return inputs


def test_c_api_serves_tokens_like_predict_without_op_libraries(
    runner, encoder_export
):
    rng = np.random.default_rng(3)
    shapes = [(1, 1), (2, 6), (3, 37), (1, MAX_LENGTH - 1), (2, MAX_LENGTH)]
    requests = [_random_inputs(rng, b, n, True) for b, n in shapes]
    too_long = _random_inputs(rng, 1, MAX_LENGTH + 1, True)
    mismatched = dict(_random_inputs(rng, 2, 9, True))
    mismatched["padding_mask"] = mismatched["padding_mask"][:, :8]
    results = serve(
        runner,
        encoder_export.path,
        "serving_default",
        requests + [too_long, mismatched],
    )
    model = encoder_export.model
    for inputs, served in zip(requests, results):
        assert sorted(served) == ["pooled_output", "sequence_output"]
        # predict, and an eager call (the length known while tracing: short
        # inputs take the layer's dense path) agree with the served graph.
        for expected in (
            model.predict(inputs, verbose=0),
            model(inputs, training=False),
        ):
            for key, value in expected.items():
                np.testing.assert_allclose(
                    served[key], np.asarray(value), rtol=0, atol=1e-5
                )
    assert "token_ids is longer than the maximum sequence length" in results[-2]
    assert (
        "`padding_mask` must have the shape of `token_ids`" in results[-1]
    )


def test_c_api_serves_text_with_tensorflow_text_op_libraries(
    runner, classifier_export
):
    path = classifier_export.path
    texts = np.array(TEXTS, dtype=object)
    [served] = serve(
        runner, path, "serve_text", [{"text": texts}], TEXT_OP_LIBRARIES
    )
    steps = serving.preprocessor_steps(classifier_export.preprocessor)
    features = serving.run_preprocessor(steps, tf.constant(TEXTS))
    logits = classifier_export.model.predict(
        {k: np.asarray(v) for k, v in features.items()}, verbose=0
    )
    np.testing.assert_allclose(served["logits"], logits, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        served["probabilities"],
        tf.nn.softmax(logits).numpy(),
        rtol=0,
        atol=1e-5,
    )


def test_text_export_needs_the_tensorflow_text_libraries(
    runner, classifier_export
):
    # What a server without tensorflow-text's ops would say: the graph does
    # not load. So the run above depends on TF_LoadLibrary.
    done = _run(runner, [classifier_export.path, os.devnull, os.devnull])
    assert done.returncode != 0
    missing = re.search(r"Op type not registered '([^']+)'", done.stderr)
    assert missing, done.stderr[-3000:]
    text_ops = _registered_ops(runner, TEXT_OP_LIBRARIES) - _registered_ops(
        runner
    )
    assert missing.group(1) in text_ops


def test_exported_ops_are_registered_by_core_tf_and_tensorflow_text(
    runner, classifier_export, encoder_export
):
    core = _registered_ops(runner)
    with_text = _registered_ops(runner, TEXT_OP_LIBRARIES)
    text_ops = with_text - core
    assert text_ops  # the libraries did register ops
    # A token-only export needs core TensorFlow alone.
    assert check.op_names(encoder_export.path) <= core
    # The text export needs tensorflow-text's ops and nothing else.
    ops = check.op_names(classifier_export.path)
    assert ops <= with_text
    assert ops - core and ops - core <= text_ops
    assert not ops & check.PYTHON_OPS
