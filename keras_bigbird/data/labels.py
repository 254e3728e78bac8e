"""Class labels of the user's files: class ids or names, never a mix."""

import math
import numbers


def _kind(label, where):
    """Returns `(kind, key)`: `("integer", int)`, `("number", float)` or
    `("text", str)`.

    Text is read as JSON reads numbers, so that the CSV label "2.0" is the
    class 2, as the JSONL label 2.0 is.
    """
    if isinstance(label, str):
        text = label.strip()
        try:
            return "integer", int(text)
        except ValueError:
            pass
        try:
            label = float(text)
        except ValueError:
            return "text", text
    if isinstance(label, bool):
        return "text", str(label)
    if isinstance(label, numbers.Integral):
        return "integer", int(label)
    if isinstance(label, numbers.Real):
        if math.isfinite(label) and float(label).is_integer():
            return "integer", int(label)
        return "number", float(label)
    raise ValueError(
        f"Received an invalid label in {where}, expected an integer, a "
        f"number or a string. Received: label={label!r}"[:400]
    )


_DESCRIPTIONS = {
    "integer": "integers (class ids)",
    "number": "numbers",
    "text": "strings (class names)",
}


def _check_one_kind(kinds, records):
    """Raises naming the first label of the rarer kind, if kinds mix.

    Integers count as numbers when some labels are other numbers.
    """
    counts = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    if "number" in counts and "integer" in counts:
        counts["number"] += counts.pop("integer")
        kinds = ["number" if k == "integer" else k for k in kinds]
    if len(counts) < 2:
        return
    common = max(counts, key=counts.get)
    index = next(i for i, kind in enumerate(kinds) if kind != common)
    _, label, where = records[index]
    raise ValueError(
        f"Received a label of another kind in {where}: "
        f"{counts[common]} labels are {_DESCRIPTIONS[common]}, this one is "
        "not. The labels must be all integers, all numbers or all strings "
        "(pass `label_names` to map the strings). Received: "
        f"label={label!r}"
    )


def _check_label_names(label_names, num_classes):
    """Returns the names as strings, checked distinct and complete."""
    if isinstance(label_names, str) or not isinstance(
        label_names, (list, tuple)
    ):
        raise ValueError(
            "Received an invalid value for argument `label_names`, expected "
            "a list of class names in label order. Received: "
            f"label_names={label_names!r}"
        )
    names = [str(name).strip() for name in label_names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not names or repeated:
        raise ValueError(
            "Received an invalid value for argument `label_names`, expected "
            f"distinct class names (repeated: {repeated}). Received: "
            f"label_names={label_names!r}"
        )
    if num_classes is not None and num_classes != len(names):
        raise ValueError(
            "Received an invalid value for argument `num_classes`: "
            f"`label_names` has {len(names)} names. Received: "
            f"num_classes={num_classes}"
        )
    return names


def _by_name(records, keys, names):
    index = {name: i for i, name in enumerate(names)}
    for key, (_, label, where) in zip(keys, records):
        if str(key) not in index:
            raise ValueError(
                f"Received a label out of range in {where}: it is not in "
                f"`label_names`={list(names)}. Received: label={label!r}"
            )
    return [index[str(key)] for key in keys]


def class_labels(records, label_names, num_classes):
    """Returns `(int labels, label names or None, num_classes)`.

    Args:
        records: `(text, label, where)` tuples; `where` names the file and
            row for the errors.
        label_names: the class names in label order, or None.
        num_classes: the number of classes of integer labels, or None.
    """
    for _, label, where in records:
        if label is None or (isinstance(label, str) and not label.strip()):
            raise ValueError(
                f"Received a missing label in {where}. Received: "
                f"label={label!r}"
            )
    kinds, keys = zip(*(_kind(label, where) for _, label, where in records))
    if label_names is not None:
        names = _check_label_names(label_names, num_classes)
        # The names' own text: the CSV label " pos" is the name "pos".
        texts = [
            label.strip() if isinstance(label, str) else label
            for _, label, _ in records
        ]
        return _by_name(records, texts, names), tuple(names), len(names)
    _check_one_kind(kinds, records)
    if kinds[0] == "integer" and len(set(kinds)) == 1:
        return _class_ids(records, keys, num_classes)
    if "number" in kinds:
        names = sorted({str(k) for k in keys}, key=float)
        keys = [str(k) for k in keys]
    else:
        names = sorted(set(keys))
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(
            "Received an invalid value for argument `num_classes`: the "
            f"labels are {len(names)} names ({names[:10]}), mapped to "
            "classes in sorted order; pass `label_names` to name every "
            f"class. Received: num_classes={num_classes}"
        )
    return _by_name(records, keys, names), tuple(names), len(names)


def _class_ids(records, ids, num_classes):
    limit = num_classes if num_classes is not None else float("inf")
    for value, (_, label, where) in zip(ids, records):
        if not 0 <= value < limit:
            expected = (
                f"[0, num_classes={num_classes})"
                if num_classes is not None
                else "non-negative"
            )
            raise ValueError(
                f"Received a label out of range {expected} in {where}. "
                f"Received: label={label!r}"
            )
    return list(ids), None, num_classes or max(ids) + 1
