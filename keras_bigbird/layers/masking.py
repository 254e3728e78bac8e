"""The `padding_mask` check shared by the attention layers and the block."""

from keras import ops


def check_padding_mask(padding_mask, inputs, inputs_name="query"):
    """`padding_mask` as a tensor, checked to be `[batch, length]` of `inputs`.

    Dimensions unknown while tracing are not compared. A mismatch would
    otherwise broadcast silently (a `[batch, 1]` mask masks all keys or
    none) or fail later with a backend shape error.
    """
    padding_mask = ops.convert_to_tensor(padding_mask)
    expected = tuple(inputs.shape[:2])
    received = tuple(padding_mask.shape)
    if len(received) != 2 or any(
        a is not None and b is not None and a != b
        for a, b in zip(expected, received)
    ):
        raise ValueError(
            "`padding_mask` must have shape [batch, length] = "
            f"{expected} to match `{inputs_name}`. Received: "
            f"padding_mask.shape={received}"
        )
    return padding_mask
