"""Calls a SavedModel's signatures the way a server would: no Keras model.

Run as a script, by path, in a fresh interpreter:

    python serving_probe.py EXPORT_DIR REQUESTS.json RESULTS.json [--text-ops]

It imports only TensorFlow (and tensorflow_text with `--text-ops`, to
register the text ops a `serve_text` signature needs); `keras_bigbird` is
made unimportable first, so a SavedModel that needed our Python code would
fail here. Each request is `{"signature": ..., "inputs": {key: nested list}}`
(string inputs as lists of str); each result is `{"outputs": {key: nested
list}}` or `{"error": message}`. The results also list the model's
signatures.

This file must not import anything from `keras_bigbird` or `keras`.
"""

import json
import sys

_BLOCKED = ("keras_bigbird",)


class _Blocker:
    """A meta path finder that refuses to import `keras_bigbird`."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ImportError(f"{name} is blocked in the serving probe")
        return None


def _convert(tf, value, spec):
    if spec.dtype == tf.string:
        return tf.constant([v.encode("utf-8") for v in value], tf.string)
    return tf.constant(value, spec.dtype)


def main(argv):
    sys.meta_path.insert(0, _Blocker())
    export_dir, requests_path, results_path = argv[:3]
    import tensorflow as tf

    if "--text-ops" in argv[3:]:
        import tensorflow_text  # noqa: F401  (registers the text ops)

    loaded = tf.saved_model.load(export_dir)
    with open(requests_path) as f:
        requests = json.load(f)
    results = []
    for request in requests:
        function = loaded.signatures[request["signature"]]
        specs = function.structured_input_signature[1]
        inputs = {
            key: _convert(tf, value, specs[key])
            for key, value in request["inputs"].items()
        }
        try:
            outputs = function(**inputs)
        except tf.errors.InvalidArgumentError as error:
            results.append({"error": error.message})
            continue
        results.append(
            {"outputs": {k: v.numpy().tolist() for k, v in outputs.items()}}
        )
    report = {
        "results": results,
        "signatures": sorted(loaded.signatures.keys()),
    }
    with open(results_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1:])
