"""The data of `fit`, `evaluate` and `predict`, checked on the host.

The checks of `InputRules` run here before the data reaches the compiled
train or predict step, where XLA and `jax.jit` could not stop on a bad id
or label: arrays are checked at once (a `ValueError`), and a `tf.data`
dataset gets the rules' assertions in a `map`, so a bad batch stops the
loop with `InvalidArgumentError` naming the input or label and the rule,
on every backend. Other data (generators, `PyDataset`) pass unchanged; the
model's own checks still apply to them (see `InputValidation`).
"""

import numpy as np

LABELS = "labels"


def _is_dataset(x):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        return False
    return isinstance(x, tf.data.Dataset)


def _is_array(x):
    return hasattr(x, "shape") or isinstance(x, (list, tuple))


def label_dict(y):
    """Labels as a dict named like `label_rules`: a dict as given, else
    `{"labels": y}`."""
    if y is None:
        return {}
    if isinstance(y, dict):
        return dict(y)
    return {LABELS: y}


def _integer(value):
    return np.issubdtype(np.asarray(value).dtype, np.integer)


def _label_rules(model, labels, is_integer):
    return [
        r for r in model.label_rules()
        if r.name in labels and is_integer(labels[r.name])
    ]


def checked(model, x, y, method):
    """`(x, y)` for `method`, checked (arrays) or gated (datasets)."""
    rules = model.input_rules
    if rules is None:
        return x, y
    if _is_dataset(x):
        return x.map(_dataset_check(model)), y
    if not isinstance(x, dict) or not all(
        _is_array(v) for v in x.values() if v is not None
    ):
        return x, y
    present = rules.check_structure(x)
    arrays = {k: np.asarray(v) for k, v in present.items()}
    reference = arrays[rules.required[0]]
    if reference.shape[0] == 0:
        raise ValueError(
            f"`{method}` got no examples: `{rules.required[0]}` has shape "
            f"{reference.shape}."
        )
    rules.check_arrays(arrays)
    labels = {
        k: np.asarray(v) for k, v in label_dict(y).items() if _is_array(v)
    }
    for name, value in labels.items():
        if len(value) != len(reference):
            raise ValueError(
                f"The labels ({name}) and the inputs have different numbers "
                f"of examples. Received: {len(value)} labels for "
                f"{len(reference)} examples"
            )
    label_rules = _label_rules(model, labels, _integer)
    if label_rules:
        rules.check_arrays({**arrays, **labels}, label_rules)
    return x, y


def checked_validation(model, validation_data):
    if _is_dataset(validation_data):
        return checked(model, validation_data, None, "fit")[0]
    if isinstance(validation_data, tuple) and validation_data:
        x, y = checked(
            model,
            validation_data[0],
            validation_data[1] if len(validation_data) > 1 else None,
            "fit",
        )
        return (x, y, *validation_data[2:])
    return validation_data


def _dataset_check(model):
    import tensorflow as tf

    rules = model.input_rules

    def check(*element):
        x = element[0]
        if not isinstance(x, dict):
            return element if len(element) > 1 else x
        present = rules.check_structure(x)
        labels = label_dict(element[1]) if len(element) > 1 else {}
        label_rules = _label_rules(
            model, labels, lambda t: t.dtype.is_integer
        )
        # One call: the length and shape assertions are made once.
        asserts = rules.tf_assertions(
            {**present, **labels}, rules.values + tuple(label_rules)
        )
        with tf.control_dependencies(asserts):
            element = tf.nest.map_structure(
                lambda t: None if t is None else tf.identity(t), element
            )
        return element if len(element) > 1 else element[0]

    return check
