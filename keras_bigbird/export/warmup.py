"""TF Serving warmup: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these `PredictionLog` records when it loads a version, so
the first real request does not pay for the kernels' first run. The records
are built with the `tensorflow-serving-api` protos and written as a TFRecord
file, the format the server reads.
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def _serving_apis():
    try:
        from tensorflow_serving.apis import predict_pb2
        from tensorflow_serving.apis import prediction_log_pb2
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise ImportError(
            "Writing TF Serving warmup requests needs the "
            "`tensorflow-serving-api` package: "
            "`pip install tensorflow-serving-api`."
        ) from error
    return predict_pb2, prediction_log_pb2


def default_warmup_lengths(max_sequence_length):
    """A short, a middle and the maximum length (distinct, sorted)."""
    candidates = (
        min(16, max_sequence_length),
        max(1, max_sequence_length // 2),
        max_sequence_length,
    )
    return sorted(set(candidates))


def _log(model_name, signature_name, inputs):
    predict_pb2, prediction_log_pb2 = _serving_apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def warmup_records(
    model_name,
    input_names,
    lengths,
    batch_size=1,
    token_signature="serving_default",
    text_signature=None,
    texts=None,
):
    """`PredictionLog` records: one token request per length, one for text.

    Token requests hold id 0 everywhere (always a valid id), a padding mask of
    ones and segment 0; they exercise the same graph as real requests of that
    length.
    """
    records = []
    for length in lengths:
        shape = (batch_size, length)
        inputs = {}
        for name in input_names:
            fill = 1 if name == "padding_mask" else 0
            inputs[name] = np.full(shape, fill, np.int32)
        records.append(_log(model_name, token_signature, inputs))
    if text_signature is not None:
        texts = list(texts or ["This is a warmup request."])
        records.append(
            _log(model_name, text_signature, {"text": np.array(texts, object)})
        )
    return records


def write_warmup_file(version_dir, records):
    """Writes `records` to `version_dir/assets.extra/...`; returns the path."""
    directory = os.path.join(version_dir, WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    return path


def read_warmup_file(path):
    """The `PredictionLog` records of a warmup file (parsed, in order)."""
    _, prediction_log_pb2 = _serving_apis()
    records = []
    for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
        record = prediction_log_pb2.PredictionLog()
        record.ParseFromString(raw)
        records.append(record)
    return records
