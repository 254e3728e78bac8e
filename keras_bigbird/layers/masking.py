"""Masks of `[batch, length]` inputs: shape checks and merging, shared by
the layers."""

from keras import ops


def check_batch_by_length(value, name, inputs, inputs_name):
    """`value` as a tensor, checked to be `[batch, length]` of `inputs`.

    Dimensions unknown while tracing are not compared. A mismatch would
    otherwise broadcast silently (a `[batch, 1]` mask masks all keys or
    none) or fail later with a backend shape error.
    """
    value = ops.convert_to_tensor(value)
    expected = tuple(inputs.shape[:2])
    received = tuple(value.shape)
    if len(received) != 2 or any(
        a is not None and b is not None and a != b
        for a, b in zip(expected, received)
    ):
        raise ValueError(
            f"`{name}` must have shape [batch, length] = {expected} to "
            f"match `{inputs_name}`. Received: {name}.shape={received}"
        )
    return value


def check_padding_mask(padding_mask, inputs, inputs_name="query"):
    """`padding_mask` as a tensor, checked to be `[batch, length]`."""
    return check_batch_by_length(
        padding_mask, "padding_mask", inputs, inputs_name
    )


def merge_masks(*masks):
    """Logical AND of the non-None masks, as bool; None if all are None."""
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged
