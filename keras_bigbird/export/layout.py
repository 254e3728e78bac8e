"""What TF Serving reads from disk: `export_base/NAME/VERSION/` and warmup.

TF Serving watches `export_base/NAME` and serves the highest all-digit
subdirectory. A version is written under a hidden, non-numeric name first and
renamed into place when complete, so the server never loads half a model.

When it loads a version, TF Serving replays the `PredictionLog` records of
`VERSION/assets.extra/tf_serving_warmup_requests`, so the first real request
does not pay for the kernels' first run. The records are built with the
`tensorflow-serving-api` protos and written as a TFRecord file, the format
the server reads.
"""

import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_bigbird.export.signatures import PADDING_MASK
from keras_bigbird.export.signatures import SERVING_DEFAULT
from keras_bigbird.export.signatures import TEXT

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(name):
    """Raises `ValueError` unless `name` is a usable model name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "Received an invalid value for argument `name`, expected a model "
            "name of letters, digits, `_`, `.` and `-` (it is a directory "
            f"and part of the serving URL). Received: name={name!r}"
        )


def existing_versions(model_dir):
    """Sorted integer versions present in `model_dir` (empty if missing)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def next_version(model_dir):
    """One more than the highest existing version, or 1."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def resolve_version(model_dir, version, overwrite):
    """The version to write: `version`, or the next free one when None."""
    if version is None:
        return next_version(model_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            "Received an invalid value for argument `version`, expected a "
            f"positive integer or None. Received: version={version!r}"
        )
    target = os.path.join(model_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {target}. Pass "
            "`overwrite=True` to replace it, or `version=None` for the next "
            "free version."
        )
    return version


def staging_dir(model_dir, version):
    """A fresh hidden directory next to the final one (same filesystem)."""
    os.makedirs(model_dir, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".partial-{version}-", dir=model_dir)


def publish(staged, model_dir, version):
    """Moves a complete `staged` export to `model_dir/version`."""
    target = os.path.join(model_dir, str(version))
    retired = None
    if os.path.exists(target):
        retired = tempfile.mkdtemp(
            prefix=f".replaced-{version}-", dir=model_dir
        )
        os.rename(target, os.path.join(retired, "old"))
    os.rename(staged, target)
    if retired is not None:
        shutil.rmtree(retired)
    return target


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
    token_signature=SERVING_DEFAULT,
    text_signature=None,
    texts=None,
    text_names=(TEXT,),
):
    """`PredictionLog` records: one token request per length, one for text
    (the same `texts` in each of `text_names`).

    Token requests hold id 0 everywhere (always a valid id), a padding mask of
    ones and segment 0; they exercise the same graph as real requests of that
    length.
    """
    records = []
    for length in lengths:
        shape = (batch_size, length)
        inputs = {}
        for name in input_names:
            fill = 1 if name == PADDING_MASK else 0
            inputs[name] = np.full(shape, fill, np.int32)
        records.append(_log(model_name, token_signature, inputs))
    if text_signature is not None:
        texts = list(texts or ["This is a warmup request."])
        records.append(
            _log(
                model_name,
                text_signature,
                {name: np.array(texts, object) for name in text_names},
            )
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
