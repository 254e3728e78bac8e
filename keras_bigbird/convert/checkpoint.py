"""Reading checkpoint tensors: safetensors, PyTorch `.bin`, TF checkpoints."""

import json
import os

import numpy as np

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH = "pytorch_model.bin"
PYTORCH_INDEX = "pytorch_model.bin.index.json"


class Tensors:
    """Named numpy tensors of a checkpoint, with errors that name them.

    `take(name)` returns one tensor and marks it used; `unused()` lists the
    rest. Missing tensors and wrong shapes raise a `ValueError` naming the
    tensor and the checkpoint.
    """

    def __init__(self, tensors, source, original_name=None):
        self._tensors = dict(tensors)
        self.source = source
        self._used = set()
        # Maps a name to the checkpoint's own name, for messages.
        self._original_name = original_name or (lambda name: None)

    def describe(self, name):
        original = self._original_name(name)
        return f"{name!r}" + (f" (variable {original!r})" if original else "")

    def __contains__(self, name):
        return name in self._tensors

    def names(self):
        return list(self._tensors)

    def take(self, name, shape=None, needed_for=None):
        if name not in self._tensors:
            for_what = f" (needed for {needed_for})" if needed_for else ""
            raise ValueError(
                f"The checkpoint {self.source} has no tensor "
                f"{self.describe(name)}{for_what}. It may be of another "
                "architecture or incomplete."
            )
        value = np.asarray(self._tensors[name])
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"Tensor {self.describe(name)} of {self.source} has shape "
                f"{tuple(value.shape)}, but the model built from its config "
                f"needs {tuple(shape)}."
            )
        self._used.add(name)
        return value

    def unused(self):
        return [name for name in self._tensors if name not in self._used]


def _shard_files(directory, index_name):
    from keras_bigbird.convert.config import read_json

    index = os.path.join(directory, index_name)
    weight_map = read_json(index, "shard index").get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(
            f"The shard index {index!r} has no `weight_map` object naming "
            "the file of each tensor: it is not a transformers index file."
        )
    shards = sorted(set(map(str, weight_map.values())))
    missing = [s for s in shards if not os.path.isfile(os.path.join(directory, s))]
    if missing:
        raise ValueError(
            f"The shard index {index!r} names {len(missing)} files that "
            f"{directory!r} does not hold: {missing[:4]}. The download may be "
            "incomplete."
        )
    return shards


def _corrupt(path, kind, reason):
    size = os.path.getsize(path)
    what = "empty (0 bytes)" if size == 0 else (
        f"not a readable {kind} file ({size:,} bytes: {reason})"
    )
    return ValueError(
        f"Cannot read the weights {path!r}: the file is {what}. It may be "
        "truncated, corrupt or of another format: save or download it again."
    )


def _torch_load(path):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{path!r} is a PyTorch checkpoint and reading it needs torch "
            "(`pip install torch`); a `model.safetensors` checkpoint needs "
            "only the `safetensors` package."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # A corrupt file fails with whatever its bytes trip first (EOFError,
    # RuntimeError from the zip reader, KeyError or UnpicklingError from
    # the unpickler): every failure of the load is the file's fault.
    except Exception as error:  # noqa: BLE001
        reason = " ".join(str(error).split()[:24]) or type(error).__name__
        raise _corrupt(path, "PyTorch", reason) from None
    if not isinstance(state, dict):
        raise ValueError(
            f"{path!r} is not a model state dict (a dict of named tensors): "
            f"it holds a {type(state).__name__}."
        )
    others = [n for n, v in state.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise ValueError(
            f"{path!r} is not a model state dict (a dict of named tensors): "
            f"{len(others)} entries are not tensors, e.g. {others[:4]}."
        )
    return _numpy(state)


def _numpy(tensors):
    """torch tensors as numpy arrays, floats (bfloat16 too) as float32."""
    import torch

    return {
        name: value.detach().to(torch.float32).numpy()
        if value.is_floating_point()
        else value.numpy()
        for name, value in tensors.items()
    }


def _safetensors_load(path):
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError:
        raise ValueError(
            f"Reading {path!r} needs the `safetensors` package "
            "(`pip install safetensors`)."
        ) from None
    try:
        return load_file(path)
    except SafetensorError as error:
        raise _corrupt(path, "safetensors", error) from None
    except TypeError as error:
        # numpy has no bfloat16 (nor float8): torch reads those, if present.
        try:
            from safetensors.torch import load_file as torch_load_file
        except ImportError:
            raise ValueError(
                f"Cannot read the weights {path!r}: {error} (numpy has no "
                "bfloat16). Install torch to read them, or save the "
                "checkpoint in float32."
            ) from None
        return _numpy(torch_load_file(path))


def read_transformers_tensors(directory):
    """All tensors of a transformers checkpoint directory (numpy arrays).

    Prefers `model.safetensors` (or its shards) and reads
    `pytorch_model.bin` (or its shards) only when there is no safetensors
    file, with torch.
    """
    files = set(os.listdir(directory))
    if SAFETENSORS in files:
        paths, load = [SAFETENSORS], _safetensors_load
    elif SAFETENSORS_INDEX in files:
        paths, load = _shard_files(directory, SAFETENSORS_INDEX), _safetensors_load
    elif PYTORCH in files:
        paths, load = [PYTORCH], _torch_load
    elif PYTORCH_INDEX in files:
        paths, load = _shard_files(directory, PYTORCH_INDEX), _torch_load
    else:
        raise ValueError(
            f"No weights found in {directory!r}: expected {SAFETENSORS!r} or "
            f"{PYTORCH!r} (or their sharded index files). It holds: "
            f"{sorted(files)}"
        )
    tensors = {}
    for path in paths:
        tensors.update(load(os.path.join(directory, path)))
    for name, value in tensors.items():
        if value.dtype != np.float32 and np.issubdtype(value.dtype, np.floating):
            tensors[name] = value.astype(np.float32)
    return Tensors(tensors, repr(directory))


def read_tf_checkpoint(path):
    """All variables of a TF (v1-style, name-based) checkpoint."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(path)
    except (ValueError, tf.errors.OpError) as error:
        raise ValueError(
            f"Cannot read a TensorFlow checkpoint at {path!r}: {error}"
        ) from None
    shapes = reader.get_variable_to_shape_map()
    return Tensors(
        {name: reader.get_tensor(name) for name in shapes}, repr(path)
    )
